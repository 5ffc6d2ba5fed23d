"""`Authorization: Api-Key <prefix>.<secret>` authentication, and who the caller is."""

from __future__ import annotations

import re

from rest_framework import authentication, exceptions

from core.api.throttling import FailedAuthenticationThrottle
from licensing.models import OrganizationAPIKey

KEYWORD = "Api-Key"
# The library's keys: an 8-character prefix, a dot, a 32-character secret. Anything else is
# refused before the database is asked (no NUL bytes or megabyte headers reach a query).
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}$")


class ApiKeyClient:
    """The user of a request made with an API key: it acts for the key's organization."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: OrganizationAPIKey) -> None:
        self.api_key = api_key
        self.organization = api_key.organization

    def get_username(self) -> str:
        return f"api-key:{self.api_key.name} ({self.api_key.prefix})"

    def __str__(self) -> str:
        return self.get_username()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates `Authorization: Api-Key <key>` against the hashed keys.

    A refused key counts against its client address: past API_THROTTLE_RATE the answer is
    429, not 401, so guessing keys costs as much as using one (DRF throttles only after it
    authenticates, so the per-key throttle never sees these requests).
    """

    def authenticate(self, request):
        try:
            return self._authenticate_key(request)
        except exceptions.AuthenticationFailed:
            throttle = FailedAuthenticationThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(throttle.wait()) from None
            raise

    def _authenticate_key(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, key = header.decode("ascii").partition(" ")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be ASCII."
            ) from None
        if scheme != KEYWORD:
            return None
        key = key.strip()
        if not _KEY_SHAPE.match(key):
            raise exceptions.AuthenticationFailed(
                "Malformed API key: expected `Api-Key <prefix>.<secret>`."
            )
        try:
            api_key = OrganizationAPIKey.objects.get_from_key(key)
        except OrganizationAPIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD
