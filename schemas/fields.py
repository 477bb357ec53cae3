"""Shared schema machinery: one field under several spellings, and error kinds.

OPS-COM accepts most fields under more than one name ("Possible Names"), and the
canonical command takes the same names. `AliasedSchema` folds every spelling into
the canonical one before marshmallow sees the data, and reports errors back under
the spelling the sender used, so a 422 points at the key that is actually in the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields

#: Messages whose meaning the error-code mapping depends on.
MISSING = "Missing data for required field."
NULL = "Field may not be null."
EMPTY = "Field may not be empty."
TOO_LONG_PREFIX = "Longer than maximum length"
TOO_SHORT_PREFIX = "Shorter than minimum length"
CONFLICT = "Given again under another name with a different value: {other}."
INVALID_INPUT = "Invalid input type."


def error_kind(message: str) -> str:
    """Classify one marshmallow message as missing / too_long / too_short / invalid.

    The kinds are what OPS-COM's error codes distinguish; PHP treats null and ""
    like an absent key, so those count as missing.
    """
    if message in (MISSING, NULL, EMPTY):
        return "missing"
    if message.startswith(TOO_LONG_PREFIX):
        return "too_long"
    if message.startswith(TOO_SHORT_PREFIX):
        return "too_short"
    return "invalid"


def not_empty(value: Any) -> None:
    """Reject "" and whitespace only, which OPS-COM takes as an absent value."""
    if isinstance(value, str) and not value.strip():
        raise ValidationError(EMPTY)


class AliasedSchema(Schema):
    """A schema whose fields may arrive under any of several spellings.

    Subclasses set `aliases` (canonical name -> accepted spellings). `load()`
    returns canonical keys; errors come back keyed by the sender's spelling.
    """

    aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def load(
        self, data: Any, *, many: bool | None = None, partial: Any = None, unknown: Any = None
    ) -> Any:
        """Fold spellings, load, and re-key errors to the names the sender used."""
        if not isinstance(data, Mapping):
            raise ValidationError({"_schema": [INVALID_INPUT]})
        aliases = {name: names for name, names in self.aliases.items() if name in self.fields}
        folded, spelled, conflicts = fold_aliases(data, aliases)
        errors: dict[str, Any] = self.presence_errors(folded)
        result = None
        try:
            result = super().load(folded, many=many, partial=partial, unknown=unknown)
        except ValidationError as exc:
            errors = merge_errors(exc.normalized_messages(), errors)
        errors = merge_errors(respell(errors, spelled), conflicts)
        if errors:
            raise ValidationError(errors)
        return result

    def presence_errors(self, data: dict[str, Any]) -> dict[str, list[str]]:
        """Fields required only in some cases (e.g. by action); none by default.

        Checked on the raw folded data so that every missing field is reported
        together with every invalid one, in one answer.
        """
        return {}


def fold_aliases(
    data: Mapping[str, Any], aliases: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, list[str]]]:
    """Rename every accepted spelling to its canonical name.

    Returns the folded data, canonical -> spelling used (first one met), and
    errors for a field given twice with different values (the same value twice
    is harmless). Keys that are no spelling of anything pass through unchanged.
    """
    canonical_of = {spelling: name for name, spellings in aliases.items() for spelling in spellings}
    folded: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    conflicts: dict[str, list[str]] = {}
    for key, value in data.items():
        name = canonical_of.get(key, key)
        if name not in folded:
            folded[name] = value
            spelled[name] = key
        elif folded[name] != value:
            conflicts[key] = [CONFLICT.format(other=spelled[name])]
    return folded, spelled, conflicts


def respell(errors: dict[str, Any], spelled: Mapping[str, str]) -> dict[str, Any]:
    """Key errors by the spelling the sender used; unspelled (missing) stay canonical."""
    return {spelled.get(key, key): messages for key, messages in errors.items()}


def merge_errors(first: dict[str, Any], second: dict[str, list[str]]) -> dict[str, Any]:
    """Both error dicts in one, lists under the same key concatenated."""
    merged = dict(first)
    for key, messages in second.items():
        merged[key] = [*merged.get(key, []), *messages]
    return merged


def canonical_name(key: str, aliases: Mapping[str, tuple[str, ...]]) -> str:
    """The canonical name for any spelling (or the key itself when unknown)."""
    for name, spellings in aliases.items():
        if key == name or key in spellings:
            return name
    return key


def drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """Absent optional fields are left out, not sent as null."""
    return {key: value for key, value in data.items() if value is not None}


class Text(fields.String):
    """A string that also takes a whole number, turned into its decimal string.

    Ids and counts arrive as JSON numbers from some systems; booleans and floats
    are refused because their string form is never what the sender meant.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)
