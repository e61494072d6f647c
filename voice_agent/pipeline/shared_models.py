"""The models every call's pipeline shares, loaded once per process.

A per-call stage holds a handle to one of these, never its own copy: Whisper (through the
`Transcriber`), the understanding model, the voices (`Synthesizer`) and the knowledge base.
Warm-up loads them and pre-synthesises the greetings before the first call; the fixed answers
are synthesised in the background while calls go on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from loguru import logger

from voice_agent.audio import PHONE_RATE
from voice_agent.config import Settings
from voice_agent.kb import KnowledgeBase, configured_knowledge_base
from voice_agent.model_loaders import model_registry
from voice_agent.models import ModelRegistry
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.numbers import spelled_numbers
from voice_agent.nlu.policy import DialoguePolicy, speech_chunks
from voice_agent.nlu.understanding import Understander
from voice_agent.pipeline.transcriber import Transcriber, WhisperTranscriber
from voice_agent.speech import Synthesizer


def make_understander(settings: Settings, registry: ModelRegistry, kb: KnowledgeBase):
    """The configured understanding engine (the fine-tuned model loads once per process)."""
    if settings.dialogue.engine == "baseline":
        return BaselineUnderstander(kb)
    from voice_agent.nlu.finetuned import FineTunedUnderstander

    return FineTunedUnderstander(registry.gemma_encoder())


@dataclass
class SharedModels:
    """Loaded once per process, shared by every call."""

    settings: Settings
    registry: ModelRegistry
    kb: KnowledgeBase
    understander: Understander
    synthesizer: Synthesizer
    # speech to text; Whisper from the registry unless a test scripts its own
    transcriber_override: Transcriber | None = None
    _transcriber: Transcriber | None = field(default=None, repr=False)
    _precache: threading.Thread | None = field(default=None, repr=False)
    _precache_stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def load(cls, settings: Settings) -> SharedModels:
        registry = model_registry(settings)
        kb = configured_knowledge_base(settings)
        return cls(
            settings=settings, registry=registry, kb=kb,
            understander=make_understander(settings, registry, kb),
            synthesizer=Synthesizer(settings.tts, registry),
        )

    def with_fresh_knowledge_base(self) -> SharedModels:
        """The same loaded models over a freshly loaded knowledge base: the order table a call
        changes (a cancellation) starts from the agent folder again — test isolation."""
        kb = configured_knowledge_base(self.settings)
        return replace(self.with_settings(self.settings), kb=kb,
                       understander=make_understander(self.settings, self.registry, kb))

    def with_settings(self, settings: Settings) -> SharedModels:
        """The same loaded models under other thresholds (a bench comparing configurations)."""
        return replace(self, settings=settings, _transcriber=None, _precache=None,
                       _precache_stop=threading.Event())

    @property
    def transcriber(self) -> Transcriber:
        if self.transcriber_override is not None:
            return self.transcriber_override
        if self._transcriber is None:
            self._transcriber = WhisperTranscriber(self.registry.whisper(), self.settings.stt)
        return self._transcriber

    def smart_turn(self):
        """The end-of-turn model, when the config asks for it (else None: the VAD decides)."""
        return self.registry.smart_turn() if self.settings.turn.detector == "smart_turn" else None

    def dialogue_policy(self) -> DialoguePolicy:
        """A fresh policy for one call (it keeps the call's unclear-turn count)."""
        d = self.settings.dialogue
        threshold = (d.baseline_min_confidence if self.understander.name == "baseline"
                     else d.min_confidence)
        return DialoguePolicy(self.kb, threshold, d.low_confidence_transfer_after)

    def warm_up(self) -> None:
        """Load the models and pre-synthesise every language's greeting before the first call."""
        _ = self.transcriber
        self.smart_turn()
        for lang in self.settings.languages.allowed:
            spelled_numbers(lang)  # ~0.3 s per language, not during a caller's first turn
        for lang in self.settings.languages.allowed:
            self.greeting_audio(lang)

    def start_precache(self) -> None:
        """Synthesise the fixed answers in the background (~20 s on 2 cores); calls go on."""
        if self.settings.tts.precache_answers and self._precache is None:
            self._precache_stop.clear()
            self._precache = threading.Thread(target=self._precache_all, name="tts-precache")
            self._precache.start()

    def stop_precache(self) -> None:
        """Stop between two sentences (a native thread must not outlive the process)."""
        self._precache_stop.set()
        if self._precache is not None:
            self._precache.join()
            self._precache = None
        logger.info(f"models ready: {', '.join(self.registry.loaded())}")

    def _precache_all(self) -> None:
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

    def greeting_text(self, language: str) -> str:
        return self.kb.pack(language).phrase("greeting")

    def greeting_audio(self, language: str) -> bytes:
        return self.synthesizer.phrase(self.greeting_text(language), language, PHONE_RATE)
