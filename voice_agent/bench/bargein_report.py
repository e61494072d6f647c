"""Runs `voice-agent bench bargein` and writes its section of docs/benchmarks.md."""

from __future__ import annotations

import asyncio
from datetime import date

from voice_agent.bench.bargein import run_bench, run_turn_end_bench
from voice_agent.bench.latency import loopback_settings
from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import Settings
from voice_agent.machine import machine
from voice_agent.pipeline.factory import CallFactory

KINDS = ("interrupt", "backchannel", "noise")
TURN_END_CONFIGS = [
    ("VAD stop 0.5 s (default)", {}),
    ("VAD stop 0.8 s", {"vad": {"stop_secs": 0.8}}),
    ("VAD stop 1.2 s", {"vad": {"stop_secs": 1.2}}),
    ("Smart Turn v3 (VAD 0.2 s, max pause 2 s)", {"turn": {"detector": "smart_turn"}}),
]


def _voicing_cost_us() -> float:
    """What the periodicity check costs per inbound frame (it runs while a sound is pending)."""
    import statistics
    import time

    from voice_agent.audio import phone_line_pcm
    from voice_agent.pipeline.voicing import VoicingTracker
    from voice_agent.testing.fixtures import bargein_wav

    pcm = phone_line_pcm(bargein_wav("en_interrupt_agent"))
    tracker, costs = VoicingTracker(), []
    for i in range(0, len(pcm) - 320, 320):
        started = time.perf_counter()
        tracker.add(pcm[i : i + 320], 8000)
        costs.append(time.perf_counter() - started)
    return statistics.median(costs) * 1e6


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


def run_bargein_report(
    settings: Settings, offsets: list[float], echo_trials: int, turn_end: bool, write: bool
) -> str:
    settings = loopback_settings(settings)
    factory = CallFactory.load(settings)
    factory.models.warm_up()
    result = asyncio.run(run_bench(factory, offsets, KINDS, echo_trials))
    s = result["summary"]
    hit, total = s["true_detected"]
    lines = [
        f"### Barge-in over the WebSocket — {date.today().isoformat()}",
        "",
        f"Machine: {machine()}. Command: `voice-agent bench bargein`. The caller asks for the "
        f"opening hours (a ~10 s answer) and plays each fixture of audio_fixtures/bargein.yaml "
        f"{', '.join(f'{o:g}' for o in offsets)} s into the answer; {echo_trials} answer(s) "
        "with the agent's own audio mixed back at -20 dB, 150 ms late. Client-side times.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| true barge-ins detected | {hit}/{total} |",
        f"| onset → agent audio stops (pause), median | {_ms(s['onset_to_silence_median_s'])} |",
        f"| onset → `clear`, median | {_ms(s['onset_to_clear_median_s'])} |",
    ]
    for kind, (false, n) in s["false_by_kind"].items():
        lines.append(f"| false barge-ins, {kind} | {false}/{n} |")
    lines.append(f"| false barge-in rate (all of the above) | {s['false_rate']:.1%} |")
    lines.append(f"| questions asked after an answer taken for a barge-in | "
                 f"{s['questions_barged']}/{len(result['trials'])} |")
    for kind, n in s["cleared_then_resumed"].items():
        lines.append(f"| {kind} trials paused with a `clear`, then resumed | {n} |")
    if s["missing_s_median"] is not None:
        lines.append(
            f"| agent's voice heard after a pause, vs undisturbed ({s['answer_s']:.2f} s): "
            f"missing, "
            f"median / worst (negative: heard twice) | {_ms(s['missing_s_median'])} / "
            f"{_ms(s['missing_s_worst'])} |")
    lines.append(f"| voicing check per 20 ms inbound frame, median | {_voicing_cost_us():.0f} µs |")
    missed = [t for t in result["trials"]
              if (t["kind"] == "interrupt") != t["barged_in"]]
    if missed:
        lines += ["", "Wrong verdicts: " + ", ".join(
            f"{t['fixture']}@{t['offset_s']:g}s" for t in missed) + "."]
    if turn_end:
        rows = asyncio.run(run_turn_end_bench(factory, TURN_END_CONFIGS))
        lines += ["", "End of turn: callers pausing mid-sentence (pause fixtures) cut off into "
                  "two turns, and the response latency that setting costs on ordinary turns.",
                  "", "| setting | callers cut off | response latency median (server) |",
                  "|---|---|---|"]
        for row in rows:
            cut, n = row["cut_off"]
            lines.append(f"| {row['setting']} | {cut}/{n} | {_ms(row['latency_median_s'])} |")
    report = "\n".join(lines) + "\n"
    if write:
        append_to_benchmarks("\n" + report)
    return report
