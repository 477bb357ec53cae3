"""What the simulator remembers: live permits and the ledger of every request.

Only the event-loop thread touches a `SimState`, so it needs no locks. Persistence is
a whole-file JSON snapshot written atomically (temp file + rename) a moment after a
change, not per request, so a file-backed simulator still serves its load.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bridge.sim.validate import Rejected

#: Seconds between a change and the snapshot that saves it.
SAVE_DELAY = 0.1
#: Type reported by stats for permits pushed through the API.
PUSHED_TYPE = "standard"
UPDATABLE = ("endTime", "plate", "amount", "currency")


def now() -> str:
    """UTC time with microseconds, for ordering ledger entries by eye."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SimState:
    """Permits by reference id, the ledger in arrival order, optional file snapshot."""

    def __init__(self, path: str | None = None, reject_duplicates: bool = False) -> None:
        self.path = path
        self.reject_duplicates = reject_duplicates
        self.permits: dict[str, dict[str, str]] = {}
        self.ledger: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self._save_task: asyncio.Task[None] | None = None
        if path and os.path.exists(path):
            self._load(path)

    # -- ledger ---------------------------------------------------------------
    def record(self, op: str, client: str, body: Any) -> dict[str, Any]:
        """Append an arrival; the handler fills in the answer on the same dict later."""
        entry = {
            "seq": len(self.ledger) + 1,
            "time": now(),
            "op": op,
            "client": client,
            "body": body,
            "status": None,
            "error_code": None,
            "reference_id": None,
            "fault": None,
            "applied": False,
        }
        self.ledger.append(entry)
        self.touch()
        return entry

    def touch(self) -> None:
        """Wake ledger waiters and schedule a snapshot."""
        self.changed.set()
        self.changed = asyncio.Event()
        if self.path and self._save_task is None:
            self._save_task = asyncio.get_running_loop().create_task(self._save_soon())

    # -- permits --------------------------------------------------------------
    def push(self, fields: dict[str, str]) -> str:
        """Store a new permit; 9022 for a twin of a live one when so configured."""
        if self.reject_duplicates and self._twin_exists(fields):
            raise Rejected(9022)
        ref = str(uuid.uuid4())
        self.permits[ref] = {**fields, "type": PUSHED_TYPE, "reference_id": ref}
        return ref

    def _twin_exists(self, fields: dict[str, str]) -> bool:
        key = _identity(fields)
        return any(_identity(p) == key for p in self.permits.values())

    def update(self, fields: dict[str, str]) -> str:
        ref = fields["referenceID"]
        permit = self._live(ref)
        permit.update({k: fields[k] for k in UPDATABLE if k in fields})
        return ref

    def delete(self, fields: dict[str, str]) -> str:
        ref = fields["referenceID"]
        self._live(ref)
        del self.permits[ref]
        return ref

    def _live(self, ref: str) -> dict[str, str]:
        if ref not in self.permits:
            raise Rejected(9009)
        return self.permits[ref]

    def stats(self, zones: str | None) -> list[dict[str, str]]:
        """Live permits counted per (type, zone); totals are strings as OPS-COM sends."""
        wanted = {z.strip() for z in zones.split(",") if z.strip()} if zones else None
        counts = Counter(
            (p["type"], p.get("zone", ""))
            for p in self.permits.values()
            if wanted is None or p.get("zone", "") in wanted
        )
        return [
            {"type": kind, "zone": zone, "total": str(total)}
            for (kind, zone), total in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ]

    def reset(self) -> None:
        self.permits.clear()
        self.ledger.clear()
        self.touch()

    # -- persistence ----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"permits": self.permits, "ledger": self.ledger}

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        self.permits = dict(data.get("permits", {}))
        self.ledger = list(data.get("ledger", []))

    async def _save_soon(self) -> None:
        await asyncio.sleep(SAVE_DELAY)
        self._save_task = None
        self.save()

    def close(self) -> None:
        """Final snapshot at shutdown, in place of the pending delayed one."""
        if self._save_task is not None:
            self._save_task.cancel()
            self._save_task = None
        self.save()

    def save(self) -> None:
        """Write the snapshot atomically, so a crash leaves the old file or the new one."""
        if not self.path:
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sim-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.snapshot(), handle)
        os.replace(tmp, self.path)


def _identity(fields: dict[str, str]) -> tuple[str | None, ...]:
    """What makes two pushes "the same details" for 9022: plate, start, end, zone."""
    return tuple(fields.get(k) for k in ("plate", "startTime", "endTime", "zone"))
