"""Why backchannels and noises become barge-ins: each barge-in fixture through the pipeline's
own pieces, offline, as an English call would see it.

Per fixture (kinds backchannel, noise, interrupt):
- webrtcvad as `vad:` configures it (the project's analyzer, 20 ms frames as a phone line
  delivers them): voiced seconds (30 ms windows at `vad.confidence`), the VAD's speech segments;
- the BargeInDetector's duration rule replayed on those VAD decisions (onset = VAD start −
  start_secs; confirmed when `confirm_secs` of audio since the onset have passed while voiced
  within the last 0.1 s and the VAD has not stopped), for the 3 alignments of 20 ms frames to
  the VAD's 30 ms windows (which one a trial gets depends on how many frames came before);
- periodic-voiced seconds by `VoicingTracker` (in all, in the first 0.3 s of speech, and in
  the first `confirm_secs` after the onset);
- the segment pipecat's SegmentedSTTService would hand to STT (1 s before the VAD start, up to
  its stop, + trailing silence), transcribed by `SharedWhisperSTTService`'s steps on the shared
  model with the English call's language hint; `interrupts()` on that transcript; the shared
  understander's intent and confidence for it;
- for backchannels and noises, the transcripts (and `interrupts()` verdicts) when the segment
  ends up to N frames earlier or later (`--variants N`, default 3).

Usage: .venv/bin/python scripts/analyse_false_bargeins.py [--json out.json] [--kinds ...]
       [--variants N]   (~45 s on 2 cores, loads Whisper and the NLU model)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import yaml
from pipecat.audio.vad.vad_analyzer import VADState

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_agent.audio import (  # noqa: E402
    PHONE_RATE,
    pcm16_to_float,
    phone_line_pcm,  # noqa: E402
    resample,
)
from voice_agent.config import load_settings  # noqa: E402
from voice_agent.pipeline.bargein import interrupts, is_backchannel  # noqa: E402
from voice_agent.pipeline.factory import CallFactory  # noqa: E402
from voice_agent.pipeline.stt import trim_leading_silence  # noqa: E402
from voice_agent.pipeline.vad import make_vad_analyzer  # noqa: E402
from voice_agent.pipeline.voicing import VoicingTracker  # noqa: E402
from voice_agent.pipeline.whisper_turn import WHISPER_RATE, transcribe_turn  # noqa: E402

FRAME = int(PHONE_RATE * 0.02) * 2  # 20 ms of 16-bit PCM, as Twilio/SIP deliver it
VOICED_NOW_S = 0.1  # BargeInDetector: voiced within this long = still talking
LEAD_S, TAIL_S = 1.0, 1.0  # silence around the clip (the line is open before and after)
CALL_LANGUAGE = "en"


async def vad_frames(vad_settings, pcm: bytes, phase_frames: int) -> list[dict]:
    """Per 20 ms frame: voiced (a 30 ms window at `vad.confidence` was decided in it) and the
    VAD state after it. `phase_frames` silent frames first shift the 30 ms windows."""
    vad = make_vad_analyzer(vad_settings)
    vad.set_sample_rate(PHONE_RATE)
    rows = []
    audio = bytes(FRAME * phase_frames) + pcm
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        before = vad.last_voiced_at
        state = await vad.analyze_audio(audio[i : i + FRAME])
        voiced = vad.last_voiced_at is not None and vad.last_voiced_at != before
        rows.append({"t": (i / 2 / PHONE_RATE) - phase_frames * 0.02, "voiced": voiced,
                     "state": state})
    await vad.cleanup()
    return rows


def duration_rule(rows: list[dict], start_secs: float, confirm_secs: float) -> dict:
    """Replay of BargeInDetector._follow_pending's confirmation on the VAD's decisions."""
    speaking, pending, quiet, onset, confirmed = False, None, 0.0, None, None
    segments, seg_start = [], None
    for i, row in enumerate(rows):
        was = rows[i - 1]["state"] if i else VADState.QUIET
        if row["state"] == VADState.SPEAKING and was != VADState.SPEAKING and not speaking:
            speaking, seg_start = True, i
            if pending is None and confirmed is None:  # (the answer is gone after one)
                pending, quiet, onset = start_secs, 0.0, row["t"] + 0.02 - start_secs
        elif row["state"] == VADState.QUIET and speaking:
            speaking = False
            segments.append((seg_start, i))
        if pending is not None:
            pending += 0.02
            quiet = 0.0 if row["voiced"] else quiet + 0.02
            if quiet <= VOICED_NOW_S and speaking and pending >= confirm_secs - 1e-9:
                confirmed = round(row["t"] + 0.02 - onset, 2)
                pending = None  # interrupted; the segment goes on to STT as the new turn
    if speaking:
        segments.append((seg_start, len(rows) - 1))
    return {"confirmed_at": confirmed, "onset": onset, "segments": segments}


def voicing(pcm: bytes, speech_start: float, onset: float | None, confirm_secs: float) -> dict:
    tracker = VoicingTracker()
    first_03 = in_confirm = 0.0
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        t = i / 2 / PHONE_RATE
        if tracker.add(pcm[i : i + FRAME], PHONE_RATE):
            if speech_start <= t < speech_start + 0.3:
                first_03 += 0.02
            if onset is not None and onset <= t < onset + confirm_secs:
                in_confirm += 0.02
    return {"voiced_s": round(tracker.voiced_s, 2), "first_0_3s": round(first_03, 2),
            "in_confirm_window": round(in_confirm, 2)}


def speech_start(pcm: bytes, dbfs: float = -40.0) -> float:
    """First 20 ms frame above `dbfs` (as the bench measures a fixture's onset)."""
    from voice_agent.audio import rms_dbfs

    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        if rms_dbfs(pcm[i : i + FRAME]) > dbfs:
            return i / 2 / PHONE_RATE
    return 0.0


def stt_segment(audio: bytes, rows: list[dict], seg: tuple[int, int], trailing_s: float) -> bytes:
    """What SegmentedSTTService buffers: ~1 s before the VAD start frame, up to the stop frame."""
    start, stop = seg
    first = max(0, start - int(1.0 / 0.02))
    return audio[first * FRAME : (stop + 1) * FRAME] + bytes(int(PHONE_RATE * trailing_s) * 2)


def transcribe(factory, pcm: bytes, language: str) -> dict:
    """SharedWhisperSTTService.run_stt's steps, on the shared model, English call's hint."""
    s = factory.settings
    audio = trim_leading_silence(pcm, PHONE_RATE)
    samples = pcm16_to_float(resample(audio, PHONE_RATE, WHISPER_RATE))
    prior = {language: s.languages.stt_hint_weight}  # LanguagePolicy.decode_prior()
    turn = transcribe_turn(
        factory.models.registry.whisper(), samples, list(s.languages.allowed),
        beam_size=s.stt.beam_size, no_speech_threshold=s.stt.no_speech_threshold,
        window=s.stt.encoder_window, prior=prior,
    )
    return {"text": turn.text, "decoded": turn.decoded_language, "id": turn.language,
            "id_p": round(turn.language_probability, 2), "no_speech": round(turn.no_speech_prob, 2)}


async def analyse(factory, fixture: dict, variants: int = 0) -> dict:
    s = factory.settings
    pcm = phone_line_pcm(ROOT / "audio_fixtures" / "bargein" / f"{fixture['id']}.wav")
    lead, tail = bytes(int(PHONE_RATE * LEAD_S) * 2), bytes(int(PHONE_RATE * TAIL_S) * 2)
    audio = lead + pcm + tail
    vad_voiced, confirmed, first = 0.0, [], None
    for phase in range(3):
        rows = await vad_frames(s.vad, audio, phase)
        if phase == 0:
            first = (rows, duration_rule(rows, s.vad.start_secs, s.bargein.confirm_secs))
            # 30 ms windows decided voiced (each frame marks at most one)
            vad_voiced = sum(r["voiced"] for r in rows) * 0.03
        rule = duration_rule(rows, s.vad.start_secs, s.bargein.confirm_secs)
        confirmed.append(rule["confirmed_at"])
    rows, rule = first
    onset = rule["onset"]
    start = speech_start(audio)
    out = {
        "id": fixture["id"], "kind": fixture["kind"], "clip_s": round(len(pcm) / 2 / PHONE_RATE, 2),
        "vad_voiced_s": round(vad_voiced, 2),
        "vad_segments": [(round(rows[a]["t"] - LEAD_S, 2), round(rows[min(b, len(rows) - 1)]["t"]
                          - LEAD_S, 2)) for a, b in rule["segments"]],
        "duration_confirm_at": confirmed,  # per frame phase: s after onset, None = not confirmed
        "voicing": voicing(audio, start, onset, s.bargein.confirm_secs),
        "turns": [],
    }
    for seg in rule["segments"] or []:
        heard = transcribe(factory, stt_segment(audio, rows, seg, s.stt.trailing_silence_secs),
                           CALL_LANGUAGE)
        text, lang = heard["text"], heard["decoded"]
        nlu = factory.models.understander.understand(text, lang) if text else None
        heard.update(
            interrupts=interrupts(heard["text"], heard["decoded"], s.bargein),
            backchannel=bool(heard["text"]) and is_backchannel(heard["text"], heard["decoded"],
                                                               s.bargein),
            intent=nlu.intent if nlu else None,
            confidence=round(nlu.confidence, 3) if nlu else None,
        )
        out["turns"].append(heard)
    if variants and fixture["kind"] != "interrupt":
        out["variants"] = alignment_variants(factory, audio, rows, rule["segments"], variants)
    return out


def alignment_variants(factory, audio: bytes, rows: list[dict], segments, shifts: int) -> dict:
    """The same sound with its segment ending up to `shifts` frames earlier or later (where the
    VAD's stop lands depends on frame timing): Whisper's greedy decoding of a short sound is
    not stable, and interrupts() sees whatever it gets. Returns verdict counts per transcript."""
    s, seen = factory.settings, {}
    for seg in segments:
        for k in range(-shifts, shifts + 1):
            pcm = stt_segment(audio, rows, (seg[0], seg[1] + k), s.stt.trailing_silence_secs)
            text = transcribe(factory, pcm, CALL_LANGUAGE)["text"]
            verdict = "interrupts" if interrupts(text, CALL_LANGUAGE, s.bargein) else "no"
            key = f"{text!r} → {verdict}"
            seen[key] = seen.get(key, 0) + 1
    return seen


def table(results: list[dict]) -> str:
    lines = ["| fixture | kind | VAD voiced s | VAD segment(s) s | duration rule confirms "
             "(3 phases) | periodic s (all / first 0.3 s / confirm window) "
             "| transcript (decoded, ID p, no-speech) | interrupts() | NLU intent (conf.) |",
             "|" + "---|" * 9]
    for r in results:
        v = r["voicing"]
        conf = ", ".join("no" if c is None else f"{c:.2f}s" for c in r["duration_confirm_at"])
        for j, t in enumerate(r["turns"] or [None]):
            text = (f"\"{t['text']}\" ({t['decoded']}, {t['id']} {t['id_p']}, {t['no_speech']})"
                    if t else "(no VAD segment: no pause, no STT)")
            nlu = f"{t['intent']} ({t['confidence']})" if t and t["intent"] else "–"
            head = (f"| {r['id']} | {r['kind']} | {r['vad_voiced_s']:.2f} | {r['vad_segments']} | "
                    f"{conf} | {v['voiced_s']:.2f} / {v['first_0_3s']:.2f} / "
                    f"{v['in_confirm_window']:.2f} |") if j == 0 else "| | | | | | |"
            lines.append(f"{head} {text} | {t['interrupts'] if t else '–'} | {nlu} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["backchannel", "noise", "interrupt"])
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--variants", type=int, default=3, metavar="N",
                        help="also transcribe each non-interrupt segment ending ±N frames off")
    args = parser.parse_args(argv)
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    started = time.perf_counter()
    factory = CallFactory.load(load_settings())
    fixtures = yaml.safe_load((ROOT / "audio_fixtures" / "bargein.yaml").read_text())["fixtures"]
    results = [asyncio.run(analyse(factory, f, args.variants))
               for f in fixtures if f["kind"] in args.kinds]
    print(table(results))
    for r in results:
        if r.get("variants"):
            shown = "; ".join(f"{k} ×{n}" for k, n in r["variants"].items())
            print(f"- {r['id']} (segment end ±{args.variants} frames): {shown}")
    nlu_name = factory.models.understander.name
    print(f"\n({time.perf_counter() - started:.0f} s; understander: {nlu_name})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
