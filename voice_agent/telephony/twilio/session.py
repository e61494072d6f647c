"""One Twilio media stream = one call: handshake, then the shared call pipeline on pipecat's
FastAPI WebSocket transport. A broken stream ends only its own call, with a logged reason."""

from __future__ import annotations

import asyncio

from fastapi import WebSocket
from loguru import logger
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voice_agent.audio import PHONE_RATE
from voice_agent.calls import LinesBusy
from voice_agent.events import CallError
from voice_agent.pipeline.edge import EdgeCapabilities
from voice_agent.pipeline.factory import CallFactory
from voice_agent.telephony.twilio.stream_tokens import StreamTokenError, StreamTokens
from voice_agent.telephony.twilio.wire import (
    StreamStart,
    StrictTwilioSerializer,
    TwilioProtocolError,
    parse_message,
    parse_start,
)

HANDSHAKE_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
# Twilio drops audio it was sent but has not played when told `clear`, and echoes `mark`s
TWILIO_EDGE = EdgeCapabilities("twilio", takes_back_unplayed=True, echoes_marks=True)


async def _receive_start(ws: WebSocket, max_bytes: int) -> StreamStart:
    """Read `connected` (optional) then `start`; anything else first is a protocol error."""
    for _ in range(2):
        message = await asyncio.wait_for(ws.receive(), HANDSHAKE_TIMEOUT_S)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        parsed = parse_message(data or b"", max_bytes)
        if parsed["event"] == "connected":
            continue
        if parsed["event"] != "start":
            raise TwilioProtocolError(f"{parsed['event']!r} before 'start'")
        return parse_start(parsed)
    raise TwilioProtocolError("no 'start' after 'connected'")


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state == WebSocketState.CONNECTED:
        try:
            await ws.close(code=code, reason=reason[:120])
        except Exception as e:  # the peer may already be gone
            logger.debug(f"closing websocket: {e}")


async def handle_media_stream(ws: WebSocket, factory: CallFactory, tokens: StreamTokens) -> None:
    """Serve one media stream until it ends; never raises into the server. Only a stream
    carrying a fresh token from our (signed) TwiML, for its own CallSid, becomes a call."""
    settings = factory.settings
    await ws.accept()
    if factory.calls.full:
        await _close(ws, TRY_AGAIN_LATER, "all lines busy")
        return
    try:
        start = await _receive_start(ws, settings.server.max_message_bytes)
        await tokens.redeem(start.custom_parameters.get("token"), start.call_sid)
    except (TwilioProtocolError, StreamTokenError, TimeoutError, WebSocketDisconnect,
            ValueError) as e:
        reason = str(e) or type(e).__name__
        logger.warning(f"media stream refused before start: {reason}")
        factory.bus.publish(CallError(call_id="unstarted", message=reason, fatal=True))
        await _close(ws, POLICY_VIOLATION, reason)
        return

    params = start.custom_parameters
    call = factory.new_call(
        TWILIO_EDGE, language=params.get("lang"), caller=params.get("from"),
        callee=params.get("to"), provider_call_id=start.call_sid,
        sip_headers={k.removeprefix("SipHeader_"): v for k, v in params.items()
                     if k.startswith("SipHeader_")},
    )
    state = call.state
    serializer = StrictTwilioSerializer(start, settings, edge=call.edge_playback)
    transport = FastAPIWebsocketTransport(
        websocket=ws,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            serializer=serializer,
        ),
    )
    factory.build(call, transport)

    @transport.event_handler("on_client_disconnected")
    async def _on_disconnected(_transport, _ws) -> None:
        if serializer.violation:
            state.end_reason = "protocol_error"
            logger.warning(f"{state.call_id}: closing call, {serializer.violation}")
            state.publish(
                CallError(call_id=state.call_id, message=serializer.violation, fatal=True)
            )
            await _close(ws, POLICY_VIOLATION, serializer.violation)
        elif serializer.stopped:
            state.end_reason = "stream_stopped"
        else:
            state.end_reason = state.end_reason or "caller_hangup"
        await call.worker.cancel()

    try:
        await factory.run(call)
    except LinesBusy as e:  # the last line went while this stream was starting
        await _close(ws, TRY_AGAIN_LATER, str(e))
    except Exception as e:  # one call's failure must not reach the server
        logger.exception(f"{state.call_id}: call failed: {e}")
        state.publish(CallError(call_id=state.call_id, message=str(e), fatal=True))
    finally:
        await _close(ws, 1000, "call ended")
