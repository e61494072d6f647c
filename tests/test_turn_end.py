"""End of turn: a caller pausing mid-sentence, with the VAD alone and with the Smart Turn gate.

Real models: Whisper, the understanding model, and pipecat's bundled Smart Turn v3 (ONNX)."""

import pytest

from voice_agent.audio import phone_line_pcm
from voice_agent.pipeline.factory import CallFactory
from voice_agent.pipeline.turn_end import SmartTurnModel
from voice_agent.simulate import simulate_call
from voice_agent.testing.fixtures import bargein_wav

pytestmark = pytest.mark.slow


def resources_with(res, **turn) -> CallFactory:
    settings = res.settings.model_copy(
        update={"turn": res.settings.turn.model_copy(update=turn)})
    return CallFactory.around(res.models.with_settings(settings), type(res.bus)())


def test_the_bundled_smart_turn_model_scores_phone_audio(resources):
    model = resources.models.registry.smart_turn()
    assert isinstance(model, SmartTurnModel)
    assert resources.models.registry.smart_turn() is model  # loaded once per process
    pcm = phone_line_pcm(bargein_wav("en_pause_order"))
    assert 0.0 <= model.completion_probability(pcm) <= 1.0


async def test_with_the_vad_alone_a_long_mid_sentence_pause_splits_the_turn(fresh_resources):
    result = await simulate_call(fresh_resources, [bargein_wav("en_pause_order")])
    assert len(result.turns) == 2  # "I would like to check on my order" | "number 1001"


async def test_a_held_turn_stays_one_turn_when_the_caller_goes_on(fresh_resources):
    # threshold above 1: the gate holds every VAD stop as "unfinished" (up to max_pause_secs),
    # so a caller who goes on after 1.2 s of silence is still in the same turn
    res = resources_with(fresh_resources, detector="smart_turn", smart_turn_threshold=1.01,
                         max_pause_secs=2.0)
    result = await simulate_call(res, [bargein_wav("en_pause_order")])
    assert len(result.turns) == 1
    turn = result.turns[0]
    assert "order" in turn.transcript.lower() and turn.slots.get("order_number") == "1001"
    assert turn.latency_s is not None and turn.latency_s >= 2.0  # the held pause is paid for
