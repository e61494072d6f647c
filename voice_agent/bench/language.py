"""`voice-agent bench language`: language ID, switching calls, and TTS time to first audio.

1. Language ID per language on the fixtures, restricted to the allowed languages vs all 99
   (one encoder pass per fixture serves both).
2. Scripted switching calls replayed through the call pipeline: the reply language against the
   caller's language on every turn from the switch point on, and switches caused by one short turn.
3. TTS time to first audio per engine, synthesising vs a cache hit (Coqui on a tiny
   random-weight VITS: no package ships Coqui weights, so its figure is the path's overhead,
   not a real voice's speed).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from faster_whisper.audio import pad_or_trim

from voice_agent.audio import PHONE_RATE, pcm16_to_float, phone_line_pcm, resample
from voice_agent.bench.latency import FIXTURES, load_manifest
from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import Settings
from voice_agent.events import BotReply, EventRecorder, LanguageSwitched
from voice_agent.machine import machine
from voice_agent.pipeline.stt import trim_leading_silence
from voice_agent.pipeline.whisper_turn import (
    WHISPER_RATE,
    encoder_window,
    restrict_language_probs,
)


@dataclass
class Scenario:
    name: str
    start: str  # the language the call starts in
    turns: list[tuple[str, str]]  # (fixture id, the language a correct agent answers in)
    switch_at: int  # first turn (1-based) of the new language; 0: the call never switches


SCENARIOS = [
    Scenario("asks for Spanish (in English)", "en", [
        ("en_opening_hours", "en"), ("en_continue_in_spanish", "es"), ("es_return", "es"),
        ("es_opening_hours", "es")], 2),
    Scenario("asks for Spanish (in Spanish)", "en", [
        ("en_order_status_1001", "en"), ("es_continue_in_spanish", "es"), ("es_return", "es")], 2),
    Scenario("switches to Spanish unasked", "en", [
        ("en_payment_paypal", "en"), ("es_opening_hours", "es"), ("es_return", "es"),
        ("es_order_status_1001", "es")], 2),
    Scenario("switches to French unasked", "en", [
        ("en_return_jacket", "en"), ("fr_opening_hours", "fr"), ("fr_payment_paypal", "fr")], 2),
    Scenario("German call, one English 'okay'", "de", [
        ("de_order_status", "de"), ("en_okay", "de"), ("de_return", "de")], 0),
]


SHORT_S = 1.0  # a one-word turn ("okay", "sí"): where Whisper's ID goes astray


def _detect(settings: Settings, model, pcm: bytes) -> tuple[str, str]:
    """(restricted, unrestricted) top language for one turn, from one encoder pass."""
    features = model.feature_extractor(pcm16_to_float(resample(pcm, PHONE_RATE, WHISPER_RATE)))
    frames = encoder_window(features.shape[-1], settings.stt.encoder_window)
    pairs = model.model.detect_language(model.encode(pad_or_trim(features[:, :frames], frames)))[0]
    restricted = restrict_language_probs(pairs, settings.languages.allowed)
    return max(restricted, key=restricted.get), pairs[0][0].strip("<|>")


def lid_accuracy(settings: Settings, model) -> dict[str, dict[str, list[bool]]]:
    """Per language: restricted and unrestricted hits on whole turns and on their first second."""
    hits: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for fx in load_manifest():
        pcm = trim_leading_silence(phone_line_pcm(FIXTURES / f"{fx['id']}.wav"), PHONE_RATE)
        short = pcm[: int((SHORT_S + 0.3) * PHONE_RATE) * 2]  # 0.3 s lead-in + 1 s of speech
        for span, audio in (("", pcm), ("short ", short)):
            restricted, unrestricted = _detect(settings, model, audio)
            hits[fx["lang"]][span + "restricted"].append(restricted == fx["lang"])
            hits[fx["lang"]][span + "unrestricted"].append(unrestricted == fx["lang"])
    return hits


async def switching_calls(factory) -> list[dict]:
    from voice_agent.simulate import simulate_call

    results = []
    for sc in SCENARIOS:
        events = EventRecorder(factory.bus)
        wavs = [FIXTURES / f"{fid}.wav" for fid, _ in sc.turns]
        call = await simulate_call(factory, wavs, realtime=False, language=sc.start)
        replies = {e.turn: e.language for e in events.of(BotReply, call.call_id)}
        audio = {t.turn: t for t in call.turns}
        after = [(n, want) for n, (_, want) in enumerate(sc.turns, 1) if n >= (sc.switch_at or 1)]
        matched = sum(replies.get(n) == want for n, want in after)
        switches = events.of(LanguageSwitched, call.call_id)
        short = factory.settings.languages.switch_min_audio_s
        by_short = sum(1 for e in switches if e.reason == "detected"
                       and _trigger_turn_short(e, events, call.call_id, short))
        # the policy this replaced, replayed on the same turns: every turn at >= 0.6 switched
        before, lang = {}, sc.start
        for n in range(1, len(sc.turns) + 1):
            t = audio.get(n)
            if t and t.intent == "change_language" and t.slots.get("language"):
                lang = t.slots["language"]
            elif t and t.language_probability >= 0.6:
                lang = t.language
            before[n] = lang
        results.append({
            "before": sum(before[n] == want for n, want in after),
            "before_replies": [before[n] for n in range(1, len(sc.turns) + 1)],
            "name": sc.name, "matched": matched, "after": len(after),
            "replies": [replies.get(n, "–") for n in range(1, len(sc.turns) + 1)],
            "heard": [audio[n].language if n in audio else "–"
                      for n in range(1, len(sc.turns) + 1)],
            "switches": [f"{e.from_language}→{e.to_language} ({e.reason})" for e in switches],
            "by_short": by_short,
        })
    return results


def _trigger_turn_short(switch, events: EventRecorder, call_id: str, short_s: float) -> bool:
    """Was the caller turn just before this switch shorter than the evidence minimum?"""
    from voice_agent.events import CallerTurn

    before = [t for t in events.of(CallerTurn, call_id) if t.at <= switch.at]
    return bool(before) and before[-1].audio_s < short_s


def tts_first_audio(factory, repeats: int) -> list[tuple[str, float, float, int]]:
    """(engine/voice, median first audio synthesising, median cache hit, sentences) per voice."""
    from voice_agent.config import VoiceSettings
    from voice_agent.speech import Synthesizer
    from voice_agent.tts_engines.tiny_vits import build_tiny_vits

    rows = []
    voices = {lang: factory.settings.tts.voices[lang] for lang in ("en", "es", "zh")
              if lang in factory.settings.tts.voices}
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_vits(Path(tmp) / "tiny-vits")
        tts = factory.settings.tts.model_copy(deep=True)
        tts.voices["es-coqui"] = VoiceSettings(engine="coqui", voice=str(folder))
        synth = Synthesizer(tts, factory.models.registry)
        voices["es-coqui"] = tts.voices["es-coqui"]
        for lang, voice in voices.items():
            pack = factory.models.kb.pack(lang.split("-")[0])
            sentences = [pack.phrase("greeting"), *list(pack.answers.values())[:repeats]]
            sentences = [s.split(". ")[0] for s in sentences]
            next(synth.stream("Hola.", lang))  # load the voice first: calls find it loaded
            cold, hot = [], []
            for text in sentences:
                t = time.perf_counter()
                next(synth.stream(text, lang))
                cold.append(time.perf_counter() - t)
                synth.phrase(text, lang, PHONE_RATE)
                t = time.perf_counter()
                assert synth.cached(text, lang, PHONE_RATE) is not None
                hot.append(time.perf_counter() - t)
            name = f"{voice.engine} `{Path(voice.voice).name}` ({lang.split('-')[0]})"
            rows.append((name, statistics.median(cold), statistics.median(hot), len(sentences)))
    return rows


def report(settings: Settings, hits, calls: list[dict], tts_rows) -> str:
    allowed = "/".join(settings.languages.allowed)
    lines = [f"### Language ID, switching calls and TTS first audio — {date.today().isoformat()}",
             "", f"Machine: {machine()}; {settings.stt.model} {settings.stt.device}/"
             f"{settings.stt.compute_type}. Command: `voice-agent bench language`.", "",
             f"Language ID on the fixtures, restricted to {allowed} vs all 99 languages, on "
             f"whole turns and on their first {SHORT_S:.0f} s (a one-word turn):", "",
             "| language | fixtures | restricted | unrestricted | first 1 s restricted | "
             "first 1 s unrestricted |", "|---|---|---|---|---|---|"]
    cols = ("restricted", "unrestricted", "short restricted", "short unrestricted")
    total = dict.fromkeys(cols, 0)
    n_all = 0
    for lang, h in sorted(hits.items()):
        n = len(h["restricted"])
        n_all += n
        for col in cols:
            total[col] += sum(h[col])
        lines.append(f"| {lang} | {n} | " + " | ".join(f"{sum(h[c])}/{n}" for c in cols) + " |")
    lines.append(f"| all | {n_all} | " + " | ".join(f"{total[c]}/{n_all}" for c in cols) + " |")
    matched = sum(c["matched"] for c in calls)
    after = sum(c["after"] for c in calls)
    by_short = sum(c["by_short"] for c in calls)
    lines += ["", "Scripted calls (WAV replay through the call pipeline; reply language vs the "
              "caller's from the switch point on):", "",
              "| call | caller heard as | agent replied in | switches | reply = caller | "
              "one-turn policy (before) |", "|---|---|---|---|---|---|"]
    for c in calls:
        lines.append(f"| {c['name']} | {' '.join(c['heard'])} | {' '.join(c['replies'])} | "
                     f"{', '.join(c['switches']) or 'none'} | {c['matched']}/{c['after']} | "
                     f"{' '.join(c['before_replies'])}: {c['before']}/{c['after']} |")
    before = sum(c["before"] for c in calls)
    lines += ["", f"Reply language = caller's language on **{matched}/{after} turns "
              f"({100 * matched / max(1, after):.0f} %)** after the switch point; switches "
              f"triggered by one short turn: **{by_short}**. The one-turn policy it replaced "
              f"(any turn at ≥ 0.6 switched), replayed on the same turns: {before}/{after}.", "",
              "TTS time to first audio (median per sentence; the voice already loaded):", "",
              "| engine / voice | synthesising | cache hit | sentences |", "|---|---|---|---|"]
    for name, cold, hot, n in tts_rows:
        lines.append(f"| {name} | {cold * 1000:.0f} ms | {hot * 1e6:.0f} µs | {n} |")
    lines += ["", "Coqui runs a tiny random-weight VITS (no package ships Coqui weights): its "
              "figure is the engine path's overhead, not the speed of a real VITS/XTTS voice.", ""]
    return "\n".join(lines)


async def run_language_bench(settings: Settings, repeats: int, write: bool) -> str:
    from voice_agent.pipeline.factory import CallFactory

    factory = CallFactory.load(settings)
    factory.models.warm_up()
    hits = lid_accuracy(settings, factory.models.registry.whisper())
    calls = await switching_calls(factory)
    text = report(settings, hits, calls, tts_first_audio(factory, repeats))
    if write:
        append_to_benchmarks(text + "\n")
    return text
