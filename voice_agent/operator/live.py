"""The live call list behind the operator page, fed by the event bus.

One consumer task reads the bus and keeps, per call, what the page shows (caller, language,
current intent, sentiment, last latency, the transcript so far), then hands each event to every
connected page through its own bounded queue. A page that falls behind is told to reload its
snapshot (a `resync` message) instead of slowing the bus or the calls.

What callers say reaches the page as the call records keep it: card numbers, phone numbers and
e-mail addresses redacted (`voice_agent.redaction`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from loguru import logger

from voice_agent.events import (
    BotReply,
    CallEnded,
    CallError,
    CallerTurn,
    CallEvent,
    CallStarted,
    CallTransferred,
    EventBus,
    IntentDetected,
    LanguageSwitched,
    TransferRequested,
    TurnLatency,
)
from voice_agent.redaction import redact

FREE_TEXT = ("transcript", "text", "heard_text", "message")  # fields a caller's words reach
MAX_LINES = 200  # transcript lines kept per live call (older ones are in the call records)
SUBSCRIBER_QUEUE = 1000


def page_message(event: CallEvent) -> dict[str, Any]:
    """The event as the page gets it: `model_dump`, free text redacted."""
    data = event.model_dump(mode="json")
    for key in FREE_TEXT:
        if isinstance(data.get(key), str):
            data[key] = redact(data[key])
    return data


@dataclass
class TranscriptLine:
    turn: int
    speaker: str  # caller | bot
    text: str
    language: str
    wall_time: float
    intent: str | None = None


@dataclass
class LiveCall:
    call_id: str
    transport: str
    caller: str | None
    callee: str | None
    language: str
    started_wall: float
    status: str = "live"  # live | ended
    end_reason: str | None = None
    duration_s: float | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment: str | None = None
    last_latency_s: float | None = None
    turns: int = 0
    transfer_reason: str | None = None
    transferred_to: str | None = None
    last_error: str | None = None
    lines: list[TranscriptLine] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        del out["lines"]
        return out

    def detail(self) -> dict[str, Any]:
        return asdict(self)


class LiveCalls:
    """Live and recently ended calls, plus the pages watching them."""

    def __init__(self, ended_shown: int = 20) -> None:
        self.calls: OrderedDict[str, LiveCall] = OrderedDict()
        self._ended_shown = ended_shown
        self._subscribers: set[asyncio.Queue[dict | None]] = set()
        self._task: asyncio.Task | None = None
        self._bus: EventBus | None = None
        self._queue: asyncio.Queue[CallEvent] | None = None

    # -- the bus side -------------------------------------------------------------------
    async def start(self, bus: EventBus) -> None:
        self._bus, self._queue = bus, bus.subscribe()
        self._task = asyncio.create_task(self._consume(), name="operator-live-calls")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._bus is not None and self._queue is not None:
            self._bus.unsubscribe(self._queue)
        for q in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)  # wakes each page's sender so it can close

    async def _consume(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            try:
                self.apply(event)
            except Exception as e:  # one odd event must not stop the page for every call
                logger.exception(f"operator live list: {event.type}: {e}")
                continue
            self._fan_out(page_message(event))

    def apply(self, event: CallEvent) -> None:
        """Update the call's row and transcript from one event."""
        if isinstance(event, CallStarted):
            self.calls[event.call_id] = LiveCall(
                call_id=event.call_id, transport=event.transport, caller=event.caller,
                callee=event.callee, language=event.language, started_wall=event.wall_time,
            )
            return
        call = self.calls.get(event.call_id)
        if call is None:
            return  # events of a call that began before we subscribed, or "unstarted"
        if isinstance(event, CallerTurn):
            call.turns = max(call.turns, event.turn)
            call.language = event.language
            self._add_line(call, TranscriptLine(
                event.turn, "caller", redact(event.transcript), event.language, event.wall_time))
        elif isinstance(event, IntentDetected):
            call.intent, call.intent_confidence = event.intent, event.confidence
            call.sentiment = event.sentiment or call.sentiment
            for line in reversed(call.lines):
                if line.speaker == "caller" and line.turn == event.turn:
                    line.intent = event.intent
                    break
        elif isinstance(event, BotReply):
            self._add_line(call, TranscriptLine(
                event.turn, "bot", redact(event.text), event.language, event.wall_time))
        elif isinstance(event, TurnLatency):
            call.last_latency_s = event.total_s
        elif isinstance(event, LanguageSwitched):
            call.language = event.to_language
        elif isinstance(event, TransferRequested):
            call.transfer_reason = event.reason
        elif isinstance(event, CallTransferred):
            call.transferred_to = event.target
        elif isinstance(event, CallError):
            call.last_error = redact(event.message)
        elif isinstance(event, CallEnded):
            call.status, call.end_reason = "ended", event.reason
            call.duration_s = event.duration_s
            self._forget_old_ended()

    @staticmethod
    def _add_line(call: LiveCall, line: TranscriptLine) -> None:
        call.lines.append(line)
        del call.lines[:-MAX_LINES]

    def _forget_old_ended(self) -> None:
        ended = [cid for cid, c in self.calls.items() if c.status == "ended"]
        for cid in ended[: max(0, len(ended) - self._ended_shown)]:
            del self.calls[cid]

    # -- the page side ------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        return [c.summary() for c in self.calls.values()]

    def details(self) -> list[dict[str, Any]]:
        """Every listed call with its transcript (what a page needs when it connects)."""
        return [c.detail() for c in self.calls.values()]

    def caller_line(self, call_id: str, turn: int) -> TranscriptLine | None:
        call = self.calls.get(call_id)
        lines = call.lines if call else []
        return next((x for x in reversed(lines) if x.speaker == "caller" and x.turn == turn), None)

    def subscribe(self) -> asyncio.Queue[dict | None]:
        q: asyncio.Queue[dict | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict | None]) -> None:
        self._subscribers.discard(q)

    def _fan_out(self, message: dict) -> None:
        for q in list(self._subscribers):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                logger.warning("an operator page fell behind; it gets a fresh snapshot")
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        q.get_nowait()  # stale: the page gets a snapshot instead
                q.put_nowait({"type": "resync"})
