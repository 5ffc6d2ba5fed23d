"""Content-Security-Policy on every response: the admin, the dashboard, the API docs, the API.

Django 5.2 has no CSP of its own (6.0 adds one), and the policy is one header: a small
middleware rather than a dependency. The policy is enforced, not report-only. Scripts load
only from this origin and never inline: the admin has no inline script, and the Swagger UI
page is drf-spectacular's split view, whose initialiser is a script file; the one inline
handler of a library page (django-import-export's export form) is allowed by its hash on
that page alone (licensing.admin.imports). Styles allow
'unsafe-inline' because Swagger UI and Redoc style their widgets with inline styles; a style
cannot run code. Nothing loads from another origin, and no page may be framed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

CSP_HEADER = "Content-Security-Policy"

DEFAULT_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    # Redoc runs its search index in a worker it builds from a blob: URL.
    "worker-src": ("'self'", "blob:"),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}


def content_security_policy(*, inline_handlers: tuple[str, ...] = ()) -> str:
    """The header value: settings.CONTENT_SECURITY_POLICY (directive: sources), or the default.

    `inline_handlers`: the exact inline event handlers (`onchange="..."` values) one page of a
    library needs, allowed by their hashes ('unsafe-hashes') on that page's response alone.
    """
    policy = dict(getattr(settings, "CONTENT_SECURITY_POLICY", None) or DEFAULT_POLICY)
    if inline_handlers:
        hashes = tuple(
            f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
            for code in inline_handlers
        )
        policy["script-src"] = (*policy.get("script-src", ()), "'unsafe-hashes'", *hashes)
    return "; ".join(f"{name} {' '.join(sources)}".strip() for name, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to each response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if CSP_HEADER not in response:
            response[CSP_HEADER] = self.header
        return response
