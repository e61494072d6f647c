"""Coqui TTS (the maintained `coqui-tts` fork, `TTS.api`) on a local model folder.

No package ships Coqui weights, and nothing is fetched from a hub: `tts.voices.<lang>.voice` names
a folder holding `config.json` and the checkpoint (VITS: `model.pth`/`best_model.pth`; XTTS-v2:
the folder as released, with `speaker`/`speaker_wav` and `language` set in the voice config).
The model loads once per process (on the GPU when present, `device: auto`) and every call
shares it; synthesis is serialised per model (torch modules are not re-entrant) and yields one
chunk per sentence so the first sentence plays while the next is synthesised.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

from voice_agent.config import VoiceSettings
from voice_agent.models import ModelRegistry
from voice_agent.tts_engines.base import SpeechError, float_to_pcm16

CHECKPOINT_NAMES = ("model.pth", "best_model.pth", "model_file.pth", "checkpoint.pth")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def import_tts_api():
    """`TTS.api`, or a SpeechError that says how to fix the install."""
    try:
        from TTS import api
    except OSError as e:  # torchaudio's CUDA-linked extension on a CPU torch
        raise SpeechError(
            f"Coqui TTS cannot load torchaudio ({e}); run "
            "`.venv/bin/python -m voice_agent.tts_engines.torchaudio_cpu` (scripts/setup.sh does)"
        ) from e
    except ImportError as e:
        raise SpeechError(f"Coqui TTS is not installed or incomplete: {e}") from e
    return api


def model_files(folder: Path) -> tuple[Path, Path]:
    """(checkpoint path or folder, config.json) for a Coqui model folder."""
    config = folder / "config.json"
    if not folder.is_dir() or not config.exists():
        raise SpeechError(
            f"Coqui model folder {folder} not found or without config.json "
            "(put a VITS or XTTS-v2 model there; see docs/languages.md)"
        )
    if '"xtts"' in config.read_text(encoding="utf-8", errors="replace"):
        return folder, config  # XTTS loads itself from its folder
    for name in CHECKPOINT_NAMES:
        if (folder / name).exists():
            return folder / name, config
    found = sorted(folder.glob("*.pth"))
    if not found:
        raise SpeechError(f"Coqui model folder {folder} holds no *.pth checkpoint")
    return found[-1], config


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _LoadedModel:
    def __init__(self, tts) -> None:
        self.tts = tts
        self.lock = threading.Lock()
        self.sample_rate = int(tts.synthesizer.output_sample_rate)


class CoquiEngine:
    name = "coqui"

    def __init__(self, voice: VoiceSettings, registry: ModelRegistry) -> None:
        self._voice = voice
        self._registry = registry
        self._folder = registry.settings.resolve(Path(voice.voice))
        extra = "/".join(x for x in (voice.speaker, voice.speaker_wav, voice.language) if x)
        self.voice_id = f"{self._folder}{':' + extra if extra else ''}"

    def load(self) -> _LoadedModel:
        device = resolve_device(self._voice.device)

        def load() -> _LoadedModel:
            api = import_tts_api()
            checkpoint, config = model_files(self._folder)
            tts = api.TTS(model_path=str(checkpoint), config_path=str(config), progress_bar=False)
            return _LoadedModel(tts.to(device))

        # the registry loads each model once per process; every call shares it
        return self._registry.load_once(f"coqui:{self._folder}:{device}", load)

    def _kwargs(self) -> dict:
        v = self._voice
        kw = {"speaker": v.speaker, "speaker_wav": v.speaker_wav, "language": v.language}
        return {k: val for k, val in kw.items() if val}

    def stream(self, text: str) -> Iterator[tuple[bytes, int]]:
        model = self.load()
        kwargs = self._kwargs()
        for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
            if not sentence:
                continue
            with model.lock:
                samples = model.tts.tts(sentence, split_sentences=False, **kwargs)
            yield float_to_pcm16(samples), model.sample_rate
