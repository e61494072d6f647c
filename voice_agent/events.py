"""Typed call events and the event bus interface, with its in-process implementation.

Every stage of a call publishes events (data, not log lines); storage, the operator page, metrics
and tests subscribe to the same stream. A subscriber gets its own asyncio queue, so a slow one
never blocks a call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from loguru import logger
from pydantic import BaseModel, Field, TypeAdapter


class CallEvent(BaseModel):
    """Common fields: which call, when (monotonic for latency maths, wall clock for records)."""

    call_id: str
    at: float = Field(default_factory=time.monotonic)
    wall_time: float = Field(default_factory=time.time)


class CallStarted(CallEvent):
    type: Literal["call_started"] = "call_started"
    transport: str  # twilio | replay | sip
    caller: str | None = None
    callee: str | None = None
    language: str
    provider_call_id: str | None = None  # Twilio CallSid, SIP Call-ID
    sip_headers: dict[str, str] = {}  # X- headers of a SIP call (Twilio SipHeader_* fields)


class CallEnded(CallEvent):
    type: Literal["call_ended"] = "call_ended"
    reason: str  # caller_hangup | stream_stopped | agent_goodbye | protocol_error | replay_done | …
    duration_s: float


class CallerTurn(CallEvent):
    type: Literal["caller_turn"] = "caller_turn"
    turn: int
    transcript: str
    language: str
    language_probability: float
    audio_s: float
    stt_s: float


class IntentDetected(CallEvent):
    type: Literal["intent"] = "intent"
    turn: int
    intent: str
    confidence: float
    slots: dict[str, str] = {}
    engine: str
    sentiment: str | None = None  # negative | neutral | positive
    sentiment_confidence: float = 0.0


class BotReply(CallEvent):
    type: Literal["bot_reply"] = "bot_reply"
    turn: int
    text: str
    language: str


class TurnLatency(CallEvent):
    """End of caller speech → first bot audio out, split into where the time went."""

    type: Literal["turn_latency"] = "turn_latency"
    turn: int
    total_s: float
    vad_s: float  # waiting for the VAD to declare the turn over
    stt_s: float
    dialogue_s: float
    tts_s: float  # reply ready → first audio frame written to the transport


class TransferRequested(CallEvent):
    type: Literal["transfer_requested"] = "transfer_requested"
    reason: str


class ReplyPlayed(CallEvent):
    """A reply's audio is over: played to the end, or cut by the caller (barge-in).

    `heard_text` is what the caller actually heard, from the echoed Twilio marks.
    """

    type: Literal["reply_played"] = "reply_played"
    turn: int
    text: str
    heard_text: str
    interrupted: bool = False


class BargeIn(CallEvent):
    """The caller interrupted the bot; its audio was cleared."""

    type: Literal["barge_in"] = "barge_in"
    turn: int
    cause: str  # speech | dtmf
    onset_to_clear_s: float  # caller speech onset (or key press) → `clear` sent


class FalseInterruption(CallEvent):
    """The caller made a sound over the bot that was no interruption (a backchannel such as
    "uh-huh", a cough, line noise): the paused answer resumed where it stopped."""

    type: Literal["false_interruption"] = "false_interruption"
    turn: int
    kind: str = "noise"  # backchannel | noise
    transcript: str = ""


class DtmfPressed(CallEvent):
    type: Literal["dtmf"] = "dtmf"
    digit: str
    action: str | None = None  # the configured action, e.g. operator, language:es


class LanguageSwitched(CallEvent):
    type: Literal["language_switched"] = "language_switched"
    from_language: str
    to_language: str
    reason: str  # request | detected | dtmf


class CallStatus(CallEvent):
    """A telephony status callback (Twilio's StatusCallback, a SIP BYE)."""

    type: Literal["call_status"] = "call_status"
    status: str  # queued | ringing | in-progress | completed | busy | failed | no-answer | canceled
    duration_s: float | None = None
    hung_up_by: str | None = None  # caller | agent | operator
    provider_call_id: str | None = None  # the CallSid the callback was about


class CallTransferred(CallEvent):
    """The call was redirected to a human (Twilio REST update with `<Dial>`)."""

    type: Literal["call_transferred"] = "call_transferred"
    reason: str  # the TransferRequested reason (an intent, operator_takeover, …)
    target: str  # the operator number or SIP URI dialled
    waited_s: float  # transfer requested → redirect sent (the hand-over sentence played)
    reply_played: bool  # False: ReplyPlayed never came, redirected after the timeout


class HangupRequested(CallEvent):
    """An operator asked to end the call; the worker running it ends it (reason
    `operator_hangup`), whichever worker served the operator page."""

    type: Literal["hangup_requested"] = "hangup_requested"
    operator: str


class ActionFailed(CallEvent):
    """An intent's action got no usable answer: the company's API was slow (past its timeout),
    down, answered 5xx or invalid JSON. The caller heard an apology and an offer of a human."""

    type: Literal["action_failed"] = "action_failed"
    turn: int = 0
    intent: str
    action: str
    reason: str  # timeout | unreachable: … | http_<status> | invalid_json | …
    seconds: float = 0.0  # request sent → given up


class CallError(CallEvent):
    type: Literal["error"] = "error"
    message: str
    fatal: bool = False


AnyEvent = Annotated[
    CallStarted | CallEnded | CallerTurn | IntentDetected | BotReply | TurnLatency
    | TransferRequested | ReplyPlayed | BargeIn | FalseInterruption | DtmfPressed
    | LanguageSwitched | CallStatus | CallError | CallTransferred | HangupRequested
    | ActionFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def event_from_json(data: str | bytes) -> CallEvent:
    """Parse a serialised event back into its typed class (for the Redis bus and tests)."""
    return EVENT_ADAPTER.validate_json(data)


class EventBus:
    """The event bus every stage and subscriber uses, implemented here for one process.

    `publish` never blocks on subscribers. A subscriber takes a queue of its own (`subscribe`)
    or registers a quick synchronous callback (`on_event`).

    A bus shared by several worker processes (`bus_redis.RedisEventBus`) keeps this interface
    and answers its cross-process questions differently: `spans_processes` says events also
    come from other workers, `local` carries only the events of this process's own calls (so
    storage and metrics count each event once, in the worker that ran the call), and `received`
    counts the events that came from other workers.
    """

    spans_processes: bool = False
    received: int = 0  # events from other worker processes: none in one process

    def __init__(self, queue_size: int = 10_000) -> None:
        self._queues: list[asyncio.Queue[CallEvent]] = []
        self._callbacks: list[Callable[[CallEvent], None]] = []
        self._queue_size = queue_size

    @property
    def local(self) -> EventBus:
        """The events of this process's own calls: in one process, every event."""
        return self

    def subscribe(self) -> asyncio.Queue[CallEvent]:
        q: asyncio.Queue[CallEvent] = asyncio.Queue(self._queue_size)
        self._queues.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[CallEvent]) -> None:
        if q in self._queues:
            self._queues.remove(q)

    def on_event(self, callback: Callable[[CallEvent], None]) -> Callable[[CallEvent], None]:
        """Register a synchronous callback (must be quick: it runs inside the call's task)."""
        self._callbacks.append(callback)
        return callback

    def publish(self, event: CallEvent) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning(f"event subscriber queue full; dropping {event.type} for it")
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception as e:  # a broken subscriber must not break a call
                logger.exception(f"event callback failed: {e}")


class EventRecorder:
    """Collects every event (tests, `simulate`); filter by call or type."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[CallEvent] = []
        bus.on_event(self.events.append)

    def of(self, type_: type[CallEvent], call_id: str | None = None) -> list[Any]:
        return [
            e for e in self.events
            if isinstance(e, type_) and (call_id is None or e.call_id == call_id)
        ]

    async def wait_for(
        self, type_: type[CallEvent], call_id: str | None = None, count: int = 1,
        timeout: float = 30.0,
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(type_, call_id)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise TimeoutError(f"waited {timeout}s for {count} {type_.__name__} event(s)")
