"""One SQLAlchemy metadata and engine factory for every table the bridge keeps.

Modules define their tables on `metadata`; `connect()` creates what is missing.
SQLite is the default for a first look; PostgreSQL is the production database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

metadata = MetaData()


def connect(database_url: str, create: bool = True) -> Engine:
    """An engine for `database_url` with the bridge's tables created if missing."""
    kwargs: dict[str, Any] = {"future": True}
    if database_url.startswith("sqlite"):
        # Several threads (web, worker lanes) share one file; WAL lets readers
        # run beside the writer and busy_timeout makes writers wait, not fail.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # No pre-ping (an extra round trip per checkout): after a database restart the
        # first statement fails, SQLAlchemy drops the stale pool, and callers retry.
        kwargs.update(pool_size=10, max_overflow=30, pool_recycle=1800)
    engine = create_engine(database_url, **kwargs)
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        _import_tables()
        _create_tables(engine)
    return engine


#: Any fixed number: the PostgreSQL advisory lock that serialises table creation.
_CREATE_LOCK = 0x0B51D6E


def _create_tables(engine: Engine) -> None:
    """Create missing tables; on PostgreSQL under a lock, since replicas start together."""
    if engine.dialect.name != "postgresql":
        # SQLite has no advisory locks: a process that loses the race to create a
        # table sees "already exists"; the next pass finds every table in place.
        for attempt in range(5):
            try:
                metadata.create_all(engine)
                return
            except OperationalError:
                if attempt == 4:
                    raise
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
        metadata.create_all(conn)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _import_tables() -> None:
    """Import every module that defines tables so create_all sees them all."""
    import importlib

    for name in ("bridge.store", "bridge.deadletters", "bridge.web.dedupe"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
