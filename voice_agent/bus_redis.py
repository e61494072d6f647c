"""The event bus across worker processes, through Redis pub/sub.

Implements the `events.EventBus` interface. A published event reaches this process's
subscribers at once, as on the memory bus, and goes to Redis in the background; events from
other workers arrive through Redis and are delivered to the same subscribers. Each message is
`<process id> <event.model_dump_json()>`, so a worker skips its own messages. `local` is a bus
carrying only this process's events (storage and metrics count each event once, in the worker
that ran the call).

Redis down or slow never blocks a call: the outgoing queue is bounded (a full queue drops the
event with a warning) and both directions reconnect with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

from loguru import logger

from voice_agent.config import Settings
from voice_agent.events import CallEvent, EventBus, event_from_json

RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class RedisEventBus(EventBus):
    spans_processes = True

    def __init__(self, redis_url: str, channel: str = "voice_agent:events",
                 queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        self._local = EventBus(queue_size)
        self.redis_url, self.channel = redis_url, channel
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.sent = self.received = self.dropped = 0
        self._outbox: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()

    # --- the EventBus interface --------------------------------------------------------

    @property
    def local(self) -> EventBus:
        return self._local

    def publish(self, event: CallEvent) -> None:
        self._local.publish(event)
        super().publish(event)
        if self._loop is None:
            return  # not started: this process only
        message = f"{self.process_id} {event.model_dump_json()}"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._enqueue(message)
        else:  # published from another thread
            self._loop.call_soon_threadsafe(self._enqueue, message)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, wait_subscribed: float = 5.0) -> None:
        """Connect, subscribe, start the sender and receiver (in the app's lifespan)."""
        import redis.asyncio as redis

        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._client = redis.Redis.from_url(self.redis_url)
        self._tasks = [asyncio.create_task(self._send_loop(), name="redis-bus-send"),
                       asyncio.create_task(self._receive_loop(), name="redis-bus-receive")]
        try:  # events published right after start-up should reach the other workers' view
            await asyncio.wait_for(self._subscribed.wait(), wait_subscribed)
        except TimeoutError:
            logger.warning(f"Redis bus not subscribed yet ({self.redis_url}); retrying in the "
                           "background, calls go on")

    async def stop(self, drain_s: float = 2.0) -> None:
        """Send what is queued (up to `drain_s`), then disconnect."""
        deadline = asyncio.get_running_loop().time() + drain_s
        while not self._outbox.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._loop is not None:
            await self._client.aclose()
        self._loop = None
        self._subscribed.clear()

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    # --- internals ---------------------------------------------------------------------

    def _enqueue(self, message: str) -> None:
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("Redis bus queue full; an event was not shared with other workers")

    async def _send_loop(self) -> None:
        attempt = 0
        while True:
            message = await self._outbox.get()
            while True:
                try:
                    await self._client.publish(self.channel, message)
                    self.sent += 1
                    attempt = 0
                    break
                except Exception as e:
                    logger.warning(f"Redis bus publish failed ({e}); retrying")
                    await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
                    attempt += 1

    async def _receive_loop(self) -> None:
        attempt = 0
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed.set()
                    attempt = 0
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._subscribed.clear()
                logger.warning(f"Redis bus subscription lost ({e}); reconnecting")
                await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
                attempt += 1

    def _deliver(self, data: bytes | str) -> None:
        raw = data.decode() if isinstance(data, bytes) else data
        origin, _, body = raw.partition(" ")
        if origin == self.process_id:
            return
        try:
            event = event_from_json(body)
        except Exception as e:  # another version's event, or garbage on the channel
            logger.warning(f"Redis bus: unreadable event from {origin}: {e}")
            return
        self.received += 1
        super().publish(event)


def make_event_bus(settings: Settings) -> EventBus:
    """The configured bus: `bus.backend: memory` (default) or `redis` (start it in the lifespan)."""
    if settings.bus.backend == "redis":
        return RedisEventBus(settings.bus.redis_url, settings.bus.channel, settings.bus.queue_size)
    return EventBus()


async def start_bus(bus: EventBus) -> None:
    if isinstance(bus, RedisEventBus):
        await bus.start()


async def stop_bus(bus: EventBus) -> None:
    if isinstance(bus, RedisEventBus):
        await bus.stop()

