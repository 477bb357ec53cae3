"""Webhook authentication schemes, on raw bytes, with rotation and time tolerance."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from standardwebhooks.webhooks import Webhook

from bridge.errors import ConfigError
from bridge.secret import Secret
from bridge.web.auth import (
    ApiKey,
    AuthError,
    Basic,
    Deny,
    Hmac,
    StandardWebhooks,
    build_verifier,
)

NOW = 1_760_000_000.0
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"hello": "world"}'


def clock() -> float:
    return NOW


def test_standard_webhooks_accepts_the_reference_library_signature():
    # Given a signature made by the reference implementation
    from datetime import UTC, datetime

    signature = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(int(NOW)),
               "Webhook-Signature": signature}
    # When / Then: it verifies (header names in any case)
    StandardWebhooks([SECRET], clock=clock).verify(headers, BODY)


def test_standard_webhooks_rotation_accepts_either_secret():
    signed_with_old = StandardWebhooks([OLD_SECRET], clock=clock).sign(BODY, "msg_2")
    StandardWebhooks([SECRET, OLD_SECRET], clock=clock).verify(signed_with_old, BODY)


def test_standard_webhooks_several_signatures_in_the_header():
    good = StandardWebhooks([SECRET], clock=clock).sign(BODY, "msg_3")
    bad = StandardWebhooks([OLD_SECRET], clock=clock).sign(BODY, "msg_3")
    good["webhook-signature"] = f"{bad['webhook-signature']} v2,xyz {good['webhook-signature']}"
    StandardWebhooks([SECRET], clock=clock).verify(good, BODY)


@pytest.mark.parametrize("change, message", [
    (lambda h, b: (h, b + b" "), "no matching signature"),  # tampered body
    (lambda h, b: ({**h, "webhook-id": "other"}, b), "no matching signature"),
    (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
    (lambda h, b: ({**h, "webhook-timestamp": str(int(NOW) - 301)}, b), "tolerance"),
    (lambda h, b: ({**h, "webhook-timestamp": str(int(NOW) + 301)}, b), "tolerance"),
    (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "timestamp"),
    (lambda h, b: ({**h, "webhook-signature": "v1,!!notbase64"}, b), "no matching"),
    (lambda h, b: ({**h, "webhook-signature": "garbage"}, b), "no matching"),
], ids=["tampered", "other-id", "missing", "stale", "future", "bad-ts", "bad-b64", "garbage"])
def test_standard_webhooks_refuses(change, message):
    headers = StandardWebhooks([SECRET], clock=clock).sign(BODY, "msg_4")
    headers, body = change(headers, BODY)
    with pytest.raises(AuthError, match=message):
        StandardWebhooks([SECRET], clock=clock).verify(headers, body)


def test_standard_webhooks_wrong_secret():
    headers = StandardWebhooks([OLD_SECRET], clock=clock).sign(BODY)
    with pytest.raises(AuthError):
        StandardWebhooks([SECRET], clock=clock).verify(headers, BODY)


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_hmac_over_raw_body(encoding):
    digest = hmac.new(b"s3cret", BODY, hashlib.sha256).digest()
    value = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    verifier = Hmac(["s3cret"], header="X-Sig", encoding=encoding, prefix="sha256=")
    verifier.verify({"x-sig": "sha256=" + value}, BODY)
    with pytest.raises(AuthError):
        verifier.verify({"x-sig": "sha256=" + value}, BODY + b"x")


def test_hmac_with_timestamp_header_and_tolerance():
    verifier = Hmac(["s3cret"], header="X-Sig", timestamp_header="X-Ts", clock=clock)
    headers = verifier.sign(BODY)
    expected = hmac.new(b"s3cret", f"{int(NOW)}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-Sig": expected, "X-Ts": str(int(NOW))}
    verifier.verify(headers, BODY)
    with pytest.raises(AuthError, match="tolerance"):
        verifier.verify({**headers, "X-Ts": str(int(NOW) - 1000)}, BODY)
    with pytest.raises(AuthError, match="missing X-Ts"):
        verifier.verify({"X-Sig": expected}, BODY)


def test_hmac_stripe_style():
    expected = hmac.new(b"whsec_x", f"{int(NOW)}.".encode() + BODY, hashlib.sha256).hexdigest()
    verifier = Hmac(["other", "whsec_x"], header="Stripe-Signature", stripe=True, clock=clock)
    verifier.verify({"stripe-signature": f"t={int(NOW)},v1=deadbeef,v1={expected}"}, BODY)
    with pytest.raises(AuthError, match="tolerance"):
        stale = int(NOW) - 400
        verifier.verify({"stripe-signature": f"t={stale},v1={expected}"}, BODY)
    with pytest.raises(AuthError):
        verifier.verify({"stripe-signature": f"v1={expected}"}, BODY)


def test_basic():
    verifier = Basic(["easy:park", "easy:newpass"])
    token = base64.b64encode(b"easy:newpass").decode()
    verifier.verify({"Authorization": f"Basic {token}"}, BODY)
    wrong = base64.b64encode(b"easy:nope").decode()
    for headers in ({"Authorization": f"Basic {wrong}"}, {}, {"Authorization": "Bearer x"}):
        with pytest.raises(AuthError):
            verifier.verify(headers, BODY)


def test_api_key():
    verifier = ApiKey(["k1"], header="X-API-Key")
    verifier.verify({"x-api-key": "k1"}, BODY)
    with pytest.raises(AuthError):
        verifier.verify({"x-api-key": "k2"}, BODY)
    with pytest.raises(AuthError):
        verifier.verify({}, BODY)


def test_no_secret_means_deny():
    verifier = build_verifier("acme", {"scheme": "basic"}, None)
    assert isinstance(verifier, Deny)
    with pytest.raises(AuthError):
        verifier.verify({"Authorization": "Basic eDp5"}, BODY)


@pytest.mark.parametrize("config, secret, field", [
    ({"scheme": "oauth"}, "x", "vendors.acme.auth.scheme"),
    ({"scheme": "basic", "header": "X"}, "a:b", "vendors.acme.auth.header"),
    ({"scheme": "hmac", "encoding": "base32"}, "x", "vendors.acme.auth"),
    ({"scheme": "standard_webhooks"}, "whsec_***notbase64", "BRIDGE_VENDOR_ACME_SECRET"),
])
def test_bad_auth_config_names_the_field(config, secret, field):
    with pytest.raises(ConfigError) as caught:
        build_verifier("acme", config, Secret(secret))
    assert field in str(caught.value)
    assert "notbase64" not in str(caught.value)
