"""webrtcvad behind pipecat's VADAnalyzer: speech starts and stops a turn, silence doesn't."""

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from voice_agent.audio import phone_line_pcm
from voice_agent.pipeline.vad import WebRTCVADAnalyzer

from conftest import fixture_wav


async def run(analyzer, pcm: bytes) -> list[VADState]:
    analyzer.set_sample_rate(8000)
    step = 320
    return [await analyzer.analyze_audio(pcm[i : i + step]) for i in range(0, len(pcm), step)]


async def test_a_caller_utterance_starts_and_ends_a_turn():
    pcm = phone_line_pcm(fixture_wav("en_opening_hours")) + bytes(16000)  # + 1 s silence
    states = await run(WebRTCVADAnalyzer(params=VADParams(min_volume=0.0, stop_secs=0.5)), pcm)
    assert VADState.SPEAKING in states
    assert states[-1] == VADState.QUIET


async def test_line_hiss_is_not_speech():
    rng = np.random.default_rng(0)
    hiss = (rng.normal(0, 300, 8000 * 2)).astype(np.int16).tobytes()  # −40 dBFS noise, 2 s
    states = await run(WebRTCVADAnalyzer(params=VADParams(min_volume=0.0)), hiss)
    assert VADState.SPEAKING not in states


async def test_silero_can_be_chosen_in_config_and_hears_the_caller_too():
    from voice_agent.config import VADSettings
    from voice_agent.pipeline.vad import make_vad_analyzer

    analyzer = make_vad_analyzer(VADSettings(engine="silero", stop_secs=0.5))
    pcm = phone_line_pcm(fixture_wav("en_opening_hours")) + bytes(16000)
    states = await run(analyzer, pcm)
    assert VADState.SPEAKING in states and states[-1] == VADState.QUIET
    assert analyzer.last_voiced_at is not None
