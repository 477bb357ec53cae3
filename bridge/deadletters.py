"""Dead letters: every message that will not be forwarded, kept as a workbench.

The database table is what operations staff list, inspect, edit, replay and purge;
a copy of each record is also published on the `opscom.dead` queue for whoever
watches RabbitMQ. Secrets are removed before anything is stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, delete, func, select
from sqlalchemy.engine import Engine, RowMapping

from bridge.db import metadata
from bridge.secret import Secret, redact
from bridge.topology import message_properties

dead_letters = Table(
    "opscom_dead_letters", metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("error_code", Integer),
    Column("vendor", String(100), index=True),
    Column("source", String(100), index=True),
    Column("source_id", String(200), index=True),
    Column("event_id", String(200)),
    Column("action", String(10)),
    Column("attempts", Text, nullable=False),
    Column("message", Text),
    Column("command", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

#: The fields of a dead letter, in the order shown to users.
FIELDS = ("id", "reason", "error_code", "vendor", "source", "source_id", "event_id",
          "action", "attempts", "created_at", "message", "command")


@dataclass(frozen=True)
class Filter:
    """Which dead letters an operation applies to (all fields optional)."""

    vendor: str | None = None
    error_code: int | None = None
    since: datetime | None = None
    source: str | None = None
    permit: str | None = None  # source_id

    def clauses(self) -> list[Any]:
        c = dead_letters.c
        found = []
        if self.vendor:
            found.append(c.vendor == self.vendor)
        if self.error_code is not None:
            found.append(c.error_code == self.error_code)
        if self.since is not None:
            found.append(c.created_at >= self.since)
        if self.source:
            found.append(c.source == self.source)
        if self.permit:
            found.append(c.source_id == self.permit)
        return found


class DeadLetters:
    """The dead-letter table on one engine; `secrets` are scrubbed from all text."""

    def __init__(self, engine: Engine, secrets: Iterable[Secret] = ()) -> None:
        self.engine = engine
        self.secrets = list(secrets)

    def record(self, *, reason: str, message: Any, command: dict[str, Any] | None,
               attempts: list[dict[str, Any]] | None = None, error_code: int | None = None,
               vendor: str | None = None, source: str | None = None,
               source_id: str | None = None, event_id: str | None = None,
               action: str | None = None) -> dict[str, Any]:
        """Store a dead letter (replacing an earlier one for the same event); return it."""
        row = {
            "reason": self._clean(reason), "error_code": error_code, "vendor": vendor,
            "source": source, "source_id": source_id, "event_id": event_id,
            "action": action,
            "attempts": self._clean(json.dumps(attempts or [], default=str)),
            "message": self._clean(json.dumps(message, default=str)),
            "command": self._clean(json.dumps(command, default=str)),
            "created_at": datetime.now(UTC),
        }
        with self.engine.begin() as conn:
            existing = None
            if source and event_id:
                existing = conn.execute(select(dead_letters.c.id).where(
                    dead_letters.c.source == source,
                    dead_letters.c.event_id == event_id)).scalar()
            if existing:
                conn.execute(delete(dead_letters).where(dead_letters.c.id == existing))
            seq = (conn.execute(select(func.max(dead_letters.c.seq))).scalar() or 0) + 1
            row.update(id=existing or str(uuid.uuid4()), seq=seq)
            conn.execute(dead_letters.insert().values(**row))
        return _public(row)

    def get(self, dead_letter_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(dead_letters).where(
                dead_letters.c.id == dead_letter_id)).mappings().first()
        return _public(row) if row else None

    def list(self, where: Filter = Filter(), limit: int | None = 100,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Matching dead letters, oldest first (the order a replay keeps), and their total."""
        clauses = where.clauses()
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(dead_letters)
                                 .where(*clauses)).scalar() or 0
            query = select(dead_letters).where(*clauses).order_by(dead_letters.c.seq)
            if limit is not None:
                query = query.limit(limit).offset(offset)
            rows = conn.execute(query).mappings().all()
        return [_public(r) for r in rows], int(total)

    def remove(self, dead_letter_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(delete(dead_letters).where(dead_letters.c.id == dead_letter_id))
        return done.rowcount > 0

    def purge(self, where: Filter = Filter()) -> int:
        with self.engine.begin() as conn:
            done = conn.execute(delete(dead_letters).where(*where.clauses()))
        return int(done.rowcount)

    def _clean(self, text: str) -> str:
        return redact(text, self.secrets)


def _public(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """The API shape: JSON columns parsed, time in ISO 8601."""
    out = {name: row[name] for name in FIELDS}
    for name in ("attempts", "message", "command"):
        out[name] = json.loads(out[name]) if out[name] is not None else None
    created = out["created_at"]
    if isinstance(created, datetime):
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        out["created_at"] = created.isoformat()
    return out


def publish_copy(publisher: Any, record: dict[str, Any]) -> None:
    """Put a copy of a dead-letter record on the opscom.dead queue (confirmed)."""
    props = message_properties(record["id"], record.get("event_id"), {
        "x-opscom-reason": str(record["reason"])[:250],
        "x-opscom-error-code": record.get("error_code")})
    body = json.dumps(record, default=str).encode("utf-8")
    publisher.publish_raw([("opscom.dead", "", body, props)])
