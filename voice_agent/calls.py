"""The one registry of this process's live calls.

Every edge (Twilio, SIP, replay) registers its calls here through the call factory, and every
reader asks here: admission (`server.max_calls` counts calls of every edge), the operator's
hang-up and listen-in, `/health` and the live-calls gauge. Calls of other workers are known
only from their events (the operator page's board), never from this registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from loguru import logger
from pipecat.pipeline.worker import PipelineWorker

from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.playout import Playout


class LinesBusy(Exception):
    """Every line is taken: the edge refuses the call (Twilio busy, SIP 486, WebSocket 1013)."""


@dataclass
class Call:
    """One live call: who it is (state), the per-call collaborators its stages share (made by
    the call factory, handed to the stages that use them) and the pipeline that runs it."""

    state: CallState
    playout: Playout  # the bot's audio: the barge-in detector pauses it, the playout plays it
    language_policy: LanguagePolicy  # STT's hint, the dialogue's switches
    edge_playback: EdgePlayback  # what the edge wrote and cleared, for the playout
    worker: PipelineWorker | None = None  # set once the pipeline is built

    @property
    def call_id(self) -> str:
        return self.state.call_id

    async def hang_up(self, reason: str) -> None:
        """End the call from our side; the edge hangs up the line as the pipeline stops."""
        self.state.end_reason = reason
        if self.worker is not None:
            await self.worker.cancel()


@dataclass
class CallRegistry:
    """Live calls of this process by call id, and the admission limit over all of them."""

    max_calls: int
    _calls: dict[str, Call] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return len(self._calls) >= self.max_calls

    def add(self, call: Call) -> None:
        """Admit a call, or raise LinesBusy when `max_calls` calls are already live."""
        if self.full:
            raise LinesBusy(f"all {self.max_calls} lines busy")
        self._calls[call.call_id] = call

    def remove(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    async def hang_up(self, call_id: str, reason: str) -> bool:
        """End a call of this process; False if it does not run here (or has ended)."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        logger.info(f"{call_id}: hanging up ({reason})")
        await call.hang_up(reason)
        return True
