"""X-Request-ID: every response carries one, a client's plain id is echoed, a hostile one is not."""

from __future__ import annotations

import re

import pytest

HEX_ID = re.compile(r"^[0-9a-f]{32}$")

pytestmark = pytest.mark.django_db


def test_healthz_answers_with_a_fresh_request_id(client):
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert first.status_code == 200
    assert first.json() == {"status": "ok"}
    assert HEX_ID.match(first["X-Request-ID"])
    assert HEX_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("client_id", ["abc-123", "erp.po-4711:retry_2", "x" * 128])
def test_a_plain_client_id_is_echoed(client, client_id):
    response = client.get("/healthz", headers={"X-Request-ID": client_id})
    assert response["X-Request-ID"] == client_id


@pytest.mark.parametrize(
    "hostile",
    [
        "abc\r\nSet-Cookie: session=stolen",
        "abc\nX-Injected: 1",
        "x" * 500,
        "x" * 129,
        "<script>alert(1)</script>",
        "id with spaces",
        "",
    ],
    ids=["crlf", "newline", "500-chars", "129-chars", "markup", "spaces", "empty"],
)
def test_a_hostile_client_id_is_replaced(client, hostile):
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response.status_code == 200
    assert HEX_ID.match(response["X-Request-ID"])
    raw_headers = response.serialize_headers()
    assert b"stolen" not in raw_headers
    assert b"X-Injected" not in raw_headers
