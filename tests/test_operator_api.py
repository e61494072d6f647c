"""Operator API: logins, refusals, the live call list over the real WebSocket, actions.

The fast tests serve the operator router on a real uvicorn server with the events published on
a real bus (no models loaded); the slow ones run real calls through the whole server.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
import websockets
from argon2 import PasswordHasher
from fastapi import FastAPI
from operator_helpers import PASSWORD, operator_settings

from voice_agent.events import (
    BotReply,
    CallEnded,
    CallerTurn,
    CallStarted,
    EventBus,
    EventRecorder,
    IntentDetected,
    TransferRequested,
    TurnLatency,
)
from voice_agent.operator.api import operator_router
from voice_agent.operator.auth import COOKIE, hash_password
from voice_agent.server import free_port, uvicorn_config


def light_resources(settings, bus: EventBus | None = None):
    """The process-wide resources with nothing loaded: these tests publish events themselves."""
    from voice_agent.kb import configured_knowledge_base
    from voice_agent.models import ModelRegistry
    from voice_agent.nlu.baseline import BaselineUnderstander
    from voice_agent.pipeline.factory import CallFactory
    from voice_agent.pipeline.shared_models import SharedModels
    from voice_agent.speech import Synthesizer

    registry = ModelRegistry(settings)
    kb = configured_knowledge_base(settings)
    models = SharedModels(settings=settings, registry=registry, kb=kb,
                          understander=BaselineUnderstander(kb),
                          synthesizer=Synthesizer(settings.tts, registry))
    return CallFactory.around(models, bus or EventBus())


@asynccontextmanager
async def operator_server(settings, res=None, trusted_proxies=None):
    """The operator router on its own app (with the call records when `settings.storage` is on)
    and a real server; yields (base_url, resources)."""
    res = res or light_resources(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from voice_agent.store.service import CallRecords

        records = await CallRecords.start(settings, res.bus)  # as create_app does
        app.state.store = records.store if records else None
        app.state.factory = res
        try:
            yield
        finally:
            if records is not None:
                await records.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(operator_router(settings))
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, log_level="warning",
                                           trusted_proxies=trusted_proxies))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", res
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=10)


async def log_in(client: httpx.AsyncClient, name="alice", password=PASSWORD) -> httpx.Response:
    return await client.post("/operator/login", data={"username": name, "password": password})


@asynccontextmanager
async def operator_logged_in(base: str):
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await log_in(client)).status_code == 303
        yield client


def ws_base(base: str) -> str:
    return base.replace("http", "ws", 1)


async def ws_close_code(url: str, headers: dict | None = None) -> int:
    async with websockets.connect(url, additional_headers=headers or {}) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


PROTECTED = [
    ("GET", "/operator/"),  # the page: 401 with the login form as its body
    ("GET", "/operator/static/app.js"),
    ("GET", "/operator/static/listen.js"),
    ("GET", "/operator/api/me"),
    ("GET", "/operator/api/calls"),
    ("GET", "/operator/api/calls/call-1"),
    ("GET", "/operator/api/intents"),
    ("GET", "/operator/api/history"),
    ("GET", "/operator/api/history/call-1"),
    ("POST", "/operator/logout"),
    ("POST", "/operator/api/calls/call-1/hangup"),
    ("POST", "/operator/api/calls/call-1/takeover"),
    ("POST", "/operator/api/calls/call-1/turns/1/intent"),
]


PUBLIC = {("GET", "/operator/login"), ("POST", "/operator/login"), ("GET", "/operator")}
SOCKETS = ["/operator/ws", "/operator/listen/call-1"]


def test_the_lists_above_name_every_operator_route(settings):
    """A route added later without a refusal test fails here."""
    from fastapi.routing import APIRoute, APIWebSocketRoute

    concrete = {"{call_id}": "call-1", "{turn}": "1", "{name}": "app.js"}

    def fill(path: str) -> str:
        for k, v in concrete.items():
            path = path.replace(k, v)
        return path

    router = operator_router(operator_settings(settings))
    http = {(m, fill(r.path)) for r in router.routes if isinstance(r, APIRoute)
            for m in r.methods}
    sockets = {fill(r.path) for r in router.routes if isinstance(r, APIWebSocketRoute)}
    assert http - PUBLIC <= set(PROTECTED), http - PUBLIC - set(PROTECTED)
    assert sockets == set(SOCKETS)


async def test_every_operator_route_refuses_a_visitor_without_a_valid_session(settings):
    s = operator_settings(settings)
    async with operator_server(s) as (base, _):
        forged = hash_password("x")  # any string that is not our signed cookie
        from voice_agent.operator.auth import OperatorAuth

        other_server = OperatorAuth(s.operator.model_copy(update={"session_secret": "other"}))
        for cookie in (None, forged, other_server.session_cookie("alice")):
            cookies = {COOKIE: cookie} if cookie else {}
            async with httpx.AsyncClient(base_url=base, cookies=cookies) as client:
                for method, path in PROTECTED:
                    r = await client.request(method, path, json={"intent": "greeting"})
                    assert r.status_code == 401, (method, path, cookie)
                page = await client.get("/operator/")
                assert 'action="/operator/login"' in page.text and "/static/app.js" not in page.text
            headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
            for path in SOCKETS:
                assert await ws_close_code(ws_base(base) + path, headers) == 1008, path


async def test_with_no_accounts_configured_nobody_can_log_in(settings):
    async with operator_server(operator_settings(settings, users={})) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            r = await log_in(client)
            assert r.status_code == 401 and "No operator accounts" in r.text
            assert (await client.get("/operator/api/me")).status_code == 401


async def test_operator_logs_in_works_and_logs_out_and_the_old_cookie_is_dead(settings):
    async with operator_server(operator_settings(settings)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            wrong = await log_in(client, password="guess")
            assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
            unknown = await log_in(client, name="mallory")
            assert unknown.status_code == 401

            r = await log_in(client)
            assert r.status_code == 303 and r.headers["location"] == "/operator/"
            set_cookie = r.headers["set-cookie"].lower()
            assert "httponly" in set_cookie and "samesite=strict" in set_cookie
            cookie = client.cookies[COOKIE]
            assert (await client.get("/operator/api/me")).json() == {"user": "alice"}
            page = await client.get("/operator/")
            assert page.status_code == 200 and "/operator/static/app.js" in page.text
            assert (await client.get("/operator/static/app.js")).status_code == 200
            assert (await client.get("/operator/static/../auth.py")).status_code == 404

            out = await client.post("/operator/logout")
            assert out.status_code == 303
            assert (await client.get("/operator/api/me")).status_code == 401
        async with httpx.AsyncClient(base_url=base, cookies={COOKIE: cookie}) as copied:
            assert (await copied.get("/operator/api/me")).status_code == 401


async def test_password_guessing_locks_the_address_out(settings):
    s = operator_settings(settings, login_max_failures=3, login_lockout_s=60)
    async with operator_server(s) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            for guess in ("a", "b", "c"):
                assert (await log_in(client, password=guess)).status_code == 401
            locked = await log_in(client)  # even the right password, for now
            assert locked.status_code == 429 and "Too many failed logins" in locked.text
            assert (await client.get("/operator/api/me")).status_code == 401


async def test_a_guesser_cannot_dodge_the_lockout_with_made_up_forwarded_addresses(settings):
    s = operator_settings(settings, login_max_failures=3, login_lockout_s=60)
    # the server is reached directly (no proxy of ours in front): X-Forwarded-For is the
    # guesser's own invention and the lockout counts the real address
    async with operator_server(s, trusted_proxies=["10.9.9.9"]) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            for i, guess in enumerate(("a", "b", "c")):
                client.headers["X-Forwarded-For"] = f"203.0.113.{i}"
                assert (await log_in(client, password=guess)).status_code == 401
            client.headers["X-Forwarded-For"] = "203.0.113.99"
            assert (await log_in(client)).status_code == 429


async def test_behind_a_trusted_proxy_each_forwarded_client_is_locked_out_on_its_own(settings):
    s = operator_settings(settings, login_max_failures=3, login_lockout_s=60)
    async with operator_server(s, trusted_proxies=["127.0.0.1"]) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            client.headers["X-Forwarded-For"] = "203.0.113.7"  # the proxy says who it is
            for guess in ("a", "b", "c"):
                assert (await log_in(client, password=guess)).status_code == 401
            assert (await log_in(client)).status_code == 429
            client.headers["X-Forwarded-For"] = "198.51.100.1"  # another caller of the proxy
            assert (await log_in(client)).status_code == 303


async def test_a_lockout_ends_when_its_window_has_passed_and_a_login_clears_it():
    from voice_agent.operator.auth import LoginThrottle

    throttle = LoginThrottle(max_failures=2, window_s=0.3)
    throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    assert 0 < throttle.locked_for("10.0.0.1") <= 0.3 and throttle.locked_for("10.0.0.2") == 0
    await asyncio.sleep(0.35)
    assert throttle.locked_for("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0


async def test_another_sites_page_cannot_use_the_operators_session(settings):
    async with operator_server(operator_settings(settings)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            await log_in(client)
            cookie = client.cookies[COOKIE]
            evil = {"Origin": "https://evil.example"}
            r = await client.post("/operator/api/calls/call-1/takeover", headers=evil)
            assert r.status_code == 403
        headers = {"Cookie": f"{COOKIE}={cookie}", **evil}
        assert await ws_close_code(ws_base(base) + "/operator/ws", headers) == 1008


def a_call(bus: EventBus, call_id: str = "call-a") -> list:
    """One short call as the pipeline publishes it."""
    events = [
        CallStarted(call_id=call_id, transport="twilio", caller="+15551230000", language="en"),
        CallerTurn(call_id=call_id, turn=1, transcript="Where is my order 1001?", language="en",
                   language_probability=0.98, audio_s=1.8, stt_s=0.3),
        IntentDetected(call_id=call_id, turn=1, intent="order_status", confidence=0.93,
                       slots={"order_number": "1001"}, engine="finetuned", sentiment="neutral"),
        BotReply(call_id=call_id, turn=1, text="Order 1001 is on its way.", language="en"),
        TurnLatency(call_id=call_id, turn=1, total_s=0.81, vad_s=0.5, stt_s=0.2, dialogue_s=0.05,
                    tts_s=0.06),
    ]
    for e in events:
        bus.publish(e)
    return events


async def test_live_list_and_websocket_follow_the_calls_events(settings):
    async with operator_server(operator_settings(settings)) as (base, res):
        async with httpx.AsyncClient(base_url=base) as client:
            await log_in(client)
            headers = {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}
            async with websockets.connect(ws_base(base) + "/operator/ws",
                                          additional_headers=headers) as ws:
                snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert snapshot == {"type": "snapshot", "calls": []}
                sent = a_call(res.bus)
                for event in sent:
                    got = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    assert got == event.model_dump(mode="json")
                # what callers say reaches the page redacted, as in the call records
                res.bus.publish(CallerTurn(
                    call_id="call-a", turn=2, transcript="my card is 4111 1111 1111 1111",
                    language="en", language_probability=0.9, audio_s=3, stt_s=0.4))
                got = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert got["transcript"] == "my card is [card]"

            calls = (await client.get("/operator/api/calls")).json()
            assert len(calls) == 1
            row = calls[0]
            assert (row["caller"], row["language"], row["intent"], row["sentiment"]) == (
                "+15551230000", "en", "order_status", "neutral")
            assert row["last_latency_s"] == 0.81 and row["status"] == "live"
            detail = (await client.get("/operator/api/calls/call-a")).json()
            assert [(x["speaker"], x["text"], x["intent"]) for x in detail["lines"]] == [
                ("caller", "Where is my order 1001?", "order_status"),
                ("bot", "Order 1001 is on its way.", None),
                ("caller", "my card is [card]", None),
            ]

            # a page that opens mid-call gets the transcript so far in its snapshot
            async with websockets.connect(ws_base(base) + "/operator/ws",
                                          additional_headers=headers) as late:
                snapshot = json.loads(await asyncio.wait_for(late.recv(), 5))
                assert [len(c["lines"]) for c in snapshot["calls"]] == [3]
                res.bus.publish(CallEnded(call_id="call-a", reason="caller_hangup",
                                          duration_s=12.5))
                ended = json.loads(await asyncio.wait_for(late.recv(), 5))
                assert ended["type"] == "call_ended"
            row = (await client.get("/operator/api/calls")).json()[0]
            assert (row["status"], row["end_reason"], row["duration_s"]) == (
                "ended", "caller_hangup", 12.5)


async def test_actions_on_a_call_that_is_not_live_are_refused_clearly(settings):
    async with operator_server(operator_settings(settings)) as (base, res):
        async with httpx.AsyncClient(base_url=base) as client:
            await log_in(client)
            for action in ("hangup", "takeover"):
                r = await client.post(f"/operator/api/calls/nope/{action}")
                assert r.status_code == 404 and "no live call" in r.json()["detail"]
            r = await client.post("/operator/api/calls/nope/turns/1/intent",
                                  json={"intent": "teleport"})
            assert r.status_code == 422 and "unknown intent" in r.text
            assert "order_status" in (await client.get("/operator/api/intents")).json()
            headers = {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}
            code = await ws_close_code(ws_base(base) + "/operator/listen/nope", headers)
            assert code == 4404  # logged in, but no such live call here


async def test_history_search_replay_and_intent_corrections_use_the_call_records(
    settings, tmp_path
):
    s = operator_settings(settings, db=tmp_path / "calls.db")
    async with operator_server(s) as (base, res), operator_logged_in(base) as op:
        a_call(res.bus, "call-live")  # still live: its turn may not be written yet
        r = await op.post("/operator/api/calls/call-live/turns/1/intent",
                          json={"intent": "cancel_order"})
        assert r.status_code == 200, r.text
        saved = r.json()
        assert (saved["corrected_intent"], saved["predicted_intent"], saved["who"]) == (
            "cancel_order", "order_status", "alice")
        assert saved["transcript"] == "Where is my order 1001?"

        a_call(res.bus, "call-old")
        res.bus.publish(CallEnded(call_id="call-old", reason="caller_hangup", duration_s=9.0))
        for _ in range(100):
            found = (await op.get("/operator/api/history?search=call-old")).json()
            if found and found[0]["status"] == "ended":
                break
            await asyncio.sleep(0.05)
        assert [(c["id"], c["turn_count"], c["end_reason"]) for c in found] == [
            ("call-old", 1, "caller_hangup")]
        by_words = (await op.get("/operator/api/history?search=ORDER 1001")).json()
        assert {c["id"] for c in by_words} == {"call-old", "call-live"}
        assert (await op.get("/operator/api/history?search=no such words")).json() == []

        record = (await op.get("/operator/api/history/call-old")).json()
        turn = record["turns"][0]
        assert (turn["transcript"], turn["intent"], turn["reply_text"]) == (
            "Where is my order 1001?", "order_status", "Order 1001 is on its way.")
        assert turn["latency_total_s"] == 0.81 and record["feedback"] == []
        r = await op.post("/operator/api/calls/call-old/turns/1/intent",
                          json={"intent": "return_refund"})
        assert r.status_code == 200
        record = (await op.get("/operator/api/history/call-old")).json()
        assert [(f["turn"], f["corrected_intent"]) for f in record["feedback"]] == [
            (1, "return_refund")]

        r = await op.post("/operator/api/calls/call-old/turns/7/intent", json={"intent": "deny"})
        assert r.status_code == 404 and "no transcript for turn 7" in r.json()["detail"]
        assert (await op.get("/operator/api/history/nope")).status_code == 404


async def test_without_call_records_history_says_so(settings):
    async with operator_server(operator_settings(settings)) as (base, _), \
            operator_logged_in(base) as op:
        r = await op.get("/operator/api/history")
        assert r.status_code == 503 and "not configured" in r.json()["detail"]


async def test_with_the_redis_bus_the_page_on_one_worker_sees_and_hangs_up_anothers_calls(
    settings,
):
    import uuid

    from storage_fixtures import REDIS_URL, redis_available

    from voice_agent.bus_redis import RedisEventBus
    from voice_agent.events import HangupRequested

    if not redis_available():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    channel = f"voice_agent:test:{uuid.uuid4().hex[:8]}"
    page_worker, call_worker = RedisEventBus(REDIS_URL, channel), RedisEventBus(REDIS_URL, channel)
    await page_worker.start()
    await call_worker.start()
    at_call_worker = EventRecorder(call_worker)
    s = operator_settings(settings)
    try:
        async with operator_server(s, light_resources(s, bus=page_worker)) as (base, _), \
                operator_logged_in(base) as op:
            a_call(call_worker, "call-elsewhere")
            for _ in range(100):
                listed = (await op.get("/operator/api/calls")).json()
                if listed and listed[0]["last_latency_s"] is not None:
                    break
                await asyncio.sleep(0.05)
            assert [(c["call_id"], c["intent"]) for c in listed] == [
                ("call-elsewhere", "order_status")]
            r = await op.post("/operator/api/calls/call-elsewhere/hangup")
            assert r.status_code == 202
            asked = await at_call_worker.wait_for(HangupRequested, "call-elsewhere", timeout=5)
            assert asked[0].operator == "alice"
    finally:
        await page_worker.stop()
        await call_worker.stop()


def test_live_row_follows_a_take_over_and_shows_errors_redacted():
    from voice_agent.events import CallError, CallTransferred
    from voice_agent.operator.live import LiveCalls, page_message

    live = LiveCalls()
    events = [
        CallStarted(call_id="c1", transport="twilio", caller="+15550001111", language="en"),
        TransferRequested(call_id="c1", reason="operator_takeover"),
        CallTransferred(call_id="c1", reason="operator_takeover", target="+15559990000",
                        waited_s=1.2, reply_played=True),
        CallError(call_id="c1", message="TTS failed on 'card 4111 1111 1111 1111'"),
    ]
    for e in events:
        live.apply(e)
    row = live.snapshot()[0]
    assert (row["transfer_reason"], row["transferred_to"]) == ("operator_takeover", "+15559990000")
    assert row["last_error"] == "TTS failed on 'card [card]'"
    assert page_message(events[-1])["message"] == row["last_error"]


async def test_a_page_that_falls_behind_gets_a_fresh_snapshot_and_the_bus_never_waits():
    from voice_agent.operator.live import SUBSCRIBER_QUEUE, LiveCalls

    bus = EventBus()
    live = LiveCalls()
    await live.start(bus)
    page = live.subscribe()  # a page that reads nothing
    a_call(bus, "call-slow")
    for i in range(SUBSCRIBER_QUEUE + 10):
        bus.publish(CallerTurn(call_id="call-slow", turn=i + 2, transcript=f"turn {i}",
                               language="en", language_probability=1.0, audio_s=1, stt_s=0.1))
    for _ in range(200):
        call = live.calls.get("call-slow")
        if call and call.turns == SUBSCRIBER_QUEUE + 11:
            break
        await asyncio.sleep(0.01)
    assert live.calls["call-slow"].turns == SUBSCRIBER_QUEUE + 11
    messages = []
    while not page.empty():
        messages.append(page.get_nowait())
    assert {"type": "resync"} in messages and len(messages) < SUBSCRIBER_QUEUE
    assert len(live.calls["call-slow"].lines) == 200  # bounded transcript per live call
    await live.stop()


def test_operator_hash_command_makes_a_hash_that_verifies():
    from typer.testing import CliRunner

    from voice_agent.cli import app

    result = CliRunner().invoke(app, ["operator-hash", "bob", "--stdin"], input="s3cret\n")
    assert result.exit_code == 0, result.output
    line = [x for x in result.output.splitlines() if x.strip().startswith("bob:")][0]
    stored = line.split(":", 1)[1].strip().strip("'")
    assert stored.startswith("$argon2id$") and PasswordHasher().verify(stored, "s3cret")
    empty = CliRunner().invoke(app, ["operator-hash", "bob", "--stdin"], input="\n")
    assert empty.exit_code == 2


# -- real calls through the whole server -----------------------------------------------------

def media_url(base: str) -> str:
    return ws_base(base) + "/media"


@pytest.mark.slow
async def test_operator_on_any_worker_takes_over_and_hangs_up_a_live_call(fresh_resources):
    """Two workers on one bus: B runs the call, A only serves the operator page (as with the
    Redis bus); both actions reach the call through the bus."""
    from voice_agent.server import running_server
    from voice_agent.testing.twilio_line import SimulatedCall

    from conftest import TEST_AUTH_TOKEN

    res = fresh_resources
    s = operator_settings(res.settings)
    events = EventRecorder(res.bus)
    async with running_server(s, res) as (base, _), operator_logged_in(base) as op_b, \
            operator_server(s, light_resources(s, bus=res.bus)) as (page_a, _), \
            operator_logged_in(page_a) as op_a:
        async with SimulatedCall(media_url(base), {"from": "+15550001111"},
                                 auth_token=TEST_AUTH_TOKEN) as call:
            started = await events.wait_for(CallStarted, timeout=10)
            call_id = started[0].call_id
            await call.send_silence(0.5)
            for op in (op_a, op_b):
                listed = (await op.get("/operator/api/calls")).json()
                assert [(c["call_id"], c["status"]) for c in listed] == [(call_id, "live")]

            r = await op_b.post(f"/operator/api/calls/{call_id}/takeover")
            assert r.status_code == 202
            transfer = await events.wait_for(TransferRequested, call_id, timeout=5)
            assert transfer[0].reason == "operator_takeover"

            r = await op_a.post(f"/operator/api/calls/{call_id}/hangup")  # from worker A
            assert r.status_code == 202
            ended = await events.wait_for(CallEnded, call_id, timeout=10)
            assert ended[0].reason == "operator_hangup"
            for _ in range(100):
                if call.closed:
                    break
                await call.send_silence(0.05)
            assert call.closed  # the caller's line is closed
            assert call_id not in res.calls
            for op in (op_a, op_b):
                r = await op.post(f"/operator/api/calls/{call_id}/hangup")
                assert r.status_code == 404


@pytest.mark.slow
async def test_listen_in_hears_both_sides_and_a_stalled_listener_never_slows_the_call(
    fresh_resources,
):
    from voice_agent.audio import is_silent
    from voice_agent.server import running_server
    from voice_agent.testing.twilio_line import SimulatedCall

    from conftest import TEST_AUTH_TOKEN, fixture_wav

    res = fresh_resources
    s = operator_settings(res.settings)
    events = EventRecorder(res.bus)
    async with running_server(s, res) as (base, _), operator_logged_in(base) as op:
        headers = {"Cookie": f"{COOKIE}={op.cookies[COOKIE]}"}
        async with SimulatedCall(media_url(base), auth_token=TEST_AUTH_TOKEN) as call:
            call_id = (await events.wait_for(CallStarted, timeout=10))[0].call_id
            stalled = res.listen.subscribe(call_id)  # a listener that never reads
            frames: dict[int, list[bytes]] = {0: [], 1: []}

            async def listen() -> None:
                async with websockets.connect(ws_base(base) + f"/operator/listen/{call_id}",
                                              additional_headers=headers) as ws:
                    async for message in ws:
                        frames[message[0]].append(message[1:])

            listener = asyncio.create_task(listen())
            await call.wait_quiet(call.start_sent_at, timeout=10)
            turn = await call.say(fixture_wav("en_opening_hours"))
            # answered while the stalled listener's queue was full: had the tap waited for it,
            # the pipeline would have stopped here (the time itself depends on the machine)
            assert turn.latency_s is not None and turn.agent_audio_s > 2.0
            await call.stop()
            await events.wait_for(CallEnded, call_id, timeout=10)
            await asyncio.wait_for(listener, 5)  # the listen-in closes when the call ends

    caller, bot = b"".join(frames[0]), b"".join(frames[1])
    assert all(len(f) == 320 for f in frames[0][:10])  # 20 ms of 8 kHz 16-bit PCM
    assert len(caller) / 16000 > 2.0 and len(bot) / 16000 > 2.0  # seconds heard per side
    assert not is_silent(caller) and not is_silent(bot)
    assert stalled.full() and res.listen.dropped > 0
    res.listen.unsubscribe(call_id, stalled)
    assert not res.listen.listening(call_id)  # the listen-in socket unsubscribed itself
