"""Call records: calls, turns, transfers, errors, language switches, barge-ins, intent feedback.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from voice_agent.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _call_fk() -> sa.Column:
    return sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(64), index=True),
        sa.Column("callee", sa.String(64)),
        sa.Column("provider_call_id", sa.String(128), index=True),
        sa.Column("language", sa.String(8)),
        sa.Column("started_at", UTCDateTime, nullable=False, index=True),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("end_reason", sa.String(64)),
        sa.Column("duration_s", sa.Float),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("telephony_status", sa.String(32)),
        sa.Column("hung_up_by", sa.String(16)),
    )
    op.create_table(
        "turns", _id(), _call_fk(),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("transcript", sa.Text),
        sa.Column("language", sa.String(8)),
        sa.Column("language_probability", sa.Float),
        sa.Column("audio_s", sa.Float),
        sa.Column("intent", sa.String(64)),
        sa.Column("confidence", sa.Float),
        sa.Column("engine", sa.String(32)),
        sa.Column("sentiment", sa.String(16)),
        sa.Column("reply_text", sa.Text),
        sa.Column("reply_language", sa.String(8)),
        sa.Column("heard_text", sa.Text),
        sa.Column("interrupted", sa.Boolean, nullable=False),
        sa.Column("latency_total_s", sa.Float),
        sa.Column("latency_vad_s", sa.Float),
        sa.Column("latency_stt_s", sa.Float),
        sa.Column("latency_dialogue_s", sa.Float),
        sa.Column("latency_tts_s", sa.Float),
        sa.UniqueConstraint("call_id", "turn", name="uq_turns_call_turn"),
    )
    op.create_table(
        "transfers", _id(), _call_fk(),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256)),
        sa.Column("transferred_at", UTCDateTime),
        sa.Column("waited_s", sa.Float),
    )
    op.create_table(
        "errors", _id(),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fatal", sa.Boolean, nullable=False),
    )
    op.create_table(
        "language_switches", _id(), _call_fk(),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("from_language", sa.String(8), nullable=False),
        sa.Column("to_language", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
    )
    op.create_table(
        "barge_ins", _id(), _call_fk(),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("onset_to_clear_s", sa.Float, nullable=False),
        sa.Column("false_alarm", sa.Boolean, nullable=False),
    )
    op.create_table(
        "intent_feedback", _id(),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("predicted_intent", sa.String(64)),
        sa.Column("corrected_intent", sa.String(64), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
    )


def downgrade() -> None:
    for table in ("intent_feedback", "barge_ins", "language_switches", "errors", "transfers",
                  "turns", "calls"):
        op.drop_table(table)
