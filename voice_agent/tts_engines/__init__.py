"""Text-to-speech engines behind one interface, chosen per language in config (`tts.voices`).

- piper: the shipped English voice (natural, fast on CPU).
- espeak: espeak-ng for any other language (robotic but intelligible, ~20 ms per sentence).
- coqui: the real Coqui TTS (`TTS.api`) on a configured local model folder (VITS, XTTS-v2, …).

`voice_agent.speech.Synthesizer` is the cache front every call uses; engines only synthesise.
"""

from __future__ import annotations

from voice_agent.config import TTSSettings, VoiceSettings
from voice_agent.models import ModelRegistry
from voice_agent.tts_engines.base import SpeechEngine, SpeechError
from voice_agent.tts_engines.espeak import EspeakEngine
from voice_agent.tts_engines.piper import PiperEngine

__all__ = ["SpeechEngine", "SpeechError", "make_engine"]


def make_engine(voice: VoiceSettings, tts: TTSSettings, registry: ModelRegistry) -> SpeechEngine:
    """The engine for one configured voice (models load lazily, once per process)."""
    if voice.engine == "piper":
        return PiperEngine(registry, voice.voice)
    if voice.engine == "espeak":
        return EspeakEngine(voice.voice, tts.espeak_rate)
    if voice.engine == "coqui":
        from voice_agent.tts_engines.coqui import CoquiEngine  # torch + TTS only when configured

        return CoquiEngine(voice, registry)
    raise SpeechError(f"unknown TTS engine {voice.engine!r}")
