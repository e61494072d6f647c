"""FastAPI app: Twilio voice webhook (TwiML), the media-stream WebSocket, health."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response, WebSocket
from loguru import logger

from voice_agent.bus_redis import make_event_bus, start_bus, stop_bus
from voice_agent.calls import CallRegistry
from voice_agent.config import Settings
from voice_agent.events import EventBus
from voice_agent.metrics import CallMetrics
from voice_agent.operator.api import operator_router
from voice_agent.pipeline.factory import CallFactory
from voice_agent.pipeline.shared_models import SharedModels
from voice_agent.telephony.twilio.call_control import CallControl
from voice_agent.telephony.twilio.routes import twilio_router
from voice_agent.telephony.twilio.security import startup_warning
from voice_agent.telephony.twilio.session import handle_media_stream
from voice_agent.telephony.twilio.stream_tokens import StreamTokens


async def start_sip_endpoint(factory: CallFactory):
    """The direct SIP trunk edge (config `sip:`), same pipeline as Twilio calls."""
    from voice_agent.telephony.sip.endpoint import SipEndpoint

    endpoint = SipEndpoint(factory)
    await endpoint.start()
    return endpoint


def create_app(
    settings: Settings, factory: CallFactory | None = None, bus: EventBus | None = None
) -> FastAPI:
    """The server. Models load (and greetings are pre-synthesised) once, at start-up.
    `factory`: calls built around models already loaded (tests, benches)."""
    # the bus and the call registry exist before the models load: webhooks, admission and
    # call control work from the start
    bus = factory.bus if factory else (bus or make_event_bus(settings))
    calls = factory.calls if factory else CallRegistry(settings.server.max_calls)
    metrics = CallMetrics(live_calls=calls.__len__).attach(bus)
    tokens = StreamTokens.from_settings(settings)
    control = CallControl(settings, bus)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from voice_agent.store.service import CallRecords

        await start_bus(bus)  # Redis: events shared between workers
        # the writer and daily retention; its queue gauges join the metrics
        records = await CallRecords.start(settings, bus, metrics.add_gauge)
        app.state.store = records.store if records else None  # the operator page's queries
        calls_factory = factory or CallFactory(
            models=await asyncio.to_thread(SharedModels.load, settings), bus=bus, calls=calls)
        models = calls_factory.models
        await asyncio.to_thread(models.warm_up)
        models.start_precache()
        app.state.factory = calls_factory
        logger.info(f"voice agent ready on {settings.server.media_path}")
        if warning := startup_warning(settings):
            logger.warning(warning)
        sip = await start_sip_endpoint(calls_factory) if settings.sip.enabled else None
        app.state.sip = sip
        try:
            yield
        finally:
            if sip is not None:
                await sip.stop()
            await asyncio.to_thread(models.stop_precache)
            await control.close()
            await tokens.close()
            if records is not None:
                await records.stop()
            await stop_bus(bus)

    app = FastAPI(title="voice_agent", lifespan=lifespan)
    app.state.calls = calls

    app.state.call_control = control
    # POST /twiml, POST /twilio/status (signed webhooks), POST /api/calls (API key)
    app.include_router(twilio_router(settings, tokens, calls, bus, control))

    # /operator: login, live calls, listen-in, actions, history (docs/operator.md)
    app.include_router(operator_router(settings))

    @app.websocket(settings.server.media_path)
    async def media(ws: WebSocket) -> None:
        await handle_media_stream(ws, app.state.factory, tokens)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return metrics.response()

    @app.get("/health")
    async def health() -> dict:
        factory: CallFactory = app.state.factory
        return {
            "status": "ok", "active_calls": len(calls),
            "models_loaded": factory.models.registry.loaded(),
        }

    return app
