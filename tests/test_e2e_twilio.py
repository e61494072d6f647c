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
from voice_agent.telephony.sim_client import SimulatedCall

from conftest import fixture_wav

pytestmark = pytest.mark.slow


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/media"


async def test_caller_hears_greeting_asks_hours_gets_answer_and_hangs_up(fresh_resources):
    res = fresh_resources
    events = EventRecorder(res.bus)
    async with running_server(res.settings, res) as (base, _):
        async with SimulatedCall(ws_url(base), {"from": "+15551230000"}) as call:
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
            assert reply.text == res.kb.pack("en").answers["opening_hours"]
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
        async with SimulatedCall(ws_url(base)) as good:
            await good.wait_quiet(good.start_sent_at, timeout=10)
            for name, poison in POISONS.items():
                async with SimulatedCall(ws_url(base)) as bad:
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
