"""`text`: free text (a name, a reason, a message), trimmed of whitespace and end punctuation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import collapse


class TextSlot:
    name = "text"
    options: Mapping[str, Any] = {"min_length": 1, "max_length": 500}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        resolve_options(self, options)
        # Whisper ends every sentence with a full stop; keep "?" and inner punctuation
        value = collapse(text).rstrip(" .。")
        return SlotValue(self.name, value, value, value) if value else None

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        if len(value.value) < opts["min_length"]:
            return "that was too short"
        if len(value.value) > opts["max_length"]:
            return "that was too long; please say it more briefly"
        return None


register(TextSlot())
