"""HTTP routes Twilio (and our API clients) call: the voice webhook, status callbacks, and
outbound calls. Every Twilio webhook is signature-checked before anything else happens."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field
from twilio.base.exceptions import TwilioRestException

from voice_agent.calls import CallRegistry
from voice_agent.config import Settings
from voice_agent.events import EventBus
from voice_agent.telephony.twilio.call_control import CallControl, StatusCallbackError
from voice_agent.telephony.twilio.outbound import place_call
from voice_agent.telephony.twilio.rest import TwilioConfigError
from voice_agent.telephony.twilio.security import (
    configured_key_digests,
    require_api_key,
    verified_form,
)
from voice_agent.telephony.twilio.stream_tokens import StreamTokens
from voice_agent.telephony.twilio.wire import busy_twiml, connect_twiml, stream_url

TWIML = "application/xml"
SIP_HEADER_PREFIX = "SipHeader_"  # Twilio's form fields for a SIP call's X- headers


class CallRequest(BaseModel):
    """POST /api/calls body: {"to": "+1555…", "from": "+1555…" (optional), "lang": "es"}."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str
    from_: str | None = Field(None, alias="from")
    lang: str | None = None


def stream_parameters(form: dict[str, str], language: str | None) -> dict[str, str]:
    """What the stream's `start.customParameters` will carry back to us (besides the token)."""
    params = {k: form[v] for k, v in (("from", "From"), ("to", "To"), ("call_sid", "CallSid"))
              if form.get(v)}
    if language:
        params["lang"] = language
    for name, value in form.items():
        if name.startswith(SIP_HEADER_PREFIX):
            params[name] = value
    return params


def twilio_router(
    settings: Settings, tokens: StreamTokens, calls: CallRegistry, bus: EventBus,
    control: CallControl,
) -> APIRouter:
    configured_key_digests(settings.server.api_keys)  # a malformed key fails at start-up
    router = APIRouter()

    def api_key(request: Request) -> None:
        require_api_key(request, settings)  # before the body is even looked at

    @router.post("/twiml")
    async def twiml(request: Request) -> Response:
        """Twilio's voice webhook: answer with a bidirectional media stream."""
        form = await verified_form(request, settings)
        if calls.full:
            return Response(busy_twiml(), media_type=TWIML)
        call_sid = form.get("CallSid")
        if not call_sid:
            raise HTTPException(400, "voice webhook without CallSid")
        params = stream_parameters(form, request.query_params.get("lang"))
        params["token"] = tokens.issue(call_sid)
        url = stream_url(settings, str(request.base_url))
        return Response(connect_twiml(url, params), media_type=TWIML)

    @router.post("/twilio/status")
    async def status(request: Request) -> Response:
        """Status callback: Twilio tells us a call's progress (ringing, completed, …)."""
        form = await verified_form(request, settings)
        try:
            event = control.status_event(form)
        except StatusCallbackError as e:
            logger.warning(f"status callback refused: {e}")
            return JSONResponse({"error": str(e)}, status_code=400)
        bus.publish(event)
        return Response(status_code=204)

    @router.post("/api/calls", status_code=201, dependencies=[Depends(api_key)])
    async def create_call(body: CallRequest) -> dict:
        """Place an outbound call (API key required); the callee gets the agent."""
        try:
            placed = await asyncio.to_thread(place_call, settings, body.to, body.from_,
                                             body.lang)
        except TwilioConfigError as e:
            raise HTTPException(422, str(e)) from e
        except TwilioRestException as e:
            logger.warning(f"Twilio refused the outbound call to {body.to}: {e.msg}")
            raise HTTPException(502, f"Twilio refused the call: {e.msg}") from e
        except Exception as e:  # network: Twilio unreachable or timed out
            logger.error(f"outbound call to {body.to}: cannot reach Twilio: {e}")
            raise HTTPException(502, f"cannot reach Twilio: {type(e).__name__}") from e
        logger.info(f"outbound call {placed.call_sid} to {placed.to}")
        return {"call_sid": placed.call_sid, "to": placed.to, "from": placed.from_,
                "status": placed.status, "lang": placed.language}

    return router
