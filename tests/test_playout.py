"""The playout stage on its own: an answer goes out paced, with its mark, and once it has played
the agent is no longer speaking (the caller's next question is a question, not a barge-in)."""

import time

from pipecat.frames.frames import OutputAudioRawFrame, OutputTransportMessageFrame
from pipecat.tests.utils import SleepFrame, run_test

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
