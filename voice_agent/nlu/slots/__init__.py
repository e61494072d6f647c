"""Slot types: the values a company's agent asks callers for, read from Whisper transcripts.

    from voice_agent.nlu.slots import parse_slot, validate_slot
    value = parse_slot("datetime", "el martes que viene a las tres", "es", now=now)
    reason = validate_slot(value, "es", now=now)   # None, or "that time is in the past"

Types (docs/slots.md): number, digits, amount, date, time, datetime, yes_no, email, phone,
choice, text. An agent folder names them by string; `get_slot_type` raises
UnknownSlotTypeError for a name that is not here, `check_slot` lists a declaration's problems.
"""

from voice_agent.nlu.slots import (  # noqa: F401  (each module registers its types)
    choice,
    dates,
    email,
    free_text,
    numbers,
    phone,
    yes_no,
)
from voice_agent.nlu.slots.base import (
    LANGUAGES,
    SlotOptionError,
    SlotType,
    SlotValue,
    UnknownSlotTypeError,
    check_slot,
    get_slot_type,
    no_match_reason,
    parse_slot,
    register,
    slot_type_names,
    validate_slot,
)

__all__ = ["LANGUAGES", "SlotOptionError", "SlotType", "SlotValue", "UnknownSlotTypeError",
           "check_slot", "get_slot_type", "no_match_reason", "parse_slot", "register",
           "slot_type_names", "validate_slot"]
