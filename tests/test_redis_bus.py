"""The Redis event bus: events cross worker processes; each worker stores only its own calls.

Real Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432); the slow test runs two real
`voice-agent serve` workers and a simulated Twilio call on one of them.
"""

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from storage_fixtures import REDIS_URL, pg_schema_url, redis_available

from voice_agent.bus_redis import RedisEventBus, make_event_bus
from voice_agent.config import REPO_ROOT, StorageSettings, load_settings
from voice_agent.events import (
    CallEnded,
    CallerTurn,
    CallStarted,
    EventBus,
    EventRecorder,
    IntentDetected,
)
from voice_agent.server import free_port
from voice_agent.store import CallStore, StoreWriter

pytestmark = pytest.mark.skipif(not redis_available(), reason=f"no Redis at {REDIS_URL}")


def channel() -> str:
    return f"voice_agent:test:{uuid.uuid4().hex[:8]}"


async def started(bus: RedisEventBus) -> RedisEventBus:
    await bus.start()
    assert bus.subscribed
    return bus


def a_turn(call_id: str, turn: int = 1) -> CallerTurn:
    return CallerTurn(call_id=call_id, turn=turn, transcript="¿Dónde está mi pedido 1001?",
                      language="es", language_probability=0.93, audio_s=2.1, stt_s=0.3)


async def test_events_reach_other_workers_and_local_subscribers_at_once():
    name = channel()
    one = await started(RedisEventBus(REDIS_URL, name))
    two = await started(RedisEventBus(REDIS_URL, name))
    try:
        heard_one, heard_two = EventRecorder(one), EventRecorder(two)
        local_two = EventRecorder(two.local)
        queue_two = two.subscribe()

        one.publish(CallStarted(call_id="c1", transport="twilio", language="es",
                                caller="+34612345678"))
        one.publish(a_turn("c1"))
        assert len(heard_one.events) == 2  # delivered locally before any network round trip

        got = await heard_two.wait_for(CallerTurn, "c1", timeout=5)
        assert isinstance(got[0], CallerTurn) and got[0].transcript.endswith("1001?")
        start = (await heard_two.wait_for(CallStarted, "c1"))[0]
        assert start.caller == "+34612345678" and start.at == heard_one.events[0].at
        assert (await asyncio.wait_for(queue_two.get(), 5)).type == "call_started"
        assert local_two.events == []  # worker two ran no call
        assert two.received == 2

        two.publish(IntentDetected(call_id="c1", turn=1, intent="order_status",
                                   confidence=0.9, engine="finetuned"))
        await heard_one.wait_for(IntentDetected, "c1", timeout=5)
        await asyncio.sleep(0.3)
        assert one.received == 1 and len(heard_one.events) == 3  # its own never come back
        assert one.process_id != two.process_id
    finally:
        await one.stop()
        await two.stop()


async def test_publishing_from_a_thread_and_unparseable_messages():
    import redis.asyncio as redis

    name = channel()
    one = await started(RedisEventBus(REDIS_URL, name))
    two = await started(RedisEventBus(REDIS_URL, name))
    try:
        heard = EventRecorder(two)
        client = redis.Redis.from_url(REDIS_URL)
        await client.publish(name, "someone {not an event}")  # logged and skipped
        await client.aclose()
        thread = threading.Thread(target=one.publish, args=(a_turn("c2"),))
        thread.start()
        thread.join()
        await heard.wait_for(CallerTurn, "c2", timeout=5)
        assert two.received == 1
    finally:
        await one.stop()
        await two.stop()


async def test_redis_down_never_blocks_a_call():
    bus = RedisEventBus("redis://127.0.0.1:1/0", channel(), queue_size=50)
    await bus.start(wait_subscribed=0.5)
    try:
        heard = EventRecorder(bus)
        t0 = time.perf_counter()
        for i in range(200):
            bus.publish(a_turn("c3", i))
        assert time.perf_counter() - t0 < 0.5
        assert len(heard.events) == 200  # this worker's subscribers still get everything
        assert bus.dropped > 0  # the bounded outbox gave up on the rest, with a warning
    finally:
        await bus.stop(drain_s=0.1)


def test_the_factory_follows_config():
    memory = make_event_bus(load_settings(env={}))
    assert type(memory) is EventBus
    redis_bus = make_event_bus(load_settings(env={}, overrides={
        "bus": {"backend": "redis", "redis_url": REDIS_URL, "channel": "x"}}))
    assert isinstance(redis_bus, RedisEventBus) and redis_bus.channel == "x"


PUBLISHER = """
import asyncio, sys
from voice_agent.bus_redis import RedisEventBus
from voice_agent.config import StorageSettings
from voice_agent.events import CallStarted, CallerTurn, CallEnded
from voice_agent.store import CallStore, StoreWriter

async def main(redis_url, channel, db_url):
    bus = RedisEventBus(redis_url, channel)
    await bus.start()
    store = CallStore.open(StorageSettings(url=db_url))
    writer = StoreWriter(store).attach(bus).start()
    bus.publish(CallStarted(call_id="w1-call", transport="sip", language="fr"))
    bus.publish(CallerTurn(call_id="w1-call", turn=1, transcript="Mon numéro est le 06 12 34 56 78",
                           language="fr", language_probability=0.9, audio_s=2, stt_s=0.3))
    bus.publish(CallEnded(call_id="w1-call", reason="caller_hangup", duration_s=5.0))
    writer.stop()
    await bus.stop()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_another_process_publishes_and_this_one_sees_its_events_and_rows():
    name = channel()
    with pg_schema_url() as db_url:
        here = await started(RedisEventBus(REDIS_URL, name))
        store = CallStore.open(StorageSettings(url=db_url))
        writer = StoreWriter(store).attach(here).start()  # writes only this process's events
        try:
            heard = EventRecorder(here)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", PUBLISHER, REDIS_URL, name, db_url, cwd=REPO_ROOT)
            assert await asyncio.wait_for(proc.wait(), 60) == 0
            await heard.wait_for(CallEnded, "w1-call", timeout=10)
            assert [e.type for e in heard.events] == ["call_started", "caller_turn", "call_ended"]
            assert writer.flush() and writer.written == 0  # the other worker stored its call
            call = store.get_call("w1-call")
            assert call.status == "ended" and call.transport == "sip"
            assert [t.transcript for t in call.turns] == ["Mon numéro est le [phone]"]
        finally:
            writer.stop()
            store.dispose()
            await here.stop()


# --- two real workers ------------------------------------------------------------------

AUTH_TOKEN = "multi-worker-test-token"


def start_worker(port: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(REPO_ROOT / ".venv" / "bin" / "voice-agent"), "serve", "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


async def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited: {proc.stderr.read()[-3000:]}")
            try:
                if (await client.get(f"{base}/health", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError(f"worker at {base} not ready in {timeout} s")


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.slow
async def test_a_call_on_worker_one_is_seen_by_worker_two():
    from voice_agent.testing.twilio_line import SimulatedCall

    from conftest import fixture_wav

    name = channel()
    with pg_schema_url() as db_url:
        env = {**os.environ, "VOICE_AGENT_BUS__BACKEND": "redis",
               "VOICE_AGENT_BUS__REDIS_URL": REDIS_URL, "VOICE_AGENT_BUS__CHANNEL": name,
               "VOICE_AGENT_STORAGE__URL": db_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "VOICE_AGENT_TTS__PRECACHE_ANSWERS": "false"}
        ports = free_port(), free_port()
        workers = [start_worker(p, env) for p in ports]
        observer = await started(RedisEventBus(REDIS_URL, name))
        try:
            one, two = (f"http://127.0.0.1:{p}" for p in ports)
            await asyncio.gather(wait_ready(one, workers[0]), wait_ready(two, workers[1]))
            seen = EventRecorder(observer)
            async with SimulatedCall(one.replace("http", "ws") + "/media",
                                     {"from": "+15551230000"}, auth_token=AUTH_TOKEN) as call:
                await call.wait_quiet(call.start_sent_at, timeout=15)
                await call.say(fixture_wav("en_order_status_1001"))
                await call.stop()
            [ended] = await seen.wait_for(CallEnded, timeout=20)
            turn = (await seen.wait_for(CallerTurn, ended.call_id))[0]
            assert "1001" in turn.transcript

            async with httpx.AsyncClient() as client:
                m1 = (await client.get(f"{one}/metrics")).text
                m2 = (await client.get(f"{two}/metrics")).text
            # worker one ran the call; worker two heard every one of its events through Redis
            assert metric(m1, 'voice_agent_calls_total{transport="twilio"}') == 1
            assert metric(m2, 'voice_agent_calls_total{transport="twilio"}') == 0
            assert metric(m2, "voice_agent_bus_remote_events") >= len(seen.events)
            # …and stored none of them: the worker that ran the call stores it, once
            assert metric(m2, "voice_agent_records_written") == 0
            assert metric(m1, "voice_agent_records_written") >= len(seen.events) - 1
            assert metric(m1, "voice_agent_records_failed") == 0

            store = CallStore.open(StorageSettings(url=db_url))  # what worker two would query
            for _ in range(100):
                calls = store.list_calls()
                if calls and calls[0].status != "live":
                    break
                await asyncio.sleep(0.1)
            [record] = calls  # stored once, by the worker that ran it
            detail = store.get_call(ended.call_id)
            assert record.id == ended.call_id and record.caller == "+15551230000"
            said = [t for t in detail.turns if t.transcript]  # turn 0: the greeting played
            assert [t.turn for t in said] == [1] and said[0].intent == "order_status"
            store.dispose()
        finally:
            await observer.stop()
            for proc in workers:
                proc.terminate()
            for proc in workers:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
