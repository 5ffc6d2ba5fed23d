"""Fixtures of the API contract tests (tests/api/contract.py describes the setting)."""

from __future__ import annotations

import pytest

from tests.api.contract import World, build_world


@pytest.fixture
def world(db) -> World:
    """Two organizations, each with a read-write key and an exporter, and the 1C905 item."""
    return build_world()
