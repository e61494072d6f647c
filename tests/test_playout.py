"""The playout stage on its own: an answer goes out paced, with its mark, and once it has played
the agent is no longer speaking (the caller's next question is a question, not a barge-in); a
pause clears Twilio's line and the resumed answer loses and repeats nothing."""

import asyncio
import time

import numpy as np
from pipecat.frames.frames import OutputAudioRawFrame, OutputTransportMessageFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.audio import PHONE_RATE
from voice_agent.events import EventBus
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.frames import SentenceEndFrame
from voice_agent.pipeline.playout import PlayoutController

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
    down, _ = await run_test(PlayoutController(state=state), frames_to_send=frames)
    audio = [f for f in down if isinstance(f, OutputAudioRawFrame)]
    assert sum(len(f.audio) for f in audio) == sum(sizes)  # all of it, in order, split up
    assert len(audio) > len(sizes)
    marks = [f.message for f in down if isinstance(f, OutputTransportMessageFrame)]
    assert marks == [{"event": "mark", "mark": {"name": "t1-s1"}}]
    playout = state.playout
    assert not playout.speaking(time.monotonic())
    assert not any(playout.held_bytes.values())


class TwilioEarpiece(FrameProcessor):
    """Twilio's side of the line, as our serializer reports it to the playout: audio plays in
    order from when it was written; a `clear` drops what had not played yet."""

    def __init__(self, playout) -> None:
        super().__init__()
        self._playout = playout
        self._play_end = 0.0
        self.played: list[tuple[float, bytes]] = []
        self.clears = 0

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        now = time.monotonic()
        if isinstance(frame, OutputAudioRawFrame):
            self._playout.audio_sent(len(frame.audio) / 2 / frame.sample_rate)
            start = max(self._play_end, now)
            self._play_end = start + len(frame.audio) / 2 / frame.sample_rate
            self.played.append((start, frame.audio))
        elif isinstance(frame, OutputTransportMessageFrame) and frame.message["event"] == "clear":
            self.clears += 1
            while self.played and self.played[-1][0] >= now:
                self.played.pop()
            start, pcm = self.played[-1]
            self.played[-1] = (start, pcm[: int((now - start) * PHONE_RATE) * 2])
            self._play_end = now
            self._playout.clear_sent()
        await self.push_frame(frame, direction)


async def test_an_uh_huh_clears_the_line_and_the_resumed_answer_is_heard_whole_exactly_once():
    state = CallState(bus=EventBus(), language="en", allowed_languages=["en"],
                      transport="twilio")
    state.playout.clears = True
    controller = PlayoutController(state=state)
    earpiece = TwilioEarpiece(state.playout)
    ramp = (np.arange(PHONE_RATE) // 2).astype(np.int16)  # 1 s; any loss or repeat shows
    answer = [OutputAudioRawFrame(ramp[i : i + 1000].tobytes(), PHONE_RATE, 1)
              for i in range(0, len(ramp), 1000)]
    loop = asyncio.get_running_loop()
    loop.call_later(0.35, controller.pause)  # the caller's "uh-huh" has a voice: pause, clear
    loop.call_later(0.8, controller.resume_soon)  # …and was only a backchannel: go on
    await run_test(Pipeline([controller, earpiece]),
                   frames_to_send=[*answer, SleepFrame(sleep=2.0)])
    assert earpiece.clears == 1
    heard = np.frombuffer(b"".join(pcm for _, pcm in earpiece.played), dtype=np.int16)
    # Twilio dropped what it held (~0.1 s) and the playout put exactly that back
    assert abs(len(heard) - len(ramp)) <= 8  # within 1 ms
    steps = np.diff(heard.astype(np.int32))
    assert steps.min() >= -4 and steps.max() <= 5  # no stretch lost or played twice
    assert not state.playout.speaking()
