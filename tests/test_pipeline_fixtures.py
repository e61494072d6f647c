"""The call pipeline on recorded callers (WAV replay, the same pipeline a phone call runs)."""

import json
import subprocess
import sys

import pytest

from voice_agent.audio import read_wav
from voice_agent.events import CallEnded, EventRecorder, TransferRequested
from voice_agent.simulate import simulate_call

from conftest import REPO_ROOT, fixture_wav, manifest

pytestmark = pytest.mark.slow

# Utterances the baseline must get right end to end: transcript words, intent, and the answer.
CALL_SCRIPT = [
    "en_order_status_1001", "en_opening_hours", "en_return_jacket", "en_payment_paypal",
    "es_opening_hours", "es_return", "fr_payment_paypal", "de_order_status",
]


def expected(fixture_id: str) -> dict:
    return next(f for f in manifest() if f["id"] == fixture_id)


async def test_a_multilingual_caller_replayed_through_the_pipeline(fresh_resources, tmp_path):
    res = fresh_resources
    wavs = [fixture_wav(i) for i in CALL_SCRIPT]
    result = await simulate_call(res, wavs, realtime=False, out_dir=tmp_path)
    assert not result.errors
    assert len(result.turns) == len(CALL_SCRIPT)
    for turn, fixture_id in zip(result.turns, CALL_SCRIPT, strict=True):
        exp = expected(fixture_id)
        said = turn.transcript.lower()
        assert all(w in said for w in exp["expect_words"]), (fixture_id, turn.transcript)
        assert turn.language == exp["lang"], (fixture_id, turn.language)
        assert turn.intent == exp["intent"], (fixture_id, turn.intent, turn.transcript)
        # answered in the call's language: it follows the caller with hysteresis (a single
        # unsure turn in another language is answered in the call's language)
        pack = res.models.kb.pack(turn.reply_language)
        if exp.get("order_number"):
            assert turn.reply == res.models.kb.order_reply(pack, exp["order_number"])
        elif exp["intent"] != "order_status":
            assert turn.reply == pack.answers[exp["intent"]]
        assert turn.latency_s is not None and turn.latency_s > 0
        audio, rate = read_wav(turn.bot_audio)
        assert rate == 8000 and len(audio) / 2 / rate > 1.0  # the answer was spoken
    languages = [t.reply_language for t in result.turns]
    assert languages[:4] == ["en"] * 4 and languages[5] == "es"  # followed into Spanish
    greeting, _ = read_wav(result.greeting_audio)
    assert len(greeting) / 16000 > 2.0


async def test_caller_asks_for_a_human_and_the_transfer_is_requested(fresh_resources):
    events = EventRecorder(fresh_resources.bus)
    result = await simulate_call(fresh_resources, [fixture_wav("en_speak_to_agent")],
                                 realtime=False)
    assert result.turns[0].intent == "speak_to_agent"
    assert events.of(TransferRequested)[0].call_id == result.call_id


async def test_goodbye_ends_the_call_after_the_farewell(fresh_resources):
    events = EventRecorder(fresh_resources.bus)
    wavs = [fixture_wav("en_goodbye"), fixture_wav("en_opening_hours")]
    result = await simulate_call(fresh_resources, wavs, realtime=False)
    assert [t.intent for t in result.turns] == ["goodbye"]  # nothing after the goodbye
    assert events.of(CallEnded)[0].reason == "agent_goodbye"


def test_simulate_command_prints_json_and_writes_bot_audio(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", "simulate", "--fast", "--json",
         "--out-dir", str(tmp_path), str(fixture_wav("en_payment_paypal"))],
        capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    turn = result["turns"][0]
    assert turn["intent"] == "billing_payment" and "PayPal" in turn["reply"]
    assert (tmp_path / "turn01_bot.wav").exists() and (tmp_path / "turn00_greeting.wav").exists()


def test_simulate_command_names_a_missing_file():
    proc = subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", "simulate", "no/such.wav"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
    )
    assert proc.returncode == 2 and "no/such.wav" in proc.stdout + proc.stderr
