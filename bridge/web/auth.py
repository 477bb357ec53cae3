"""Webhook authentication, verified on the raw body before anything is parsed.

Schemes: Standard Webhooks, generic HMAC-SHA256 (hex or base64, optional timestamp,
Stripe-style `t=…,v1=…`), HTTP Basic and an API-key header. Every credential may be
several values separated by spaces (key rotation: any one matches). Comparisons are
constant-time. Each verifier can also `sign()` a body, for `opscom-bridge sign` and tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bridge.errors import ConfigError
from bridge.secret import Secret

#: Standard Webhooks and Stripe reject timestamps more than 5 minutes off.
DEFAULT_TOLERANCE = 300
SCHEMES = ("standard_webhooks", "hmac", "basic", "api_key")

Clock = Callable[[], float]


class AuthError(Exception):
    """The request is not authenticated; the message is safe to show (no secrets)."""


class Verifier(Protocol):
    scheme: str

    def verify(self, headers: Mapping[str, str], body: bytes) -> None: ...

    def sign(self, body: bytes) -> dict[str, str]: ...


def lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: look them up in lower case."""
    return {k.lower(): v for k, v in headers.items()}


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _check_time(stamp: str | None, tolerance: float, clock: Clock) -> None:
    try:
        moment = float(stamp or "")
    except ValueError:
        raise AuthError("missing or malformed timestamp") from None
    if abs(clock() - moment) > tolerance:
        raise AuthError("timestamp outside tolerance")


class StandardWebhooks:
    """`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …` (standardwebhooks.com)."""

    scheme = "standard_webhooks"

    def __init__(self, secrets: list[str], tolerance: float = DEFAULT_TOLERANCE,
                 clock: Clock = time.time) -> None:
        self.keys = [self._key(s) for s in secrets]
        self.tolerance = tolerance
        self.clock = clock

    @staticmethod
    def _key(secret: str) -> bytes:
        text = secret.removeprefix("whsec_")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("vendor secret", "a Standard Webhooks secret must be "
                              "whsec_ followed by base64") from None

    def _digest(self, key: bytes, msg_id: str, stamp: str, body: bytes) -> bytes:
        return hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        headers = lower(headers)
        msg_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not (msg_id and stamp and signatures):
            raise AuthError("missing webhook-id, webhook-timestamp or webhook-signature")
        _check_time(stamp, self.tolerance, self.clock)
        given = [_b64(sig.split(",", 1)[1]) for sig in signatures.split()
                 if sig.startswith("v1,")]
        for key in self.keys:
            expected = self._digest(key, msg_id, stamp, body)
            if any(_equal(expected, g) for g in given):
                return
        raise AuthError("no matching signature")

    def sign(self, body: bytes, msg_id: str | None = None) -> dict[str, str]:
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        stamp = str(int(self.clock()))
        digest = base64.b64encode(self._digest(self.keys[0], msg_id, stamp, body)).decode()
        return {"webhook-id": msg_id, "webhook-timestamp": stamp,
                "webhook-signature": f"v1,{digest}"}


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


class Hmac:
    """HMAC-SHA256 of the raw body (or `<timestamp>.<body>`) in a header, hex or base64."""

    scheme = "hmac"

    def __init__(self, secrets: list[str], header: str = "X-Signature", encoding: str = "hex",
                 prefix: str = "", timestamp_header: str | None = None,
                 tolerance: float = DEFAULT_TOLERANCE, stripe: bool = False,
                 clock: Clock = time.time) -> None:
        self.keys = [s.encode() for s in secrets]
        self.header, self.encoding, self.prefix = header, encoding, prefix
        self.timestamp_header, self.tolerance = timestamp_header, tolerance
        self.stripe, self.clock = stripe, clock

    def _digest(self, key: bytes, body: bytes, stamp: str | None) -> bytes:
        signed = f"{stamp}.".encode() + body if stamp is not None else body
        return hmac.new(key, signed, hashlib.sha256).digest()

    def _encode(self, digest: bytes) -> str:
        return digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()

    def _parts(self, headers: Mapping[str, str]) -> tuple[str | None, list[str]]:
        headers = lower(headers)
        value = (headers.get(self.header.lower()) or "").strip()
        if not value:
            raise AuthError(f"missing {self.header} header")
        if self.stripe:
            pairs = [p.split("=", 1) for p in value.split(",") if "=" in p]
            stamp = next((v for k, v in pairs if k.strip() == "t"), None)
            return stamp or "", [v.strip() for k, v in pairs if k.strip() == "v1"]
        stamp = headers.get(self.timestamp_header.lower()) if self.timestamp_header else None
        if self.timestamp_header and not stamp:
            raise AuthError(f"missing {self.timestamp_header} header")
        return stamp, [value.removeprefix(self.prefix)]

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        stamp, given = self._parts(headers)
        if stamp is not None:
            _check_time(stamp, self.tolerance, self.clock)
        for key in self.keys:
            expected = self._encode(self._digest(key, body, stamp)).encode()
            if any(_equal(expected, g.encode()) for g in given):
                return
        raise AuthError("no matching signature")

    def sign(self, body: bytes) -> dict[str, str]:
        stamp = str(int(self.clock())) if (self.stripe or self.timestamp_header) else None
        signature = self._encode(self._digest(self.keys[0], body, stamp))
        if self.stripe:
            return {self.header: f"t={stamp},v1={signature}"}
        headers = {self.header: self.prefix + signature}
        if self.timestamp_header and stamp is not None:
            headers[self.timestamp_header] = stamp
        return headers


class Basic:
    """HTTP Basic; the credential is `user:password`."""

    scheme = "basic"

    def __init__(self, credentials: list[str]) -> None:
        self.tokens = [base64.b64encode(c.encode()).decode() for c in credentials]

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        kind, _, token = (lower(headers).get("authorization") or "").partition(" ")
        if kind.lower() != "basic" or not token:
            raise AuthError("missing Basic credentials")
        if not any(_equal(t.encode(), token.strip().encode()) for t in self.tokens):
            raise AuthError("wrong credentials")

    def sign(self, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Basic {self.tokens[0]}"}


class ApiKey:
    """A shared key in a header (default `X-API-Key`)."""

    scheme = "api_key"

    def __init__(self, keys: list[str], header: str = "X-API-Key") -> None:
        self.keys, self.header = [k.encode() for k in keys], header

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        given = (lower(headers).get(self.header.lower()) or "").strip().encode()
        if not given:
            raise AuthError(f"missing {self.header} header")
        if not any(_equal(k, given) for k in self.keys):
            raise AuthError("wrong API key")

    def sign(self, body: bytes) -> dict[str, str]:
        return {self.header: self.keys[0].decode()}


class Deny:
    """A vendor without a configured credential: never accept unauthenticated requests."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        raise AuthError("no credential is configured for this vendor")

    def sign(self, body: bytes) -> dict[str, str]:
        raise AuthError("no credential is configured for this vendor")


def build_verifier(vendor: str, config: Mapping[str, Any], secret: Secret | None) -> Verifier:
    """The verifier for `vendors.<vendor>.auth`; ConfigError names a bad setting."""
    where = f"BRIDGE_CONFIG vendors.{vendor}.auth"
    scheme = str(config.get("scheme", ""))
    if scheme not in SCHEMES:
        raise ConfigError(f"{where}.scheme", f"must be one of {', '.join(SCHEMES)}")
    extra = set(config) - _OPTIONS[scheme] - {"scheme"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}", f"is not a setting of {scheme}")
    if secret is None or not secret.reveal().split():
        return Deny(scheme)
    values = secret.reveal().split()
    try:
        return _make(scheme, values, config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, f"invalid setting: {exc}") from None
    except ConfigError:
        raise ConfigError(f"BRIDGE_VENDOR_{vendor.upper()}_SECRET",
                          "must be whsec_ followed by base64 (Standard Webhooks)") from None


_OPTIONS = {"standard_webhooks": {"tolerance"}, "basic": set(), "api_key": {"header"},
            "hmac": {"header", "encoding", "prefix", "timestamp_header", "tolerance", "stripe"}}


def _make(scheme: str, values: list[str], config: Mapping[str, Any]) -> Verifier:
    if scheme == "standard_webhooks":
        return StandardWebhooks(values, float(config.get("tolerance", DEFAULT_TOLERANCE)))
    if scheme == "basic":
        return Basic(values)
    if scheme == "api_key":
        return ApiKey(values, str(config.get("header", "X-API-Key")))
    encoding = str(config.get("encoding", "hex"))
    if encoding not in ("hex", "base64"):
        raise ValueError("encoding must be hex or base64")
    return Hmac(values, header=str(config.get("header", "X-Signature")), encoding=encoding,
                prefix=str(config.get("prefix", "")),
                timestamp_header=config.get("timestamp_header"),
                tolerance=float(config.get("tolerance", DEFAULT_TOLERANCE)),
                stripe=bool(config.get("stripe", False)))
