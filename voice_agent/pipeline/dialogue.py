"""Dialogue stage: transcript in → events, spoken reply (sentence by sentence), call actions."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    EndTaskFrame,
    Frame,
    TranscriptionFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.config import LanguageSettings
from voice_agent.events import BotReply, CallerTurn, IntentDetected, TransferRequested
from voice_agent.nlu.baseline import Understander
from voice_agent.nlu.policy import DialogueContext, DialoguePolicy
from voice_agent.pipeline.call_state import CallState, TurnTimer
from voice_agent.pipeline.stt import SegmentResult
from voice_agent.pipeline.whisper_turn import TurnTranscript


class DialogueProcessor(FrameProcessor):
    """Understands each caller turn and speaks the policy's reply in the call's language."""

    def __init__(
        self, *, understander: Understander, policy: DialoguePolicy,
        languages: LanguageSettings, state: CallState, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._understander = understander
        self._policy = policy
        self._languages = languages
        self._state = state
        self._ctx = DialogueContext()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._handle_turn(frame)
        else:
            await self.push_frame(frame, direction)

    def _reply_language(self, turn: TurnTranscript | None) -> str:
        """The call's language after this turn: the per-call policy (pipeline/language.py)
        switches on clear evidence only, never on one short or unsure turn."""
        if turn is not None:
            self._state.language_policy.observe_turn(
                turn.language, turn.language_probability, self._state.last_turn_audio_s
            )
        return self._state.language

    async def _handle_turn(self, frame: TranscriptionFrame) -> None:
        state = self._state
        state.turn += 1
        result = frame.result if isinstance(frame.result, SegmentResult) else None
        turn = result.transcript if result else None
        timer = result.timer if result else TurnTimer()
        timer.turn = state.turn
        state.language = self._reply_language(turn)
        state.publish(CallerTurn(
            call_id=state.call_id, turn=state.turn, transcript=frame.text,
            language=turn.language if turn else state.language,
            language_probability=round(turn.language_probability, 4) if turn else 1.0,
            audio_s=round(state.last_turn_audio_s, 3),
            stt_s=round(turn.seconds, 3) if turn else 0.0,
        ))
        # off the event loop: the model takes tens of ms, other calls' audio keeps flowing
        understood = await asyncio.to_thread(
            self._understander.understand, frame.text, state.language
        )
        reply = self._policy.respond(understood, self._ctx)
        if "switch_language" in reply.actions:  # asked for: at once
            state.language_policy.switch(reply.language, "request")
        timer.mark("reply_ready")
        state.reply_timer = timer
        state.publish(IntentDetected(
            call_id=state.call_id, turn=state.turn, intent=understood.intent,
            confidence=understood.confidence, slots=understood.slots,
            engine=self._understander.name, sentiment=understood.sentiment,
            sentiment_confidence=understood.sentiment_confidence,
        ))
        state.publish(BotReply(
            call_id=state.call_id, turn=state.turn, text=reply.text, language=reply.language,
        ))
        for sentence in reply.sentences:
            await self.push_frame(TTSSpeakFrame(sentence))
        if "transfer" in reply.actions:
            state.publish(TransferRequested(call_id=state.call_id, reason=understood.intent))
        if "end_call" in reply.actions:
            state.end_reason = "agent_goodbye"
            # Upstream EndTaskFrame: the task ends after the farewell queued above has played.
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)
