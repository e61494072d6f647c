"""An operator's hang-up, carried by the event bus to the worker that runs the call.

The page may be served by any worker (with the Redis bus every worker sees every call), but a
call's pipeline lives in one. The operator API publishes `HangupRequested`; in each process a
`HangupHandler` ends the call if it runs here (the process's call registry): reason
`operator_hangup`, then the pipeline is cancelled (the media stream closes, which ends a Twilio
call).
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from voice_agent.calls import CallRegistry
from voice_agent.events import CallEvent, EventBus, HangupRequested


class HangupHandler:
    """Ends this process's calls that an operator hung up (from any worker)."""

    def __init__(self, bus: EventBus, calls: CallRegistry) -> None:
        self._bus, self._calls = bus, calls
        self._queue: asyncio.Queue[CallEvent] | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> HangupHandler:
        self._queue = self._bus.subscribe()
        self._task = asyncio.create_task(self._run(), name="operator-hangups")
        return self

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            if isinstance(event, HangupRequested):
                try:
                    if await self._calls.hang_up(event.call_id, "operator_hangup"):
                        logger.info(f"{event.call_id}: hung up by operator {event.operator!r}")
                except Exception as e:  # a failed hang-up must not stop the next one
                    logger.exception(f"{event.call_id}: operator hang-up failed: {e}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue is not None:
            self._bus.unsubscribe(self._queue)
