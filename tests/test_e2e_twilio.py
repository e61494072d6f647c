"""End to end: the real server on a free port, a simulated Twilio over the real WebSocket."""

import asyncio
import base64
import json

import pytest

from voice_agent.events import (
    BotReply,
    CallEnded,
    CallError,
    CallerTurn,
    CallStarted,
    EventRecorder,
    IntentDetected,
    TurnLatency,
)
from voice_agent.server import running_server
from voice_agent.testing.twilio_line import SimulatedCall

from conftest import TEST_AUTH_TOKEN, fixture_wav

pytestmark = pytest.mark.slow


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/media"


async def test_caller_hears_greeting_asks_hours_gets_answer_and_hangs_up(fresh_resources):
    res = fresh_resources
    events = EventRecorder(res.bus)
    async with running_server(res.settings, res) as (base, _):
        async with SimulatedCall(ws_url(base), {"from": "+15551230000"},
                                 auth_token=TEST_AUTH_TOKEN) as call:
            assert await call.wait_quiet(call.start_sent_at, timeout=10)
            greeting = call.audio_since(call.start_sent_at)
            assert len(greeting) / 16000 > 2.0  # seconds of greeting audio reached the caller

            turn = await call.say(fixture_wav("en_opening_hours"))
            assert turn.latency_s is not None and turn.agent_audio_s > 3.0

            call_id = events.of(CallStarted)[0].call_id
            said = events.of(CallerTurn, call_id)[0]
            assert "hours" in said.transcript.lower() and said.language == "en"
            assert events.of(IntentDetected, call_id)[0].intent == "opening_hours"
            reply = events.of(BotReply, call_id)[0]
            assert reply.text == res.models.kb.pack("en").answers["opening_hours"]
            assert events.of(TurnLatency, call_id)[0].total_s > 0

            await call.stop()
            ended = await events.wait_for(CallEnded, call_id, timeout=10)
            assert ended[0].reason == "stream_stopped"
            await asyncio.sleep(0.5)
            assert call.closed
    assert events.of(CallStarted)[0].caller == "+15551230000"


def _media(sid: str, payload: str) -> str:
    return json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})


POISONS = {
    "non-JSON frame": lambda sid: "this is not json",
    "unknown event": lambda sid: json.dumps({"event": "teleport", "streamSid": sid}),
    "bad base64": lambda sid: _media(sid, "***not base64***"),
    "oversized message": lambda sid: _media(sid, base64.b64encode(bytes(60_000)).decode()),
}


async def test_poisoned_calls_close_alone_while_another_call_goes_on(fresh_resources):
    res = fresh_resources
    events = EventRecorder(res.bus)
    async with running_server(res.settings, res) as (base, _):
        async with SimulatedCall(ws_url(base), auth_token=TEST_AUTH_TOKEN) as good:
            await good.wait_quiet(good.start_sent_at, timeout=10)
            for name, poison in POISONS.items():
                async with SimulatedCall(ws_url(base), auth_token=TEST_AUTH_TOKEN) as bad:
                    await bad.send_silence(0.2)
                    await bad.send_raw(poison(bad.stream_sid))
                    for _ in range(100):
                        if bad.closed:
                            break
                        await asyncio.sleep(0.05)
                    assert bad.closed and bad.closed_code == 1008, name

            # a stream that sends media before `start` is refused before any call exists
            import websockets

            async with websockets.connect(ws_url(base)) as raw:
                await raw.send(_media("MZ0", base64.b64encode(bytes(160)).decode()))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(raw.recv(), 5)
                assert closed.value.rcvd.code == 1008

            turn = await good.say(fixture_wav("en_payment_paypal"))
            assert turn.latency_s is not None  # the good call still answers
            await good.stop()

    errors = [e.message for e in events.of(CallError)]
    for expected in ("non-JSON", "unknown event", "base64", "exceeds", "before 'start'"):
        assert any(expected in m for m in errors), (expected, errors)
    reasons = sorted(e.reason for e in events.of(CallEnded))
    assert reasons == ["protocol_error"] * 4 + ["stream_stopped"]


async def test_goodbye_hangs_up_through_twilios_rest_api_when_credentials_are_set(
    fresh_resources,
):
    """Twilio's cloud is simulated by a local HTTP server that records the REST request."""

    from aiohttp import web

    from voice_agent.config import TwilioSettings
    from voice_agent.server import free_port

    requests = []

    async def update_call(request: web.Request) -> web.Response:
        requests.append((request.path, dict(await request.post()),
                         request.headers.get("Authorization", "")))
        return web.json_response({"sid": request.match_info["call"], "status": "completed"})

    rest = web.Application()
    rest.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", update_call)
    runner = web.AppRunner(rest)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        twilio = TwilioSettings(account_sid="AC" + "1" * 32, auth_token="secret",
                                api_base_url=f"http://127.0.0.1:{port}")
        settings = fresh_resources.settings.model_copy(update={"twilio": twilio})
        res = fresh_resources.with_settings(settings)
        events = EventRecorder(res.bus)
        async with running_server(settings, res) as (base, _):
            async with SimulatedCall(ws_url(base), auth_token="secret") as call:
                await call.wait_quiet(call.start_sent_at, timeout=10)
                await call.say(fixture_wav("en_goodbye"))
                ended = await events.wait_for(CallEnded, timeout=20)
                assert ended[0].reason == "agent_goodbye"
                for _ in range(100):
                    if requests:
                        break
                    await asyncio.sleep(0.05)
        path, form, auth = requests[0]
        assert path.endswith(f"/Calls/{call.call_sid}.json")
        assert form == {"Status": "completed"} and auth.startswith("Basic ")
    finally:
        await runner.cleanup()
