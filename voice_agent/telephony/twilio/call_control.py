"""Twilio call control: hand a call over to a human, and record what Twilio says about calls.

Listens to the event bus. On `TransferRequested` (the dialogue's hand-over, or
`operator_takeover` from the operator page) it waits until the hand-over sentence has been
heard — the `ReplyPlayed` of the call's last reply, published when that reply's last `mark`
echoes back from Twilio — and then redirects the call with new TwiML
(`<Dial><Number>` / `<Dial><Sip>`) through the REST API. Twilio then stops our media stream.
If no `ReplyPlayed` comes within `transfer.reply_played_timeout_s`, it redirects anyway and the
`CallTransferred` event says so (`reply_played=False`).

Status callbacks (POST /twilio/status) become `CallStatus` events under our call id.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from loguru import logger
from twilio.twiml.voice_response import Dial, VoiceResponse

from voice_agent.config import Settings, TransferSettings
from voice_agent.events import (
    BotReply,
    CallEnded,
    CallError,
    CallEvent,
    CallStarted,
    CallStatus,
    CallTransferred,
    EventBus,
    ReplyPlayed,
    TransferRequested,
)
from voice_agent.telephony.twilio.rest import TwilioConfigError, e164, rest_client

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
CALL_STATUSES = {"queued", "initiated", "ringing", "in-progress", "completed", "busy",
                 "failed", "no-answer", "canceled"}
AGENT_ENDED = {"agent_goodbye", "protocol_error"}  # we closed the stream or hung up


class StatusCallbackError(ValueError):
    """A status callback without the fields Twilio always sends, or with bad values."""


def dial_twiml(transfer: TransferSettings) -> tuple[str, str]:
    """TwiML that connects the caller to a human, and the target it dials."""
    response = VoiceResponse()
    dial = Dial()
    if transfer.operator_number:
        target = e164(transfer.operator_number, "transfer.operator_number")
        dial.number(target)
    elif transfer.sip_uri:
        target = transfer.sip_uri.strip()
        if not target.startswith(("sip:", "sips:")):
            raise TwilioConfigError(f"transfer.sip_uri {target!r} must start with sip: or sips:")
        dial.sip(target)
    else:
        raise TwilioConfigError("transfer requested but neither transfer.operator_number nor "
                                "transfer.sip_uri is configured")
    response.append(dial)
    return str(response), target


@dataclass
class _Call:
    call_id: str
    call_sid: str
    last_reply_turn: int = -1
    played_turn: int = -1  # highest turn whose ReplyPlayed came
    ended_reason: str | None = None
    transferred: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class CallControl:
    """One per server. Reads events through a synchronous bus callback (quick: bookkeeping and
    scheduling only); the REST requests run in threads."""

    def __init__(self, settings: Settings, bus: EventBus) -> None:
        self._settings = settings
        self._bus = bus
        self._calls: dict[str, _Call] = {}  # call_id → call (Twilio calls only)
        self._by_sid: dict[str, _Call] = {}
        self._tasks: set[asyncio.Task] = set()
        self._here: set[str] = set()  # calls this process runs (its own media stream)
        # `local` carries this process's events only: with several workers, only the worker
        # running the call redirects it, whoever asked (operator page on another one).
        bus.local.on_event(self._on_local_event)
        bus.on_event(self._on_event)

    def _on_local_event(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            self._here.add(event.call_id)
        elif isinstance(event, CallEnded):
            self._here.discard(event.call_id)

    def _on_event(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            if event.transport == "twilio" and event.provider_call_id:
                call = _Call(event.call_id, event.provider_call_id)
                self._calls[event.call_id] = self._by_sid[event.provider_call_id] = call
            return
        call = self._calls.get(event.call_id)
        if call is None:
            return
        if isinstance(event, BotReply):
            call.last_reply_turn = max(call.last_reply_turn, event.turn)
        elif isinstance(event, ReplyPlayed):
            call.played_turn = max(call.played_turn, event.turn)
            call.changed.set()
        elif isinstance(event, CallEnded):
            call.ended_reason = event.reason
            call.changed.set()
            self._calls.pop(event.call_id, None)  # _by_sid keeps it for late status callbacks
        elif isinstance(event, TransferRequested) and event.call_id in self._here:
            task = asyncio.get_running_loop().create_task(self.transfer(call, event.reason))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _wait_reply_played(self, call: _Call) -> bool:
        """Until the last reply has played (True) or the call ended / timed out (False)."""
        deadline = time.monotonic() + self._settings.transfer.reply_played_timeout_s
        while True:
            call.changed.clear()
            if call.ended_reason is not None:
                return False
            if call.played_turn >= call.last_reply_turn:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(call.changed.wait(), remaining)
            except TimeoutError:
                return False

    async def transfer(self, call: _Call, reason: str) -> None:
        """Redirect one call to a human once its hand-over sentence has played."""
        asked = time.monotonic()
        try:
            twiml, target = dial_twiml(self._settings.transfer)
            client = rest_client(self._settings)
        except TwilioConfigError as e:
            logger.error(f"{call.call_id}: cannot transfer: {e}")
            self._bus.publish(CallError(call_id=call.call_id, message=f"transfer: {e}"))
            return
        played = await self._wait_reply_played(call)
        if call.ended_reason is not None:
            logger.info(f"{call.call_id}: call ended ({call.ended_reason}) before the transfer")
            return
        if not played:
            logger.warning(
                f"{call.call_id}: no ReplyPlayed for turn {call.last_reply_turn} within "
                f"{self._settings.transfer.reply_played_timeout_s} s; transferring anyway")
        try:
            await asyncio.to_thread(lambda: client.calls(call.call_sid).update(twiml=twiml))
        except Exception as e:  # Twilio refused or unreachable: the agent keeps the call
            logger.error(f"{call.call_id}: transfer to {target} failed: {e}")
            self._bus.publish(CallError(call_id=call.call_id, message=f"transfer failed: {e}"))
            return
        call.transferred = True
        self._bus.publish(CallTransferred(
            call_id=call.call_id, reason=reason, target=target,
            waited_s=round(time.monotonic() - asked, 3), reply_played=played,
        ))

    def status_event(self, form: dict[str, str]) -> CallStatus:
        """A status callback's fields → CallStatus (under our call id when the call streamed)."""
        sid = form.get("CallSid", "")
        if not CALL_SID.match(sid):
            raise StatusCallbackError(f"CallSid {sid!r} is missing or not a Twilio call SID")
        status = form.get("CallStatus", "")
        if status not in CALL_STATUSES:
            raise StatusCallbackError(
                f"CallStatus {status!r} is not one of {', '.join(sorted(CALL_STATUSES))}")
        duration = form.get("CallDuration")
        try:
            seconds = float(int(duration)) if duration not in (None, "") else None
        except ValueError as e:
            raise StatusCallbackError(f"CallDuration {duration!r} is not whole seconds") from e
        if seconds is not None and seconds < 0:
            raise StatusCallbackError(f"CallDuration {duration!r} is negative")
        call = self._by_sid.get(sid)
        return CallStatus(
            call_id=call.call_id if call else sid, status=status, duration_s=seconds,
            hung_up_by=self._hung_up_by(call) if status == "completed" else None,
            provider_call_id=sid,
        )

    @staticmethod
    def _hung_up_by(call: _Call | None) -> str | None:
        # Twilio does not say who hung up: infer it from how our side of the call ended.
        if call is None or call.transferred:
            return None  # never streamed, or the operator leg: caller or operator, unknown
        return "agent" if call.ended_reason in AGENT_ENDED else "caller"

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
