"""Fast call scripts: a caller's timeline over the real call, with only the models scripted.

Everything a call runs is real — the server (webhook, stream token, media WebSocket), the
Twilio serializer with its marks and `clear`, VAD, voicing, barge-in, turn end, the language
policy, the dialogue policy and the nearest-example understanding, the playout — except the two
heavy models: speech to text is a `ScriptedTranscriber` (it knows each line by its pitch) and
the voice a `ToneSynthesizer`. The caller is a `SimulatedCall` on a real-time line, so a script
reads like what happens on the phone:

    async with call_script(models) as script:
        await script.caller_says("What are your opening hours?")
        await script.agent_answers()
        await script.caller_says("Where is my order 1002?", at=0.6)  # 0.6 s into the answer
        assert script.one(BargeIn).cause == "speech"
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from voice_agent.audio import PHONE_FRAME_BYTES, is_silent
from voice_agent.config import Settings
from voice_agent.events import BotReply, CallEvent, CallStarted, EventBus, EventRecorder
from voice_agent.kb import KnowledgeBase, configured_knowledge_base
from voice_agent.model_loaders import model_registry
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.understanding import Understander
from voice_agent.pipeline.factory import CallFactory
from voice_agent.pipeline.shared_models import SharedModels
from voice_agent.server import running_server
from voice_agent.testing.scripted_stt import ScriptedLine, ScriptedTranscriber
from voice_agent.testing.tone_tts import ToneSynthesizer
from voice_agent.testing.twilio_line import SimulatedCall
from voice_agent.testing.voices import cough

E = TypeVar("E", bound=CallEvent)
FRAME_BYTES = PHONE_FRAME_BYTES * 2  # 20 ms of 8 kHz PCM
FRAME_S = 0.02


def fast_settings(settings: Settings) -> Settings:
    """Production thresholds for everything under test, quicker where only time is spent: a
    0.3 s end of turn (the default 0.5 s is tuned for real callers' pauses, which scripted
    lines do not have), the nearest-example understanding, no call records, no pre-synthesis."""
    def section(name: str, **values: Any):
        return getattr(settings, name).model_copy(update=values)

    return settings.model_copy(update={
        "vad": section("vad", stop_secs=0.3),
        "dialogue": section("dialogue", engine="baseline"),
        "storage": section("storage", enabled=False),
        "tts": section("tts", precache_answers=False),
    })


def scripted_models(
    settings: Settings, kb: KnowledgeBase | None = None,
    understander: Understander | None = None,
) -> SharedModels:
    """SharedModels with a fresh scripted transcriber and tone voice around a real knowledge
    base and the baseline understanding (0.1 s to build, stateless: pass one to share it; the
    fine-tuned model takes ~11 s to load and ~0.5 s a turn on 2 cores: too slow here)."""
    kb = kb or configured_knowledge_base(settings)
    return SharedModels(
        settings=settings, registry=model_registry(settings), kb=kb,
        understander=understander or BaselineUnderstander(kb), synthesizer=ToneSynthesizer(),
        transcriber_override=ScriptedTranscriber(),
    )


class CallScript:
    """One scripted call in progress: the caller's actions, and the call's events to assert on."""

    def __init__(self, call: SimulatedCall, events: EventRecorder, models: SharedModels) -> None:
        self.call = call
        self.events = events
        self.models = models
        self.transcriber: ScriptedTranscriber = models.transcriber_override  # type: ignore
        self.voice: ToneSynthesizer = models.synthesizer  # type: ignore
        self._outgoing: deque[tuple[bytes, asyncio.Future | None]] = deque()
        self._replies_taken = 0
        self._line_task: asyncio.Task | None = None

    # --- the line ---

    def start(self) -> None:
        self._line_task = asyncio.create_task(self._keep_line())

    async def stop(self) -> None:
        if self._line_task is not None:
            self._line_task.cancel()
            await asyncio.gather(self._line_task, return_exceptions=True)

    async def _keep_line(self) -> None:
        """Twilio sends a media frame every 20 ms, silence included: the caller's speech is
        queued into that stream, never sent in a burst."""
        silent = bytes(FRAME_BYTES)
        next_at = time.monotonic()
        while not self.call.closed:
            frame, spoken = self._outgoing.popleft() if self._outgoing else (silent, None)
            await self.call.send_frame(frame)
            if spoken is not None and not spoken.done():
                spoken.set_result(time.monotonic())
            next_at = max(next_at + FRAME_S, time.monotonic() - 0.1)  # a stall: catch up a bit
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _say(self, pcm16: bytes) -> float:
        """Queue audio on the line; returns (monotonic) when its last frame went out."""
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        frames = [pcm16[i : i + FRAME_BYTES] for i in range(0, len(pcm16), FRAME_BYTES)]
        for i, frame in enumerate(frames):
            self._outgoing.append((frame, done if i == len(frames) - 1 else None))
        return await done

    # --- the caller's timeline ---

    async def caller_says(
        self, text: str, lang: str = "en", *, at: float | None = None,
        seconds: float | None = None, sure: float = 0.97,
    ) -> ScriptedLine:
        """Say a line (at `at` seconds into the agent's current answer, if given); returns
        once it has been said. `sure`: how sure Whisper would be of its language."""
        line = self.transcriber.line(text, lang, seconds=seconds, sure=sure)
        if at is not None:
            await self.into_answer(at)
        await self._say(line.audio())
        return line

    async def coughs(self, *, at: float | None = None) -> None:
        if at is not None:
            await self.into_answer(at)
        await self._say(cough())

    async def press(self, digit: str, *, at: float | None = None) -> None:
        if at is not None:
            await self.into_answer(at)
        await self.call.send_dtmf(digit)

    async def quiet(self, seconds: float) -> None:
        """The caller listens (the line carries silence meanwhile)."""
        await asyncio.sleep(seconds)

    async def hang_up(self) -> None:
        await self.call.stop()

    def answer_started_at(self) -> float | None:
        """When the caller began to hear the agent's latest answer (monotonic)."""
        replies = self.of(BotReply)
        if not replies:
            return None
        since = replies[-1].at
        return next((start for start, pcm in list(self.call.played)
                     if start >= since and not is_silent(pcm)), None)

    async def into_answer(self, seconds: float, timeout: float = 10.0) -> None:
        """Wait until the agent's latest answer has been playing for `seconds`."""
        deadline = time.monotonic() + timeout
        while (start := self.answer_started_at()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the agent did not start answering")
            await asyncio.sleep(0.01)
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))

    # --- what the agent did ---

    @property
    def call_id(self) -> str:
        started = [e for e in self.events.of(CallStarted)
                   if e.provider_call_id == self.call.call_sid]
        assert started, "the call has not started"
        return started[0].call_id

    def of(self, type_: type[E]) -> list[E]:
        """This call's events of a type, in order."""
        started = [e for e in self.events.of(CallStarted)
                   if e.provider_call_id == self.call.call_sid]
        return self.events.of(type_, started[0].call_id) if started else []

    def one(self, type_: type[E]) -> E:
        found = self.of(type_)
        assert len(found) == 1, f"expected one {type_.__name__}, got {found}"
        return found[0]

    async def wait_for(self, type_: type[E], count: int = 1, timeout: float = 10.0,
                       **fields: Any) -> list[E]:
        """Wait until this call has `count` events of a type (with these field values)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.of(type_)
                     if all(getattr(e, k) == v for k, v in fields.items())]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {count} {type_.__name__} {fields}; "
                                   f"events: {[e.type for e in self.of(CallEvent)]}")
            await asyncio.sleep(0.01)

    async def agent_answers(self, timeout: float = 10.0) -> BotReply:
        """The agent's next reply (each reply is returned once, in order)."""
        self._replies_taken += 1
        return (await self.wait_for(BotReply, self._replies_taken, timeout))[-1]


@asynccontextmanager
async def call_script(
    models: SharedModels, *, language: str | None = None, echo_gain: float = 0.0,
    wait_for_greeting: bool = True,
) -> AsyncIterator[CallScript]:
    """A call on the real server, placed by the simulated Twilio; past its greeting unless
    told otherwise. `echo_gain`: the agent's voice leaks back into the caller's microphone."""
    from voice_agent.events import ReplyPlayed

    factory = CallFactory.around(models, EventBus())
    events = EventRecorder(factory.bus)
    settings = models.settings
    async with running_server(settings, factory) as (base, _):
        url = base.replace("http", "ws", 1) + settings.server.media_path
        params = {"lang": language} if language else {}
        async with SimulatedCall(url, params, auth_token=settings.twilio.auth_token,
                                 echo_gain=echo_gain) as call:
            script = CallScript(call, events, models)
            script.start()
            try:
                if wait_for_greeting:
                    await script.wait_for(ReplyPlayed, turn=0)
                yield script
            finally:
                await script.stop()
