"""The one place a call's pipeline is built: every stage, in the order a call flows.

caller audio → edge transport → listen tap → VAD → barge-in detector → turn end → turn-end tap →
STT → barge-in verdict → dialogue → TTS → playout → edge transport → audio-out tap → listen tap
Every telephony edge (Twilio WebSocket, SIP/RTP, WAV replay) hands its transport to the call
factory (pipeline/factory.py), which builds the call here. The per-call collaborators the
factory made (`Call`) go to the stages that use them, and to no other: the playout to the
barge-in detector and the playout controller, the language policy to STT and the dialogue, the
edge's playback reports to the playout controller; the VAD analyzer, made here, to the VAD, the
barge-in detector and the turn-end tap; the detector itself to the verdict after STT.
"""

from __future__ import annotations

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.transports.base_transport import BaseTransport

from voice_agent.audio import PHONE_RATE
from voice_agent.calls import Call
from voice_agent.pipeline.bargein import BargeInDetector
from voice_agent.pipeline.bargein_verdict import BargeInVerdict
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
    transport: BaseTransport, models: SharedModels, listen: ListenHub, call: Call,
) -> Pipeline:
    """One call's pipeline: per-call processors around the process-wide models."""
    settings, state = models.settings, call.state
    smart = settings.turn.detector == "smart_turn"
    vad_settings = (
        settings.vad.model_copy(update={"stop_secs": settings.turn.smart_turn_vad_stop_secs})
        if smart else settings.vad
    )
    vad = make_vad_analyzer(vad_settings)
    bargein = BargeInDetector(
        state=state, playout=call.playout, settings=settings.bargein, vad_analyzer=vad,
    )
    return Pipeline([
        transport.input(),
        ListenTap(hub=listen, call_id=state.call_id, side="caller"),
        VADProcessor(vad_analyzer=vad),
        bargein,
        TurnCompletionGate(settings=settings.turn, model=models.smart_turn()),
        TurnEndTap(vad_analyzer=vad),
        SharedWhisperSTTService(
            transcriber=models.transcriber, settings=settings.stt, state=state,
            language_policy=call.language_policy,
        ),
        BargeInVerdict(detector=bargein),
        DialogueProcessor(
            understander=models.understander, policy=models.dialogue_policy(), state=state,
            language_policy=call.language_policy, kb=models.kb, dtmf=settings.dtmf,
        ),
        CallTTSService(synthesizer=models.synthesizer, state=state),
        PlayoutController(state=state, playout=call.playout, edge=call.edge_playback),
        transport.output(),
        AudioOutTap(state=state),
        ListenTap(hub=listen, call_id=state.call_id, side="bot"),
    ])


def build_call_worker(
    transport: BaseTransport, models: SharedModels, listen: ListenHub, call: Call,
) -> PipelineWorker:
    """The call's pipeline as a pipecat worker at the phone line's rate, not yet started."""
    return PipelineWorker(
        build_call_pipeline(transport, models, listen, call),
        params=PipelineParams(
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            enable_metrics=False,
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
