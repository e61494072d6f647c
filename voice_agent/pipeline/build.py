"""The one place a call's pipeline is built, and the process-wide resources every call shares.

caller audio → transport → VAD → turn-end tap → STT → dialogue → TTS → transport → audio-out tap
Every telephony edge (Twilio WebSocket, SIP/RTP, WAV replay) hands its transport to `run_call`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from loguru import logger
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from voice_agent.audio import PHONE_RATE
from voice_agent.config import Settings
from voice_agent.events import CallEnded, CallStarted, EventBus
from voice_agent.kb import KnowledgeBase, configured_knowledge_base
from voice_agent.models import ModelRegistry
from voice_agent.nlu.baseline import BaselineUnderstander, Understander
from voice_agent.nlu.numbers import spelled_numbers
from voice_agent.nlu.policy import DialoguePolicy, speech_chunks
from voice_agent.pipeline.listen import ListenHub, ListenTap
from voice_agent.pipeline.bargein import BargeInDetector
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.dialogue import DialogueProcessor
from voice_agent.pipeline.frames import SentenceEndFrame
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.latency import AudioOutTap, TurnEndTap
from voice_agent.pipeline.playout import Playout, PlayoutController
from voice_agent.pipeline.stt import SharedWhisperSTTService
from voice_agent.pipeline.tts import CallTTSService
from voice_agent.pipeline.turn_end import TurnCompletionGate
from voice_agent.pipeline.vad import make_vad_analyzer
from voice_agent.speech import Synthesizer


def make_understander(settings: Settings, registry: ModelRegistry, kb: KnowledgeBase):
    """The configured understanding engine (the fine-tuned model loads once per process)."""
    if settings.dialogue.engine == "baseline":
        return BaselineUnderstander(kb)
    from voice_agent.nlu.finetuned import FineTunedUnderstander

    return FineTunedUnderstander(registry.gemma_encoder())


@dataclass
class SharedResources:
    """Loaded once per process, shared by every call."""

    settings: Settings
    bus: EventBus
    registry: ModelRegistry
    kb: KnowledgeBase
    understander: Understander
    synthesizer: Synthesizer
    # live calls by id, for the operator's hang-up; audio copies for the operator's listen-in
    live_calls: dict[str, tuple[PipelineWorker, CallState]] = field(default_factory=dict)
    listen: ListenHub = field(default_factory=ListenHub)
    _precache: threading.Thread | None = None
    _precache_stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def load(cls, settings: Settings, bus: EventBus | None = None) -> SharedResources:
        registry = ModelRegistry(settings)
        kb = configured_knowledge_base(settings)
        return cls(
            settings=settings, bus=bus or EventBus(), registry=registry, kb=kb,
            understander=make_understander(settings, registry, kb),
            synthesizer=Synthesizer(settings.tts, registry),
        )

    def new_policy(self) -> DialoguePolicy:
        d = self.settings.dialogue
        threshold = (d.baseline_min_confidence if self.understander.name == "baseline"
                     else d.min_confidence)
        return DialoguePolicy(self.kb, threshold, d.low_confidence_transfer_after)

    def warm_up(self) -> None:
        """Load the models and pre-synthesise every language's greeting before the first call."""
        self.registry.whisper()
        if self.settings.turn.detector == "smart_turn":
            self.registry.smart_turn()
        for lang in self.settings.languages.allowed:
            spelled_numbers(lang)  # ~0.3 s per language, not during a caller's first turn
        for lang in self.settings.languages.allowed:
            self.greeting_audio(lang)

    def start_precache(self) -> None:
        """Synthesise the fixed answers in the background (~20 s on 2 cores); calls go on."""
        if self.settings.tts.precache_answers and self._precache is None:
            self._precache_stop.clear()
            self._precache = threading.Thread(target=self.precache_all, name="tts-precache")
            self._precache.start()

    def stop_precache(self) -> None:
        """Stop between two sentences (a native thread must not outlive the process)."""
        self._precache_stop.set()
        if self._precache is not None:
            self._precache.join()
            self._precache = None
        logger.info(f"models ready: {', '.join(self.registry.loaded())}")

    def precache_all(self) -> None:
        for lang in self.settings.languages.allowed:
            if self._precache_stop.is_set():
                return
            self.precache_answers(lang)
        logger.info(f"TTS cache holds {self.synthesizer.cache_size} fixed sentences")

    def precache_answers(self, language: str) -> None:
        """Synthesise every fixed sentence of the knowledge base once: replies become cache hits."""
        pack = self.kb.pack(language)
        for text in [*pack.phrases.values(), *pack.answers.values()]:
            if "{" in text:
                continue  # templates are filled per call
            for chunk in speech_chunks(text):
                if self._precache_stop.is_set():
                    return
                self.synthesizer.phrase(chunk, language, PHONE_RATE)

    def greeting_audio(self, language: str) -> bytes:
        text = self.kb.pack(language).phrase("greeting")
        return self.synthesizer.phrase(text, language, PHONE_RATE)

    def new_call_state(self, transport: str, language: str | None = None, **kw) -> CallState:
        langs = self.settings.languages
        if language not in langs.allowed:  # not asked for (?lang=, --lang): by dialled number
            language = langs.by_number.get(str(kw.get("callee") or ""))
        lang = language if language in langs.allowed else None
        state = CallState(
            playout=Playout(
                lead_s=self.settings.bargein.playout_lead_secs,
                # only Twilio takes unplayed audio back; RTP and replay play what they were sent
                clears=self.settings.bargein.clear_on_pause and transport == "twilio",
            ),
            bus=self.bus, language=lang or self.settings.languages.default,
            allowed_languages=list(self.settings.languages.allowed), transport=transport, **kw,
        )
        state.language_policy = LanguagePolicy(state, langs)  # hysteresis from config
        return state


def build_call_pipeline(
    transport: BaseTransport, res: SharedResources, state: CallState
) -> Pipeline:
    """One call's pipeline: per-call processors around the process-wide models."""
    s = res.settings
    smart = s.turn.detector == "smart_turn"
    vad_settings = (s.vad.model_copy(update={"stop_secs": s.turn.smart_turn_vad_stop_secs})
                    if smart else s.vad)
    vad = make_vad_analyzer(vad_settings)
    return Pipeline([
        transport.input(),
        ListenTap(hub=res.listen, call_id=state.call_id, side="caller"),
        VADProcessor(vad_analyzer=vad),
        BargeInDetector(state=state, settings=s.bargein, vad_analyzer=vad),
        TurnCompletionGate(settings=s.turn, model=res.registry.smart_turn() if smart else None),
        TurnEndTap(state=state, vad_analyzer=vad),
        SharedWhisperSTTService(model=res.registry.whisper(), settings=s.stt, state=state),
        DialogueProcessor(
            understander=res.understander,
            policy=res.new_policy(),
            languages=s.languages, state=state, kb=res.kb, dtmf=s.dtmf,
        ),
        CallTTSService(synthesizer=res.synthesizer, state=state),
        PlayoutController(state=state),
        transport.output(),
        AudioOutTap(state=state),
        ListenTap(hub=res.listen, call_id=state.call_id, side="bot"),
    ])


def build_call_task(
    transport: BaseTransport, res: SharedResources, state: CallState
) -> PipelineWorker:
    task = PipelineWorker(
        build_call_pipeline(transport, res, state),
        params=PipelineParams(
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            enable_metrics=False,
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
    return task


async def run_call(task: PipelineWorker, res: SharedResources, state: CallState) -> None:
    """Run a built call to its end: greeting first, call events around it."""
    state.publish(CallStarted(
        call_id=state.call_id, transport=state.transport, caller=state.caller,
        callee=state.callee, language=state.language,
        provider_call_id=state.provider_call_id, sip_headers=dict(state.sip_headers),
    ))
    greeting = res.greeting_audio(state.language)
    await task.queue_frames([
        OutputAudioRawFrame(greeting, PHONE_RATE, 1),
        SentenceEndFrame(0, res.kb.pack(state.language).phrase("greeting"), last=True),
    ])
    res.live_calls[state.call_id] = (task, state)
    try:
        runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
        await runner.add_workers(task)
        await runner.run()
    finally:
        res.live_calls.pop(state.call_id, None)
        state.publish(CallEnded(
            call_id=state.call_id, reason=state.end_reason or "caller_hangup",
            duration_s=round(state.duration_s, 3),
        ))
