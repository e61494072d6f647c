"""Per-call state shared by the stages of one call's pipeline (never across calls)."""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from voice_agent.events import CallEvent, EventBus
from voice_agent.pipeline.playout import Playout


@dataclass
class TurnTimer:
    """Monotonic marks along one caller turn; latency is measured at the transport edges."""

    marks: dict[str, float] = field(default_factory=dict)
    turn: int = 0

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks[name] = time.monotonic() if at is None else at

    def has(self, name: str) -> bool:
        return name in self.marks

    def span(self, start: str, end: str) -> float:
        if start in self.marks and end in self.marks:
            return max(0.0, self.marks[end] - self.marks[start])
        return 0.0

    def reset(self) -> None:
        self.marks.clear()


@dataclass
class CallState:
    """What the stages of one call need to agree on: ids, language, turn count, timing."""

    bus: EventBus
    language: str
    allowed_languages: list[str]
    transport: str
    call_id: str = field(default_factory=lambda: f"call-{uuid.uuid4().hex[:12]}")
    caller: str | None = None
    callee: str | None = None
    provider_call_id: str | None = None  # Twilio CallSid, SIP Call-ID
    sip_headers: dict[str, str] = field(default_factory=dict)  # X- headers of a SIP call
    started_at: float = field(default_factory=time.monotonic)
    turn: int = 0
    # One timer per VAD-delimited segment, in order: STT takes them in the same order, so a
    # late or empty segment can never mix up another turn's timing.
    segment_timers: deque[TurnTimer] = field(default_factory=deque)
    reply_timer: TurnTimer | None = None  # the turn whose answer's first audio is awaited
    last_turn_audio_s: float = 0.0
    playout: Playout = field(default_factory=Playout)  # bot audio: pause, marks, heard text
    playout_controller: Any = None  # the PlayoutController of this call, once started
    bargein: Any = None  # the BargeInDetector of this call
    last_heard: tuple[int, str] | None = None  # (turn, text) of the last answer cut short
    replies: dict[int, str] = field(default_factory=dict)  # turn → the agent's full answer
    end_reason: str | None = None
    # the call's language policy (pipeline/language.py): switch(to, reason) for DTMF and requests
    language_policy: Any = None

    def __post_init__(self) -> None:
        if self.language_policy is None:  # build.new_call_state sets the configured one
            from voice_agent.config import LanguageSettings
            from voice_agent.pipeline.language import LanguagePolicy

            self.language_policy = LanguagePolicy(self, LanguageSettings())

    def publish(self, event: CallEvent) -> None:
        self.bus.publish(event)

    @property
    def duration_s(self) -> float:
        return time.monotonic() - self.started_at
