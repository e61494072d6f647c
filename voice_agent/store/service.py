"""Call records in a running server: open the store (schema to head), start the writer on the
bus, purge old records at start-up and daily. One object for the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from voice_agent.config import Settings
from voice_agent.events import EventBus
from voice_agent.store.queries import CallStore
from voice_agent.store.retention import retention_loop
from voice_agent.store.writer import AddGauge, StoreWriter


class CallRecords:
    def __init__(self, store: CallStore, writer: StoreWriter,
                 retention: asyncio.Task | None) -> None:
        self.store, self.writer, self._retention = store, writer, retention

    @classmethod
    async def start(cls, settings: Settings, bus: EventBus,
                    add_gauge: AddGauge | None = None) -> CallRecords | None:
        """None when storage is off, or the database cannot be opened (logged: calls go on).
        `add_gauge` (the app's `CallMetrics.add_gauge`) publishes the writer's counts."""
        cfg = settings.storage
        if not cfg.enabled:
            return None
        try:
            store = await asyncio.to_thread(CallStore.open, cfg)
        except Exception as e:
            logger.error(f"call records are off: cannot open {_safe_url(cfg.url)}: {e}")
            return None
        writer = StoreWriter(store, cfg.mask_caller_numbers, cfg.queue_size).attach(bus).start()
        if add_gauge is not None:
            writer.report_counts(add_gauge)
        retention = None
        if cfg.retention_days:
            retention = asyncio.create_task(
                retention_loop(store, cfg.retention_days, cfg.keep_feedback), name="retention")
        logger.info(f"call records in {_safe_url(cfg.url)}")
        return cls(store, writer, retention)

    async def stop(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await asyncio.to_thread(self.writer.stop)
        self.store.dispose()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
