"""Twilio Media Streams edge: TwiML, a strict wire-protocol guard, and the per-call serializer.

pipecat's `TwilioFrameSerializer` speaks the protocol; `StrictTwilioSerializer` adds what a
public endpoint needs: any malformed message (not JSON, unknown event, bad base64, oversized, a
second start) ends *that* call with a stated reason, and `stop` ends it cleanly. It also writes
the playout's own frames in Twilio's words (`mark`, `clear`), reads Twilio's mark echoes back
into `MarkEchoFrame`s, and reports what it writes to the call's `EdgePlayback`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.serializers.twilio import TwilioFrameSerializer
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse

from voice_agent.audio import PHONE_RATE
from voice_agent.config import Settings
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.frames import MarkEchoFrame, PlayoutClearFrame, PlayoutMarkFrame

KNOWN_EVENTS = {"media", "dtmf", "mark", "stop", "connected", "start"}


class TwilioProtocolError(Exception):
    """The peer broke the media-stream protocol; the call is closed with this reason."""


class StreamStopped(Exception):
    """Twilio said `stop`: the caller hung up or the stream was ended."""


@dataclass
class StreamStart:
    """What the `start` message tells us about the call."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None
    custom_parameters: dict[str, str]


def parse_message(data: str | bytes, max_bytes: int) -> dict[str, Any]:
    """Decode one Twilio text frame or raise TwilioProtocolError saying what is wrong."""
    if len(data) > max_bytes:
        raise TwilioProtocolError(f"message of {len(data)} bytes exceeds {max_bytes} bytes")
    try:
        message = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TwilioProtocolError(f"non-JSON frame: {e.msg if hasattr(e, 'msg') else e}") from e
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise TwilioProtocolError("frame is not an object with an 'event' field")
    if message["event"] not in KNOWN_EVENTS:
        raise TwilioProtocolError(f"unknown event {message['event']!r}")
    return message


def parse_start(message: dict[str, Any]) -> StreamStart:
    start = message.get("start")
    sid = message.get("streamSid") or (start or {}).get("streamSid")
    if not isinstance(start, dict) or not isinstance(sid, str) or not sid:
        raise TwilioProtocolError("'start' message without start.streamSid")
    fmt = start.get("mediaFormat") or {}
    if fmt and (fmt.get("encoding") != "audio/x-mulaw" or int(fmt.get("sampleRate", 8000)) != 8000):
        raise TwilioProtocolError(f"unsupported media format {fmt}")
    params = start.get("customParameters") or {}
    return StreamStart(
        stream_sid=sid, call_sid=start.get("callSid"), account_sid=start.get("accountSid"),
        custom_parameters={str(k): str(v) for k, v in params.items()},
    )


def playout_message(frame: PlayoutMarkFrame | PlayoutClearFrame) -> dict[str, Any]:
    """A playout frame as Twilio's media-stream message (without the stream's id)."""
    if isinstance(frame, PlayoutMarkFrame):
        return {"event": "mark", "mark": {"name": frame.mark}}
    return {"event": "clear"}


class StrictTwilioSerializer(TwilioFrameSerializer):
    """TwilioFrameSerializer that refuses malformed input instead of skipping it."""

    def __init__(
        self, start: StreamStart, settings: Settings, edge: EdgePlayback | None = None,
    ) -> None:
        tw = settings.twilio
        super().__init__(
            stream_sid=start.stream_sid, call_sid=start.call_sid,
            account_sid=tw.account_sid, auth_token=tw.auth_token, base_url=tw.api_base_url,
            # Hang up through the REST API only when credentials are configured.
            params=TwilioFrameSerializer.InputParams(
                auto_hang_up=bool(tw.has_credentials and start.call_sid),
                sample_rate=PHONE_RATE,  # the call pipeline runs at the phone's own rate
            ),
        )
        self._sample_rate = PHONE_RATE  # setup() sets the same; usable before it too
        self._max_bytes = settings.server.max_message_bytes
        self.violation: str | None = None
        self.stopped = False
        # told what audio goes out and when each `clear` leaves: the playout reckons from it
        # what Twilio dropped
        self._edge = edge or EdgePlayback()

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            message = parse_message(data, self._max_bytes)
            event = message["event"]
            if event == "stop":
                self.stopped = True
                raise StreamStopped("Twilio sent 'stop' (caller hung up or stream ended)")
            if event in ("connected", "start"):
                raise TwilioProtocolError(f"unexpected {event!r} in the middle of a stream")
            if event == "media":
                payload = (message.get("media") or {}).get("payload")
                if not isinstance(payload, str):
                    raise TwilioProtocolError("media message without a payload string")
                try:
                    base64.b64decode(payload, validate=True)
                except (binascii.Error, ValueError) as e:
                    raise TwilioProtocolError(f"media payload is not valid base64: {e}") from e
            if event == "mark":  # the caller has heard everything sent before this mark
                name = (message.get("mark") or {}).get("name")
                if not isinstance(name, str):
                    raise TwilioProtocolError("mark message without mark.name")
                return MarkEchoFrame(name)
        except TwilioProtocolError as e:
            self.violation = str(e)
            raise
        return await super().deserialize(data)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, (PlayoutMarkFrame, PlayoutClearFrame)):
            if isinstance(frame, PlayoutClearFrame):
                self._edge.clear_written()
            return json.dumps({**playout_message(frame), "streamSid": self._stream_sid})
        if isinstance(frame, OutputAudioRawFrame):
            self._edge.audio_written(len(frame.audio) / 2 / frame.sample_rate)
        elif isinstance(frame, InterruptionFrame):  # pipecat sends Twilio a `clear` for it
            self._edge.clear_written()
        return await super().serialize(frame)


def stream_url(settings: Settings, request_base_url: str) -> str:
    """wss:// URL of the media WebSocket, from the configured public URL or the request."""
    base = settings.server.public_url or request_base_url
    parts = urlsplit(base)
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme, "wss")
    path = parts.path.rstrip("/") + settings.server.media_path
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def connect_twiml(url: str, parameters: dict[str, str]) -> str:
    """`<Connect><Stream>`: a bidirectional media stream; parameters come back in `start`."""
    response = VoiceResponse()
    connect = Connect()
    stream = Stream(url=url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    connect.append(stream)
    response.append(connect)
    return str(response)


def busy_twiml() -> str:
    """All lines busy: Twilio plays a busy signal, the caller can retry."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)
