"""Who a call is, as every stage of its pipeline sees it: ids, language, turn count, how it ended.

The per-call collaborators that some stages share (the playout, the language policy, the edge's
playback reports) are made by the call factory and handed to those stages explicitly; nothing
else rides on this object.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from voice_agent.events import CallEvent, EventBus


@dataclass
class CallState:
    """The call's identity and the little every stage needs to agree on."""

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
    end_reason: str | None = None

    def publish(self, event: CallEvent) -> None:
        self.bus.publish(event)

    @property
    def duration_s(self) -> float:
        return time.monotonic() - self.started_at
