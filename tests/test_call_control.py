"""Call control: a transfer redirects the call to a human after the hand-over sentence played;
status callbacks become CallStatus events (Twilio's REST API is a local stand-in)."""

import asyncio

import pytest
from fastapi.testclient import TestClient
from redis_server import redis_server
from twilio_cloud import ACCOUNT_SID, AUTH_TOKEN, TwilioCloud

from voice_agent.app import create_app
from voice_agent.audio import is_silent
from voice_agent.bus_redis import RedisEventBus
from voice_agent.config import load_settings
from voice_agent.events import (
    BotReply,
    CallEnded,
    CallError,
    CallStarted,
    CallStatus,
    CallTransferred,
    EventBus,
    EventRecorder,
    ReplyPlayed,
    TransferRequested,
)
from voice_agent.server import running_server
from voice_agent.telephony.twilio.call_control import CallControl
from voice_agent.telephony.twilio.security import sign
from voice_agent.testing.twilio_line import SimulatedCall

from conftest import fixture_wav

SID = "CA" + "d" * 32
OPERATOR = "+15550100200"


@pytest.fixture
async def cloud():
    c = await TwilioCloud().start()
    yield c
    await c.stop()


def control_for(cloud: TwilioCloud, timeout: float = 5.0, **transfer):
    settings = load_settings(env={}, overrides={
        "twilio": cloud.twilio_settings(),
        "transfer": {"operator_number": OPERATOR, "reply_played_timeout_s": timeout,
                     **transfer},
    })
    bus = EventBus()
    return CallControl(settings, bus), bus, EventRecorder(bus)


def start_call(bus: EventBus, transport: str = "twilio", call_id: str = "call-1") -> None:
    bus.publish(CallStarted(call_id=call_id, transport=transport, language="en",
                            provider_call_id=SID))


async def test_transfer_waits_for_the_hand_over_sentence_then_dials_the_operator(cloud):
    control, bus, events = control_for(cloud)
    start_call(bus)
    bus.publish(BotReply(call_id="call-1", turn=2, text="Let me transfer you.", language="en"))
    bus.publish(TransferRequested(call_id="call-1", reason="speak_to_agent"))
    await asyncio.sleep(0.5)
    assert cloud.requests == []  # the caller is still hearing the hand-over sentence
    bus.publish(ReplyPlayed(call_id="call-1", turn=2, text="Let me transfer you.",
                            heard_text="Let me transfer you."))
    (req,) = await cloud.wait_for_requests(1)
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{SID}.json"
    assert req.one("Twiml") == (f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial>'
                                f"<Number>{OPERATOR}</Number></Dial></Response>")
    (moved,) = await events.wait_for(CallTransferred)
    assert moved.reply_played and moved.target == OPERATOR and moved.reason == "speak_to_agent"
    assert 0.4 < moved.waited_s < 3


async def test_a_sip_desk_can_be_the_target(cloud):
    control, bus, events = control_for(cloud, operator_number=None,
                                       sip_uri="sip:desk@pbx.example.com")
    start_call(bus)
    bus.publish(TransferRequested(call_id="call-1", reason="operator_takeover"))
    (req,) = await cloud.wait_for_requests(1)  # nothing left to hear: at once
    assert "<Dial><Sip>sip:desk@pbx.example.com</Sip></Dial>" in req.one("Twiml")


async def test_without_reply_played_the_transfer_happens_after_the_timeout(cloud):
    control, bus, events = control_for(cloud, timeout=0.6)
    start_call(bus)
    bus.publish(BotReply(call_id="call-1", turn=1, text="Transferring.", language="en"))
    bus.publish(TransferRequested(call_id="call-1", reason="complaint"))
    (moved,) = await events.wait_for(CallTransferred, timeout=5)
    assert not moved.reply_played and moved.waited_s >= 0.6
    assert len(cloud.requests) == 1


async def test_no_transfer_when_the_caller_hangs_up_first_or_the_call_is_not_twilio(cloud):
    control, bus, events = control_for(cloud)
    start_call(bus)
    bus.publish(BotReply(call_id="call-1", turn=1, text="Transferring.", language="en"))
    bus.publish(TransferRequested(call_id="call-1", reason="speak_to_agent"))
    bus.publish(CallEnded(call_id="call-1", reason="caller_hangup", duration_s=4.0))
    start_call(bus, transport="sip", call_id="call-2")  # the SIP edge transfers by itself
    bus.publish(TransferRequested(call_id="call-2", reason="speak_to_agent"))
    await asyncio.sleep(0.5)
    assert cloud.requests == [] and not events.of(CallTransferred)


async def test_transfer_problems_are_reported_and_the_agent_keeps_the_call(cloud):
    control, bus, events = control_for(cloud, operator_number=None)  # no target configured
    start_call(bus)
    bus.publish(TransferRequested(call_id="call-1", reason="speak_to_agent"))
    (err,) = await events.wait_for(CallError)
    assert "operator_number" in err.message and not err.fatal

    control, bus, events = control_for(cloud)
    cloud.refuse_with = 404
    start_call(bus)
    bus.publish(TransferRequested(call_id="call-1", reason="speak_to_agent"))
    (err,) = await events.wait_for(CallError)
    assert "transfer failed" in err.message and not events.of(CallTransferred)


async def test_with_several_workers_only_the_worker_running_the_call_redirects_it(cloud):
    """Two workers share events through Redis; the operator clicks on a page served by B."""
    settings = load_settings(env={}, overrides={
        "twilio": cloud.twilio_settings(), "transfer": {"operator_number": OPERATOR}})
    with redis_server() as url:
        worker_a, worker_b = RedisEventBus(url), RedisEventBus(url)
        await worker_a.start()
        await worker_b.start()
        try:
            control_a, control_b = CallControl(settings, worker_a), CallControl(settings, worker_b)
            seen_by_b = EventRecorder(worker_b)
            start_call(worker_a)  # the call's media stream landed on worker A
            await seen_by_b.wait_for(CallStarted, timeout=5)
            worker_b.publish(TransferRequested(call_id="call-1", reason="operator_takeover"))
            await cloud.wait_for_requests(1)
            await asyncio.sleep(0.5)
            assert len(cloud.requests) == 1  # redirected once, by A
            # a status callback reaching B still finds A's call
            done = {"CallSid": SID, "CallStatus": "completed", "CallDuration": "20"}
            assert control_b.status_event(done).call_id == "call-1"
            assert control_a.status_event(done).call_id == "call-1"
        finally:
            await worker_a.stop()
            await worker_b.stop()


def status_app(bus: EventBus) -> TestClient:
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": "https://agent.example.com"},
                             overrides={"twilio": {"auth_token": AUTH_TOKEN}})
    return TestClient(create_app(settings, bus=bus))


def send_status(client: TestClient, sid: str, status: str, duration: str | None = None):
    form = {"CallSid": sid, "AccountSid": ACCOUNT_SID, "CallStatus": status}
    if duration is not None:
        form["CallDuration"] = duration
    signature = sign(AUTH_TOKEN, "https://agent.example.com/twilio/status", form)
    return client.post("/twilio/status", data=form, headers={"X-Twilio-Signature": signature})


def test_status_callbacks_are_recorded_under_our_call_id_with_who_hung_up():
    bus = EventBus()
    events = EventRecorder(bus)
    client = status_app(bus)
    agent_sid, caller_sid, outbound_sid = ("CA" + c * 32 for c in "123")
    for call_id, sid, reason in (("call-a", agent_sid, "agent_goodbye"),
                                 ("call-c", caller_sid, "stream_stopped")):
        bus.publish(CallStarted(call_id=call_id, transport="twilio", language="en",
                                provider_call_id=sid))
        bus.publish(CallEnded(call_id=call_id, reason=reason, duration_s=12.0))
    assert send_status(client, agent_sid, "completed", "14").status_code == 204
    assert send_status(client, caller_sid, "completed", "9").status_code == 204
    assert send_status(client, outbound_sid, "no-answer").status_code == 204
    by_sid = {e.provider_call_id: e for e in events.of(CallStatus)}
    assert (by_sid[agent_sid].call_id, by_sid[agent_sid].hung_up_by) == ("call-a", "agent")
    assert by_sid[agent_sid].duration_s == 14.0
    assert (by_sid[caller_sid].call_id, by_sid[caller_sid].hung_up_by) == ("call-c", "caller")
    # a call that never reached the agent keeps Twilio's id
    assert by_sid[outbound_sid].call_id == outbound_sid and by_sid[outbound_sid].status == (
        "no-answer") and by_sid[outbound_sid].hung_up_by is None


@pytest.mark.slow
async def test_caller_asks_for_a_human_hears_the_hand_over_and_is_redirected(
    fresh_resources, cloud
):
    """The whole path: real server, simulated caller, transfer through the REST stand-in."""
    base_settings = fresh_resources.settings
    settings = base_settings.model_copy(update={
        "twilio": base_settings.twilio.model_copy(update=cloud.twilio_settings()),
        "transfer": base_settings.transfer.model_copy(update={
            "operator_number": OPERATOR, "reply_played_timeout_s": 8.0}),
    })
    res = fresh_resources.with_settings(settings)
    events = EventRecorder(res.bus)
    async with running_server(settings, res) as (base, _):
        url = base.replace("http", "ws", 1) + "/media"
        async with SimulatedCall(url, auth_token=AUTH_TOKEN) as call:
            await call.wait_quiet(call.start_sent_at, timeout=10)
            await call.say(fixture_wav("en_speak_to_agent"))
            (moved,) = await events.wait_for(CallTransferred, timeout=20)
            voiced = [at for at, pcm in call.received if not is_silent(pcm)]
            await call.stop()
    assert events.of(TransferRequested)
    (req,) = [r for r in cloud.requests if "Twiml" in r.form]
    assert req.path.endswith(f"/Calls/{call.call_sid}.json")
    assert f"<Dial><Number>{OPERATOR}</Number></Dial>" in req.one("Twiml")
    # the redirect came after the last of the hand-over sentence reached the caller, as soon
    # as its last mark echoed back (ReplyPlayed), not on the timeout
    assert voiced and req.at >= voiced[-1]
    assert moved.reply_played and moved.waited_s < 8.0
    assert moved.call_id == events.of(CallStarted)[0].call_id
