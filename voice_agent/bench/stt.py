"""`voice-agent bench stt`: transcription speed and accuracy on the fixtures, per encoder window.

For each fixture (as it arrives over a phone line): median time of `transcribe_turn` over a few
runs, word error rate against the manifest text, whether the expected words were heard, and
whether the language was identified (restricted to the allowed languages vs all 99).
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from datetime import date

from voice_agent.audio import pcm16_to_float, phone_line_pcm, resample
from voice_agent.bench.latency import FIXTURES, load_manifest
from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import Settings
from voice_agent.machine import machine
from voice_agent.models import ModelRegistry
from voice_agent.pipeline.whisper_turn import WHISPER_RATE, transcribe_turn


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text.lower())
    return re.sub(r"[^\w\s']", " ", text).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


def unrestricted_language(model, audio) -> str:
    lang, _, _ = model.detect_language(audio=audio)
    return lang


def run_stt_bench(settings: Settings, repeats: int, write: bool) -> str:
    model = ModelRegistry(settings).whisper()
    allowed = settings.languages.allowed
    rows = {"full": [], "adaptive": []}
    lang_hits = {"restricted": 0, "unrestricted": 0}
    fixtures = load_manifest()
    for fx in fixtures:
        pcm = phone_line_pcm(FIXTURES / f"{fx['id']}.wav")
        audio = pcm16_to_float(resample(pcm, 8000, WHISPER_RATE))
        for mode in rows:
            times, turn = [], None
            for _ in range(repeats):
                t = time.perf_counter()
                turn = transcribe_turn(model, audio, allowed, window=mode)
                times.append(time.perf_counter() - t)
            heard = all(w in turn.text.lower() for w in fx["expect_words"])
            rows[mode].append((statistics.median(times), wer(fx["text"], turn.text), heard))
            if mode == "adaptive":
                lang_hits["restricted"] += turn.language == fx["lang"]
        lang_hits["unrestricted"] += unrestricted_language(model, audio) == fx["lang"]

    n = len(fixtures)
    lines = [
        f"### STT on the fixtures — {date.today().isoformat()}",
        "",
        f"Machine: {machine()}; {settings.stt.model} {settings.stt.device}/"
        f"{settings.stt.compute_type}, beam {settings.stt.beam_size}, one encoder pass for "
        f"language ID + decoding; {n} fixtures (8 kHz μ-law, 11 Piper English + 6 espeak-ng "
        f"es/fr/de), median of {repeats} runs each. Command: `voice-agent bench stt`.",
        "",
        "| encoder window | median time per turn | mean WER | expected words heard |",
        "|---|---|---|---|",
    ]
    for mode, results in rows.items():
        med = statistics.median(r[0] for r in results)
        mean_wer = statistics.mean(r[1] for r in results)
        heard = sum(r[2] for r in results)
        lines.append(f"| {mode} | {med * 1000:.0f} ms | {mean_wer:.2f} | {heard}/{n} |")
    speedup = statistics.median(r[0] for r in rows["full"]) / statistics.median(
        r[0] for r in rows["adaptive"])
    lines += [
        "",
        f"Adaptive window speed-up: {speedup:.1f}x. Language identified: restricted to "
        f"{'/'.join(allowed)} {lang_hits['restricted']}/{n}, unrestricted (99 languages) "
        f"{lang_hits['unrestricted']}/{n}.",
        "",
    ]
    report = "\n".join(lines)
    if write:
        append_to_benchmarks(report + "\n")
    return report
