"""What one call remembers between turns: a request waiting for a slot or for a yes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voice_agent.agent.actions import CallChanges

OFFER_HUMAN = ""  # a Confirmation for this "intent": "shall I put you through to a colleague?"


@dataclass
class Pending:
    """An intent that asked the caller for one of its slots."""

    intent: str
    slot: str
    slots: dict[str, str] = field(default_factory=dict)  # the ones already given


@dataclass
class Confirmation:
    """An action waiting for the caller's yes (or a colleague offered after a failure)."""

    intent: str
    slots: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # what the check found


@dataclass
class DialogueContext:
    """What one call remembers between turns."""

    pending: Pending | None = None
    confirming: Confirmation | None = None
    low_confidence_streak: int = 0
    changes: CallChanges = field(default_factory=dict)  # demo tables: changes for this call
    done: list[tuple[str, str]] = field(default_factory=list)  # (action, key) confirmed + done
    acted_intent: str | None = None  # what the last reply answered (None: asked to rephrase)
    bot_turns: list[dict] = field(default_factory=list)  # {turn, text, interrupted}

    def add_bot_turn(self, turn: int, text: str) -> None:
        self.bot_turns = [*self.bot_turns[-9:], {"turn": turn, "text": text, "interrupted": False}]

    def last_bot_text(self) -> str | None:
        return self.bot_turns[-1]["text"] if self.bot_turns else None

    def truncate_bot_turn(self, turn: int, heard: str) -> None:
        """The caller cut that answer: keep only what they heard. A question they did not hear
        to its end (a cancellation's "shall I?") cannot be answered with a yes."""
        for entry in self.bot_turns:
            if entry["turn"] == turn:
                entry["text"], entry["interrupted"] = heard, True
        if not any(mark in heard for mark in "?？"):
            self.confirming = None

    # -- names from before agent folders (tests and tools still read them) ----------------
    @property
    def awaiting_order_for(self) -> str | None:
        return self.pending.intent if self.pending else None

    @property
    def awaiting_cancel_confirm(self) -> str | None:
        """The key (first slot value) of the action waiting for a yes."""
        c = self.confirming
        return next(iter(c.slots.values()), None) if c and c.intent != OFFER_HUMAN else None

    @awaiting_cancel_confirm.setter
    def awaiting_cancel_confirm(self, value: None) -> None:
        if value is None:
            self.confirming = None

    @property
    def cancelled_orders(self) -> set[str]:
        """Keys of the records a confirmed action changed in this call."""
        return {key for _, key in self.done}
