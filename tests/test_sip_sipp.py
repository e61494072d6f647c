"""Interop with sipp: a trunk (sipp UAC) calls the agent over SIP/RTP, speaks a fixture, hears the
agent, hangs up — and bad input (unknown trunk, PCMA only, a flood beyond the cap, garbage, stray
RTP) is refused while that call goes on. The real server, real models, real sipp."""

from __future__ import annotations

import asyncio
import os

import pytest
from sip_tools import (
    Earpiece,
    RawPeer,
    raw_invite,
    raw_request,
    run_sipp,
    sip_resources,
    write_ulaw,
)

from voice_agent.audio import is_silent, ulaw_decode
from voice_agent.events import (
    CallEnded,
    CallerTurn,
    CallStarted,
    CallStatus,
    CallTransferred,
    DtmfPressed,
    EventRecorder,
    TransferRequested,
)
from voice_agent.server import running_server

from conftest import fixture_wav, manifest

pytestmark = pytest.mark.slow


def expected_words(fixture_id: str) -> list[str]:
    return next(f for f in manifest() if f["id"] == fixture_id)["expect_words"]


def call_plan(res, tmp_path, fixture_id: str, answer_s: float = 14.0) -> list[str]:
    """sipp options: speak after the greeting, hang up `answer_s` after starting to speak."""
    greeting_s = len(res.models.greeting_audio(res.settings.languages.default)) / 2 / 8000
    speech_s = write_ulaw(fixture_wav(fixture_id), tmp_path / "caller.ulaw")
    return ["-set", "greeting_ms", str(int((greeting_s + 0.8) * 1000)),
            "-set", "answer_ms", str(int((speech_s + answer_s) * 1000))]


async def test_sipp_trunk_call_hears_the_agent_and_is_understood(fresh_resources, tmp_path):
    res = sip_resources(fresh_resources)
    events = EventRecorder(res.bus)
    ear, ear_transport, ear_port = await Earpiece.open()
    try:
        async with running_server(res.settings, res):
            sipp = await run_sipp(
                "uac_pcmu_call", res.settings.sip.port, tmp_path,
                "-key", "earpiece_port", str(ear_port),
                *call_plan(res, tmp_path, "en_order_status_1001"),
            )
            assert sipp.rc == 0, sipp.output  # 200 OK to the INVITE and to the BYE
            assert "SIP/2.0 200 OK" in sipp.messages and "a=rtpmap:0 PCMU/8000" in sipp.messages
            ended = await events.wait_for(CallEnded, timeout=10)
    finally:
        ear_transport.close()

    call_id = ended[0].call_id
    started = events.of(CallStarted, call_id)[0]
    assert started.transport == "sip" and started.caller == "+15550001111"
    assert started.sip_headers.get("x-customer-ref") == "sipp-1"
    said = events.of(CallerTurn, call_id)
    assert said, "the caller's utterance never became a turn"
    assert all(w in said[0].transcript.lower() for w in expected_words("en_order_status_1001"))
    assert ended[0].reason == "caller_hangup"
    assert events.of(CallStatus, call_id)[0].hung_up_by == "caller"

    # the agent's RTP: PCMU only, seconds of audible speech (greeting + answer)
    assert {pt for pt, _, _ in ear.packets} == {0}
    assert {len(p) for _, p, _ in ear.packets} == {160}  # 20 ms packets
    voiced = sum(not is_silent(ulaw_decode(p)) for _, p, _ in ear.packets) * 0.02
    greeting_s = len(res.models.greeting_audio("en")) / 2 / 8000
    assert ear.seconds > greeting_s + 1.5 and voiced > greeting_s + 1.0, (ear.seconds, voiced)
    # paced in real time on a 20 ms clock, not sent in bursts: the greeting takes its length
    packets, took = ear.first_talkspurt()
    assert packets * 0.02 >= greeting_s - 0.1
    assert abs(took - (packets - 1) * 0.02) < 0.05 * packets * 0.02 + 0.1, (packets, took)


async def test_bad_input_is_refused_while_a_call_goes_on(fresh_resources, tmp_path):
    res = sip_resources(fresh_resources, max_calls=1)
    events = EventRecorder(res.bus)
    ear, ear_transport, ear_port = await Earpiece.open()
    trunk, stranger = RawPeer("127.0.0.1"), RawPeer("127.0.0.2")
    try:
        async with running_server(res.settings, res) as (_, app):
            agent = ("127.0.0.1", res.settings.sip.port)
            call = asyncio.create_task(run_sipp(
                "uac_pcmu_call", agent[1], tmp_path, "-key", "earpiece_port", str(ear_port),
                *call_plan(res, tmp_path, "en_opening_hours")))
            await events.wait_for(CallStarted, timeout=15)
            live = next(iter(app.state.sip.calls.values()))
            rtp = ("127.0.0.1", live.media.local_port)

            # a stranger's INVITE: 403, even with a good offer
            assert (await stranger.ask(raw_invite("c-403", stranger.addr), agent))[-1] == 403
            # a flood beyond the cap (1 call live): every one 486
            peers = [RawPeer() for _ in range(8)]
            flood = [p.ask(raw_invite(f"c-486-{i}", p.addr), agent) for i, p in enumerate(peers)]
            assert [codes[-1:] for codes in await asyncio.gather(*flood)] == [[486]] * 8
            for p in peers:
                p.close()
            # garbage: 400 when it can be answered, silence when it cannot
            broken = raw_invite("c-400", trunk.addr).replace(b"Max-Forwards: 70", b"no colon")
            assert await trunk.ask(broken, agent) == [400]
            unroutable = raw_invite("c-drop", trunk.addr).replace(b"CSeq: 1 INVITE", b"CSeq: x")
            assert await trunk.ask(unroutable, agent, wait_s=0.5) == []
            assert await trunk.ask(os.urandom(700), agent, wait_s=0.5) == []
            assert await trunk.ask(b"INVITE\r\n\r\n" * 50, agent, wait_s=0.5) == []
            # stray RTP to the live call: loud noise from another address, then a wrong type
            noise = bytes(range(0, 256, 2)) + bytes(range(1, 64))
            for seq in range(50):
                stranger.send_rtp(rtp, 0, noise[:160], seq)
                trunk.send_rtp(rtp, 8, noise[:160], seq)
            # the trunk's RFC 4733 key press (start, update, three end packets) counts once
            for seq, (end, duration) in enumerate([(0, 160), (0, 320), (1, 480), (1, 480),
                                                   (1, 480)], start=100):
                payload = bytes([5, 0x80 * end | 10]) + duration.to_bytes(2, "big")
                trunk.send_rtp(rtp, 101, payload, seq, timestamp=777)
            await asyncio.sleep(0.5)
            assert live.media.stats.ignored_address >= 50
            assert live.media.stats.ignored_payload >= 50
            assert live.media.stats.dtmf == 1

            # mid-call: a BYE for another dialog is refused, a re-INVITE without PCMU too
            ids = live.ids
            dialog = dict(from_tag=ids.remote_tag, to_tag=ids.local_tag)
            forged = raw_request("BYE", ids.call_id, trunk.addr, 7, from_tag="x", to_tag="y")
            assert await trunk.ask(forged, agent) == [481]
            pcma_only = raw_invite(ids.call_id, trunk.addr, codecs="8", cseq=8,
                                   rtpmap="a=rtpmap:8 PCMA/8000\r\n", **dialog)
            assert await trunk.ask(pcma_only, agent) == [488]
            # a re-INVITE (same media, as after an SBC failover) is answered with our SDP, v2
            again = raw_invite(ids.call_id, trunk.addr, rtp_port=ear_port, cseq=9, **dialog)
            assert await trunk.ask(again, agent) == [200]
            assert b"o=voice_agent " in trunk.last_reply and b" 2 IN IP4" in trunk.last_reply
            await trunk.ask(raw_request("ACK", ids.call_id, trunk.addr, 9, **dialog), agent, 0.1)
            assert live.media.remote == ("127.0.0.1", ear_port) and not live.ended.is_set()

            sipp = await call
            assert sipp.rc == 0, sipp.output
            ended = await events.wait_for(CallEnded, timeout=10)
            # the cap frees up with the call: a PCMA-only offer now reaches the codec check
            pcma = raw_invite("c-488", trunk.addr, codecs="8", rtpmap="a=rtpmap:8 PCMA/8000\r\n")
            assert (await trunk.ask(pcma, agent))[-1] == 488
    finally:
        ear_transport.close()
        trunk.close()
        stranger.close()

    call_id = ended[0].call_id
    said = events.of(CallerTurn, call_id)
    assert said and all(w in said[0].transcript.lower() for w in expected_words("en_opening_hours"))
    assert [e.digit for e in events.of(DtmfPressed, call_id)] == ["5"]
    assert len(events.of(CallStarted)) == 1  # none of the refused INVITEs became a call
    assert ended[0].reason == "caller_hangup" and ear.seconds > 3.0


async def test_transfer_sends_refer_to_the_configured_target(fresh_resources, tmp_path):
    res = sip_resources(fresh_resources)
    target = "sip:desk@127.0.0.1:5099"
    transfer = res.settings.transfer.model_copy(update={"sip_uri": target})
    res = res.with_settings(res.settings.model_copy(update={"transfer": transfer}))
    events = EventRecorder(res.bus)
    ear, ear_transport, ear_port = await Earpiece.open()
    try:
        async with running_server(res.settings, res):
            sipp = await run_sipp(
                "uac_transfer", res.settings.sip.port, tmp_path,
                "-key", "earpiece_port", str(ear_port),
                *call_plan(res, tmp_path, "en_speak_to_agent", answer_s=0),
            )
            assert sipp.rc == 0, sipp.output  # REFER came, 202 + NOTIFY(200) → the agent's BYE
            ended = await events.wait_for(CallEnded, timeout=10)
    finally:
        ear_transport.close()
    assert f"Refer-To: <{target}>" in sipp.messages
    call_id = ended[0].call_id
    assert events.of(TransferRequested, call_id)
    moved = events.of(CallTransferred, call_id)
    assert moved and moved[0].target == target and moved[0].reply_played
    assert ended[0].reason == "transferred"
    assert events.of(CallStatus, call_id)[0].hung_up_by == "agent"
    greeting_s = len(res.models.greeting_audio("en")) / 2 / 8000
    assert ear.seconds > greeting_s + 1.0  # the hand-over sentence was heard before the REFER


async def test_goodbye_ends_the_call_with_the_agents_bye(fresh_resources, tmp_path):
    res = sip_resources(fresh_resources)
    events = EventRecorder(res.bus)
    ear, ear_transport, ear_port = await Earpiece.open()
    try:
        async with running_server(res.settings, res):
            sipp = await run_sipp(
                "uac_goodbye", res.settings.sip.port, tmp_path,
                "-key", "earpiece_port", str(ear_port),
                *call_plan(res, tmp_path, "en_goodbye", answer_s=0),
            )
            assert sipp.rc == 0, sipp.output  # the agent's BYE came and was answered
            ended = await events.wait_for(CallEnded, timeout=10)
    finally:
        ear_transport.close()
    call_id = ended[0].call_id
    assert ended[0].reason == "agent_goodbye"
    assert events.of(CallStatus, call_id)[0].hung_up_by == "agent"
    greeting_s = len(res.models.greeting_audio("en")) / 2 / 8000
    assert ear.seconds > greeting_s + 0.5  # the farewell was played before the BYE
