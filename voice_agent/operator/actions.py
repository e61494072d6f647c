"""An operator's hang-up, carried by the event bus to the worker that runs the call.

The page may be served by any worker (with the Redis bus every worker sees every call), but a
call's pipeline lives in one. The operator API publishes `HangupRequested`; in each process a
`HangupHandler` ends the call if it runs here: reason `operator_hangup`, then the pipeline is
cancelled (the media stream closes, which ends a Twilio call).
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from voice_agent.events import CallEvent, EventBus, HangupRequested


async def end_call(live_calls: dict, call_id: str, operator: str) -> bool:
    """End a call of this process; False if it does not run here (or has ended)."""
    entry = live_calls.get(call_id)
    if entry is None:
        return False
    task, state = entry
    state.end_reason = "operator_hangup"
    logger.info(f"{call_id}: hung up by operator {operator!r}")
    await task.cancel()
    return True


class HangupHandler:
    """Ends this process's calls that an operator hung up (from any worker)."""

    def __init__(self, bus: EventBus, live_calls: dict) -> None:
        self._bus, self._live_calls = bus, live_calls
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
                    await end_call(self._live_calls, event.call_id, event.operator)
                except Exception as e:  # a failed hang-up must not stop the next one
                    logger.exception(f"{event.call_id}: operator hang-up failed: {e}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue is not None:
            self._bus.unsubscribe(self._queue)
