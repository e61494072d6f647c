"""Bot audio playout: paced release, pause/resume, `mark`s, and what the caller actually heard.

The output transport plays whatever it holds, and Twilio plays whatever it was sent; so this
stage keeps the bot's audio and hands it to the transport only `playout_lead_secs` ahead of real
time. That makes a pause audible within that lead, lets an answer resume exactly where it
stopped (a backchannel or a cough) and keeps a reference of what was just played for the echo
check. After each sentence a `mark` goes out in line with the audio; the edge echoes it once the
caller has heard everything before it, so on barge-in the assistant's turn is cut to those
sentences (plus the words of the cut sentence that had time to play).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    StartFrame,
    SystemFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import PHONE_RATE, resample
from voice_agent.events import ReplyPlayed
from voice_agent.pipeline.frames import MarkEchoFrame, SentenceEndFrame

CHUNK_S = 0.04  # release granularity: a pause takes effect within one chunk


@dataclass
class SpokenSentence:
    turn: int
    text: str
    mark: str
    audio_s: float = 0.0
    first_release: float | None = None
    heard: bool = False


def heard_text(sentences: list[SpokenSentence], cut_at: float, lead_s: float) -> str:
    """Heard sentences, then the words of the cut one that had time to play by `cut_at`."""
    words: list[str] = []
    for s in sentences:
        if s.heard:
            words.extend(s.text.split())
            continue
        if s.first_release is not None and s.audio_s > 0:
            share = max(0.0, min(1.0, (cut_at - s.first_release - lead_s) / s.audio_s))
            part = s.text.split()
            words.extend(part[: int(len(part) * share)])
        break
    return " ".join(words)


@dataclass
class Playout:
    """Per-call playout state shared by the barge-in detector, the dialogue and this stage."""

    lead_s: float = 0.08
    paused_at: float | None = None
    play_end: float = 0.0  # monotonic: when the released audio has finished at the caller
    queued_audio_s: float = 0.0  # held here, not yet released
    reference: deque[tuple[float, bytes]] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def speaking(self, now: float | None = None) -> bool:
        """Bot audio is playing, paused mid-answer, or waiting to be released."""
        now = time.monotonic() if now is None else now
        return self.queued_audio_s > 0 or self.play_end > now or self.paused

    def recently_spoke(self, within_s: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.speaking(now) or now - self.play_end < within_s

    def reference_audio(self, since: float, until: float | None = None) -> bytes:
        """The bot's audio (8 kHz PCM) as released between `since` and `until`, on a timeline:
        the quiet between answers is there as silence, so an echo's contour can match it."""
        until = time.monotonic() if until is None else until
        out = bytearray(int((until - since) * PHONE_RATE) * 2)
        for at, pcm in self.reference:
            pos = int((at - since) * PHONE_RATE) * 2
            if pos + len(pcm) <= 0 or pos >= len(out):
                continue
            lo = max(0, -pos)
            out[pos + lo : pos + len(pcm)] = pcm[lo : len(out) - pos]
        return bytes(out)

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = time.monotonic()

    def resume(self) -> None:
        """Go on where the answer paused (the held audio was never sent)."""
        self.paused_at = None


class PlayoutController(FrameProcessor):
    """Sits between TTS and the output transport (see module doc)."""

    def __init__(self, *, state, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state = state
        self._playout: Playout = state.playout
        self._queue: deque[Frame] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._replies: dict[int, list[SpokenSentence]] = {}  # turn → sentences, until played
        self._open: SpokenSentence | None = None  # being released, its end not yet seen
        self._by_mark: dict[str, tuple[SpokenSentence, bool]] = {}
        self._marks = 0

    def resume_soon(self) -> None:
        self._playout.resume()
        self._wakeup.set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
        elif isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._state.playout_controller = self
            self._task = self.create_task(self._release_loop())
        elif isinstance(frame, CancelFrame):
            if self._task:
                await self.cancel_task(self._task)
                self._task = None
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            self._interrupted()
            await self.push_frame(frame, direction)
        elif isinstance(frame, MarkEchoFrame):
            self._mark_echoed(frame.mark)
        elif isinstance(frame, SystemFrame):
            await self.push_frame(frame, direction)
        else:  # audio, sentence ends, EndFrame…: released in order, paced
            if isinstance(frame, OutputAudioRawFrame):
                self._playout.queued_audio_s += len(frame.audio) / 2 / frame.sample_rate
            self._queue.append(frame)
            self._wakeup.set()

    async def _release_loop(self) -> None:
        p = self._playout
        while True:
            if not self._queue or p.paused:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frame = self._queue[0]
            if isinstance(frame, OutputAudioRawFrame):
                wait = p.play_end - time.monotonic() - p.lead_s
                if wait > 0:
                    await asyncio.sleep(min(wait, CHUNK_S))
                    continue  # re-check: a pause or an interruption may have come meanwhile
                await self._release_chunk(frame)
                continue
            self._queue.popleft()
            if isinstance(frame, SentenceEndFrame):
                await self._sentence_end(frame)
            else:
                await self.push_frame(frame)
                if isinstance(frame, EndFrame):
                    return

    async def _release_chunk(self, frame: OutputAudioRawFrame) -> None:
        """Release one CHUNK_S of the head frame (splitting it), keep the rest queued."""
        p = self._playout
        step = int(frame.sample_rate * CHUNK_S) * 2
        chunk, rest = frame.audio[:step], frame.audio[step:]
        if rest:
            self._queue[0] = _with_audio(frame, rest)
        else:
            self._queue.popleft()
        seconds = len(chunk) / 2 / frame.sample_rate
        now = time.monotonic()
        p.queued_audio_s = max(0.0, p.queued_audio_s - seconds)
        p.play_end = max(p.play_end, now) + seconds
        p.reference.append((now, resample(chunk, frame.sample_rate, PHONE_RATE)))
        if self._open is None:
            self._open = SpokenSentence(turn=-1, text="", mark="", first_release=now)
        self._open.audio_s += seconds
        await self.push_frame(_with_audio(frame, chunk))

    async def _sentence_end(self, frame: SentenceEndFrame) -> None:
        sentence = self._open or SpokenSentence(turn=-1, text="", mark="")
        self._open = None
        self._marks += 1
        sentence.turn, sentence.text = frame.turn, frame.text
        sentence.mark = f"t{frame.turn}-s{self._marks}"
        self._replies.setdefault(frame.turn, []).append(sentence)
        self._by_mark[sentence.mark] = (sentence, frame.last)
        await self.push_frame(OutputTransportMessageFrame(
            message={"event": "mark", "mark": {"name": sentence.mark}}
        ))

    def _mark_echoed(self, name: str) -> None:
        found = self._by_mark.pop(name, None)
        if found is None:
            return  # unknown, or an echo of audio that `clear` discarded
        sentence, last = found
        sentence.heard = True
        if last:
            text = " ".join(s.text for s in self._replies.pop(sentence.turn, [sentence]))
            self._state.publish(ReplyPlayed(
                call_id=self._state.call_id, turn=sentence.turn, text=text, heard_text=text,
            ))

    def _interrupted(self) -> None:
        """Barge-in: drop the held audio, report what the caller heard of the cut answer."""
        p = self._playout
        cut_at = p.paused_at or time.monotonic()
        unreleased = [f for f in self._queue if isinstance(f, SentenceEndFrame)]
        self._queue = deque(f for f in self._queue if isinstance(f, EndFrame))
        pending = [s for turn in sorted(self._replies) for s in self._replies[turn]]
        if self._open is not None:
            self._open.turn = unreleased[0].turn if unreleased else self._state.turn
            self._open.text = unreleased.pop(0).text if unreleased else ""
            pending.append(self._open)
        pending += [SpokenSentence(f.turn, f.text, "") for f in unreleased]
        if pending:
            turn = pending[0].turn
            cut = [s for s in pending if s.turn == turn]
            heard = heard_text(cut, cut_at, p.lead_s)
            said = " ".join(s.text for s in cut if s.text)
            full = self._state.replies.get(turn, said)  # sentences TTS never reached count too
            self._state.publish(ReplyPlayed(
                call_id=self._state.call_id, turn=turn, text=full, heard_text=heard,
                interrupted=True,
            ))
            self._state.last_heard = (turn, heard)
        self._replies, self._by_mark, self._open = {}, {}, None
        p.queued_audio_s = 0.0
        p.play_end = min(p.play_end, time.monotonic())
        p.paused_at = None
        self._wakeup.set()


def _with_audio(frame: OutputAudioRawFrame, audio: bytes) -> OutputAudioRawFrame:
    out = type(frame)(audio, frame.sample_rate, frame.num_channels)
    if hasattr(frame, "context_id"):
        out.context_id = frame.context_id
    return out
