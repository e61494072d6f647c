"""Writes this process's call events into the call records, off the call's path.

The bus callback only puts the event on a bounded queue (never blocks; a full queue drops
the event with a warning); one background thread takes events in batches and writes them.
A failing batch is retried event by event, so one bad event costs only itself; errors are
logged, never raised into a call. Free text (transcripts, replies, error messages) is
redacted before it is written.

With a Redis bus every worker writes only the events of its own calls (`bus.local`), so a
shared PostgreSQL gets each event once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from loguru import logger
from sqlalchemy import select
from sqlalchemy.orm import Session

from voice_agent.events import (
    BargeIn,
    BotReply,
    CallEnded,
    CallError,
    CallerTurn,
    CallEvent,
    CallStarted,
    CallStatus,
    CallTransferred,
    EventBus,
    FalseInterruption,
    IntentDetected,
    LanguageSwitched,
    ReplyPlayed,
    TransferRequested,
    TurnLatency,
)
from voice_agent.redaction import mask_phone, redact
from voice_agent.store.models import (
    BargeInRow,
    Call,
    CallErrorRow,
    LanguageSwitch,
    Transfer,
    Turn,
    utc,
)
from voice_agent.store.queries import CallStore

BATCH = 200
_STOP = object()

# how a metrics registry takes a gauge: (name, help text, read at each scrape)
AddGauge = Callable[[str, str, Callable[[], float]], None]


class StoreWriter:
    """Subscribe to a bus and write its events; `flush()` waits until all are written."""

    def __init__(self, store: CallStore, mask_caller_numbers: bool = False,
                 queue_size: int = 10_000) -> None:
        self.store = store
        self.mask_numbers = mask_caller_numbers
        self._queue: queue.Queue = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failed = 0
        self.dropped = 0

    def attach(self, bus: EventBus) -> StoreWriter:
        bus.local.on_event(self.submit)
        return self

    def report_counts(self, add_gauge: AddGauge) -> None:
        """Hand the counts to a metrics registry (`CallMetrics.add_gauge`), read at each scrape."""
        add_gauge("voice_agent_records_written", "Call events written to the call records",
                  lambda: self.written)
        add_gauge("voice_agent_records_failed", "Call events the database refused (logged)",
                  lambda: self.failed)
        add_gauge("voice_agent_records_dropped", "Call events dropped: the write queue was full",
                  lambda: self.dropped)

    def submit(self, event: CallEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            logger.warning(f"call-record queue full; {event.type} of {event.call_id} not stored")

    def start(self) -> StoreWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted event is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(e is _STOP for e in batch)
            events = [e for e in batch if e is not _STOP]
            try:
                self._write(events)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _write(self, events: list[CallEvent]) -> None:
        try:
            with self.store.session() as s, s.begin():
                for event in events:
                    self.apply(s, event)
            self.written += len(events)
            return
        except Exception as e:
            if len(events) == 1:
                self.failed += 1
                logger.error(f"call record not stored ({events[0].type} of "
                             f"{events[0].call_id}): {redact(str(e))}")
                return
        for event in events:  # find the bad one; the others are written
            self._write([event])

    # --- one event → rows --------------------------------------------------------------

    def apply(self, s: Session, event: CallEvent) -> None:
        handler = HANDLERS.get(type(event))
        if handler is not None:
            handler(self, s, event)

    def _number(self, number: str | None) -> str | None:
        return mask_phone(number) if self.mask_numbers and number else number

    def _call(self, s: Session, event: CallEvent) -> Call:
        """The call's row; created bare if its start was never stored (a lost event)."""
        call = s.get(Call, event.call_id)
        if call is None:
            call = Call(id=event.call_id, transport="unknown", started_at=utc(event.wall_time),
                        status="live")
            s.add(call)
            s.flush()
        return call

    def _turn(self, s: Session, event: CallEvent, turn: int) -> Turn:
        self._call(s, event)
        row = s.scalars(select(Turn).where(Turn.call_id == event.call_id, Turn.turn == turn)
                        ).first()
        if row is None:
            row = Turn(call_id=event.call_id, turn=turn, at=utc(event.wall_time),
                       interrupted=False)
            s.add(row)
        return row

    def _started(self, s: Session, e: CallStarted) -> None:
        call = s.get(Call, e.call_id) or Call(id=e.call_id, status="live")
        call.transport, call.language, call.started_at = e.transport, e.language, utc(e.wall_time)
        call.caller, call.callee = self._number(e.caller), self._number(e.callee)
        call.provider_call_id = e.provider_call_id
        s.add(call)

    def _ended(self, s: Session, e: CallEnded) -> None:
        call = self._call(s, e)
        call.ended_at, call.end_reason, call.duration_s = utc(e.wall_time), e.reason, e.duration_s
        fatal = s.scalars(select(CallErrorRow.id).where(
            CallErrorRow.call_id == e.call_id, CallErrorRow.fatal.is_(True))).first()
        call.status = "failed" if fatal or e.reason == "protocol_error" else "ended"

    def _caller_turn(self, s: Session, e: CallerTurn) -> None:
        row = self._turn(s, e, e.turn)
        row.at, row.transcript = utc(e.wall_time), redact(e.transcript)
        row.language, row.language_probability, row.audio_s = (
            e.language, e.language_probability, e.audio_s)

    def _intent(self, s: Session, e: IntentDetected) -> None:
        row = self._turn(s, e, e.turn)
        row.intent, row.confidence, row.engine, row.sentiment = (
            e.intent, e.confidence, e.engine, e.sentiment)

    def _reply(self, s: Session, e: BotReply) -> None:
        row = self._turn(s, e, e.turn)
        row.reply_text, row.reply_language = redact(e.text), e.language

    def _latency(self, s: Session, e: TurnLatency) -> None:
        row = self._turn(s, e, e.turn)
        row.latency_total_s, row.latency_vad_s, row.latency_stt_s = e.total_s, e.vad_s, e.stt_s
        row.latency_dialogue_s, row.latency_tts_s = e.dialogue_s, e.tts_s

    def _played(self, s: Session, e: ReplyPlayed) -> None:
        row = self._turn(s, e, e.turn)
        row.heard_text, row.interrupted = redact(e.heard_text), e.interrupted
        row.reply_text = row.reply_text or redact(e.text)

    def _barge_in(self, s: Session, e: BargeIn) -> None:
        self._call(s, e)
        s.add(BargeInRow(call_id=e.call_id, at=utc(e.wall_time), turn=e.turn, cause=e.cause,
                         onset_to_clear_s=e.onset_to_clear_s, false_alarm=False))

    def _false_interruption(self, s: Session, e: FalseInterruption) -> None:
        # a sound over the bot that was no interruption (backchannel, noise): kept beside the
        # real barge-ins, flagged, so the operator page can show how often the bot paused
        self._call(s, e)
        s.add(BargeInRow(call_id=e.call_id, at=utc(e.wall_time), turn=e.turn,
                         cause=e.kind, onset_to_clear_s=0.0,
                         false_alarm=True))

    def _transfer(self, s: Session, e: TransferRequested) -> None:
        self._call(s, e)
        s.add(Transfer(call_id=e.call_id, at=utc(e.wall_time), reason=e.reason))

    def _switch(self, s: Session, e: LanguageSwitched) -> None:
        self._call(s, e)
        s.add(LanguageSwitch(call_id=e.call_id, at=utc(e.wall_time), from_language=e.from_language,
                             to_language=e.to_language, reason=e.reason))

    def _status(self, s: Session, e: CallStatus) -> None:
        # a status callback may know the call by the provider's id (CallSid) only
        provider_id = e.provider_call_id or e.call_id
        call = s.get(Call, e.call_id) or s.scalars(
            select(Call).where(Call.provider_call_id == provider_id)).first()
        if call is None:
            return
        call.telephony_status, call.hung_up_by = e.status, e.hung_up_by or call.hung_up_by
        if e.status in ("completed", "busy", "failed", "no-answer", "canceled"):
            if call.status == "live":
                call.status = "ended" if e.status == "completed" else "failed"
                call.ended_at = call.ended_at or utc(e.wall_time)
                call.end_reason = call.end_reason or f"telephony_{e.status}"
            if e.duration_s is not None and call.duration_s is None:
                call.duration_s = e.duration_s

    def _transferred(self, s: Session, e: CallTransferred) -> None:
        self._call(s, e)
        row = s.scalars(select(Transfer).where(Transfer.call_id == e.call_id,
                                               Transfer.target.is_(None))
                        .order_by(Transfer.at.desc(), Transfer.id.desc())).first()
        if row is None:  # redirected without a TransferRequested (an operator's take-over)
            row = Transfer(call_id=e.call_id, at=utc(e.wall_time), reason=e.reason)
            s.add(row)
        row.target, row.transferred_at, row.waited_s = e.target, utc(e.wall_time), e.waited_s

    def _error(self, s: Session, e: CallError) -> None:
        s.add(CallErrorRow(call_id=e.call_id, at=utc(e.wall_time), message=redact(e.message),
                           fatal=e.fatal))


HANDLERS: dict[type, Callable[[StoreWriter, Session, CallEvent], None]] = {
    CallStarted: StoreWriter._started, CallEnded: StoreWriter._ended,
    CallerTurn: StoreWriter._caller_turn, IntentDetected: StoreWriter._intent,
    BotReply: StoreWriter._reply, TurnLatency: StoreWriter._latency,
    ReplyPlayed: StoreWriter._played, BargeIn: StoreWriter._barge_in,
    FalseInterruption: StoreWriter._false_interruption, TransferRequested: StoreWriter._transfer,
    LanguageSwitched: StoreWriter._switch, CallStatus: StoreWriter._status,
    CallTransferred: StoreWriter._transferred,
    CallError: StoreWriter._error,
}
