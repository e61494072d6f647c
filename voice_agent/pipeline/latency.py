"""Latency taps at the transport edges: caller's last voiced audio in → first bot audio out.

`TurnEndTap` sits right after the end-of-turn gate: at the VAD's stop it starts the turn's
timer with when the caller stopped (the analyzer's last voiced instant) and when the VAD
declared the turn over, and hands it on with the stop (`TimedVADStopFrame`): STT carries it with
the segment, the dialogue on the answer's `ReplyStartedFrame`. `AudioOutTap` sits after the
output transport, which passes each frame on once written, in order: the first non-silent audio
after an answer's `ReplyStartedFrame` closes that turn and publishes a `TurnLatency` event with
where the time went.
"""

from __future__ import annotations

import time

from pipecat.frames.frames import Frame, OutputAudioRawFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import is_silent
from voice_agent.events import TurnLatency
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.frames import ReplyStartedFrame, TimedVADStopFrame
from voice_agent.pipeline.turn_timer import TurnTimer
from voice_agent.pipeline.vad import TimedVADAnalyzer


class TurnEndTap(FrameProcessor):
    def __init__(self, *, vad_analyzer: TimedVADAnalyzer, **kwargs) -> None:
        super().__init__(**kwargs)
        self._vad = vad_analyzer

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (direction == FrameDirection.DOWNSTREAM
                and isinstance(frame, VADUserStoppedSpeakingFrame)
                and not isinstance(frame, TimedVADStopFrame)):
            now = time.monotonic()
            timer = TurnTimer()
            last_voiced = self._vad.last_voiced_at
            stop_secs = self._vad.params.stop_secs
            timer.mark("speech_end", last_voiced if last_voiced else now - stop_secs)
            timer.mark("vad_stop", now)
            timed = TimedVADStopFrame(
                stop_secs=frame.stop_secs, timestamp=frame.timestamp, timer=timer,
            )
            timed.broadcast_sibling_id = frame.broadcast_sibling_id  # the VAD's upstream copy
            timed.metadata, timed.transport_source = frame.metadata, frame.transport_source
            frame = timed
        await self.push_frame(frame, direction)


class AudioOutTap(FrameProcessor):
    def __init__(self, *, state: CallState, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state = state
        self._awaited: TurnTimer | None = None  # the turn whose answer's first audio is due

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ReplyStartedFrame) and frame.timer is not None:
            self._awaited = frame.timer
        elif (
            self._awaited is not None
            and isinstance(frame, OutputAudioRawFrame)
            and not is_silent(frame.audio)
        ):
            timer, self._awaited = self._awaited, None
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
