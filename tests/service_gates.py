"""Which tests need real services, and what happens when a service is missing.

Locally a test that needs Redis or PostgreSQL is skipped, with a reason that says how to
run it. In CI (REQUIRE_SERVICES=1) nothing may be skipped for want of a service: the test
fails instead, so a broken CI service can never turn into a quietly green run.

tests/conftest.py imports the hooks and fixtures below; tests/test_service_gates.py runs
them in an inner pytest session to check both behaviours.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REDIS_SKIP_REASON = (
    "needs Redis: set REDIS_URL, e.g. redis://127.0.0.1:6379/0 (CI sets it with REQUIRE_SERVICES=1)"
)


def services_required() -> bool:
    """True in CI: a missing service fails the test instead of skipping it."""
    return os.environ.get("REQUIRE_SERVICES", "") == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip with `reason` locally; fail with it when REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def redis_problem(url: str) -> str | None:
    """Why the Redis server at `url` cannot be used, or None when it answers PING."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        return f"Redis at {url} is unreachable: {error}"
    return None


def require_redis_url() -> str:
    """REDIS_URL when it names a reachable server; otherwise skip (or fail in CI)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        service_unavailable(REDIS_SKIP_REASON)
    problem = redis_problem(url)
    if problem:
        service_unavailable(problem)
    return url


def require_postgresql(vendor: str) -> None:
    """Skip (or fail in CI) unless the test database is PostgreSQL."""
    if vendor != "postgresql":
        service_unavailable(
            f"needs PostgreSQL row locks, but the test database is {vendor}: "
            "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark Redis tests as skipped at collection, with the reason, when REDIS_URL is unset.

    Never in CI: there the `redis_url` fixture runs and fails the test instead.
    """
    if services_required() or os.environ.get("REDIS_URL"):
        return
    skip = pytest.mark.skip(reason=REDIS_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("redis"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a Redis server that answered PING."""
    return require_redis_url()


@pytest.fixture(autouse=True)
def _redis_marker_needs_redis(request: pytest.FixtureRequest) -> None:
    """A test marked `redis` gets the `redis_url` check even when it does not ask for it."""
    if request.node.get_closest_marker("redis"):
        request.getfixturevalue("redis_url")
