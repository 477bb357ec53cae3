"""What every vendor adapter shares: drafts, zone and currency rules, error paths.

An adapter turns a validated payload into `Draft`s (raw canonical commands plus
where each field came from); `finish()` applies the zone map and the currency rule,
loads each draft with `schemas.command.load_command`, and reports the command's
flat errors at the payload's own paths, so a 422 names the field the vendor sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from marshmallow import Schema, ValidationError, fields

from schemas.command import load_command
from schemas.vendors.zones import ZoneMap

#: Currencies OPS-COM documents; anything else needs a currency in the vendor's config.
ACCEPTED_CURRENCIES = frozenset({"CAD", "USD"})

#: What a delete carries: the permit key and the event id, nothing to validate beyond.
DELETE_KEYS = frozenset({"action", "source", "source_id", "referenceID", "event_id"})

Path = tuple[str, ...]


@dataclass
class Context:
    """One request's view of its vendor: delivery id, zone map, configured currency."""

    source: str
    webhook_id: str | None = None
    zones: ZoneMap = field(default_factory=ZoneMap)
    currency: str | None = None
    #: Filled by translate(): vendor zones the map did not know (policy "pass").
    unknown_zones: list[str] = field(default_factory=list)


@dataclass
class Draft:
    """A raw canonical command and the payload path of each of its fields."""

    command: dict[str, Any]
    paths: Mapping[str, Path] = field(default_factory=dict)
    #: Where errors without a known path go (e.g. ("data", "0") for one session).
    base: Path = ()
    #: Zone candidates (payload path, value), preferred first.
    zones: Sequence[tuple[Path, Any]] = ()


class Adapter(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def body_schema(self) -> type[Schema]: ...

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]: ...


class Identifier(fields.Field):
    """An id sent as a JSON number or a non-empty string; loaded as a string."""

    default_error_messages = {"invalid": "Not a valid identifier."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
            raise self.make_error("invalid")
        return str(value).strip()


class Amount(fields.Field):
    """An amount sent as a JSON number or a decimal string; checked by the command."""

    default_error_messages = {"invalid": "Not a valid amount."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.make_error("invalid")
        return value


class VendorSchema(Schema):
    """A vendor payload: optional fields may also be sent as null (= absent)."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if not field_obj.required:
            field_obj.allow_none = True


def load_body(schema: type[Schema], payload: Any) -> dict[str, Any]:
    """Validate a payload against a vendor schema (unknown fields ignored)."""
    return schema(unknown="exclude").load(payload)


def finish(drafts: list[Draft], context: Context) -> list[dict[str, Any]]:
    """Normalized commands for all drafts, or one ValidationError naming payload paths."""
    errors: dict[str, Any] = {}
    loaded = []
    for draft in drafts:
        if draft.command.get("action") == "delete":
            draft.command = {k: v for k, v in draft.command.items() if k in DELETE_KEYS}
        problems = _apply_zone(draft, context) or _apply_currency(draft, context)
        if problems:  # already at payload paths
            merge(errors, problems)
            continue
        try:
            loaded.append(load_command(draft.command))
        except ValidationError as exc:
            merge(errors, remap(exc.messages, draft))
    if errors:
        raise ValidationError(errors)
    return loaded


def remap(messages: Any, draft: Draft) -> dict[str, Any]:
    """Flat {canonical field: [messages]} -> nested at the payload paths of the draft."""
    if not isinstance(messages, dict):
        messages = {"_schema": messages}
    nested: dict[str, Any] = {}
    for name, problems in messages.items():
        path = draft.paths.get(name, (*draft.base, name))
        merge(nested, at_path(path, problems))
    return nested


def at_path(path: Path, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} for path ("a", "b")."""
    for part in reversed(path[1:]):
        value = {part: value}
    return {path[0]: value}


def merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Merge nested error dicts; lists of messages are concatenated."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = target[key] + value
        else:
            target[key] = value


def _apply_zone(draft: Draft, context: Context) -> dict[str, Any] | None:
    """Set the OPS-COM zone; errors (policy "reject") come back at the payload path."""
    present = [(path, value) for path, value in draft.zones if value not in (None, "")]
    if not present or draft.command.get("action") == "delete":
        return None
    for _path, value in present:
        name = context.zones.lookup(value)
        if name is not None:
            draft.command["zone"] = name
            return None
    path, value = present[0]
    if context.zones.unknown == "reject":
        return at_path(path, [f"Unknown zone {str(value)!r}."])
    if context.zones.names:
        context.unknown_zones.append(str(value))
    draft.command["zone"] = str(value)
    draft.paths = {"zone": path, **draft.paths}
    return None


def _apply_currency(draft: Draft, context: Context) -> dict[str, Any] | None:
    """The vendor's configured currency, else the sender's if OPS-COM accepts it."""
    if draft.command.get("action") == "delete":
        draft.command.pop("currency", None)
        return None
    if context.currency:
        draft.command["currency"] = context.currency
        return None
    currency = draft.command.get("currency")
    if currency is None:
        return None
    if str(currency).strip().upper() not in ACCEPTED_CURRENCIES:
        path = draft.paths.get("currency", (*draft.base, "currency"))
        accepted = ", ".join(sorted(ACCEPTED_CURRENCIES))
        message = f"Currency {currency!r} is not accepted by OPS-COM ({accepted}); " \
            "set a currency in the vendor's configuration."
        return at_path(path, [message])
    draft.command["currency"] = str(currency).strip().upper()
    return None


def compact(command: dict[str, Any]) -> dict[str, Any]:
    """Leave out absent optional fields (None), as the normalized command does."""
    return {k: v for k, v in command.items() if v is not None}
