"""SIP/SDP/RTP wire formats: what a trunk sends parses, what we send is valid, garbage only ever
raises our own parse errors (hypothesis fuzzes mutated and random datagrams)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_agent.telephony.sip.message import (
    SipParseError,
    header_uri,
    minimal_400,
    parse,
    response,
    uri_user,
)
from voice_agent.telephony.sip.rtp import (
    DtmfDetector,
    Packetiser,
    RtpError,
    RtpPacket,
    parse_rtp,
    parse_telephone_event,
    telephone_event_payload,
)
from voice_agent.telephony.sip.sdp import SdpError, build_answer, parse_offer

SDP_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=call\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
)


def invite(body: str = SDP_OFFER, **extra: str) -> bytes:
    headers = {
        "Via": "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
        "Max-Forwards": "70",
        "To": "<sip:+4930123456@agent.example.com>",
        "From": '"Alice" <sip:+4917012345@trunk.example.com>;tag=1928301774',
        "Call-ID": "a84b4c76e66710@trunk.example.com",
        "CSeq": "314159 INVITE",
        "Contact": "<sip:+4917012345@192.0.2.10:5060>",
        "Allow": "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY",
        "Content-Type": "application/sdp",
        **extra,
    }
    head = "INVITE sip:+4930123456@agent.example.com SIP/2.0\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + f"Content-Length: {len(body.encode())}\r\n\r\n" + body).encode()


def test_a_trunk_invite_parses_with_its_offer():
    msg = parse(invite())
    assert msg.method == "INVITE" and msg.is_request
    assert msg.call_id == "a84b4c76e66710@trunk.example.com"
    assert msg.cseq == (314159, "INVITE")
    assert msg.from_tag == "1928301774" and msg.to_tag is None
    assert uri_user(header_uri(msg.get("from"))) == "+4917012345"
    offer = parse_offer(msg.body)
    assert (offer.address, offer.port) == ("192.0.2.10", 40000)
    assert offer.pcmu_pt == 0 and offer.telephone_event_pt == 101


def test_compact_headers_and_folded_lines_are_understood():
    raw = (
        b"BYE sip:agent@192.0.2.1 SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\n"
        b"f: <sip:a@b>;tag=1\r\nt: <sip:c@d>;tag=2\r\ni: abc\r\nCSeq: 2 BYE\r\n"
        b"Subject: a long\r\n  folded subject\r\nl: 0\r\n\r\n"
    )
    msg = parse(raw)
    assert msg.call_id == "abc" and msg.to_tag == "2"
    assert msg.get("subject") == "a long folded subject"


def test_response_copies_the_transaction_and_adds_our_tag():
    req = parse(invite())
    out = parse(response(req, 486, to_tag="ourtag").encode())
    assert out.status == 486 and out.reason == "Busy Here"
    assert out.get("via") == req.get("via") and out.cseq == req.cseq
    assert out.to_tag == "ourtag" and out.from_tag == "1928301774"
    assert out.get("content-length") == "0"


@pytest.mark.parametrize("raw, why", [
    (b"", "no blank line"),
    (b"INVITE sip:x SIP/2.0\r\n\r\n", "missing Via"),
    (b"HELLO WORLD\r\n\r\n", "bad request line"),
    (invite().replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), "CSeq method"),
    (invite().replace(b"Content-Length: ", b"Content-Length: 9"), "body shorter"),
    (invite().replace(b"Call-ID: a84", b"Call ID a84"), "bad header line"),
    (invite().replace(b"Alice", b"\xff\xfe"), "not UTF-8"),
    (invite() + b"x" * 9000, "over"),
])
def test_malformed_messages_raise_our_parse_error(raw, why):
    with pytest.raises(SipParseError, match=why):
        parse(raw)


def test_a_400_is_built_only_when_the_garbage_can_be_routed():
    broken = invite().replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE")
    answer = parse(minimal_400(broken))
    assert answer.status == 400 and answer.call_id == "a84b4c76e66710@trunk.example.com"
    assert minimal_400(b"\x00\x01garbage") is None
    assert minimal_400(b"SIP/2.0 200 OK\r\n\r\n") is None  # never answer a response


def test_sdp_without_pcmu_has_nothing_for_us():
    offer = parse_offer(SDP_OFFER.replace("8 0 101", "8 101").encode())
    assert offer.pcmu_pt is None
    with pytest.raises(SdpError):
        build_answer("192.0.2.1", 20000, offer)
    with pytest.raises(SdpError):
        parse_offer(b"v=0\r\nc=IN IP6 ::1\r\nm=audio 1 RTP/AVP 0\r\n")
    with pytest.raises(SdpError):
        parse_offer(b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 1 RTP/AVP 96\r\n")


def test_our_answer_offers_pcmu_and_telephone_events_back():
    answer = parse_offer(build_answer("192.0.2.1", 20002, parse_offer(SDP_OFFER.encode())))
    assert (answer.address, answer.port) == ("192.0.2.1", 20002)
    assert answer.payload_types == [0, 101]
    assert answer.telephone_event_pt == 101


def test_rtp_round_trip_and_20ms_packets():
    p = Packetiser(0)
    first, second = parse_rtp(p.packet(b"\xff" * 160)), parse_rtp(p.packet(b"\x7f" * 160))
    assert first.marker and not second.marker
    assert second.sequence == (first.sequence + 1) & 0xFFFF
    assert second.timestamp == (first.timestamp + 160) & 0xFFFFFFFF
    assert first.ssrc == second.ssrc and second.payload == b"\x7f" * 160
    p.gap(1.0)  # a second of silence not sent: clock moves, next packet marks a talkspurt
    third = parse_rtp(p.packet(b"\xff" * 160))
    assert third.marker and third.timestamp == (second.timestamp + 160 + 8000) & 0xFFFFFFFF


def test_rtp_with_csrcs_extension_and_padding():
    pkt = bytearray(RtpPacket(0, 1, 2, 3, b"").encode())
    pkt[0] = 0x80 | 0x20 | 0x10 | 1  # padding, extension, one CSRC
    data = bytes(pkt) + b"\x00\x00\x00\x04" + b"\xbe\xde\x00\x01" + b"\x00" * 4 + b"abc"
    data += b"\x00\x00\x03"
    assert parse_rtp(data).payload == b"abc"
    with pytest.raises(RtpError):
        parse_rtp(b"\x40" + data[1:])  # version 1


def test_rfc4733_key_press_counts_once():
    detect = DtmfDetector()
    digits = []
    for i, end in enumerate([False, False, True, True, True]):  # start, update, 3 × end
        payload = telephone_event_payload("5", end=end, duration=160 * (i + 1))
        digits.append(detect.feed(RtpPacket(101, i, 8000, 9, payload)))
    assert [d for d in digits if d] == ["5"]
    assert parse_telephone_event(telephone_event_payload("#", True, 800)).digit == "#"
    with pytest.raises(RtpError):
        parse_telephone_event(b"\x20\x80\x00\x10")  # event 32 is no DTMF digit


# ---- fuzzing: whatever arrives, only our own errors come out ----------------------------------

@st.composite
def mutated_invites(draw):
    data = bytearray(invite())
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos: pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(
                [b"\r\n", b":", b";tag=", b" ", b"\x00", b"\r\n\r\n", b"SIP/2.0", b"\xc3"]))
        else:
            data[pos:pos] = data[pos: pos + draw(st.integers(1, 200))]
    return bytes(data)


def _parse_everything(data: bytes) -> None:
    try:
        msg = parse(data)
    except SipParseError:
        minimal_400(data)  # the error path must not raise either
        return
    msg.encode(), msg.cseq, msg.from_tag, msg.to_tag  # noqa: B018 - accessors must not raise
    response(msg, 400).encode()
    try:
        parse_offer(msg.body)
    except SdpError:
        pass


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_invites())
def test_fuzz_mutated_invites_only_raise_parse_errors(data):
    _parse_everything(data)


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_only_raise_parse_errors(data):
    _parse_everything(data)
    _parse_everything(b"INVITE sip:a@b SIP/2.0\r\n" + data)


class _Sent:
    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append((data, addr))

    def is_closing(self) -> bool:
        return False


def _endpoint_with_no_free_line():
    from types import SimpleNamespace

    from voice_agent.calls import CallRegistry
    from voice_agent.config import SipSettings
    from voice_agent.events import EventBus
    from voice_agent.telephony.sip.endpoint import SipEndpoint

    sip = SipSettings(enabled=True, max_calls=0, allowed_addresses=["192.0.2.0/24"])
    res = SimpleNamespace(settings=SimpleNamespace(sip=sip), bus=EventBus(),
                          calls=CallRegistry(max_calls=20))
    endpoint = SipEndpoint(res)
    endpoint._udp = _Sent()
    return endpoint


def _answers(endpoint) -> list[int]:
    codes = [parse(data).status for data, _ in endpoint._udp.datagrams]
    endpoint._udp.datagrams.clear()
    return codes


def test_the_endpoint_refuses_before_any_call_exists():
    """Without models: who gets 403, 486, 488, 400, 481, 405 and who gets nothing."""
    endpoint = _endpoint_with_no_free_line()
    trunk, stranger = ("192.0.2.10", 5060), ("198.51.100.7", 5060)
    endpoint._received(invite(), stranger)
    assert _answers(endpoint) == [403]
    endpoint._received(invite(), trunk)
    assert _answers(endpoint) == [486]  # max_calls 0: every line busy
    endpoint.settings.max_calls = 5
    endpoint._received(invite(SDP_OFFER.replace("8 0 101", "8 101")), trunk)
    assert _answers(endpoint) == [488]
    endpoint._received(invite("v=0\r\nm=audio 1 RTP/SAVP 0\r\n"), trunk)
    assert _answers(endpoint) == [488]
    endpoint._received(invite().replace(b"Max-Forwards: 70", b"junk"), trunk)
    assert _answers(endpoint) == [400]
    endpoint._received(invite().replace(b"Max-Forwards: 70", b"junk"), stranger)
    assert _answers(endpoint) == []  # a stranger's garbage is not even answered
    bye = invite().replace(b"INVITE sip", b"BYE sip").replace(b"314159 INVITE", b"2 BYE")
    endpoint._received(bye, trunk)
    assert _answers(endpoint) == [481]
    options = invite().replace(b"INVITE sip", b"OPTIONS sip").replace(b"314159 INVITE",
                                                                      b"1 OPTIONS")
    endpoint._received(options, trunk)
    assert _answers(endpoint) == [200]
    message = invite().replace(b"INVITE sip", b"MESSAGE sip").replace(b"314159 INVITE",
                                                                      b"1 MESSAGE")
    endpoint._received(message, trunk)
    assert _answers(endpoint) == [405]
    endpoint._received(b"\r\n\r\n", trunk)  # keep-alive
    endpoint._received(b"SIP/2.0 200 OK\r\n\r\n", trunk)
    assert _answers(endpoint) == []
    assert endpoint.calls == {}


@FUZZ
@given(mutated_invites(), st.sampled_from(["192.0.2.10", "198.51.100.7"]))
def test_fuzz_the_endpoint_answers_every_datagram_with_valid_sip_or_not_at_all(data, ip):
    endpoint = _endpoint_with_no_free_line()
    endpoint._received(data, (ip, 5060))  # raises nothing (the socket callback also guards)
    for answer, addr in endpoint._udp.datagrams:
        assert addr == (ip, 5060)
        reply = parse(answer)
        assert reply.status in (100, 200, 400, 403, 405, 481, 486, 488)
        if ip == "198.51.100.7":
            assert reply.status == 403  # outside the allow-list nothing else is said


@FUZZ
@given(st.text(max_size=600))
def test_fuzz_random_sdp_only_raises_sdp_errors(text):
    try:
        offer = parse_offer(text.encode("utf-8", "surrogatepass"))
    except SdpError:
        return
    if offer.pcmu_pt is not None:
        build_answer("192.0.2.1", 20000, offer)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_rtp_only_raises_rtp_errors(data):
    try:
        pkt = parse_rtp(data)
    except RtpError:
        return
    try:
        parse_telephone_event(pkt.payload)
    except RtpError:
        pass


async def test_no_free_rtp_port_is_a_503():
    endpoint = _endpoint_with_no_free_line()
    endpoint.settings.max_calls, endpoint.settings.rtp_port_max = 5, 0  # an empty port range
    endpoint._received(invite(), ("192.0.2.10", 5060))
    await asyncio.wait(endpoint._tasks, timeout=5)
    assert _answers(endpoint) == [100, 503] and endpoint.calls == {}
