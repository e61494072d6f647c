"""The call factory: every edge turns a new phone call into a `Call` here.

An edge asks for a call (`new_call`, with what it is and what it can do), wraps its wire in a
pipecat transport, and hands both to `run`: the factory builds the call's pipeline around the
process-wide models (pipeline/build.py), registers it in the one call registry, greets the
caller and publishes the call's start and end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from voice_agent.audio import PHONE_RATE
from voice_agent.calls import Call, CallRegistry
from voice_agent.config import Settings
from voice_agent.events import CallEnded, CallStarted, EventBus
from voice_agent.pipeline.build import build_call_worker
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.edge import EdgeCapabilities
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.frames import SentenceEndFrame
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.listen import ListenHub
from voice_agent.pipeline.playout import Playout
from voice_agent.pipeline.shared_models import SharedModels


@dataclass
class CallFactory:
    """Builds and runs calls; owns nothing per call beyond the registry entry."""

    models: SharedModels
    bus: EventBus
    calls: CallRegistry
    listen: ListenHub = field(default_factory=ListenHub)  # audio copies for the operator

    @classmethod
    def load(cls, settings: Settings, bus: EventBus | None = None) -> CallFactory:
        return cls.around(SharedModels.load(settings), bus or EventBus())

    @classmethod
    def around(cls, models: SharedModels, bus: EventBus) -> CallFactory:
        """A factory with its own registry and listen hub over already loaded models."""
        return cls(models=models, bus=bus, calls=CallRegistry(models.settings.server.max_calls))

    @property
    def settings(self) -> Settings:
        return self.models.settings

    def with_settings(self, settings: Settings) -> CallFactory:
        """The same models under other settings, with its own registry (tests, benches)."""
        return CallFactory.around(self.models.with_settings(settings), self.bus)

    def new_call(
        self, edge: EdgeCapabilities, language: str | None = None, **identity,
    ) -> Call:
        """A call before its pipeline exists: its state (ids, language) and the per-call
        collaborators its stages and its edge share, set up for what the edge can do.
        `identity`: caller, callee, provider_call_id, sip_headers."""
        langs = self.settings.languages
        if language not in langs.allowed:  # not asked for (?lang=, --lang): by dialled number
            language = langs.by_number.get(str(identity.get("callee") or ""))
        state = CallState(
            bus=self.bus, language=language if language in langs.allowed else langs.default,
            allowed_languages=list(langs.allowed), transport=edge.name, **identity,
        )
        return Call(
            state=state,
            playout=Playout(
                lead_s=self.settings.bargein.playout_lead_secs,
                clears=self.settings.bargein.clear_on_pause and edge.takes_back_unplayed,
            ),
            language_policy=LanguagePolicy(state, langs),  # hysteresis from config
            edge_playback=EdgePlayback(),
        )

    def build(self, call: Call, transport: BaseTransport) -> Call:
        """Build the call's pipeline on the edge's transport (not started yet)."""
        call.worker = build_call_worker(transport, self.models, self.listen, call)
        return call

    async def run(self, call: Call) -> None:
        """Run a built call to its end: registered, greeting first, events around it.
        Raises LinesBusy (before anything is published) when every line is taken."""
        state, worker = call.state, call.worker
        assert worker is not None, "build the call before running it"
        self.calls.add(call)
        try:
            state.publish(CallStarted(
                call_id=state.call_id, transport=state.transport, caller=state.caller,
                callee=state.callee, language=state.language,
                provider_call_id=state.provider_call_id, sip_headers=dict(state.sip_headers),
            ))
            await worker.queue_frames([
                OutputAudioRawFrame(self.models.greeting_audio(state.language), PHONE_RATE, 1),
                SentenceEndFrame(0, self.models.greeting_text(state.language), last=True),
            ])
            runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
            await runner.add_workers(worker)
            await runner.run()
        finally:
            self.calls.remove(state.call_id)
            state.publish(CallEnded(
                call_id=state.call_id, reason=state.end_reason or "caller_hangup",
                duration_s=round(state.duration_s, 3),
            ))
