"""Latency taps at the transport edges: caller's last voiced audio in → first bot audio out.

`TurnEndTap` sits right after the VAD and records when the caller stopped (the analyzer's last
voiced instant) and when the VAD declared the turn over. `AudioOutTap` sits after the output
transport, which passes on each frame once written: the first non-silent frame after a reply is
ready closes the turn and publishes a `TurnLatency` event with where the time went.
"""

from __future__ import annotations

import time

from pipecat.frames.frames import Frame, OutputAudioRawFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import is_silent
from voice_agent.events import TurnLatency
from voice_agent.pipeline.call_state import CallState, TurnTimer


class TurnEndTap(FrameProcessor):
    def __init__(self, *, state: CallState, vad_analyzer, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state = state
        self._vad = vad_analyzer

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            now = time.monotonic()
            timer = TurnTimer()
            self._state.segment_timers.append(timer)
            last_voiced = getattr(self._vad, "last_voiced_at", None)
            stop_secs = self._vad.params.stop_secs
            timer.mark("speech_end", last_voiced if last_voiced else now - stop_secs)
            timer.mark("vad_stop", now)
        await self.push_frame(frame, direction)


class AudioOutTap(FrameProcessor):
    def __init__(self, *, state: CallState, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state = state

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        timer = self._state.reply_timer
        if (
            timer is not None
            and isinstance(frame, OutputAudioRawFrame)
            and not is_silent(frame.audio)
        ):
            self._state.reply_timer = None
            timer.mark("first_audio")
            self._state.publish(TurnLatency(
                call_id=self._state.call_id, turn=timer.turn,
                total_s=round(timer.span("speech_end", "first_audio"), 4),
                vad_s=round(timer.span("speech_end", "vad_stop"), 4),
                stt_s=round(timer.span("vad_stop", "stt_end"), 4),
                dialogue_s=round(timer.span("stt_end", "reply_ready"), 4),
                tts_s=round(timer.span("reply_ready", "first_audio"), 4),
            ))
        await self.push_frame(frame, direction)
