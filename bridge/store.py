"""The reference store: what OPS-COM calls each permit, and what happened to each event.

`permits` maps (source, source_id) to OPS-COM's reference id and holds the per-permit
state that keeps events in order: `waiting_on` (an event of this permit is waiting
for a retry, later ones are held) and `blocked_by` (an event was dead-lettered, later
ones are dead-lettered behind it until a replay). `events` records each event's
status; `sending` is written *before* OPS-COM is called (the intent), so a crash
between the call and its answer is recognised on redelivery as an unknown outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping

from bridge.db import metadata

permits = Table(
    "opscom_permits", metadata,
    Column("source", String(100), primary_key=True),
    Column("source_id", String(200), primary_key=True),
    Column("reference_id", String(50)),
    Column("state", String(16), nullable=False),  # pending | active | deleted
    Column("waiting_on", String(200)),
    Column("blocked_by", String(200)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

events = Table(
    "opscom_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("source_id", String(200)),
    Column("action", String(10), nullable=False),
    # sending | applied | retrying | held | deadlettered
    Column("status", String(16), nullable=False),
    Column("envelope", Text),  # kept only while held
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "event_id", name="uq_opscom_events_source_event"),
    # Every event asks whether its permit has held events: keep that an index look-up.
    Index("ix_opscom_events_permit_status", "source", "source_id", "status"),
    # The sweep (stale held events) and the retention purge look by status and age.
    Index("ix_opscom_events_status_updated", "status", "updated_at"),
)

#: Statuses after which an event is never sent again (unless replayed).
FINAL = frozenset({"applied", "deadlettered"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class State:
    """What the store knows about one event and its permit, read in one go."""

    event_status: str | None
    permit: RowMapping | None
    has_held: bool

    @property
    def waiting_on(self) -> str | None:
        return self.permit["waiting_on"] if self.permit is not None else None

    @property
    def blocked_by(self) -> str | None:
        return self.permit["blocked_by"] if self.permit is not None else None


class Store:
    """Reference store on one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def state(self, cmd: dict[str, Any]) -> State:
        """The event's status, its permit and whether the permit has held events."""
        with self.engine.connect() as conn:
            status = conn.execute(select(events.c.status).where(
                events.c.source == cmd["source"],
                events.c.event_id == cmd["event_id"])).scalar()
            if not cmd.get("source_id"):
                return State(status, None, False)
            permit = _permit(conn, cmd["source"], cmd["source_id"])
            held = permit is not None and conn.execute(select(events.c.id).where(
                events.c.source == cmd["source"], events.c.source_id == cmd["source_id"],
                events.c.status == "held").limit(1)).first() is not None
        return State(status, permit, held)

    def begin(self, cmd: dict[str, Any], state: State) -> None:
        """The intent, before OPS-COM is called: event `sending` (a create's permit pending)."""
        with self.engine.begin() as conn:
            if cmd["action"] == "create" and cmd.get("source_id") and state.permit is None:
                conn.execute(insert(permits).values(
                    source=cmd["source"], source_id=cmd["source_id"], state="pending",
                    updated_at=_now()))
            _set_event(conn, cmd, "sending", exists=state.event_status is not None)

    def event(self, source: str, event_id: str) -> RowMapping | None:
        with self.engine.connect() as conn:
            return conn.execute(select(events).where(
                events.c.source == source, events.c.event_id == event_id)).mappings().first()

    def permit(self, source: str, source_id: str) -> RowMapping | None:
        with self.engine.connect() as conn:
            return _permit(conn, source, source_id)

    def begin_create(self, cmd: dict[str, Any]) -> None:
        """The intent for a create, reading the state first (for callers without one)."""
        self.begin(cmd, self.state(cmd))

    def applied(self, cmd: dict[str, Any], reference_id: str | None) -> None:
        """Record success in one transaction: event applied, permit state moved on."""
        with self.engine.begin() as conn:
            _set_event(conn, cmd, "applied")
            if not cmd.get("source_id"):
                return
            values: dict[str, Any] = {"updated_at": _now()}
            if cmd["action"] == "create":
                values.update(reference_id=reference_id, state="active")
            elif cmd["action"] == "delete":
                values.update(state="deleted")
            _update_permit(conn, cmd, {**values, **_clear_waiting(cmd)})

    def retrying(self, cmd: dict[str, Any]) -> None:
        """The event waits for a retry; later events of its permit are held behind it."""
        with self.engine.begin() as conn:
            _set_event(conn, cmd, "retrying")
            if cmd.get("source_id"):
                _update_permit(conn, cmd, {"waiting_on": cmd["event_id"],
                                           "updated_at": _now()})

    def deadlettered(self, cmd: dict[str, Any], block: bool = True) -> None:
        """The event is in the dead letters; later events of its permit follow it there."""
        with self.engine.begin() as conn:
            _set_event(conn, cmd, "deadlettered")
            if cmd.get("source_id"):
                values: dict[str, Any] = {"updated_at": _now()}
                if block:
                    values["blocked_by"] = cmd["event_id"]
                _update_permit(conn, cmd, values, clear_waiting=True)

    def hold(self, cmd: dict[str, Any], envelope: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            _set_event(conn, cmd, "held", envelope)

    def held(self, source: str, source_id: str) -> list[dict[str, Any]]:
        """Envelopes of this permit's held events, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(events.c.envelope).where(
                events.c.source == source, events.c.source_id == source_id,
                events.c.status == "held").order_by(events.c.id)).all()
        return [json.loads(row.envelope) for row in rows]

    def stale_held_permits(self, limit: int = 100) -> list[tuple[str, str]]:
        """Permits with held events and nothing to wait for (a crash interrupted a drain)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(events.c.source, events.c.source_id).join(
                permits, (permits.c.source == events.c.source)
                & (permits.c.source_id == events.c.source_id)).where(
                events.c.status == "held", permits.c.waiting_on.is_(None)).distinct()
                .limit(limit)).all()
        return [(r.source, r.source_id) for r in rows]

    def purge_applied(self, older_than: timedelta, batch: int = 5000) -> int:
        """Forget applied events older than `older_than` (at most `batch` per call)."""
        cutoff = _now() - older_than
        with self.engine.begin() as conn:
            ids = select(events.c.id).where(events.c.status == "applied",
                                            events.c.updated_at < cutoff).limit(batch)
            done = conn.execute(delete(events).where(events.c.id.in_(ids.scalar_subquery())))
        return int(done.rowcount)

    def unblock(self, source: str, source_id: str) -> None:
        """Lift a dead-letter block (before a replay of the permit)."""
        with self.engine.begin() as conn:
            conn.execute(update(permits).where(
                permits.c.source == source, permits.c.source_id == source_id)
                .values(blocked_by=None, updated_at=_now()))

    def forget_event(self, source: str, event_id: str) -> None:
        """Drop an event's record so a replay is processed afresh."""
        with self.engine.begin() as conn:
            conn.execute(delete(events).where(
                events.c.source == source, events.c.event_id == event_id,
                events.c.status != "applied"))

    def adopt(self, cmd: dict[str, Any], reference_id: str) -> None:
        """Record an OPS-COM reference for a permit without calling OPS-COM."""
        with self.engine.begin() as conn:
            if _permit(conn, cmd["source"], cmd["source_id"]) is None:
                conn.execute(insert(permits).values(
                    source=cmd["source"], source_id=cmd["source_id"], state="active",
                    reference_id=reference_id, updated_at=_now()))
            _update_permit(conn, cmd, {"reference_id": reference_id, "state": "active",
                                       "blocked_by": None, "updated_at": _now()},
                           clear_waiting=True)
            _set_event(conn, cmd, "applied")

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(select(1))
        return True


def _permit(conn: Connection, source: str, source_id: str) -> RowMapping | None:
    return conn.execute(select(permits).where(
        permits.c.source == source, permits.c.source_id == source_id)).mappings().first()


def _clear_waiting(cmd: dict[str, Any]) -> dict[str, Any]:
    """Values that end the permit's wait if (and only if) this event was what it waited on."""
    return {"waiting_on": case((permits.c.waiting_on == cmd["event_id"], None),
                               else_=permits.c.waiting_on)}


def _update_permit(conn: Connection, cmd: dict[str, Any], values: dict[str, Any],
                   clear_waiting: bool = False) -> None:
    where = [permits.c.source == cmd["source"], permits.c.source_id == cmd["source_id"]]
    if clear_waiting:
        values = {**values, **_clear_waiting(cmd)}
    conn.execute(update(permits).where(*where).values(**values))


def _set_event(conn: Connection, cmd: dict[str, Any], status: str, envelope: Any = None,
               exists: bool | None = None) -> None:
    """Set an event's status; `exists` (when known) saves the statement that would fail."""
    body = json.dumps(envelope) if envelope is not None else None
    row = {"status": status, "envelope": body, "updated_at": _now()}
    if exists is False:
        conn.execute(insert(events).values(
            source=cmd["source"], event_id=cmd["event_id"], source_id=cmd.get("source_id"),
            action=cmd["action"], **row))
        return
    where = [events.c.source == cmd["source"], events.c.event_id == cmd["event_id"]]
    done = conn.execute(update(events).where(*where).values(**row))
    if done.rowcount == 0:
        conn.execute(insert(events).values(
            source=cmd["source"], event_id=cmd["event_id"], source_id=cmd.get("source_id"),
            action=cmd["action"], status=status, envelope=body, updated_at=_now()))
