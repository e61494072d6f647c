"""FastAPI app: Twilio voice webhook (TwiML), the media-stream WebSocket, health."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response, WebSocket
from loguru import logger

from voice_agent.bus_redis import make_event_bus, start_bus, stop_bus
from voice_agent.config import Settings
from voice_agent.events import EventBus
from voice_agent.metrics import CallMetrics
from voice_agent.operator.api import operator_router
from voice_agent.pipeline.build import SharedResources
from voice_agent.telephony.twilio.call_control import CallControl
from voice_agent.telephony.twilio.stream_tokens import StreamTokens
from voice_agent.telephony.twilio.routes import twilio_router
from voice_agent.telephony.twilio.security import startup_warning
from voice_agent.telephony.twilio.session import handle_media_stream


async def start_sip_endpoint(res: SharedResources):
    """The direct SIP trunk edge (config `sip:`), same pipeline as Twilio calls."""
    from voice_agent.telephony.sip.endpoint import SipEndpoint

    endpoint = SipEndpoint(res)
    await endpoint.start()
    return endpoint


def create_app(
    settings: Settings, resources: SharedResources | None = None, bus: EventBus | None = None
) -> FastAPI:
    """The server. Models load (and greetings are pre-synthesised) once, at start-up."""
    active_calls: set[str] = set()
    # the bus exists before the models load: webhooks and call control work from the start
    bus = resources.bus if resources else (bus or make_event_bus(settings))
    metrics = CallMetrics().attach(bus)
    tokens = StreamTokens.from_settings(settings)
    control = CallControl(settings, bus)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from voice_agent.store.service import CallRecords

        await start_bus(bus)  # Redis: events shared between workers
        records = await CallRecords.start(settings, bus, metrics)  # writer, daily retention
        app.state.store = records.store if records else None  # the operator page's queries
        res = resources or SharedResources.load(settings, bus)
        await asyncio.to_thread(res.warm_up)
        res.start_precache()
        app.state.resources = res
        logger.info(f"voice agent ready on {settings.server.media_path}")
        if warning := startup_warning(settings):
            logger.warning(warning)
        sip = await start_sip_endpoint(res) if settings.sip.enabled else None
        app.state.sip = sip
        try:
            yield
        finally:
            if sip is not None:
                await sip.stop()
            await asyncio.to_thread(res.stop_precache)
            await control.close()
            await tokens.close()
            if records is not None:
                await records.stop()
            await stop_bus(bus)

    app = FastAPI(title="voice_agent", lifespan=lifespan)
    app.state.active_calls = active_calls

    app.state.call_control = control
    # POST /twiml, POST /twilio/status (signed webhooks), POST /api/calls (API key)
    app.include_router(twilio_router(settings, tokens, active_calls, bus, control))

    # /operator: login, live calls, listen-in, actions, history (docs/operator.md)
    app.include_router(operator_router(settings))

    @app.websocket(settings.server.media_path)
    async def media(ws: WebSocket) -> None:
        await handle_media_stream(ws, app.state.resources, active_calls, tokens)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return metrics.response()

    @app.get("/health")
    async def health() -> dict:
        res: SharedResources = app.state.resources
        return {
            "status": "ok", "active_calls": len(active_calls),
            "models_loaded": res.registry.loaded(),
        }

    return app
