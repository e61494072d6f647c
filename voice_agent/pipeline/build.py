"""The one place a call's pipeline is built: every stage, in the order a call flows.

caller audio → edge transport → listen tap → VAD → barge-in → turn end → turn-end tap → STT →
dialogue → TTS → playout → edge transport → audio-out tap → listen tap
Every telephony edge (Twilio WebSocket, SIP/RTP, WAV replay) hands its transport to the call
factory (pipeline/factory.py), which builds the call here.
"""

from __future__ import annotations

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.transports.base_transport import BaseTransport

from voice_agent.audio import PHONE_RATE
from voice_agent.pipeline.bargein import BargeInDetector
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.dialogue import DialogueProcessor
from voice_agent.pipeline.latency import AudioOutTap, TurnEndTap
from voice_agent.pipeline.listen import ListenHub, ListenTap
from voice_agent.pipeline.playout import PlayoutController
from voice_agent.pipeline.shared_models import SharedModels
from voice_agent.pipeline.stt import SharedWhisperSTTService
from voice_agent.pipeline.tts import CallTTSService
from voice_agent.pipeline.turn_end import TurnCompletionGate
from voice_agent.pipeline.vad import make_vad_analyzer


def build_call_pipeline(
    transport: BaseTransport, models: SharedModels, listen: ListenHub, state: CallState,
) -> Pipeline:
    """One call's pipeline: per-call processors around the process-wide models."""
    s = models.settings
    smart = s.turn.detector == "smart_turn"
    vad_settings = (s.vad.model_copy(update={"stop_secs": s.turn.smart_turn_vad_stop_secs})
                    if smart else s.vad)
    vad = make_vad_analyzer(vad_settings)
    return Pipeline([
        transport.input(),
        ListenTap(hub=listen, call_id=state.call_id, side="caller"),
        VADProcessor(vad_analyzer=vad),
        BargeInDetector(state=state, settings=s.bargein, vad_analyzer=vad),
        TurnCompletionGate(settings=s.turn, model=models.smart_turn()),
        TurnEndTap(state=state, vad_analyzer=vad),
        SharedWhisperSTTService(transcriber=models.transcriber, settings=s.stt, state=state),
        DialogueProcessor(
            understander=models.understander,
            policy=models.dialogue_policy(),
            languages=s.languages, state=state, kb=models.kb, dtmf=s.dtmf,
        ),
        CallTTSService(synthesizer=models.synthesizer, state=state),
        PlayoutController(state=state),
        transport.output(),
        AudioOutTap(state=state),
        ListenTap(hub=listen, call_id=state.call_id, side="bot"),
    ])


def build_call_worker(
    transport: BaseTransport, models: SharedModels, listen: ListenHub, state: CallState,
) -> PipelineWorker:
    """The call's pipeline as a pipecat worker at the phone line's rate, not yet started."""
    return PipelineWorker(
        build_call_pipeline(transport, models, listen, state),
        params=PipelineParams(
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            enable_metrics=False,
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
