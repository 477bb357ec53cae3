"""Vendors defined in BRIDGE_CONFIG, compiled into marshmallow schemas at start.

A definition (under `vendors.<name>`) says where the event type is and how it maps
to create / update / delete / ignore, which payload path feeds each OPS-COM field
(with conversions), constants, and the dedupe key. See examples/vendors.yaml.
A broken definition raises ConfigError naming the vendor and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields

from bridge.errors import ConfigError
from schemas.vendors import conversions
from schemas.vendors.base import Context, Draft, at_path, finish, load_body

#: OPS-COM fields a definition may fill (canonical spellings).
TARGETS = ("source_id", "referenceID", "plate", "zone", "permitNo", "amount", "currency",
           "startTime", "endTime")
ACTIONS = ("create", "update", "delete", "ignore")
DEFINITION_KEYS = {"auth", "event", "fields", "constants", "dedupe", "duplicate_status",
                   "zones", "currency", "description"}


@dataclass(frozen=True)
class FieldRule:
    """One OPS-COM field: the payload path it comes from and how to convert it."""

    target: str
    path: tuple[str, ...]
    required: bool = False
    convert: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class EventRule:
    path: tuple[str, ...] | None
    actions: Mapping[str, str]
    default: str | None


class CompiledVendor:
    """An adapter built from a YAML definition (same interface as the built-ins)."""

    def __init__(self, name: str, event: EventRule, rules: list[FieldRule],
                 constants: Mapping[str, Any], dedupe: tuple[str, ...] | None) -> None:
        self.name = name
        self.event = event
        self.rules = rules
        self.constants = dict(constants)
        self.dedupe = dedupe
        paths = [r.path for r in rules] + [p for p in (event.path, dedupe) if p]
        required = {r.path for r in rules if r.required} | {p for p in (event.path, dedupe) if p}
        kinds = {r.path: r.convert for r in rules}
        self.body_schema = build_schema(f"{_camel(name)}Webhook", paths, required, kinds)

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]:
        body = load_body(self.body_schema, payload)
        action = self._action(body)
        if action == "ignore":
            return []
        return finish([self._draft(body, action, context)], context)

    def _action(self, body: dict[str, Any]) -> str:
        if self.event.path is None:
            return self.event.default or "create"
        value = str(dig(body, self.event.path))
        action = self.event.actions.get(value, self.event.default)
        if action is None:
            raise ValidationError(at_path(self.event.path, [f"Unknown event type {value!r}."]))
        return action

    def _draft(self, body: dict[str, Any], action: str, context: Context) -> Draft:
        command: dict[str, Any] = {"action": action, "source": context.source, **self.constants}
        paths: dict[str, tuple[str, ...]] = {}
        errors: dict[str, Any] = {}
        zones = []
        for rule in self.rules:
            paths[rule.target] = rule.path
            value = dig(body, rule.path)
            if value is None:
                continue
            try:
                value = conversions.convert(value, rule.convert, rule.timezone)
            except ValueError as exc:
                errors.update(at_path(rule.path, [str(exc)]))
                continue
            if rule.target == "zone":
                zones.append((rule.path, value))
            else:
                command[rule.target] = value
        if errors:
            raise ValidationError(errors)
        event_id = dig(body, self.dedupe) if self.dedupe else context.webhook_id
        if event_id is not None:
            command["event_id"] = str(event_id)
        return Draft(command, paths, zones=zones)


def dig(data: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path in nested dicts, or None."""
    for part in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def build_schema(name: str, paths: list[tuple[str, ...]], required: set[tuple[str, ...]],
                 kinds: Mapping[tuple[str, ...], str | None]) -> type[Schema]:
    """A (nested) marshmallow schema with one field per path."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(path[-1], path)
    return _schema_from_tree(name, tree, required, kinds)


def _schema_from_tree(name: str, tree: dict[str, Any], required: set[tuple[str, ...]],
                      kinds: Mapping[tuple[str, ...], str | None],
                      prefix: tuple[str, ...] = ()) -> type[Schema]:
    declared: dict[str, fields.Field] = {}
    for key, node in tree.items():
        here = (*prefix, key)
        if isinstance(node, dict):
            inner = _schema_from_tree(f"{name}{_camel(key)}", node, required, kinds, here)
            needed = any(p[: len(here)] == here for p in required)
            declared[key] = fields.Nested(inner(unknown="exclude"), required=needed)
        else:
            declared[key] = _leaf(kinds.get(node), node in required)
    return Schema.from_dict(declared, name=name)


def _leaf(convert: str | None, required: bool) -> fields.Field:
    if convert in ("cents", "dollars"):
        return fields.Float(required=required, allow_none=not required)
    return fields.Raw(required=required, allow_none=not required)


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def compile_vendor(name: str, definition: Mapping[str, Any]) -> CompiledVendor:
    """Check one definition and compile it; ConfigError names the vendor and field."""
    where = f"BRIDGE_CONFIG vendors.{name}"
    extra = set(definition) - DEFINITION_KEYS
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}", "is not a vendor setting")
    rules = _field_rules(where, definition.get("fields"))
    if not any(r.target in ("source_id", "referenceID") for r in rules):
        raise ConfigError(f"{where}.fields", "needs source_id (or referenceID): the permit key")
    constants = _constants(where, definition.get("constants"))
    if definition.get("currency"):
        constants["currency"] = str(definition["currency"])
    dedupe = _path(f"{where}.dedupe", definition["dedupe"]) if definition.get("dedupe") else None
    return CompiledVendor(name, _event_rule(where, definition.get("event")), rules,
                          constants, dedupe)


def _field_rules(where: str, raw: Any) -> list[FieldRule]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}.fields", "must map OPS-COM fields to payload paths")
    return [_field_rule(f"{where}.fields.{target}", str(target), spec)
            for target, spec in raw.items()]


def _field_rule(where: str, target: str, spec: Any) -> FieldRule:
    if target not in TARGETS:
        raise ConfigError(where, f"is not an OPS-COM field (one of {', '.join(TARGETS)})")
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise ConfigError(where, "must be a payload path or a mapping with 'path'")
    unknown = set(spec) - {"path", "required", "convert", "timezone"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "is not a field setting")
    convert = spec.get("convert")
    if convert is not None and convert not in conversions.NAMES:
        raise ConfigError(f"{where}.convert", f"must be one of {', '.join(conversions.NAMES)}")
    tz = spec.get("timezone")
    if tz is not None and not conversions.valid_timezone(str(tz)):
        raise ConfigError(f"{where}.timezone", f"unknown time zone {tz!r}")
    return FieldRule(target, _path(f"{where}.path", spec["path"]), bool(spec.get("required")),
                     convert, str(tz) if tz else None)


def _event_rule(where: str, raw: Any) -> EventRule:
    if raw is None:
        return EventRule(None, {}, "create")
    if isinstance(raw, str) and raw in ACTIONS:
        return EventRule(None, {}, raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.event", "must be an action or {path, map, default}")
    actions = raw.get("map") or {}
    if not isinstance(actions, Mapping):
        raise ConfigError(f"{where}.event.map", "must map event types to actions")
    for value, action in actions.items():
        if action not in ACTIONS:
            raise ConfigError(f"{where}.event.map.{value}", f"must be one of {', '.join(ACTIONS)}")
    default = raw.get("default")
    if default is not None and default not in ACTIONS:
        raise ConfigError(f"{where}.event.default", f"must be one of {', '.join(ACTIONS)}")
    path = _path(f"{where}.event.path", raw["path"]) if raw.get("path") else None
    if path is None and default is None:
        raise ConfigError(f"{where}.event.path", "is required unless event.default is set")
    return EventRule(path, {str(k): str(v) for k, v in actions.items()}, default)


def _constants(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.constants", "must map OPS-COM fields to values")
    for target in raw:
        if target not in TARGETS or target == "source_id":
            raise ConfigError(f"{where}.constants.{target}", "is not a constant OPS-COM field")
    return {str(k): v for k, v in raw.items()}


def _path(where: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.strip() or any(not p for p in raw.split(".")):
        raise ConfigError(where, "must be a dotted payload path like 'session.vehicle.plate'")
    return tuple(raw.strip().split("."))
