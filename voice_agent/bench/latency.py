"""`voice-agent bench latency`: the real server, called over its WebSocket by a simulated Twilio.

Greeting latency: `start` sent → first non-silent agent audio received.
Response latency: end of the caller's speech (last voiced 20 ms frame sent) → first non-silent
agent audio received. The server's own events say where the time went (VAD wait, STT,
dialogue, TTS to first audio).
"""

from __future__ import annotations

import secrets
import statistics
from datetime import date
from pathlib import Path

import yaml

from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.events import EventRecorder, TurnLatency
from voice_agent.machine import machine
from voice_agent.pipeline.factory import CallFactory
from voice_agent.server import running_server
from voice_agent.testing.twilio_line import SimulatedCall

FIXTURES = REPO_ROOT / "audio_fixtures"
DEFAULT_IDS = ("en_opening_hours", "en_payment_paypal", "en_order_status_1001",
               "en_return_jacket", "en_speak_to_agent")


def default_fixtures() -> list[Path]:
    return [FIXTURES / f"{i}.wav" for i in DEFAULT_IDS if (FIXTURES / f"{i}.wav").exists()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _row(name: str, values: list[float]) -> str:
    if not values:
        return f"| {name} | – | – | 0 |"
    return (f"| {name} | {statistics.median(values) * 1000:.0f} ms | "
            f"{percentile(values, 0.95) * 1000:.0f} ms | {len(values)} |")


def loopback_settings(settings: Settings) -> Settings:
    """A bench's own loopback server: its own webhook token, no public URL to sign against."""
    twilio = settings.twilio.model_copy(
        update={"auth_token": settings.twilio.auth_token or secrets.token_hex(16)})
    server = settings.server.model_copy(update={"public_url": None})
    return settings.model_copy(update={"twilio": twilio, "server": server})


async def run_latency_bench(
    settings: Settings, fixtures: list[Path] | None, calls: int, write: bool
) -> str:
    wavs = fixtures or default_fixtures()
    if not wavs:
        raise SystemExit("no fixtures: run audio_fixtures/generate.py")
    settings = loopback_settings(settings)
    twilio = settings.twilio
    factory = CallFactory.load(settings)
    recorder = EventRecorder(factory.bus)
    greetings, responses, unanswered = [], [], 0
    async with running_server(settings, factory) as (base, _app):
        url = base.replace("http", "ws", 1) + settings.server.media_path
        for _ in range(calls):
            async with SimulatedCall(url, auth_token=twilio.auth_token) as call:
                await call.wait_quiet(call.start_sent_at, timeout=10)
                first = call.first_voiced_after(call.start_sent_at)
                if first is not None:
                    greetings.append(first - call.start_sent_at)
                for wav in wavs:
                    turn = await call.say(wav)
                    if turn.latency_s is None:
                        unanswered += 1
                    else:
                        responses.append(turn.latency_s)
                await call.stop()
    parts = recorder.of(TurnLatency)
    lines = [
        f"### Response latency over the WebSocket — {date.today().isoformat()}",
        "",
        f"Machine: {machine()}; STT {settings.stt.model} {settings.stt.device}/"
        f"{settings.stt.compute_type}, VAD {settings.vad.engine} stop {settings.vad.stop_secs} s. "
        f"{calls} call(s) × {len(wavs)} utterances "
        f"({', '.join(w.stem for w in wavs)}); {unanswered} unanswered. "
        "Command: `voice-agent bench latency`.",
        "",
        "| measure | median | p95 | n |",
        "|---|---|---|---|",
        _row("greeting (start → first audio)", greetings),
        _row("response (end of speech → first audio), client side", responses),
        _row("… VAD stop wait (server)", [p.vad_s for p in parts]),
        _row("… STT (server)", [p.stt_s for p in parts]),
        _row("… dialogue (server)", [p.dialogue_s for p in parts]),
        _row("… TTS to first audio out (server)", [p.tts_s for p in parts]),
        _row("… total at the server edges", [p.total_s for p in parts]),
        "",
    ]
    report = "\n".join(lines)
    if write:
        append_to_benchmarks(report + "\n")
    return report


def load_manifest() -> list[dict]:
    return yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["fixtures"]
