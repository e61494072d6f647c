"""The fast call scripts' stand-ins (voice_agent/testing/): a synthetic voice that the VAD and
the voicing detector take for speech, a cough they must not, a transcriber that knows each
scripted line by its pitch, and the tone voice of the agent."""

import numpy as np
import pytest
import webrtcvad

from voice_agent.audio import pcm16_to_float, resample, ulaw_decode, ulaw_encode
from voice_agent.pipeline.voicing import VoicingTracker
from voice_agent.pipeline.whisper_turn import WHISPER_RATE
from voice_agent.testing.scripted_stt import PITCH_LADDER_HZ, ScriptedTranscriber
from voice_agent.testing.tone_tts import AGENT_PITCH_HZ, ToneSynthesizer
from voice_agent.testing.voices import cough, silence, voiced_utterance

ALLOWED = ["en", "es", "fr", "de", "zh"]


def phone(pcm16: bytes) -> bytes:
    """Through the phone line's μ-law, as the simulated Twilio sends it."""
    return ulaw_decode(ulaw_encode(pcm16))


def vad_share(pcm16: bytes) -> float:
    vad = webrtcvad.Vad(2)  # the configured aggressiveness
    frames = [pcm16[i : i + 160] for i in range(0, len(pcm16) - 159, 160)]
    return sum(vad.is_speech(f, 8000) for f in frames) / len(frames)


def voiced_s(pcm16: bytes) -> float:
    tracker = VoicingTracker()
    for i in range(0, len(pcm16), 320):
        tracker.add(pcm16[i : i + 320], 8000)
    return tracker.voiced_s


def as_stt_input(pcm16: bytes) -> np.ndarray:
    """What the STT stage hands a transcriber: 16 kHz float32."""
    return pcm16_to_float(resample(pcm16, 8000, WHISPER_RATE))


@pytest.mark.parametrize("pitch", [*AGENT_PITCH_HZ.values(), *PITCH_LADDER_HZ[::3]])
def test_the_synthetic_voice_is_speech_to_the_vad_and_voiced_to_the_periodicity_detector(pitch):
    pcm = phone(voiced_utterance(pitch, 0.8, seed=int(pitch)))
    assert vad_share(pcm) >= 0.9
    assert voiced_s(pcm) >= 0.7  # of 0.8 s; the barge-in detector needs 0.04 s to pause


def test_a_cough_sounds_like_speech_to_the_vad_but_has_no_voice():
    pcm = phone(cough())
    assert vad_share(pcm) >= 0.5  # the hard case: the VAD starts on it
    assert voiced_s(pcm) <= 0.02  # below bargein.pause_voiced_secs: it never pauses an answer
    assert ScriptedTranscriber().transcribe(as_stt_input(pcm), ALLOWED, {}).text == ""


def test_each_scripted_line_is_heard_back_however_the_vad_cut_its_segment():
    stt = ScriptedTranscriber()
    lines = [stt.line("Where is my order 1002?", "en"), stt.line("Stop.", "en", seconds=0.45),
             stt.line("¿Dónde está mi pedido 1001?", "es", sure=0.98)]
    assert len({ln.pitch_hz for ln in lines}) == 3
    echo = np.frombuffer(voiced_utterance(AGENT_PITCH_HZ["en"], 2.0, seed=9), np.int16) // 10
    for line in lines:
        pcm = line.audio()
        n = len(pcm) // 2
        with_echo = np.frombuffer(pcm, np.int16) + echo[:n]
        for segment in (pcm, pcm[1600:], pcm[: len(pcm) - 1200],  # started late, ended early
                        silence(0.3) + pcm + silence(0.5),  # pre-roll and the VAD's stop time
                        with_echo.astype(np.int16).tobytes()):  # the agent's echo under it
            turn = stt.transcribe(as_stt_input(phone(segment)), ALLOWED, {"en": 3.0})
            assert (turn.text, turn.language) == (line.text, line.language)
            assert turn.language_probability == line.language_probability
    assert stt.line("Stop.", "en", seconds=0.45) is lines[1]  # said again: the same voice


def test_a_voice_that_is_no_scripted_line_is_heard_as_unsure_unscripted_words():
    stt = ScriptedTranscriber()
    stt.line("Where is my order 1002?", "en")
    agent = voiced_utterance(AGENT_PITCH_HZ["en"], 1.0, seed=3)
    turn = stt.transcribe(as_stt_input(phone(agent)), ALLOWED, {"en": 3.0})
    assert turn.text.startswith("(unscripted voice at") and turn.language_probability < 0.8


def test_the_tone_voice_speaks_longer_for_longer_text_a_sentence_a_chunk():
    voice = ToneSynthesizer()
    short, long = voice.phrase("Okay.", "en", 8000), voice.phrase("We're open " * 10, "en", 8000)
    assert len(long) > 3 * len(short)
    chunks = list(voice.stream("We're open Monday to Friday. We're closed on Sunday.", "es"))
    assert len(chunks) == 2 and all(rate == 8000 for _, rate in chunks)
    assert voice.phrase("Okay.", "en", 8000) is short and voice.cache_hits == 1
    assert voice.cached("Never said.", "en", 8000) is None
    assert ToneSynthesizer().phrase("Okay.", "en", 8000) == short  # deterministic
    assert voice.languages_spoken()[-2:] == ["es", "es"]
