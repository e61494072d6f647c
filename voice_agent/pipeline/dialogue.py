"""Dialogue stage: transcript in → events, spoken reply (sentence by sentence), call actions."""

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

from voice_agent.config import DtmfSettings, LanguageSettings
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
from voice_agent.pipeline.call_state import CallState, TurnTimer
from voice_agent.pipeline.dtmf import dtmf_action, dtmf_reply
from voice_agent.pipeline.frames import NoSpeechSegmentFrame, SentenceEndFrame
from voice_agent.pipeline.stt import SegmentResult
from voice_agent.pipeline.whisper_turn import TurnTranscript


class DialogueProcessor(FrameProcessor):
    """Understands each caller turn and speaks the policy's reply in the call's language."""

    def __init__(
        self, *, understander: Understander, policy: DialoguePolicy,
        languages: LanguageSettings, state: CallState, kb: KnowledgeBase,
        dtmf: DtmfSettings | None = None, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._kb = kb
        self._dtmf = dtmf or DtmfSettings()
        self._understander = understander
        self._policy = policy
        self._languages = languages
        self._state = state
        self._ctx = DialogueContext()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, TranscriptionFrame) and downstream:
            if await self._is_caller_turn(frame):
                await self._handle_turn(frame)
        elif isinstance(frame, NoSpeechSegmentFrame) and downstream:
            await self._is_caller_turn(None)
        elif isinstance(frame, InputDTMFFrame) and downstream:
            await self._handle_dtmf(frame.button.value)
        else:
            await self.push_frame(frame, direction)

    async def _is_caller_turn(self, frame: TranscriptionFrame | None) -> bool:
        """Sound over a paused answer: a backchannel or noise resumes it; words interrupt it."""
        bargein = self._state.bargein
        if bargein is None or not bargein.pending:
            return frame is not None
        text = frame.text if frame else ""
        language = frame.language if frame and frame.language else self._state.language
        result = frame.result if frame and isinstance(frame.result, SegmentResult) else None
        sure = result.transcript.language_probability if result else 1.0
        return await bargein.resolve(text, str(language), sure)

    def _remember_what_was_heard(self) -> None:
        """An answer cut by the caller counts only as far as they heard it."""
        if self._state.last_heard is None:
            return
        turn, heard = self._state.last_heard
        self._state.last_heard = None
        self._ctx.truncate_bot_turn(turn, heard)

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
        self._remember_what_was_heard()
        reply = self._policy.respond(understood, self._ctx)
        timer.mark("reply_ready")
        state.reply_timer = timer
        state.publish(IntentDetected(
            call_id=state.call_id, turn=state.turn, intent=understood.intent,
            confidence=understood.confidence, slots=understood.slots,
            engine=self._understander.name, sentiment=understood.sentiment,
            sentiment_confidence=understood.sentiment_confidence,
        ))
        await self._speak(reply, reason=understood.intent)

    async def _speak(self, reply: Reply, reason: str) -> None:
        """Say a reply sentence by sentence (a mark after each) and carry out its actions."""
        state = self._state
        if "switch_language" in reply.actions:  # asked for, or a keypad choice: at once
            how = "dtmf" if reason.startswith("dtmf") else "request"
            state.language_policy.switch(reply.language, how)
        self._ctx.add_bot_turn(state.turn, reply.text)
        state.replies = {**{t: r for t, r in state.replies.items() if t >= state.turn - 3},
                         state.turn: reply.text}
        state.publish(BotReply(
            call_id=state.call_id, turn=state.turn, text=reply.text, language=reply.language,
        ))
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
