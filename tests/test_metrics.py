"""Prometheus metrics from the call events, and the /metrics route of the real server."""

import asyncio
import re

import httpx
import pytest

from voice_agent.events import (
    BargeIn,
    CallEnded,
    CallError,
    CallerTurn,
    CallStarted,
    EventBus,
    LanguageSwitched,
    TransferRequested,
    TurnLatency,
)
from voice_agent.metrics import CallMetrics


def value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{sample} not in metrics:\n{text}"
    return float(match.group(1))


def scrape(metrics: CallMetrics) -> str:
    return metrics.response().body.decode()


def test_two_calls_counted_from_their_events():
    bus = EventBus()
    metrics = CallMetrics().attach(bus)
    bus.publish(CallStarted(call_id="a", transport="twilio", language="en"))
    bus.publish(CallStarted(call_id="b", transport="sip", language="de"))
    text = scrape(metrics)
    assert value(text, "voice_agent_active_calls") == 2

    bus.publish(CallerTurn(call_id="a", turn=1, transcript="hi", language="en",
                           language_probability=0.9, audio_s=1, stt_s=0.2))
    for total in (0.6, 0.9, 1.7):
        bus.publish(TurnLatency(call_id="a", turn=1, total_s=total, vad_s=0.5, stt_s=0.2,
                                dialogue_s=0.05, tts_s=0.05))
    bus.publish(BargeIn(call_id="a", turn=1, cause="speech", onset_to_clear_s=0.2))
    bus.publish(LanguageSwitched(call_id="a", from_language="en", to_language="es",
                                 reason="request"))
    bus.publish(TransferRequested(call_id="a", reason="speak_to_agent"))
    bus.publish(CallError(call_id="b", message="boom", fatal=True))
    bus.publish(CallEnded(call_id="b", reason="protocol_error", duration_s=1.0))

    text = scrape(metrics)
    assert value(text, "voice_agent_active_calls") == 1
    assert value(text, 'voice_agent_calls_total{transport="twilio"}') == 1
    assert value(text, 'voice_agent_calls_ended_total{reason="protocol_error"}') == 1
    assert value(text, "voice_agent_turn_latency_seconds_count") == 3
    assert value(text, 'voice_agent_turn_latency_seconds_bucket{le="1.0"}') == 2
    assert value(text, "voice_agent_turn_latency_seconds_sum") == pytest.approx(3.2)
    assert value(text, 'voice_agent_barge_ins_total{cause="speech"}') == 1
    assert value(text, "voice_agent_transfers_total") == 1
    assert value(text, 'voice_agent_language_switches_total{from_language="en",'
                       'to_language="es"}') == 1
    assert value(text, 'voice_agent_call_errors_total{fatal="true"}') == 1
    assert value(text, 'voice_agent_caller_turns_total{language="en"}') == 1


def test_each_app_has_its_own_registry():
    one, two = CallMetrics().attach(EventBus()), CallMetrics()
    one.observe(CallStarted(call_id="a", transport="twilio", language="en"))
    assert value(scrape(one), "voice_agent_active_calls") == 1
    assert value(scrape(two), "voice_agent_active_calls") == 0


@pytest.mark.slow
async def test_server_serves_metrics_and_health_and_exposes_the_store(fresh_resources, tmp_path):
    from voice_agent.config import StorageSettings
    from voice_agent.server import running_server
    from voice_agent.testing.twilio_line import SimulatedCall

    from conftest import fixture_wav

    res = fresh_resources
    settings = res.settings.model_copy(update={
        "storage": StorageSettings(url=f"sqlite:///{tmp_path / 'calls.db'}")})
    async with running_server(settings, res) as (base, app):
        url = base.replace("http", "ws", 1) + settings.server.media_path
        async with httpx.AsyncClient() as client:
            async with SimulatedCall(url, auth_token=settings.twilio.auth_token) as call:
                await call.wait_quiet(call.start_sent_at, timeout=10)
                during = (await client.get(f"{base}/metrics")).text
                await call.say(fixture_wav("en_opening_hours"))
                await call.stop()
            await asyncio.sleep(1.0)
            after = (await client.get(f"{base}/metrics")).text
            health = (await client.get(f"{base}/health")).json()
        assert app.state.store is not None
    assert value(during, "voice_agent_active_calls") == 1
    assert value(after, "voice_agent_active_calls") == 0
    assert value(after, "voice_agent_turn_latency_seconds_count") >= 1
    assert value(after, 'voice_agent_calls_total{transport="twilio"}') == 1
    assert value(after, "voice_agent_records_written") >= 4  # started, turn, reply, ended…
    assert value(after, "voice_agent_records_failed") == 0
    assert health["status"] == "ok"
