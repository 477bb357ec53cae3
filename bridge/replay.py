"""Replaying dead letters: as they are, edited, one by one, by permit (in order) or by filter.

A replay lifts the permit's dead-letter block, forgets the event's failed status and
publishes the command to the work queues again; the dead letter is removed only once
RabbitMQ confirmed the publish. An edited create that names a `referenceID` adopts
that OPS-COM permit instead of pushing a new one (the way out of an unknown outcome).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from bridge.deadletters import DeadLetters, Filter
from bridge.publisher import Publisher
from bridge.store import Store
from schemas.command import load_command


@dataclass
class ReplayResult:
    replayed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"replayed": self.replayed, "adopted": self.adopted, "failed": self.failed}


class Replayer:
    def __init__(self, dead: DeadLetters, store: Store, publisher: Publisher) -> None:
        self.dead, self.store, self.publisher = dead, store, publisher

    def replay_one(self, dead_letter_id: str, edited: dict[str, Any] | None = None,
                   result: ReplayResult | None = None) -> ReplayResult:
        """Replay one dead letter, optionally with an edited command (validated first)."""
        result = result or ReplayResult()
        record = self.dead.get(dead_letter_id)
        if record is None:
            result.failed[dead_letter_id] = "no such dead letter"
            return result
        try:
            command = self._command(record, edited)
        except ValueError as exc:
            result.failed[dead_letter_id] = str(exc)
            return result
        if command.get("source_id"):
            self.store.unblock(command["source"], command["source_id"])
        self.store.forget_event(command["source"], command["event_id"])
        if command["action"] == "create" and command.get("referenceID"):
            self.store.adopt(command, command["referenceID"])
            self.dead.remove(dead_letter_id)
            result.adopted.append(dead_letter_id)
            return result
        self.publisher.publish_commands([command], original=record["message"],
                                        vendor=record["vendor"],
                                        headers={"x-opscom-replay-of": dead_letter_id})
        self.dead.remove(dead_letter_id)
        result.replayed.append(dead_letter_id)
        return result

    def replay_many(self, where: Filter) -> ReplayResult:
        """Replay every matching dead letter, oldest first (so each permit keeps its order)."""
        result = ReplayResult()
        items, _total = self.dead.list(where, limit=None)
        for item in items:
            self.replay_one(item["id"], result=result)
        return result

    def _command(self, record: dict[str, Any], edited: dict[str, Any] | None) -> dict[str, Any]:
        raw = edited if edited is not None else record["command"]
        if raw is None:
            raise ValueError("nothing to replay: this message never became a command; "
                             "replay it with an edited command")
        raw = dict(raw)
        raw.setdefault("event_id", record.get("event_id"))
        raw.setdefault("source", record.get("source"))
        try:
            return load_command(raw)
        except ValidationError as exc:
            raise ValueError(f"invalid command: {exc.messages}") from None
