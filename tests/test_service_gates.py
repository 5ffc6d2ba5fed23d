"""The rules for tests that need Redis or PostgreSQL: skip locally, fail in CI."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.service_gates import require_postgresql, require_redis_url

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

INNER_CONFTEST = """
from tests.service_gates import (  # noqa: F401
    _redis_marker_needs_redis,
    pytest_collection_modifyitems,
    redis_url,
)

def pytest_configure(config):
    config.addinivalue_line("markers", "redis: needs Redis")
"""

INNER_TESTS = """
import pytest

@pytest.mark.redis
def test_marked():
    pass

def test_uses_fixture(redis_url):
    pass

def test_unrelated():
    pass
"""


@pytest.fixture
def inner_suite(pytester, monkeypatch):
    """An inner pytest session with the suite's service gates and three tiny tests."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_TESTS)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)

    def run():
        return pytester.runpytest_inprocess("-p", "no:django", "-p", "no:cacheprovider", "-rs")

    return run


def test_without_redis_url_redis_tests_are_skipped_with_the_reason(inner_suite):
    result = inner_suite()
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*needs Redis: set REDIS_URL*"])


def test_with_require_services_missing_redis_fails_instead_of_skipping(inner_suite, monkeypatch):
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    result = inner_suite()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*REQUIRE_SERVICES=1: failing instead of skipping*"])


def test_with_require_services_unreachable_redis_fails(inner_suite, monkeypatch):
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS)
    result = inner_suite()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*Redis at redis://127.0.0.1:1/0 is unreachable*"])


def test_unreachable_redis_is_skipped_locally_with_the_reason(inner_suite, monkeypatch):
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS)
    result = inner_suite()
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*Redis at redis://127.0.0.1:1/0 is unreachable*"])


def test_postgres_gate_skips_on_sqlite_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs PostgreSQL"):
        require_postgresql("sqlite")
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="failing instead of skipping"):
        require_postgresql("sqlite")
    require_postgresql("postgresql")  # passes


def test_redis_gate_returns_the_url_of_a_live_server_only(monkeypatch):
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS)
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        require_redis_url()


@pytest.mark.redis
def test_the_cache_is_redis_when_redis_url_is_set(redis_url, settings):
    import redis

    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert settings.CACHES["default"]["LOCATION"] == redis_url
    key = "tests:service-gates:probe"
    cache.set(key, "hello", timeout=30)
    try:
        client = redis.Redis.from_url(redis_url)
        stored = [name for name in client.scan_iter(match=f"*{key}*")]
        assert stored, "the value did not reach Redis"
        assert cache.get(key) == "hello"
    finally:
        cache.delete(key)
    assert cache.get(key) is None
