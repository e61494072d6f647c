"""The product's slot types as the dialogue and `agent check` use them.

The types themselves live in voice_agent/nlu/slots/ (digits, number, amount, date, time, …);
this is the thin seam between an intent's slot declaration and that registry. Until the
registry has `digits`, the order-number reader of nlu/numbers.py stands in for it, so an
agent keeps working while the slot package grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voice_agent.agent.models import SlotSpec
from voice_agent.nlu.numbers import extract_order_number, is_number_reply

DIGIT_TYPES = ("digits",)  # a caller's turn that is only such a value answers our question


def _registry():
    """The slot package's public names (slot_type_names, check_slot, parse_slot, …)."""
    try:
        import voice_agent.nlu.slots as registry
    except ImportError:  # the slot package is not there (yet): the stand-ins only
        return None
    return registry if hasattr(registry, "slot_type_names") else None


def known_types() -> list[str]:
    base = _registry()
    names = set(base.slot_type_names()) if base else set()
    return sorted(names | {"digits"})


def check_slot(spec: SlotSpec) -> list[str]:
    """What is wrong with a slot declaration (unknown type, unknown option), as messages."""
    base = _registry()
    if base and spec.type in base.slot_type_names():
        return base.check_slot(spec.type, spec.options)
    if spec.type == "digits":
        unknown = sorted(set(spec.options) - {"min_length", "max_length"})
        return [f"slot type 'digits' has no option(s) {', '.join(unknown)}"] if unknown else []
    return [f"unknown slot type {spec.type!r}; known types: {', '.join(known_types())}"]


def _digits(text: str, language: str, options: Mapping[str, Any]) -> str | None:
    found = extract_order_number(text, language)
    if found is None:
        return None
    low, high = options.get("min_length", 4), options.get("max_length", 12)
    return found if low <= len(found) <= high else None


def read(spec: SlotSpec, text: str, language: str) -> tuple[str | None, str | None]:
    """(value, None) when the transcript holds a good value; (None, reason) when it holds one
    that fails the type's validation (a date in the past); (None, None) when there is none."""
    base = _registry()
    if base and spec.type in base.slot_type_names():
        value = base.parse_slot(spec.type, text, language, options=spec.options)
        if value is None:
            return None, None
        reason = base.validate_slot(value, language, options=spec.options)
        return (None, reason) if reason else (str(value.value), None)
    if spec.type == "digits":
        return _digits(text, language, spec.options), None
    return None, None


def is_bare_answer(spec: SlotSpec, text: str, language: str) -> bool:
    """A turn that mostly just gives the value ("the number is one zero zero three"): the
    answer to our question, not a new request."""
    return spec.type in DIGIT_TYPES and is_number_reply(text, language)
