"""What every slot type shares: the parsed value, the interface, and the registry by name.

A company's agent folder names slot types as strings ("date", "choice", ...); this registry is
the one place that maps a name to code, so `agent check` can reject a misspelt type or option before
a call ever reaches the slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

LANGUAGES = ("en", "es", "fr", "de", "zh")


@dataclass(frozen=True)
class SlotValue:
    """One value read from a transcript.

    `value` is what actions use (an ISO datetime string, "+15551234567", "1001", a choice's id);
    `text` is the part of the transcript it was read from, for confirmations and logs;
    `normalized` is the transcript as the parser saw it (number words as digits, ...), which is
    what to look at when a parse is wrong.
    """

    slot_type: str
    value: Any
    text: str
    normalized: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class UnknownSlotTypeError(KeyError):
    """An agent names a slot type the product does not ship."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"unknown slot type {name!r}; known types: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class SlotOptionError(ValueError):
    """An agent gives a slot type an option it does not have, or a value of the wrong kind."""


class SlotType(Protocol):
    """A slot type: a name, the options an agent may set, parse and validate.

    `parse` never raises on what a caller says: it returns None when nothing fits.
    `validate` returns None for a good value, or a short English reason a caller can be told
    ("that date is in the past") — the dialogue phrases it in the caller's language.
    """

    name: str
    options: Mapping[str, Any]  # option name → default

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None: ...

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None: ...


# Filled by each type's module when it is imported. The package's __init__ imports every
# built-in type module, and Python runs a package's __init__ before any of its modules can be
# imported, so the registry is complete whenever these functions can be called — without base
# importing the types (which would be an import cycle).
REGISTRY: dict[str, SlotType] = {}


def register(slot_type: SlotType) -> SlotType:
    REGISTRY[slot_type.name] = slot_type
    return slot_type


def resolve_options(slot_type: SlotType, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The type's defaults overlaid with an agent's options; unknown option names are an error
    (a typo such as `min_lenght` would otherwise silently do nothing)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(slot_type.options))
    if unknown:
        raise SlotOptionError(
            f"slot type {slot_type.name!r} has no option(s) {', '.join(unknown)}; "
            f"its options: {', '.join(sorted(slot_type.options)) or 'none'}")
    return {**slot_type.options, **options}


def slot_type_names() -> list[str]:
    return sorted(REGISTRY)


def get_slot_type(name: str) -> SlotType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownSlotTypeError(name, sorted(REGISTRY)) from None


def check_slot(name: str, options: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with a slot declaration, as messages (empty when fine): for `agent check`."""
    try:
        slot_type = get_slot_type(name)
        resolved = resolve_options(slot_type, options)
    except (UnknownSlotTypeError, SlotOptionError) as exc:
        return [str(exc)]
    check = getattr(slot_type, "check_options", None)
    return list(check(resolved)) if check else []


def parse_slot(name: str, text: str, language: str, *, now: datetime | None = None,
               options: Mapping[str, Any] | None = None) -> SlotValue | None:
    return get_slot_type(name).parse(text, language, now=now, options=options)


def validate_slot(value: SlotValue, language: str, *, now: datetime | None = None,
                  options: Mapping[str, Any] | None = None) -> str | None:
    return get_slot_type(value.slot_type).validate(value, language, now=now, options=options)


def no_match_reason(name: str, language: str, options: Mapping[str, Any] | None = None) -> str:
    """What to tell a caller when parse found nothing ("the options are: sales or billing")."""
    slot_type = get_slot_type(name)
    explain = getattr(slot_type, "no_match_reason", None)
    if explain:
        return explain(language, options)
    return f"I did not catch the {name.replace('_', ' ')}"
