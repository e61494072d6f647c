"""The model registry: loads each model at most once per process; every call shares the objects.

Whisper and Piper load straight from the catalogue (their libraries need none of our code).
A model whose loader lives beside the code that uses it (Gemma in `nlu`, Smart Turn in the
pipeline) is handed in as a loader by the composition root (`voice_agent.model_loaders`), so
this floor never imports the floors above it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voice_agent.config import Settings
from voice_agent.models.catalogue import (
    CATALOGUE,
    GEMMA_3_270M,
    SMART_TURN_V3,
    ModelNotAvailable,
    PackagedFile,
    SplitModel,
)

ModelLoader = Callable[[Settings], Any]


@dataclass
class ModelRegistry:
    """Loads each model at most once per process; every call shares the loaded objects.

    `loaders` maps a catalogue name to the function that loads it from the settings, for the
    models whose loading code lives above this floor.
    """

    settings: Settings
    loaders: Mapping[str, ModelLoader] = field(default_factory=dict)
    _loaded: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load_once(self, key: str, load: Callable[[], Any]) -> Any:
        """The object loaded under `key`, loading it on first use (thread-safe)."""
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load()
            return self._loaded[key]

    def whisper(self) -> Any:
        """The shared faster-whisper model, on the configured device and compute type."""
        stt = self.settings.stt
        spec = CATALOGUE.get(stt.model)
        if not isinstance(spec, SplitModel):
            raise ModelNotAvailable(f"unknown STT model {stt.model!r}")

        def load() -> Any:
            from faster_whisper import WhisperModel

            folder = spec.assemble()
            return WhisperModel(
                str(folder), device=stt.device, compute_type=stt.compute_type,
                cpu_threads=stt.cpu_threads,
            )

        return self.load_once(f"whisper:{stt.model}:{stt.device}:{stt.compute_type}", load)

    def piper_voice(self, name: str) -> Any:
        """A shared Piper voice by registry name."""
        spec = CATALOGUE.get(name)
        if not isinstance(spec, PackagedFile) or spec.kind != "piper":
            raise ModelNotAvailable(f"unknown Piper voice {name!r}")

        def load() -> Any:
            from piper import PiperVoice

            onnx = spec.path()
            if onnx is None or not onnx.exists():
                raise ModelNotAvailable(f"Piper voice {name!r} needs the package {spec.package}")
            return PiperVoice.load(str(onnx), config_path=str(onnx) + ".json")

        return self.load_once(f"piper:{name}", load)

    def gemma_encoder(self) -> Any:
        """Gemma 3 270M as a sentence encoder for the fine-tuned understanding heads."""
        key = f"gemma:{self.settings.dialogue.device}"
        return self._load_handed_in(GEMMA_3_270M.name, key)

    def smart_turn(self) -> Any:
        """pipecat's bundled Smart Turn v3 end-of-turn model (ONNX, inside pipecat-ai)."""
        return self._load_handed_in(SMART_TURN_V3.name, "smart-turn-v3")

    def loaded(self) -> list[str]:
        return sorted(self._loaded)

    def _load_handed_in(self, model: str, key: str) -> Any:
        load = self.loaders.get(model)
        if load is None:
            raise ModelNotAvailable(
                f"no loader for {model!r}: build the registry with "
                "voice_agent.model_loaders.model_registry(settings)"
            )
        return self.load_once(key, lambda: load(self.settings))
