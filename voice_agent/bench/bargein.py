"""`voice-agent bench bargein`: interruptions over the real WebSocket, scored from both sides.

A real server and a simulated Twilio caller (which plays Twilio's part for `mark` and `clear`).
The caller asks a question with a long answer, and while the agent answers plays a fixture of
audio_fixtures/bargein.yaml at several offsets: real interruptions, backchannels, noises. An
echo trial lets the agent's own voice leak back at -20 dB for a whole answer. Measured at the
caller: speech onset → `clear`, onset → the agent's audio stopping; from the events: which
trials became barge-ins (true ones must, the others must not).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass, replace

from voice_agent.audio import phone_line_pcm
from voice_agent.events import BargeIn, EventRecorder, FalseInterruption, ReplyPlayed
from voice_agent.pipeline.factory import CallFactory
from voice_agent.testing.fixtures import FIXTURES, QUESTION, bargein_fixtures, bargein_wav
from voice_agent.testing.twilio_line import (
    SimulatedCall,
    ask_and_wait_for_answer,
    first_voiced_offset,
    keep_line_open,
)


@dataclass
class Trial:
    fixture: str
    kind: str  # interrupt | backchannel | noise | echo
    offset_s: float
    barged_in: bool
    onset_to_clear_s: float | None
    onset_to_silence_s: float | None
    heard_text: str | None = None
    resumed: bool = False
    clears: int = 0  # `clear`s Twilio got during the trial
    heard_s: float = 0.0  # seconds of the agent's voice the caller heard during the trial
    question_barged: bool = False  # the question itself was taken for a barge-in (a bug)


def _silence_after(call: SimulatedCall, onset: float, gap_s: float = 0.3) -> float | None:
    """When the caller stopped hearing the agent after `onset`: the end of the last voiced
    audio that played (a `clear` cuts what had not) before a gap."""
    from voice_agent.audio import is_silent

    spans = [(start, start + len(pcm) / 2 / 8000) for start, pcm in call.played
             if start + len(pcm) / 2 / 8000 >= onset - 0.1 and not is_silent(pcm)]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start - end >= gap_s:
            return end
    return spans[-1][1] if spans and time.monotonic() - spans[-1][1] >= gap_s else None


async def run_trial(
    call: SimulatedCall, events: EventRecorder, fixture: dict | None, offset_s: float,
    pcm: bytes | None = None,
) -> Trial:
    """One overlap: ask, then (after `offset_s` of answer) play the fixture (or `pcm`, 8 kHz)
    over the agent."""
    began, n_asked = time.monotonic(), len(events.of(BargeIn))
    answer_start = await ask_and_wait_for_answer(call, QUESTION)
    await keep_line_open(call, answer_start + offset_s)
    n_clear, n_barge = len(call.cleared_at), len(events.of(BargeIn))
    n_false, n_played = len(events.of(FalseInterruption)), len(events.of(ReplyPlayed))
    if pcm is None:
        pcm = phone_line_pcm(bargein_wav(fixture["id"])) if fixture else b""
    sent = time.monotonic()
    onset = sent + first_voiced_offset(pcm) if pcm else sent
    await call.send_audio(pcm)
    await call.wait_quiet(sent, quiet_s=1.2, timeout=25)
    if len(events.of(BargeIn)) > n_barge:  # interrupted: let the new answer play out too
        # (the onset's `clear` may be followed by another pause's; the answer comes after both)
        cleared = max(call.cleared_at[-1], events.of(BargeIn)[n_barge].at)
        deadline = time.monotonic() + 15
        while call.first_voiced_after(cleared + 0.05) is None and time.monotonic() < deadline:
            await call.send_silence(0.05)
        await call.wait_quiet(cleared + 0.05, quiet_s=1.2, timeout=25)
    clears = call.cleared_at[n_clear:]
    barged = len(events.of(BargeIn)) > n_barge
    cut = [e for e in events.of(ReplyPlayed)[n_played:] if e.interrupted]
    return Trial(
        fixture=fixture["id"] if fixture else "echo_only",
        kind=fixture["kind"] if fixture else "echo",
        offset_s=offset_s, barged_in=barged,
        onset_to_clear_s=round(clears[0] - onset, 4) if clears else None,
        onset_to_silence_s=(
            round(s - onset, 4) if (s := _silence_after(call, onset)) is not None else None
        ),
        heard_text=cut[0].heard_text if cut else None,
        resumed=len(events.of(FalseInterruption)) > n_false,
        clears=len(clears), heard_s=round(call.heard_speech_s(began), 3),
        question_barged=n_barge > n_asked,
    )


def summarise(trials: list[Trial]) -> dict:
    def rate(kind: str) -> tuple[int, int]:
        ts = [t for t in trials if t.kind == kind]
        return sum(t.barged_in for t in ts), len(ts)

    true = [t for t in trials if t.kind == "interrupt"]
    clear = [t.onset_to_clear_s for t in true if t.onset_to_clear_s is not None]
    silence = [t.onset_to_silence_s for t in true if t.onset_to_silence_s is not None]
    false_kinds = ("backchannel", "noise", "echo")
    false_hits = sum(rate(k)[0] for k in false_kinds)
    false_total = sum(rate(k)[1] for k in false_kinds)
    plain = [t.heard_s for t in trials if t.kind == "plain"]
    # a sound that did not interrupt: the caller still heard the whole answer, once
    missing = [round(plain[0] - t.heard_s, 3) for t in trials
               if plain and t.kind in ("backchannel", "noise") and not t.barged_in]
    return {
        "cleared_then_resumed": {k: sum(t.clears > 0 and not t.barged_in
                                        for t in trials if t.kind == k)
                                 for k in ("backchannel", "noise", "echo")},
        "answer_s": plain[0] if plain else None,
        "questions_barged": sum(t.question_barged for t in trials),
        "missing_s_median": statistics.median(missing) if missing else None,
        "missing_s_worst": max(missing, key=abs) if missing else None,
        "true_detected": rate("interrupt"),
        "false_by_kind": {k: rate(k) for k in false_kinds},
        "false_rate": false_hits / false_total if false_total else 0.0,
        "onset_to_clear_median_s": statistics.median(clear) if clear else None,
        "onset_to_silence_median_s": statistics.median(silence) if silence else None,
    }


async def run_bench(
    factory: CallFactory, offsets: list[float], kinds: tuple[str, ...], echo_trials: int,
) -> dict:
    from voice_agent.server import running_server

    fixtures = [f for f in bargein_fixtures() if f["kind"] in kinds]
    events = EventRecorder(factory.bus)
    trials: list[Trial] = []
    async with running_server(factory.settings, factory) as (base, _):
        url = base.replace("http", "ws", 1) + factory.settings.server.media_path
        token = factory.settings.twilio.auth_token
        async with SimulatedCall(url, auth_token=token) as call:
            await call.wait_quiet(call.start_sent_at, timeout=15)
            plain = await run_trial(call, events, None, 0.0)  # the whole answer, undisturbed
            trials.append(replace(plain, fixture="plain", kind="plain"))
            for fixture in fixtures:
                for offset in offsets:
                    trials.append(await run_trial(call, events, fixture, offset))
        async with SimulatedCall(url, auth_token=token, echo_gain=0.1) as call:
            await call.wait_quiet(call.start_sent_at, timeout=15)
            for _ in range(echo_trials):
                trials.append(await run_trial(call, events, None, 0.0))
    return {"trials": [asdict(t) for t in trials], "summary": summarise(trials)}


async def run_turn_end_bench(factory: CallFactory, configs: list[tuple[str, dict]]) -> list[dict]:
    """Callers pausing mid-sentence vs the end-of-turn settings: how often is a caller cut off
    (one utterance answered as two turns), and what does waiting cost on ordinary turns?"""
    from voice_agent.events import CallerTurn, TurnLatency
    from voice_agent.server import running_server

    pauses = [bargein_wav(f["id"]) for f in bargein_fixtures() if f["kind"] == "pause"]
    plain = [FIXTURES / f"{i}.wav" for i in ("en_opening_hours", "en_payment_paypal",
                                                "en_order_status_1001")]
    rows = []
    for name, overrides in configs:
        settings = factory.settings.model_copy(update={
            key: getattr(factory.settings, key).model_copy(update=value)
            for key, value in overrides.items()
        })
        run = CallFactory.around(factory.models.with_settings(settings), type(factory.bus)())
        events = EventRecorder(run.bus)
        cut_off = 0
        async with running_server(settings, run) as (base, _):
            url = base.replace("http", "ws", 1) + settings.server.media_path
            async with SimulatedCall(url, auth_token=settings.twilio.auth_token) as call:
                await call.wait_quiet(call.start_sent_at, timeout=15)
                for wav in pauses:
                    before = len(events.of(CallerTurn))
                    await call.say(wav)
                    await asyncio.sleep(1.0)
                    cut_off += len(events.of(CallerTurn)) - before > 1
                    await call.wait_quiet(time.monotonic() - 1.5, timeout=20)
                n_latency = len(events.of(TurnLatency))
                for wav in plain:
                    await call.say(wav)
        latencies = [e.total_s for e in events.of(TurnLatency)[n_latency:]]
        rows.append({"setting": name, "cut_off": (cut_off, len(pauses)),
                     "latency_median_s": statistics.median(latencies) if latencies else None})
    return rows
