"""The playout stage on its own: an answer goes out paced, with its mark, and once it has played
the agent is no longer speaking (the caller's next question is a question, not a barge-in); a
pause clears Twilio's line and the resumed answer loses and repeats nothing."""

import asyncio
import time

import numpy as np
from pipecat.frames.frames import InterruptionFrame, OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.audio import PHONE_RATE
from voice_agent.events import EventBus, EventRecorder, ReplyPlayed
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.frames import (
    HeardReplyFrame,
    PlayoutClearFrame,
    PlayoutMarkFrame,
    ReplyStartedFrame,
    SentenceEndFrame,
)
from voice_agent.pipeline.playout import Playout, PlayoutController
from voice_agent.telephony.twilio.wire import playout_message
from voice_agent.testing.earpiece import Earpiece

TTS_RATE = 24000


def tts_frame(n_bytes: int) -> OutputAudioRawFrame:
    return OutputAudioRawFrame(b"\x10\x00" * (n_bytes // 2), TTS_RATE, 1)


async def test_an_answer_in_odd_sized_tts_frames_plays_out_and_leaves_nothing_held():
    state = CallState(bus=EventBus(), language="en", allowed_languages=["en"],
                      transport="twilio")
    # sizes whose seconds, added whole and taken out in 40 ms chunks, do not sum back to 0.0
    # in floating point: the agent must still count as done speaking afterwards
    sizes = [4802, 9606, 3334, 7778, 12002]
    answer_s = sum(sizes) / 2 / TTS_RATE
    frames = [tts_frame(n) for n in sizes]
    frames += [SentenceEndFrame(turn=1, text="We're open nine to five.", last=True),
               SleepFrame(sleep=answer_s + 0.3)]
    playout = Playout()
    controller = PlayoutController(state=state, playout=playout, edge=EdgePlayback())
    down, _ = await run_test(controller, frames_to_send=frames)
    audio = [f for f in down if isinstance(f, OutputAudioRawFrame)]
    assert sum(len(f.audio) for f in audio) == sum(sizes)  # all of it, in order, split up
    assert len(audio) > len(sizes)
    marks = [playout_message(f) for f in down if isinstance(f, PlayoutMarkFrame)]
    assert marks == [{"event": "mark", "mark": {"name": "t1-s1"}}]
    assert not playout.speaking(time.monotonic())
    assert not any(playout.held_bytes.values())


class TwilioEarpiece(FrameProcessor):
    """Twilio's side of the line (the shared model of voice_agent/testing/earpiece.py), with our
    serializer's reports to the playout: what it writes, and when a `clear` goes."""

    def __init__(self, edge: EdgePlayback) -> None:
        super().__init__()
        self._edge = edge
        self.earpiece = Earpiece()

    @property
    def played(self) -> list[tuple[float, bytes]]:
        return self.earpiece.played

    @property
    def clears(self) -> int:
        return len(self.earpiece.cleared_at)

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputAudioRawFrame):
            self._edge.audio_written(len(frame.audio) / 2 / frame.sample_rate)
            self.earpiece.play(frame.audio)
        elif isinstance(frame, PlayoutClearFrame):
            self.earpiece.clear()
            self._edge.clear_written()
        await self.push_frame(frame, direction)


async def test_an_uh_huh_clears_the_line_and_the_resumed_answer_is_heard_whole_exactly_once():
    state = CallState(bus=EventBus(), language="en", allowed_languages=["en"],
                      transport="twilio")
    playout, edge = Playout(clears=True), EdgePlayback()
    controller = PlayoutController(state=state, playout=playout, edge=edge)
    earpiece = TwilioEarpiece(edge)
    ramp = (np.arange(PHONE_RATE) // 2).astype(np.int16)  # 1 s; any loss or repeat shows
    answer = [OutputAudioRawFrame(ramp[i : i + 1000].tobytes(), PHONE_RATE, 1)
              for i in range(0, len(ramp), 1000)]
    loop = asyncio.get_running_loop()
    loop.call_later(0.35, playout.pause)  # the caller's "uh-huh" has a voice: pause, clear
    loop.call_later(0.8, playout.resume)  # …and was only a backchannel: go on
    await run_test(Pipeline([controller, earpiece]),
                   frames_to_send=[*answer, SleepFrame(sleep=2.0)])
    assert earpiece.clears == 1
    heard = np.frombuffer(b"".join(pcm for _, pcm in earpiece.played), dtype=np.int16)
    # Twilio dropped what it held (~0.1 s) and the playout put exactly that back
    assert abs(len(heard) - len(ramp)) <= 8  # within 1 ms
    steps = np.diff(heard.astype(np.int32))
    assert steps.min() >= -4 and steps.max() <= 5  # no stretch lost or played twice
    assert not playout.speaking()


async def test_a_cut_answer_is_reported_whole_and_the_dialogue_hears_what_was_heard():
    bus = EventBus()
    events = EventRecorder(bus)
    state = CallState(bus=bus, language="en", allowed_languages=["en"], transport="replay")
    controller = PlayoutController(state=state, playout=Playout(), edge=EdgePlayback())
    answer = "We open at nine. We close at five. On Sundays we rest."
    half_second = OutputAudioRawFrame(b"\x10\x00" * 4000, PHONE_RATE, 1)
    frames = [ReplyStartedFrame(1, answer, None),
              half_second, SentenceEndFrame(1, "We open at nine."),
              half_second, SentenceEndFrame(1, "We close at five."),
              SleepFrame(sleep=0.3), InterruptionFrame(), SleepFrame(sleep=0.1)]
    down, up = await run_test(controller, frames_to_send=frames)
    # the third sentence never reached TTS: the answer still counts whole
    [cut] = [e for e in events.of(ReplyPlayed) if e.interrupted]
    assert (cut.turn, cut.text) == (1, answer)
    [heard] = [f for f in up if isinstance(f, HeardReplyFrame)]
    assert (heard.turn, heard.heard_text) == (1, cut.heard_text)
    assert answer.startswith(heard.heard_text) and "close" not in heard.heard_text
    assert any(isinstance(f, ReplyStartedFrame) for f in down)  # on to the latency tap
