"""Read API over the call records (and the one write an operator makes: intent feedback).

    store = CallStore.open(settings.storage)        # engine + `alembic upgrade head`
    # in the server: `app.state.store` is this object (shared by every request)

    store.list_calls(search=None, limit=50, live_only=False, offset=0) -> list[CallSummary]
        newest first; `search` matches call id, caller, callee, provider call id, or words in
        any transcript / reply (case-insensitive substring); `live_only`: calls not yet ended.
    store.get_call(call_id) -> CallDetail | None
        the call with its turns (in order), transfers, errors, language switches, barge-ins.
    store.add_feedback(call_id, turn, corrected_intent, who, *, transcript=None,
                       language=None, predicted_intent=None) -> Feedback
        an operator's correction of a turn's intent; transcript, language and the predicted
        intent are taken from the stored turn unless given (the transcript is redacted).
        ValueError for an unknown intent, or a turn that is not stored and no transcript given.
    store.list_feedback(limit=None, call_id=None) -> list[Feedback]     newest first
    store.dispose()                                                      close the pool

Every result is a pydantic model (FastAPI returns it as JSON as is; `.model_dump()` for a
dict). Calls are synchronous and quick: use them from a `def` endpoint (FastAPI runs those in
its thread pool) or `await asyncio.to_thread(store.list_calls, ...)`, never on the event loop
of a live call. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from voice_agent.redaction import redact
from voice_agent.store.database import make_engine, migrate
from voice_agent.store.models import (
    BargeInRow,
    Call,
    CallErrorRow,
    IntentFeedback,
    LanguageSwitch,
    Transfer,
    Turn,
)


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CallSummary(_Row):
    id: str
    transport: str
    caller: str | None
    callee: str | None
    provider_call_id: str | None
    language: str | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    duration_s: float | None
    status: str  # live | ended | failed
    telephony_status: str | None
    hung_up_by: str | None
    turn_count: int = 0
    transferred: bool = False


class TurnRecord(_Row):
    turn: int
    at: datetime
    transcript: str | None
    language: str | None
    language_probability: float | None
    audio_s: float | None
    intent: str | None
    confidence: float | None
    engine: str | None
    sentiment: str | None
    reply_text: str | None
    reply_language: str | None
    heard_text: str | None
    interrupted: bool
    latency_total_s: float | None
    latency_vad_s: float | None
    latency_stt_s: float | None
    latency_dialogue_s: float | None
    latency_tts_s: float | None


class TransferRecord(_Row):
    at: datetime
    reason: str
    target: str | None = None  # set once the call was redirected to a human
    transferred_at: datetime | None = None
    waited_s: float | None = None


class ErrorRecord(_Row):
    at: datetime
    message: str
    fatal: bool


class LanguageSwitchRecord(_Row):
    at: datetime
    from_language: str
    to_language: str
    reason: str


class BargeInRecord(_Row):
    at: datetime
    turn: int
    cause: str
    onset_to_clear_s: float
    false_alarm: bool


class CallDetail(CallSummary):
    turns: list[TurnRecord] = []
    transfers: list[TransferRecord] = []
    errors: list[ErrorRecord] = []
    language_switches: list[LanguageSwitchRecord] = []
    barge_ins: list[BargeInRecord] = []


class Feedback(_Row):
    id: int
    call_id: str
    turn: int
    transcript: str
    language: str
    predicted_intent: str | None
    corrected_intent: str
    who: str
    at: datetime


class CallStore:
    """The call records of one database, shared by the writer, the operator page and training."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, storage, run_migrations: bool = True) -> CallStore:
        """From `settings.storage` (anything with a `.url`), schema upgraded to head."""
        engine = make_engine(storage.url)
        if run_migrations:
            migrate(engine)
        return cls(engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def list_calls(
        self, search: str | None = None, limit: int = 50, live_only: bool = False, offset: int = 0,
    ) -> list[CallSummary]:
        turn_count = (select(func.count(Turn.id)).where(Turn.call_id == Call.id)
                      .correlate(Call).scalar_subquery())
        transferred = (select(func.count(Transfer.id)).where(Transfer.call_id == Call.id)
                       .correlate(Call).scalar_subquery())
        query = select(Call, turn_count, transferred)
        if live_only:
            query = query.where(Call.status == "live")
        if search and search.strip():
            like = f"%{search.strip().lower()}%"
            in_turns = select(Turn.call_id).where(or_(
                func.lower(Turn.transcript).like(like), func.lower(Turn.reply_text).like(like)))
            query = query.where(or_(
                func.lower(Call.id).like(like), func.lower(Call.caller).like(like),
                func.lower(Call.callee).like(like), func.lower(Call.provider_call_id).like(like),
                Call.id.in_(in_turns),
            ))
        query = query.order_by(Call.started_at.desc(), Call.id).limit(max(1, min(limit, 1000)))
        with self.session() as s:
            rows = s.execute(query.offset(max(0, offset))).all()
        return [
            CallSummary.model_validate(call).model_copy(
                update={"turn_count": turns, "transferred": bool(transfers)})
            for call, turns, transfers in rows
        ]

    def get_call(self, call_id: str) -> CallDetail | None:
        with self.session() as s:
            call = s.get(Call, call_id)
            if call is None:
                return None

            def rows(model, order=None):
                order = order if order is not None else model.at
                return s.scalars(select(model).where(model.call_id == call_id)
                                 .order_by(order, model.id)).all()

            turns = rows(Turn, Turn.turn)
            detail = CallDetail.model_validate(call)
            return detail.model_copy(update={
                "turns": [TurnRecord.model_validate(t) for t in turns],
                "turn_count": len(turns),
                "transfers": [TransferRecord.model_validate(r) for r in rows(Transfer)],
                "transferred": bool(rows(Transfer)),
                "errors": [ErrorRecord.model_validate(r) for r in rows(CallErrorRow)],
                "language_switches": [LanguageSwitchRecord.model_validate(r)
                                      for r in rows(LanguageSwitch)],
                "barge_ins": [BargeInRecord.model_validate(r) for r in rows(BargeInRow)],
            })

    def add_feedback(
        self, call_id: str, turn: int, corrected_intent: str, who: str, *,
        transcript: str | None = None, language: str | None = None,
        predicted_intent: str | None = None,
    ) -> Feedback:
        from voice_agent.kb import INTENTS

        if corrected_intent not in INTENTS:
            raise ValueError(f"unknown intent {corrected_intent!r}; one of {', '.join(INTENTS)}")
        if not who or not who.strip():
            raise ValueError("feedback needs who gave it")
        with self.session() as s, s.begin():
            stored = s.scalars(
                select(Turn).where(Turn.call_id == call_id, Turn.turn == turn)).first()
            text = transcript if transcript is not None else (stored.transcript if stored else None)
            if not text:
                raise ValueError(f"call {call_id!r} has no transcript for turn {turn}")
            row = IntentFeedback(
                call_id=call_id, turn=turn, transcript=redact(text),
                language=language or (stored.language if stored else None) or "und",
                predicted_intent=predicted_intent or (stored.intent if stored else None),
                corrected_intent=corrected_intent, who=who.strip()[:128], at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            return Feedback.model_validate(row)

    def list_feedback(self, limit: int | None = None, call_id: str | None = None
                      ) -> list[Feedback]:
        query = select(IntentFeedback).order_by(IntentFeedback.at.desc(), IntentFeedback.id.desc())
        if call_id is not None:
            query = query.where(IntentFeedback.call_id == call_id)
        if limit:
            query = query.limit(limit)
        with self.session() as s:
            return [Feedback.model_validate(r) for r in s.scalars(query)]
