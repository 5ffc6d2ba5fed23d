"""Per-API-key throttling, counted atomically so that parallel requests cannot all slip through.

DRF's SimpleRateThrottle reads a client's request history from the cache, appends to it and
writes it back: 32 clients in parallel all read the same history, and every request passed
(issue 12). Here one step decides and records each request: on Redis a Lua script over a
sorted set (a sliding window, as DRF's), elsewhere (the embedded default, a per-process
cache) the same read-modify-write under a process-wide lock.
"""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

# KEYS[1]: a sorted set of the client's accepted requests, scored by their time in ms.
# ARGV: now (ms), window (ms), limit, a unique member for this request.
# Returns {1, 0} when the request is accepted (and recorded), else {0, ms until a slot frees}.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""

# Without Redis the cache lives in this process, so a process-wide lock makes it atomic.
_local_lock = threading.Lock()
_script = None


def sliding_window_hit(key: str, *, limit: int, window: int, now: float) -> tuple[bool, float]:
    """Record one request under `key` if fewer than `limit` were accepted in the last `window` s.

    Returns (accepted, seconds until the next request would be accepted).
    Atomic across processes on Redis; within one process on any other cache.
    """
    if isinstance(cache, RedisCache):
        global _script
        client = cache._cache.get_client(key, write=True)
        if _script is None:
            _script = client.register_script(_SLIDING_WINDOW_LUA)
        now_ms, window_ms = int(now * 1000), int(window * 1000)
        accepted, wait_ms = _script(
            keys=[cache.make_key(key)],
            args=[now_ms, window_ms, limit, f"{now_ms}:{uuid.uuid4().hex}"],
            client=client,
        )
        return bool(accepted), max(int(wait_ms), 0) / 1000
    with _local_lock:
        history = [moment for moment in cache.get(key, []) if moment > now - window]
        if len(history) < limit:
            cache.set(key, [now, *history], window)
            return True, 0.0
        return False, history[-1] + window - now


class AtomicRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle (rates, scopes, cache keys), deciding each request in one atomic step."""

    def allow_request(self, request, view) -> bool:
        self._wait: float | None = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        accepted, self._wait = sliding_window_hit(
            key, limit=self.num_requests, window=self.duration, now=self.timer()
        )
        return accepted

    def wait(self) -> float | None:
        return self._wait


class ApiKeyRateThrottle(AtomicRateThrottle):
    """Limits each API key (or staff user) to API_THROTTLE_RATE requests."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is not None and hasattr(request.auth, "prefix"):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FailedAuthenticationThrottle(ApiKeyRateThrottle):
    """Limits requests with an unknown, wrong or malformed key to API_THROTTLE_RATE per address.

    DRF authenticates before it throttles, so such a request is refused before any throttle
    runs; the authentication class asks this one instead. The address is REMOTE_ADDR, not
    X-Forwarded-For, which the client writes (behind a proxy, the proxy's address is shared).
    """

    def get_cache_key(self, request, view) -> str | None:
        address = request.META.get("REMOTE_ADDR") or "unknown"
        return self.cache_format % {"scope": self.scope, "ident": f"failed-auth:{address}"}
