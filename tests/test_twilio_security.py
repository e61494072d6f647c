"""Only our Twilio may start calls: signed webhooks, single-use stream tokens, SIP headers."""

import asyncio
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from loguru import logger
from redis_server import redis_server

from voice_agent.app import create_app
from voice_agent.config import load_settings
from voice_agent.events import CallError, CallStarted, CallStatus, EventBus, EventRecorder
from voice_agent.server import running_server
from voice_agent.telephony.twilio.security import sign
from voice_agent.telephony.twilio.stream_tokens import StreamTokenError, StreamTokens
from voice_agent.testing.twilio_line import (
    SimulatedCall,
    WebhookRefused,
    parse_connect_twiml,
    post_webhook,
)

from conftest import TEST_AUTH_TOKEN

PUBLIC = "https://agent.example.com"
TOKEN = "webhook-test-token"
CALL_SID = "CA" + "a" * 32
RINGING = {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": "+15551230000",
           "To": "+15559870000", "CallStatus": "ringing", "Direction": "inbound"}


def client(bus: EventBus | None = None, **twilio) -> TestClient:
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": PUBLIC},
                             overrides={"twilio": {"auth_token": TOKEN, **twilio}})
    return TestClient(create_app(settings, bus=bus))  # no lifespan: webhooks need no models


def post(c: TestClient, path: str, form: dict, signature: str | None = "sign"):
    if signature == "sign":
        signature = sign(TOKEN, PUBLIC + path, form)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return c.post(path, data=form, headers=headers)


def test_signature_matches_twilios_own_test_vector():
    form = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
            "From": "+14158675309", "To": "+18005551212"}
    assert sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_signed_voice_webhook_gets_a_stream_with_a_token():
    r = post(client(), "/twiml?lang=es", RINGING)
    assert r.status_code == 200
    url, params = parse_connect_twiml(r.text)
    assert url == "wss://agent.example.com/media"
    assert params["lang"] == "es" and params["from"] == "+15551230000"
    assert params["token"].startswith("v1.")


@pytest.mark.parametrize("case", ["unsigned", "wrong token", "other url", "tampered field"])
def test_unsigned_or_forged_webhooks_are_refused_with_403_and_no_twiml(case):
    c = client()
    if case == "unsigned":
        r = post(c, "/twiml", RINGING, signature=None)
    elif case == "wrong token":
        r = post(c, "/twiml", RINGING, signature=sign("not-our-token", PUBLIC + "/twiml", RINGING))
    elif case == "other url":  # signed for another site: the public URL is part of the proof
        r = post(c, "/twiml", RINGING, signature=sign(TOKEN, "https://evil.example/twiml",
                                                       RINGING))
    else:  # a replayed signature with a different caller
        signature = sign(TOKEN, PUBLIC + "/twiml", RINGING)
        r = post(c, "/twiml", {**RINGING, "From": "+15550000666"}, signature=signature)
    assert r.status_code == 403 and "X-Twilio-Signature" in r.json()["detail"]
    assert "<Stream" not in r.text and "<Parameter" not in r.text  # no stream token given out


def test_without_an_auth_token_webhooks_are_refused_with_a_clear_error():
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": PUBLIC})
    r = TestClient(create_app(settings)).post("/twiml", data=RINGING)
    assert r.status_code == 403
    assert "TWILIO_AUTH_TOKEN" in r.json()["detail"] and "--insecure-dev" in r.json()["detail"]


def test_dev_flag_accepts_unsigned_webhooks_and_warns_every_time():
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        c = client(validate_signatures=False)
        for _ in range(2):
            assert post(c, "/twiml", RINGING, signature=None).status_code == 200
    finally:
        logger.remove(sink)
    assert sum("UNVERIFIED" in w for w in warnings) == 2


def test_calls_beyond_the_cap_are_rejected_busy():
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": PUBLIC},
                             overrides={"twilio": {"auth_token": TOKEN},
                                        "server": {"max_calls": 0}})
    r = post(TestClient(create_app(settings)), "/twiml", RINGING)
    assert r.status_code == 200 and '<Reject reason="busy" />' in r.text
    assert "token" not in r.text


def test_sip_call_headers_travel_as_stream_parameters():
    form = {**RINGING, "From": "sip:alice@customer.example.com",
            "To": "sip:support@agent.sip.twilio.com", "SipCallId": "abc@10.0.0.1",
            "SipHeader_X-Customer-Id": "42", "SipHeader_X-Queue": "gold"}
    r = post(client(), "/twiml", form)
    _, params = parse_connect_twiml(r.text)
    assert params["from"] == "sip:alice@customer.example.com"
    assert params["SipHeader_X-Customer-Id"] == "42" and params["SipHeader_X-Queue"] == "gold"


def test_status_callback_is_signed_checked_and_validated():
    bus = EventBus()
    c = client(bus)
    events = EventRecorder(bus)
    done = {"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "37"}
    assert post(c, "/twilio/status", done, signature=None).status_code == 403
    assert not events.events  # refused: nothing happened
    for bad, reason in (({**done, "CallStatus": "exploded"}, "CallStatus"),
                        ({**done, "CallDuration": "a while"}, "CallDuration"),
                        ({"CallStatus": "completed"}, "CallSid")):
        r = post(c, "/twilio/status", bad)
        assert r.status_code == 400 and reason in r.json()["error"]
    assert not events.events
    assert post(c, "/twilio/status", done).status_code == 204
    (status,) = events.of(CallStatus)
    assert (status.status, status.duration_s, status.provider_call_id) == ("completed", 37.0,
                                                                           CALL_SID)


# --- stream tokens ------------------------------------------------------------------------

async def test_a_token_is_accepted_once_for_its_own_call_only_and_before_it_expires():
    now = [1000.0]
    tokens = StreamTokens(b"k" * 32, ttl_s=30, clock=lambda: now[0])
    token = tokens.issue(CALL_SID)
    with pytest.raises(StreamTokenError, match="another call"):
        await tokens.redeem(token, "CA" + "b" * 32)
    await tokens.redeem(token, CALL_SID)
    with pytest.raises(StreamTokenError, match="already used"):
        await tokens.redeem(token, CALL_SID)
    late = tokens.issue(CALL_SID)
    now[0] += 31
    with pytest.raises(StreamTokenError, match="expired"):
        await tokens.redeem(late, CALL_SID)
    with pytest.raises(StreamTokenError, match="no token"):
        await tokens.redeem(None, CALL_SID)
    forged = StreamTokens(b"x" * 32, ttl_s=30, clock=lambda: now[0]).issue(CALL_SID)
    with pytest.raises(StreamTokenError, match="signature"):
        await tokens.redeem(forged, CALL_SID)
    head, body, mac = tokens.issue(CALL_SID).split(".")
    with pytest.raises(StreamTokenError, match="signature"):
        await tokens.redeem(f"{head}.{body[:-2]}xx.{mac}", CALL_SID)


@pytest.fixture
def redis_url():
    with redis_server() as url:
        yield url


async def test_with_redis_two_workers_share_the_used_tokens(redis_url):
    worker_a = StreamTokens(b"shared" * 6, ttl_s=30, redis_url=redis_url)
    worker_b = StreamTokens(b"shared" * 6, ttl_s=30, redis_url=redis_url)
    try:
        token = worker_a.issue(CALL_SID)
        await worker_b.redeem(token, CALL_SID)  # the stream may land on another worker
        with pytest.raises(StreamTokenError, match="already used"):
            await worker_a.redeem(token, CALL_SID)
    finally:
        await worker_a.close()
        await worker_b.close()


# --- over the real server and WebSocket (models loaded) -----------------------------------

def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/media"


async def _refused(base: str, call: SimulatedCall) -> int | None:
    async with call:
        for _ in range(100):
            if call.closed:
                break
            await asyncio.sleep(0.05)
    return call.closed_code


@pytest.mark.slow
async def test_streams_without_a_valid_fresh_token_are_closed_before_any_call(fresh_resources):
    settings = fresh_resources.settings.model_copy(update={
        "twilio": fresh_resources.settings.twilio.model_copy(update={"stream_token_ttl_s": 1.0})})
    res = fresh_resources.with_settings(settings)
    events = EventRecorder(res.bus)
    async with running_server(settings, res) as (base, _):
        # no token at all: a bare stream, as an attacker who found the URL would open it
        bare = SimulatedCall(ws_url(base), {"from": "+15550000666"}, fetch_twiml=False)
        assert await _refused(base, bare) == 1008

        # a genuine call, then its TwiML replayed by a second stream
        twiml = await post_webhook(base + "/twiml", {**RINGING, "CallSid": CALL_SID},
                                   TEST_AUTH_TOKEN)
        url, params = parse_connect_twiml(twiml)
        async with SimulatedCall(url, params, call_sid=CALL_SID, fetch_twiml=False) as real:
            await events.wait_for(CallStarted, timeout=10)
            replay = SimulatedCall(url, params, call_sid=CALL_SID, fetch_twiml=False)
            assert await _refused(base, replay) == 1008
            await real.stop()

        # a token issued for another call; then an expired one
        late_sid = "CA" + "c" * 32
        twiml = await post_webhook(base + "/twiml", {**RINGING, "CallSid": late_sid},
                                   TEST_AUTH_TOKEN)
        url, params = parse_connect_twiml(twiml)
        other = SimulatedCall(url, params, fetch_twiml=False)  # its own, fresh CallSid
        assert await _refused(base, other) == 1008
        await asyncio.sleep(1.2)
        late = SimulatedCall(url, params, call_sid=late_sid, fetch_twiml=False)
        assert await _refused(base, late) == 1008

        # unsigned webhook: no TwiML, so no token either
        with pytest.raises(WebhookRefused, match="403"):
            async with SimulatedCall(ws_url(base), auth_token=None):
                pass

    assert len(events.of(CallStarted)) == 1  # only the genuine call
    errors = [e.message for e in events.of(CallError) if e.call_id == "unstarted"]
    for expected in ("no token", "already used", "another call", "expired"):
        assert any(expected in m for m in errors), (expected, errors)


@pytest.mark.slow
async def test_a_sip_call_through_twilio_carries_its_headers_into_the_call(fresh_resources):
    res = fresh_resources
    events = EventRecorder(res.bus)
    async with running_server(res.settings, res) as (base, _):
        call = SimulatedCall(
            ws_url(base), {"from": "sip:alice@customer.example.com",
                           "to": "sip:support@agent.sip.twilio.com"},
            auth_token=TEST_AUTH_TOKEN,
            webhook_form={"SipCallId": "abc@10.0.0.1", "SipHeader_X-Customer-Id": "42"})
        async with call:
            (started,) = await events.wait_for(CallStarted, timeout=10)
            await call.stop()
    assert started.caller == "sip:alice@customer.example.com"
    assert started.sip_headers == {"X-Customer-Id": "42"}
    assert started.provider_call_id == call.call_sid


def test_the_insecure_dev_flag_is_explicit_on_the_command_line():
    out = subprocess.run([sys.executable, "-m", "voice_agent.cli", "serve", "--help"],
                         capture_output=True, text=True, timeout=60, env={"COLUMNS": "200"})
    assert "--insecure-dev" in out.stdout
