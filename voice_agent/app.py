"""FastAPI app: Twilio voice webhook (TwiML), the media-stream WebSocket, health."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response
from loguru import logger

from voice_agent.config import Settings
from voice_agent.events import EventBus
from voice_agent.pipeline.build import SharedResources
from voice_agent.telephony.twilio import busy_twiml, connect_twiml, stream_url
from voice_agent.telephony.twilio_session import handle_media_stream

TWIML = "application/xml"


def create_app(
    settings: Settings, resources: SharedResources | None = None, bus: EventBus | None = None
) -> FastAPI:
    """The server. Models load (and greetings are pre-synthesised) once, at start-up."""
    active_calls: set[str] = set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        res = resources or SharedResources.load(settings, bus)
        await asyncio.to_thread(res.warm_up)
        res.start_precache()
        app.state.resources = res
        logger.info(f"voice agent ready on {settings.server.media_path}")
        try:
            yield
        finally:
            await asyncio.to_thread(res.stop_precache)

    app = FastAPI(title="voice_agent", lifespan=lifespan)
    app.state.active_calls = active_calls

    @app.post("/twiml")
    async def twiml(request: Request) -> Response:
        """Twilio's voice webhook: answer with a bidirectional media stream."""
        if len(active_calls) >= settings.server.max_calls:
            return Response(busy_twiml(), media_type=TWIML)
        form = await request.form()
        params = {
            k: str(form[v]) for k, v in (("from", "From"), ("to", "To"), ("call_sid", "CallSid"))
            if form.get(v)
        }
        if request.query_params.get("lang"):
            params["lang"] = request.query_params["lang"]
        url = stream_url(settings, str(request.base_url))
        return Response(connect_twiml(url, params), media_type=TWIML)

    @app.websocket(settings.server.media_path)
    async def media(ws: WebSocket) -> None:
        await handle_media_stream(ws, app.state.resources, active_calls)

    @app.get("/health")
    async def health() -> dict:
        res: SharedResources = app.state.resources
        return {
            "status": "ok", "active_calls": len(active_calls),
            "models_loaded": res.registry.loaded(),
        }

    return app
