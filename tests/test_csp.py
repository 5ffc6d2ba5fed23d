"""Content-Security-Policy: enforced on the admin, the dashboard, the API docs and the API.

The browser test (tests/browser) shows that the pages work under it; these check the header
without a browser.
"""

from __future__ import annotations

import pytest


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().partition(" ")[::2] for part in header.split(";") if part.strip())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/login/",
        "/admin/",
        "/admin/delays/",
        "/admin/licensing/licenseapplication/",
        "/api/v1/docs/",
        "/api/v1/redoc/",
        "/api/v1/license-applications/",
    ],
)
def test_every_answer_carries_an_enforced_policy_without_inline_script(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code < 500, (path, response.status_code)
    assert "Content-Security-Policy-Report-Only" not in response
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_the_swagger_page_loads_its_initialiser_as_a_file_not_inline(admin_client):
    html = admin_client.get("/api/v1/docs/").content.decode()
    assert '<script src="/api/v1/docs/?script="' in html
    assert "<script>" not in html
