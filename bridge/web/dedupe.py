"""Dedupe at the door: webhook deliveries already accepted, kept at least `keep_days`.

A delivery is remembered only after RabbitMQ confirmed its commands, so a 503 lets
the vendor retry. Rows older than `keep_days` are purged now and then.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, String, Table, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bridge.db import metadata

#: Seconds between purges of expired rows (per process).
PURGE_INTERVAL = 3600

deliveries = Table(
    "webhook_deliveries", metadata,
    Column("source", String(100), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("accepted_at", DateTime(timezone=True), nullable=False, index=True),
)


class Dedupe:
    """Which (source, event_id) pairs were already accepted."""

    def __init__(self, engine: Engine, keep_days: int = 7) -> None:
        self.engine = engine
        # Vendors retry for days (Standard Webhooks: about 3); a week is the floor.
        self.keep = timedelta(days=max(keep_days, 7))
        self._last_purge = 0.0

    def seen(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The subset of `keys` accepted before."""
        wanted = list(keys)
        if not wanted:
            return set()
        query = select(deliveries.c.source, deliveries.c.event_id).where(
            tuple_(deliveries.c.source, deliveries.c.event_id).in_(wanted))
        with self.engine.connect() as conn:
            return {(row.source, row.event_id) for row in conn.execute(query)}

    def remember(self, keys: Iterable[tuple[str, str]]) -> None:
        """Record accepted deliveries (already known ones are left as they are)."""
        now = datetime.now(UTC)
        rows = [{"source": s, "event_id": e, "accepted_at": now} for s, e in keys]
        if not rows:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(deliveries).values(rows).on_conflict_do_nothing()
        with self.engine.begin() as conn:
            conn.execute(statement)
        if time.monotonic() - self._last_purge > PURGE_INTERVAL:
            self.purge()

    def purge(self, now: datetime | None = None) -> int:
        """Forget deliveries older than keep_days; return how many."""
        self._last_purge = time.monotonic()
        cutoff = (now or datetime.now(UTC)) - self.keep
        with self.engine.begin() as conn:
            result = conn.execute(delete(deliveries).where(deliveries.c.accepted_at < cutoff))
        return result.rowcount
