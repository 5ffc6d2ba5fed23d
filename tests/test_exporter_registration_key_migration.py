"""Migration 0011 backfills exporters' registration keys, and stops on rows that only now
turn out to be duplicates instead of dropping or merging one of them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# serialized_rollback, like the suite's other transactional tests: the flush afterwards then
# restores the reference data that migrations installed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("licensing", "0010_forecast_curves")]
AFTER = [("licensing", "0011_exporter_registration_key")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    """Every app's newest migration: the schema the rest of the suite runs on."""
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def before_the_key():
    """The historical models as of 0010; the latest schema (not just 0011) is restored after."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(_latest())


def _exporter(apps, organization, registration_number):
    return apps.get_model("licensing", "Exporter").objects.create(
        organization=organization,
        name=f"Exporter {registration_number!r}",
        country="DE",
        registration_number=registration_number,
    )


def test_the_migration_backfills_the_key_of_existing_exporters(before_the_key):
    organization = before_the_key.get_model("licensing", "Organization").objects.create(
        name="Rheinland Motoren GmbH"
    )
    _exporter(before_the_key, organization, "HRB\u00a012345")

    after = _migrate(AFTER)

    [exporter] = after.get_model("licensing", "Exporter").objects.all()
    assert (exporter.registration_number, exporter.registration_key) == (
        "HRB\u00a012345",
        "hrb 12345",
    )


def test_the_migration_stops_on_exporters_that_only_now_collide(before_the_key):
    organization = before_the_key.get_model("licensing", "Organization").objects.create(
        name="Rheinland Motoren GmbH"
    )
    _exporter(before_the_key, organization, "HRB 12345")
    _exporter(before_the_key, organization, "hrb 12345")

    with pytest.raises(RuntimeError, match="merge or correct them") as stopped:
        _migrate(AFTER)

    assert "'hrb 12345'" in str(stopped.value)
    # Nothing was written: the exporters are still there, as they were.
    names = set(
        before_the_key.get_model("licensing", "Exporter").objects.values_list(
            "registration_number", flat=True
        )
    )
    assert names == {"HRB 12345", "hrb 12345"}
    before_the_key.get_model("licensing", "Exporter").objects.filter(
        registration_number="hrb 12345"
    ).delete()
