"""The OPS-COM Permits API client: every call ends in an `Outcome`, never an exception.

One pooled keep-alive `requests.Session`, safe to share between the worker's threads,
with no automatic retries: retrying is the worker's decision, because a create that
OPS-COM may already have applied must not be sent again blindly (OPS-COM has no
idempotency key). The `Outcome.kind` says what the caller may do next:

- SUCCESS: applied (push/update/delete: `reference_id`; stats: `data`).
- PERMANENT: OPS-COM refused it (an ErrorCode, a 4xx, an answer that is not a success).
- NOT_SENT: the request never reached OPS-COM (connect refused or timed out, DNS, the
  request not fully written); safe to send again.
- UNKNOWN: sent, but no answer (read timeout, connection closed or reset after the
  request was written); it may have been applied.
- THROTTLED: 429, or 503 with Retry-After; wait `retry_after` seconds (capped).
- TRANSIENT: another 5xx or 408; OPS-COM did not apply it, try later.

Knowing whether the request was written: urllib3 swallows a broken pipe while sending
(the server may have answered before closing) and reports the read that follows, so a
request that died on a stale pooled connection looks like one whose answer was lost.
A connection class notes, per thread, when the whole request left this process; an
error before that is NOT_SENT. Pooled connections idle longer than `max_idle` are
closed before reuse, which keeps clear of servers' keep-alive timeouts (the race in
which a server closes a connection while our request is on its way: that one is truly
UNKNOWN and is reported so).

The token travels only in the request body; it never appears in an Outcome or a log.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bridge.errors import SettingsError
from bridge.opscom_http import (
    DEFAULT_MAX_IDLE,
    DEFAULT_POOL_SIZE,
    TrackedAdapter,
    forget_written,
    request_written,
)
from bridge.secret import Secret, redact
from bridge.settings import Settings

log = logging.getLogger(__name__)

OPS = ("push", "update", "delete", "stats")
#: Statuses meaning "not now": the server did not act and says when to come back.
THROTTLE_STATUSES = frozenset({429, 503})
#: 4xx statuses that are about timing, not about the request: 408 Request Timeout.
TRANSIENT_4XX = frozenset({408})
#: Characters of a non-JSON answer kept for the dead letter.
EXCERPT = 300


class OutcomeKind(enum.Enum):
    SUCCESS = "success"
    PERMANENT = "permanent"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"
    THROTTLED = "throttled"
    TRANSIENT = "transient"


#: Kinds that may succeed later if sent again.
RETRYABLE = frozenset(
    {OutcomeKind.NOT_SENT, OutcomeKind.UNKNOWN, OutcomeKind.THROTTLED, OutcomeKind.TRANSIENT}
)


@dataclass(frozen=True)
class Outcome:
    """What one OPS-COM call came to; times in seconds."""

    kind: OutcomeKind
    op: str
    http_status: int | None = None
    reference_id: str | None = None
    data: tuple[dict[str, Any], ...] | None = None
    error_code: int | None = None
    error_message: str | None = None
    retry_after: float | None = None
    exception: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SUCCESS

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def describe(self) -> str:
        """One line for logs and dead-letter reasons (never holds the token)."""
        parts = [self.kind.value, self.op]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.error_code is not None:
            parts.append(f"ErrorCode {self.error_code}")
        if self.error_message:
            parts.append(self.error_message)
        if self.retry_after is not None:
            parts.append(f"retry after {self.retry_after:g} s")
        if self.exception:
            parts.append(self.exception)
        return ": ".join(parts[:2]) + (" " + "; ".join(parts[2:]) if parts[2:] else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for a dead letter's attempt list."""
        found = asdict(self)
        found["kind"] = self.kind.value
        found["data"] = list(self.data) if self.data is not None else None
        return found


# -- the client ----------------------------------------------------------------------
class OpsComClient:
    """Calls OPS-COM's push/update/delete/stats; thread-safe; returns Outcomes."""

    def __init__(
        self,
        base_url: str,
        client_code: str,
        token: Secret,
        connect_timeout: float = 3.05,
        read_timeout: float = 15.0,
        retry_after_max: float = 3600.0,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_idle: float = DEFAULT_MAX_IDLE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_code = client_code
        self._token = token
        self.timeouts = (connect_timeout, read_timeout)
        self.retry_after_max = retry_after_max
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        adapter = TrackedAdapter(pool_size, max_idle)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpsComClient:
        if not settings.opscom_base_url:
            raise SettingsError("OPSCOM_BASE_URL", "is required but not set")
        if settings.opscom_api_token is None:
            raise SettingsError("OPSCOM_API_TOKEN", "is required but not set")
        return cls(
            settings.opscom_base_url,
            settings.opscom_client_code,
            settings.opscom_api_token,
            settings.opscom_connect_timeout,
            settings.opscom_read_timeout,
            settings.retry_after_max,
            pool_size=max(DEFAULT_POOL_SIZE, settings.max_in_flight * 2),
        )

    def url(self, op: str) -> str:
        return f"{self.base_url}/api/{self.client_code}/v1/permits/{op}"

    def push(self, body: Mapping[str, Any]) -> Outcome:
        """Create a permit; `body` is the OPS-COM request without apiToken."""
        return self.call("push", body)

    def update(self, body: Mapping[str, Any]) -> Outcome:
        return self.call("update", body)

    def delete(self, body: Mapping[str, Any]) -> Outcome:
        return self.call("delete", body)

    def stats(self, zones: str | Iterable[str] | None = None) -> Outcome:
        """Permit counts per zone and type, for `zones` (comma list or names) or all."""
        if zones is not None and not isinstance(zones, str):
            zones = ",".join(zones)
        return self.call("stats", {"zones": zones} if zones else {})

    def close(self) -> None:
        self.session.close()

    def call(self, op: str, body: Mapping[str, Any]) -> Outcome:
        """POST one operation and classify whatever happens."""
        if op not in OPS:
            raise ValueError(f"unknown OPS-COM operation {op!r}")
        payload = {**body, "apiToken": self._token.reveal()}
        started = time.monotonic()
        forget_written()
        try:
            response = self._post(op, payload)
        except requests.RequestException as exc:
            outcome = self._failed(op, exc, time.monotonic() - started)
        else:
            outcome = classify(op, response, time.monotonic() - started, self.retry_after_max)
            outcome = self._scrubbed(outcome)
        log.debug("opscom %s: %s http=%s code=%s in %.3f s", op, outcome.kind.value,
                  outcome.http_status, outcome.error_code, outcome.elapsed)
        return outcome

    def _post(self, op: str, payload: dict[str, Any]) -> requests.Response:
        # allow_redirects=False: requests would turn a redirected POST into a GET.
        return self.session.post(
            self.url(op), json=payload, timeout=self.timeouts, allow_redirects=False
        )

    def _scrubbed(self, outcome: Outcome) -> Outcome:
        """Redact the token from text a server sent back (a server might echo the body)."""
        if outcome.error_message is None:
            return outcome
        return replace(outcome, error_message=redact(outcome.error_message, [self._token]))

    def _failed(self, op: str, exc: requests.RequestException, elapsed: float) -> Outcome:
        text = redact(f"{type(exc).__name__}: {exc}", [self._token])
        return Outcome(exception_kind(exc), op, exception=text, elapsed=elapsed)


# -- classification ------------------------------------------------------------------
def exception_kind(exc: requests.RequestException) -> OutcomeKind:
    """Kind of a call that ended in an exception, by whether the request left us."""
    if is_misuse(exc):
        return OutcomeKind.PERMANENT
    if not request_written():
        return OutcomeKind.NOT_SENT
    return OutcomeKind.UNKNOWN


def is_misuse(exc: requests.RequestException) -> bool:
    """A malformed URL or header: our configuration, which no retry will fix."""
    return isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidHeader,
    )


def classify(
    op: str, response: requests.Response, elapsed: float, retry_after_max: float
) -> Outcome:
    """Kind of a call that got an HTTP answer; ErrorCode wins over the HTTP status."""
    status = response.status_code
    payload = _json(response)
    base: dict[str, Any] = {"op": op, "http_status": status, "elapsed": elapsed}
    if is_throttled(status, response.headers):
        wait = retry_after(response.headers.get("Retry-After"), retry_after_max)
        return Outcome(OutcomeKind.THROTTLED, retry_after=wait, **base)
    if isinstance(payload, dict) and "ErrorCode" in payload:
        return _refused(payload, base)
    if is_transient_status(status):
        return Outcome(OutcomeKind.TRANSIENT, error_message=_excerpt(response), **base)
    if status >= 300:
        message = f"HTTP {status}: {_excerpt(response)}"
        return Outcome(OutcomeKind.PERMANENT, error_message=message, **base)
    return _answered(op, payload, response, base)


def is_throttled(status: int, headers: Mapping[str, str]) -> bool:
    """429 always; 503 only with Retry-After (without one it is an ordinary outage)."""
    return status == 429 or (status in THROTTLE_STATUSES and "Retry-After" in headers)


def is_transient_status(status: int) -> bool:
    """5xx: the server failed, not the request. 408: it gave up waiting for us."""
    return status >= 500 or status in TRANSIENT_4XX


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), within 0..cap."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def _refused(payload: dict[str, Any], base: dict[str, Any]) -> Outcome:
    code = payload.get("ErrorCode")
    message = payload.get("ErrorMessage")
    return Outcome(
        OutcomeKind.PERMANENT,
        error_code=_int(code),
        error_message=str(message) if message is not None else None,
        **base,
    )


def _answered(op: str, payload: Any, response: requests.Response, base: dict) -> Outcome:
    """A 2xx: success only if the body has the documented success shape."""
    if not isinstance(payload, dict):
        message = f"answer is not a JSON object: {_excerpt(response)}"
        return Outcome(OutcomeKind.PERMANENT, error_message=message, **base)
    if op == "stats":
        return _stats_answer(payload, base)
    reference = payload.get("reference_id") or payload.get("InternalReferenceID")
    if payload.get("status") != "success":
        message = f'answer lacks "status": "success": {_excerpt(response)}'
        return Outcome(OutcomeKind.PERMANENT, error_message=message, **base)
    if op == "push" and not isinstance(reference, str):
        message = "push succeeded without a reference_id; the permit cannot be updated"
        return Outcome(OutcomeKind.PERMANENT, error_message=message, **base)
    ref = str(reference) if reference is not None else None
    return Outcome(OutcomeKind.SUCCESS, reference_id=ref, **base)


def _stats_answer(payload: dict[str, Any], base: dict[str, Any]) -> Outcome:
    data = payload.get("data")
    if not isinstance(data, list):
        message = 'stats answer lacks a "data" list'
        return Outcome(OutcomeKind.PERMANENT, error_message=message, **base)
    return Outcome(OutcomeKind.SUCCESS, data=tuple(data), **base)


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except (UnicodeDecodeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _excerpt(response: requests.Response) -> str:
    return response.content[:EXCERPT].decode("utf-8", "replace")
