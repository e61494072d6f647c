"""One registry of live calls: admission counts every edge's calls, hang-up and health read it."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from voice_agent.app import create_app
from voice_agent.calls import Call, CallRegistry, LinesBusy
from voice_agent.config import LanguageSettings, load_settings
from voice_agent.events import EventBus
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.playout import Playout
from voice_agent.telephony.twilio.security import sign

PUBLIC = "https://agent.example.com"
TOKEN = "registry-test-token"
RINGING = {"CallSid": "CA" + "b" * 32, "AccountSid": "AC" + "0" * 32, "From": "+15551230000",
           "To": "+15559870000", "CallStatus": "ringing", "Direction": "inbound"}


def live_call(transport: str, call_id: str) -> Call:
    state = CallState(bus=EventBus(), language="en", allowed_languages=["en"],
                      transport=transport, call_id=call_id)
    return Call(state, Playout(), LanguagePolicy(state, LanguageSettings()), EdgePlayback())


def test_the_registry_admits_up_to_max_calls_then_says_lines_busy():
    calls = CallRegistry(max_calls=2)
    calls.add(live_call("sip", "call-a"))
    calls.add(live_call("replay", "call-b"))
    assert calls.full and len(calls) == 2 and "call-a" in calls
    with pytest.raises(LinesBusy):
        calls.add(live_call("twilio", "call-c"))
    calls.remove("call-a")
    assert not calls.full and calls.get("call-a") is None
    calls.add(live_call("twilio", "call-c"))
    assert sorted(call.call_id for call in calls) == ["call-b", "call-c"]


def test_a_hang_up_reaches_only_a_call_of_this_process():
    calls = CallRegistry(max_calls=5)
    call = live_call("sip", "call-a")
    calls.add(call)
    assert asyncio.run(calls.hang_up("call-elsewhere", "operator_hangup")) is False
    assert asyncio.run(calls.hang_up("call-a", "operator_hangup")) is True
    assert call.state.end_reason == "operator_hangup"


def test_a_sip_call_on_the_last_line_makes_twilios_webhook_answer_busy():
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": PUBLIC},
                             overrides={"twilio": {"auth_token": TOKEN},
                                        "server": {"max_calls": 1}})
    app = create_app(settings)  # no lifespan: webhooks need no models
    client = TestClient(app)

    def ring() -> str:
        headers = {"X-Twilio-Signature": sign(TOKEN, f"{PUBLIC}/twiml", RINGING)}
        return client.post("/twiml", data=RINGING, headers=headers).text

    assert "<Connect>" in ring()
    app.state.calls.add(live_call("sip", "call-on-the-trunk"))
    assert '<Reject reason="busy" />' in ring()
    app.state.calls.remove("call-on-the-trunk")
    assert "<Connect>" in ring()
