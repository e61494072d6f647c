"""Twilio wire protocol: TwiML, stream URLs, and refusal of malformed messages."""

import base64
import json

import pytest
from fastapi.testclient import TestClient
from pipecat.frames.frames import InputAudioRawFrame, InputDTMFFrame, OutputAudioRawFrame

from voice_agent.app import create_app
from voice_agent.config import load_settings
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.frames import MarkEchoFrame, PlayoutClearFrame, PlayoutMarkFrame
from voice_agent.telephony.twilio.security import sign
from voice_agent.telephony.twilio.wire import (
    StreamStopped,
    StrictTwilioSerializer,
    TwilioProtocolError,
    connect_twiml,
    parse_message,
    parse_start,
    stream_url,
)

START = {
    "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
    "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
              "customParameters": {"lang": "es"},
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
}


def media(payload: str) -> str:
    return json.dumps({"event": "media", "streamSid": "MZ1", "media": {"payload": payload}})


def test_twiml_connects_a_bidirectional_stream_with_parameters():
    xml = connect_twiml("wss://agent.example.com/media", {"from": "+15551234567"})
    assert '<Connect><Stream url="wss://agent.example.com/media">' in xml
    assert '<Parameter name="from" value="+15551234567" />' in xml


def test_stream_url_from_public_url_or_request():
    s = load_settings(env={"VOICE_AGENT_PUBLIC_URL": "https://agent.example.com/base/"})
    assert stream_url(s, "http://10.0.0.5:8080/") == "wss://agent.example.com/base/media"
    s = load_settings(env={})
    assert stream_url(s, "http://127.0.0.1:8080/") == "ws://127.0.0.1:8080/media"


def test_voice_webhook_answers_twiml_naming_the_media_socket():
    settings = load_settings(env={"VOICE_AGENT_PUBLIC_URL": "https://agent.example.com",
                                  "TWILIO_AUTH_TOKEN": "tok"})
    client = TestClient(create_app(settings))  # no lifespan: TwiML needs no models
    form = {"CallSid": "CA9", "From": "+1555", "To": "+1666"}
    signature = sign("tok", "https://agent.example.com/twiml?lang=fr", form)
    r = client.post("/twiml?lang=fr", data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert 'url="wss://agent.example.com/media"' in r.text
    assert '<Parameter name="lang" value="fr" />' in r.text
    assert '<Parameter name="from" value="+1555" />' in r.text


@pytest.mark.parametrize("raw, reason", [
    ("not json at all", "non-JSON"),
    ("[1, 2]", "object"),
    ('{"event": "party"}', "unknown event"),
    ("x" * 70_000, "exceeds"),
])
def test_malformed_frames_are_refused_with_a_reason(raw, reason):
    with pytest.raises(TwilioProtocolError, match=reason):
        parse_message(raw, 65_536)


def test_start_is_parsed_and_a_wrong_codec_refused():
    start = parse_start(START)
    assert (start.stream_sid, start.call_sid, start.custom_parameters) == ("MZ1", "CA1",
                                                                           {"lang": "es"})
    bad = json.loads(json.dumps(START))
    bad["start"]["mediaFormat"]["encoding"] = "audio/l16"
    with pytest.raises(TwilioProtocolError, match="media format"):
        parse_start(bad)


async def test_strict_serializer_decodes_media_and_dtmf_and_refuses_the_rest():
    ser = StrictTwilioSerializer(parse_start(START), load_settings(env={}))
    frame = await ser.deserialize(media(base64.b64encode(b"\xff" * 160).decode()))
    assert isinstance(frame, InputAudioRawFrame) and len(frame.audio) == 320
    dtmf = json.dumps({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "5"}})
    assert isinstance(await ser.deserialize(dtmf), InputDTMFFrame)
    with pytest.raises(TwilioProtocolError, match="base64"):
        await ser.deserialize(media("%%%not-base64%%%"))
    assert "base64" in ser.violation
    with pytest.raises(TwilioProtocolError, match="unexpected 'start'"):
        await ser.deserialize(json.dumps(START))
    with pytest.raises(StreamStopped):
        await ser.deserialize('{"event": "stop", "streamSid": "MZ1", "stop": {}}')
    assert ser.stopped


def test_hang_up_through_rest_only_with_credentials():
    no_creds = StrictTwilioSerializer(parse_start(START), load_settings(env={}))
    assert no_creds._params.auto_hang_up is False
    creds = load_settings(env={"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"})
    assert StrictTwilioSerializer(parse_start(START), creds)._params.auto_hang_up is True


async def test_the_playouts_frames_go_out_in_twilio_words_and_what_was_written_is_reported():
    edge = EdgePlayback()
    ser = StrictTwilioSerializer(parse_start(START), load_settings(env={}), edge=edge)
    media_out = json.loads(await ser.serialize(OutputAudioRawFrame(b"\x10\x00" * 4000, 8000, 1)))
    assert media_out["event"] == "media"
    mark = json.loads(await ser.serialize(PlayoutMarkFrame(mark="t1-s1")))
    assert mark == {"event": "mark", "mark": {"name": "t1-s1"}, "streamSid": "MZ1"}
    assert edge.take_clears() == []
    clear = json.loads(await ser.serialize(PlayoutClearFrame()))
    assert clear == {"event": "clear", "streamSid": "MZ1"}
    # the 0.5 s just written had not played yet: the `clear` dropped it all
    [report] = edge.take_clears()
    assert 0.45 < report.unplayed_s <= 0.5
    echo = json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "t1-s1"}})
    echoed = await ser.deserialize(echo)
    assert isinstance(echoed, MarkEchoFrame) and echoed.mark == "t1-s1"
