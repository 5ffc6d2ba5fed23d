"""Standard Webhooks secrets and signatures, checked against the `standardwebhooks` library.

The end-to-end checks (real requests verified by the library) are in test_delivery.py.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from standardwebhooks.webhooks import Webhook

from core.errors import FieldErrors
from core.webhooks.signing import (
    InvalidSecret,
    secret_generate,
    secret_key,
    signature,
    signed_headers,
)
from licensing.services.webhooks import webhook_endpoint_create


def test_a_new_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != secret_generate()
    for size in (24, 64):
        assert len(secret_key(secret_generate(size))) == size
    with pytest.raises(ValueError):
        secret_generate(16)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "whsec_",
        "sk_" + base64.b64encode(b"x" * 32).decode(),
        "whsec_" + base64.b64encode(b"x" * 23).decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
        "whsec_not base64!",
    ],
)
def test_a_malformed_secret_is_refused(text):
    with pytest.raises(InvalidSecret):
        secret_key(text)


def test_the_signature_is_the_libraries_and_covers_id_timestamp_and_body():
    secret = secret_generate()
    moment = dt.datetime(2025, 11, 13, 2, 0, tzinfo=dt.UTC)
    body = '{"type":"alert.raised","data":{"message":"Überfällig"}}'
    ours = signature(
        secret=secret, webhook_id="msg_1", timestamp=int(moment.timestamp()), body=body.encode()
    )
    assert ours == Webhook(secret).sign("msg_1", moment, body)
    other_id = signature(
        secret=secret, webhook_id="msg_2", timestamp=int(moment.timestamp()), body=body.encode()
    )
    assert other_id != ours


def test_the_headers_carry_one_signature_per_secret_newest_first():
    new, old = secret_generate(), secret_generate()
    headers = signed_headers(secrets=[new, old], webhook_id="msg_1", timestamp=1, body=b"{}")
    first, second = headers["webhook-signature"].split(" ")
    assert first == signature(secret=new, webhook_id="msg_1", timestamp=1, body=b"{}")
    assert second == signature(secret=old, webhook_id="msg_1", timestamp=1, body=b"{}")
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1"


@pytest.mark.django_db
def test_an_endpoint_may_be_given_a_known_secret_but_only_a_well_formed_one(organization, actor):
    secret = secret_generate()
    endpoint = webhook_endpoint_create(
        organization=organization, actor=actor, url="http://127.0.0.1:8765/", secret=secret
    )
    assert endpoint.secret == secret
    with pytest.raises(FieldErrors):
        webhook_endpoint_create(
            organization=organization, actor=actor, url="http://127.0.0.1:8765/", secret="nope"
        )
