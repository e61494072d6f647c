"""Dialogue stage: transcript in → events, spoken reply (sentence by sentence), call actions.

Every transcript that reaches it is a caller turn (a sound over a paused answer was judged
before, by `BargeInVerdict`). What the caller heard of an answer they cut comes back from the
playout (`HeardReplyFrame`) and counts from the next turn on.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    EndTaskFrame,
    Frame,
    InputDTMFFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.config import DtmfSettings
from voice_agent.events import (
    BotReply,
    CallerTurn,
    DtmfPressed,
    IntentDetected,
    TransferRequested,
)
from voice_agent.kb import KnowledgeBase
from voice_agent.nlu.policy import DialogueContext, DialoguePolicy, Reply
from voice_agent.nlu.understanding import Understander
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.dtmf import dtmf_action, dtmf_reply
from voice_agent.pipeline.frames import HeardReplyFrame, ReplyStartedFrame, SentenceEndFrame
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.stt import SegmentResult
from voice_agent.pipeline.turn_timer import TurnTimer
from voice_agent.pipeline.whisper_turn import TurnTranscript


class DialogueProcessor(FrameProcessor):
    """Understands each caller turn and speaks the policy's reply in the call's language."""

    def __init__(
        self, *, understander: Understander, policy: DialoguePolicy, state: CallState,
        language_policy: LanguagePolicy, kb: KnowledgeBase, dtmf: DtmfSettings | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._kb = kb
        self._dtmf = dtmf or DtmfSettings()
        self._understander = understander
        self._policy = policy
        self._state = state
        self._language_policy = language_policy
        self._ctx = DialogueContext()
        self._heard: HeardReplyFrame | None = None  # the last answer cut, not yet counted

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, TranscriptionFrame) and downstream:
            await self._handle_turn(frame)
        elif isinstance(frame, InputDTMFFrame) and downstream:
            await self._handle_dtmf(frame.button.value)
        elif isinstance(frame, HeardReplyFrame):
            self._heard = frame
        else:
            await self.push_frame(frame, direction)

    def _remember_what_was_heard(self) -> None:
        """An answer cut by the caller counts only as far as they heard it. Applied as the next
        turn is answered, never in the middle of another turn's answer."""
        if self._heard is None:
            return
        heard, self._heard = self._heard, None
        self._ctx.truncate_bot_turn(heard.turn, heard.heard_text)

    async def _handle_dtmf(self, digit: str) -> None:
        state = self._state
        action = dtmf_action(digit, self._dtmf.actions)
        state.publish(DtmfPressed(call_id=state.call_id, digit=digit, action=action))
        self._remember_what_was_heard()
        reply = dtmf_reply(action, state.language, self._kb, self._ctx.last_bot_text(),
                           state.allowed_languages)
        if reply is None:
            return
        state.turn += 1
        await self._speak(reply, reason=f"dtmf:{digit}")

    def _reply_language(self, turn: TurnTranscript | None, audio_s: float) -> str:
        """The call's language after this turn: the per-call policy (pipeline/language.py)
        switches on clear evidence only, never on one short or unsure turn."""
        if turn is not None:
            self._language_policy.observe_turn(turn.language, turn.language_probability, audio_s)
        return self._state.language

    async def _handle_turn(self, frame: TranscriptionFrame) -> None:
        state = self._state
        state.turn += 1
        result = frame.result if isinstance(frame.result, SegmentResult) else None
        turn = result.transcript if result else None
        timer = result.timer if result else TurnTimer()
        audio_s = result.audio_s if result else 0.0
        timer.turn = state.turn
        state.language = self._reply_language(turn, audio_s)
        state.publish(CallerTurn(
            call_id=state.call_id, turn=state.turn, transcript=frame.text,
            language=turn.language if turn else state.language,
            language_probability=round(turn.language_probability, 4) if turn else 1.0,
            audio_s=round(audio_s, 3),
            stt_s=round(turn.seconds, 3) if turn else 0.0,
        ))
        # off the event loop: the model takes tens of ms, other calls' audio keeps flowing
        understood = await asyncio.to_thread(
            self._understander.understand, frame.text, state.language
        )
        self._remember_what_was_heard()
        # off the event loop too: an agent's action may wait on the company's HTTP API
        reply = await asyncio.to_thread(self._policy.respond, understood, self._ctx)
        timer.mark("reply_ready")
        for event in reply.events:  # e.g. action_failed: the policy knows no call
            state.publish(event.model_copy(update={"call_id": state.call_id, "turn": state.turn}))
        state.publish(IntentDetected(
            call_id=state.call_id, turn=state.turn, intent=understood.intent,
            confidence=understood.confidence, slots=understood.slots,
            engine=self._understander.name, sentiment=understood.sentiment,
            sentiment_confidence=understood.sentiment_confidence,
        ))
        await self._speak(reply, reason=understood.intent, timer=timer)

    async def _speak(self, reply: Reply, reason: str, timer: TurnTimer | None = None) -> None:
        """Say a reply sentence by sentence (a mark after each) and carry out its actions;
        `timer`: the caller turn it answers, timed to its first audio."""
        state = self._state
        if "switch_language" in reply.actions:  # asked for, or a keypad choice: at once
            how = "dtmf" if reason.startswith("dtmf") else "request"
            self._language_policy.switch(reply.language, how)
        self._ctx.add_bot_turn(state.turn, reply.text)
        state.publish(BotReply(
            call_id=state.call_id, turn=state.turn, text=reply.text, language=reply.language,
        ))
        await self.push_frame(ReplyStartedFrame(state.turn, reply.text, timer))
        sentences = reply.sentences
        for i, sentence in enumerate(sentences):
            await self.push_frame(TTSSpeakFrame(sentence))
            await self.push_frame(SentenceEndFrame(state.turn, sentence, i == len(sentences) - 1))
        if "transfer" in reply.actions:
            state.publish(TransferRequested(call_id=state.call_id, reason=reason))
        if "end_call" in reply.actions:
            state.end_reason = "agent_goodbye"
            # Upstream EndTaskFrame: the task ends after the farewell queued above has played.
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)
