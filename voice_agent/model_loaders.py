"""Which code loads the models whose loaders live above the model registry's floor.

Gemma's encoder is built in `nlu`, Smart Turn's session in the pipeline; the registry only
caches them once per process. Composition roots (the shared call resources, the CLI) build
their registry here. The imports wait until a model is first asked for, so a process that never
uses one never pays for its libraries.
"""

from __future__ import annotations

from typing import Any

from voice_agent.config import Settings
from voice_agent.models import GEMMA_3_270M, SMART_TURN_V3, ModelLoader, ModelRegistry


def _gemma_encoder(settings: Settings) -> Any:
    from voice_agent.nlu.gemma import load_encoder

    return load_encoder(settings)


def _smart_turn(settings: Settings) -> Any:
    from voice_agent.audio import PHONE_RATE
    from voice_agent.pipeline.turn_end import SmartTurnModel

    return SmartTurnModel(PHONE_RATE)


MODEL_LOADERS: dict[str, ModelLoader] = {
    GEMMA_3_270M.name: _gemma_encoder,
    SMART_TURN_V3.name: _smart_turn,
}


def model_registry(settings: Settings) -> ModelRegistry:
    """The process's model registry, with the Gemma and Smart Turn loaders handed in."""
    return ModelRegistry(settings, loaders=MODEL_LOADERS)
