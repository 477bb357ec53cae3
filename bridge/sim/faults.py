"""Fault injection: what goes wrong with a request before OPS-COM logic sees it.

Settings (JSON keys of `POST /_sim/faults`, all optional, merged into the current ones):
`latency_ms` (number, or [low, high] for a uniform range), `error_rate` (0..1) with
`error_kind`, `fail_next` (count) with `fail_kind`, `outage` (a kind, or true for
"503", or false/null to end it), `retry_after` (seconds sent with 429, and with 503
when set), `timeout_hold_s` (how long a "timeout" holds the request), `ops` (the
operations faults apply to; default all).

Kinds: "500", "502", "503", "429", "timeout" (hold, then close without answering; not
applied), "drop_before" (close without answering; not applied; "drop" is the same),
"drop_after" (apply, then close without answering: the answer is lost), "error:NNNN"
(answer that published ErrorCode whatever the body; not applied).
Precedence: outage, then fail_next, then error_rate. Latency applies to every request.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bridge.sim.validate import ERROR_MESSAGES

KINDS = ("500", "502", "503", "429", "timeout", "drop_before", "drop_after")
ALIAS = {"drop": "drop_before"}
#: Longer than any client should wait (the bridge's default read timeout is 15 s).
DEFAULT_HOLD_S = 120.0
#: Retry-After sent with a 429 when none was configured, in seconds.
DEFAULT_RETRY_AFTER = 1.0


class FaultError(ValueError):
    """A fault setting that makes no sense; the /_sim endpoint answers 400."""


def kind_of(value: Any) -> str:
    """Normalise a kind given as text or number ("503", 503, "drop", "error:9006")."""
    kind = ALIAS.get(str(value), str(value))
    if kind not in KINDS and forced_code(kind) is None:
        raise FaultError(
            f"unknown fault kind {value!r}; use one of {', '.join(KINDS)} or error:<ErrorCode>"
        )
    return kind


def forced_code(kind: str) -> int | None:
    """The ErrorCode of an "error:NNNN" kind (any published code), else None."""
    prefix, _, code = kind.partition(":")
    if prefix != "error" or not code.isdigit() or int(code) not in ERROR_MESSAGES:
        return None
    return int(code)


@dataclass(frozen=True)
class Faults:
    """The current fault settings; a value, replaced whole on every change."""

    latency_ms: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    error_kind: str = "503"
    fail_next: int = 0
    fail_kind: str = "503"
    outage: str | None = None
    retry_after: float | None = None
    timeout_hold_s: float = DEFAULT_HOLD_S
    ops: tuple[str, ...] = ("push", "update", "delete", "stats")

    def merged(self, changes: dict[str, Any]) -> Faults:
        """A copy with `changes` (JSON from the control endpoint or CLI) applied."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise FaultError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        try:
            parsed = {name: _PARSERS[name](value) for name, value in changes.items()}
        except FaultError:
            raise
        except (TypeError, ValueError) as exc:
            raise FaultError(f"bad fault setting: {exc}") from None
        return replace(self, **parsed)

    def latency_s(self) -> float:
        low, high = self.latency_ms
        return (low if high <= low else random.uniform(low, high)) / 1000.0

    def choose(self, op: str) -> tuple[Faults, str | None]:
        """The fault for one request (or None) and the settings after it (fail_next spent)."""
        if op not in self.ops:
            return self, None
        if self.outage:
            return self, self.outage
        if self.fail_next > 0:
            return replace(self, fail_next=self.fail_next - 1), self.fail_kind
        if self.error_rate > 0 and random.random() < self.error_rate:
            return self, self.error_kind
        return self, None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency_ms"] = list(self.latency_ms)
        data["ops"] = list(self.ops)
        return data


def _latency(value: Any) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, int | float) else tuple(value)
    if not 0 <= float(low) <= float(high):
        raise FaultError("latency_ms must be >= 0, and a range [low, high] with low <= high")
    return float(low), float(high)


def _rate(value: Any) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise FaultError("error_rate must be between 0 and 1")
    return rate


def _count(value: Any) -> int:
    count = int(value)
    if count < 0:
        raise FaultError("fail_next must be >= 0")
    return count


def _outage(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    return "503" if value is True else kind_of(value)


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    seconds = float(value)
    if seconds < 0:
        raise FaultError("seconds must be >= 0")
    return seconds


def _hold(value: Any) -> float:
    return _seconds(value) or 0.0


def _ops(value: Any) -> tuple[str, ...]:
    ops = tuple(value.split(",") if isinstance(value, str) else value)
    bad = [op for op in ops if op not in Faults.ops]
    if bad:
        raise FaultError(f"unknown op(s) {bad}; use push, update, delete, stats")
    return ops


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "latency_ms": _latency,
    "error_rate": _rate,
    "error_kind": kind_of,
    "fail_next": _count,
    "fail_kind": kind_of,
    "outage": _outage,
    "retry_after": _seconds,
    "timeout_hold_s": _hold,
    "ops": _ops,
}
