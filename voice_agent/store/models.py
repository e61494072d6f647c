"""Call-record tables (SQLAlchemy 2 declarative). The schema itself is created by the alembic
revisions in `migrations/`; these classes are what the writer and the queries use.

Times are stored as timezone-aware UTC datetimes (event `wall_time`), durations in seconds.
Child rows reference `calls.id`; `errors` and `intent_feedback` keep a plain call id because an
error may belong to no call ("unstarted") and feedback outlives the call it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out (SQLite drops the zone; PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transport: Mapped[str] = mapped_column(String(16), default="unknown")
    caller: Mapped[str | None] = mapped_column(String(64), index=True)
    callee: Mapped[str | None] = mapped_column(String(64))
    provider_call_id: Mapped[str | None] = mapped_column(String(128), index=True)
    language: Mapped[str | None] = mapped_column(String(8))  # the language the call started in
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="live", index=True)  # live|ended|failed
    telephony_status: Mapped[str | None] = mapped_column(String(32))  # Twilio status callback
    hung_up_by: Mapped[str | None] = mapped_column(String(16))


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "turn", name="uq_turns_call_turn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    transcript: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    language_probability: Mapped[float | None] = mapped_column(Float)
    audio_s: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    engine: Mapped[str | None] = mapped_column(String(32))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_language: Mapped[str | None] = mapped_column(String(8))
    heard_text: Mapped[str | None] = mapped_column(Text)  # what the caller heard before a cut
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_total_s: Mapped[float | None] = mapped_column(Float)
    latency_vad_s: Mapped[float | None] = mapped_column(Float)
    latency_stt_s: Mapped[float | None] = mapped_column(Float)
    latency_dialogue_s: Mapped[float | None] = mapped_column(Float)
    latency_tts_s: Mapped[float | None] = mapped_column(Float)


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(64))
    # filled when the call was really redirected to a human (CallTransferred)
    target: Mapped[str | None] = mapped_column(String(256))
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waited_s: Mapped[float | None] = mapped_column(Float)


class CallErrorRow(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    message: Mapped[str] = mapped_column(Text)
    fatal: Mapped[bool] = mapped_column(Boolean, default=False)


class LanguageSwitch(Base):
    __tablename__ = "language_switches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_language: Mapped[str] = mapped_column(String(8))
    to_language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))


class BargeInRow(Base):
    __tablename__ = "barge_ins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    turn: Mapped[int] = mapped_column(Integer)
    # a barge-in: cause speech | dtmf; a false interruption (the bot paused, then resumed):
    # false_alarm true, cause backchannel | noise
    cause: Mapped[str] = mapped_column(String(16))
    onset_to_clear_s: Mapped[float] = mapped_column(Float)
    false_alarm: Mapped[bool] = mapped_column(Boolean, default=False)


class IntentFeedback(Base):
    __tablename__ = "intent_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    transcript: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    predicted_intent: Mapped[str | None] = mapped_column(String(64))
    corrected_intent: Mapped[str] = mapped_column(String(64))
    who: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
