"""What each action of a service record asks for: the fields of its form, shared by the
pages (one form per allowed action) and the CLI (``--set key=value``). Pure.

A record module (admin/work_orders.py, subscriptions.py, ...) declares ``FORMS``: verb ->
fields. The rule (``check``) stays the judge of a change; a form only says what to ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

# field kinds
TEXT: Final = "text"  # one line
LONG: Final = "long"  # several lines (cause, action, findings)
CHOICE: Final = "choice"  # one of ``choices``
BOOL: Final = "bool"
DATE: Final = "date"  # YYYY-MM-DD
INT: Final = "int"  # whole number within [low, high]
USER: Final = "user"  # an account's user name
LIST: Final = "list"  # comma-separated values (stations covered, checklist items)
FIELD_KINDS: Final = (TEXT, LONG, CHOICE, BOOL, DATE, INT, USER, LIST)


class FieldError(ValueError):
    """A form value is not what the field takes; the message names the field and value."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the payload key
    label: str  # Chinese first, English beside it
    kind: str = TEXT
    required: bool = False
    choices: tuple[str, ...] = ()  # CHOICE: the values; labels via ``choice_labels``
    choice_labels: Mapping[str, str] | None = None
    low: int = 0  # INT bounds
    high: int = 0
    help: str = ""


def parse_value(f: Field, raw: Any) -> Any:
    """The payload value of ``raw`` (text from the CLI, or a widget's value) for field
    ``f``; FieldError names the field and the value when it does not fit."""
    if f.kind == BOOL:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "y", "是"):
            return True
        if text in ("0", "false", "no", "n", "否", ""):
            return False
        raise FieldError(f"{f.name} = {raw!r}: not yes/no; fix: true or false")
    if f.kind == INT:
        try:
            n = int(str(raw).strip())
        except ValueError:
            raise FieldError(f"{f.name} = {raw!r}: not a whole number") from None
        if f.low != f.high and not f.low <= n <= f.high:
            raise FieldError(f"{f.name} = {n}: out of range; fix: {f.low} to {f.high}")
        return n
    if f.kind == LIST:
        items = raw if isinstance(raw, list | tuple) else str(raw).replace("，", ",").split(",")
        return [str(x).strip() for x in items if str(x).strip()]
    text = "" if raw is None else str(raw).strip()
    if f.kind == DATE and text:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldError(f"{f.name} = {raw!r}: not a date; fix: YYYY-MM-DD") from None
    if f.kind == CHOICE and text and text not in f.choices:
        raise FieldError(f"{f.name} = {raw!r}: not one of {', '.join(f.choices)}")
    return text


def build_payload(fields: Sequence[Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The payload from raw values by field; an unknown key or a missing required value
    is a FieldError naming it (the rule checks the rest)."""
    known = {f.name: f for f in fields}
    for key in raw:
        if key not in known:
            raise FieldError(f"{key!r} is not a field of this action; fix: one of "
                             f"{', '.join(known) or '(none)'}")
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            if f.required:
                raise FieldError(f"{f.name} ({f.label}) is required")
            continue
        value = parse_value(f, raw[f.name])
        if f.required and value in ("", []):
            raise FieldError(f"{f.name} ({f.label}) is required")
        out[f.name] = value
    return out
