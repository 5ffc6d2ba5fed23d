"""Per-API-key throttling; the counters live in the default cache (Redis in production)."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
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
