"""Models: the catalogue of shipped weights (ground floor) and the registry that loads each once.

Nothing here downloads anything; every call holds a handle from the registry, none loads its own
copy.
"""

from voice_agent.models.catalogue import (
    CATALOGUE,
    ESPEAK_NG,
    GEMMA_3_270M,
    PIPER_JOE_EN,
    SILERO_VAD,
    SMART_TURN_V3,
    WHISPER_BASE,
    ConvertedModel,
    ModelNotAvailable,
    PackagedFile,
    ShippedModel,
    SplitModel,
    cache_dir,
    model_size,
    package_data,
)
from voice_agent.models.registry import ModelLoader, ModelRegistry

__all__ = [
    "CATALOGUE",
    "ESPEAK_NG",
    "GEMMA_3_270M",
    "PIPER_JOE_EN",
    "SILERO_VAD",
    "SMART_TURN_V3",
    "WHISPER_BASE",
    "ConvertedModel",
    "ModelLoader",
    "ModelNotAvailable",
    "ModelRegistry",
    "PackagedFile",
    "ShippedModel",
    "SplitModel",
    "cache_dir",
    "model_size",
    "package_data",
]
