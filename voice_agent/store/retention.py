"""Retention: call records older than `storage.retention_days` are deleted, at start-up and
then once a day (`retention_loop`). Operators' intent feedback (redacted, reviewed training
rows) is kept unless `storage.keep_feedback` is false.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy import delete, select

from voice_agent.store.models import (
    BargeInRow,
    Call,
    CallErrorRow,
    IntentFeedback,
    LanguageSwitch,
    Transfer,
    Turn,
)
from voice_agent.store.queries import CallStore

DAY_S = 24 * 3600


@dataclass
class PurgeResult:
    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.deleted.get("calls", 0)


def purge(store: CallStore, retention_days: float, keep_feedback: bool = True,
          now: datetime | None = None) -> PurgeResult:
    """Delete calls that started before now − retention_days, with everything recorded for them."""
    if retention_days <= 0:
        raise ValueError("retention_days must be positive (null in config turns retention off)")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    result = PurgeResult(cutoff)
    old_calls = select(Call.id).where(Call.started_at < cutoff)
    with store.session() as s, s.begin():
        # children first: SQLite enforces the foreign keys only where PRAGMA asks it to
        for model in (Turn, Transfer, LanguageSwitch, BargeInRow):
            rows = s.execute(delete(model).where(model.call_id.in_(old_calls)))
            result.deleted[model.__tablename__] = rows.rowcount
        rows = s.execute(delete(CallErrorRow).where(CallErrorRow.at < cutoff))
        result.deleted["errors"] = rows.rowcount
        if not keep_feedback:
            rows = s.execute(delete(IntentFeedback).where(IntentFeedback.at < cutoff))
            result.deleted["intent_feedback"] = rows.rowcount
        rows = s.execute(delete(Call).where(Call.started_at < cutoff))
        result.deleted["calls"] = rows.rowcount
    return result


async def retention_loop(store: CallStore, retention_days: float, keep_feedback: bool = True,
                         every_s: float = DAY_S) -> None:
    """Purge now, then every `every_s` seconds, until cancelled; a failed purge is logged."""
    while True:
        try:
            result = await asyncio.to_thread(purge, store, retention_days, keep_feedback)
            if result.calls:
                logger.info(f"retention: deleted {result.calls} call(s) older than "
                            f"{retention_days} days ({result.deleted})")
        except Exception as e:
            logger.error(f"retention purge failed: {e}")
        await asyncio.sleep(every_s)
