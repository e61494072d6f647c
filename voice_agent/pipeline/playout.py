"""Bot audio playout: paced release, pause/resume, marks, and what the caller actually heard.

The output transport plays whatever it holds, and Twilio plays whatever it was sent; so this
stage keeps the bot's audio and hands it to the transport only `playout_lead_secs` ahead of real
time. That makes a pause audible within that lead, lets an answer resume exactly where it
stopped (a backchannel or a cough) and keeps a reference of what was just played for the echo
check. On an edge that can take audio back (Twilio's `clear`), a pause also clears the line at
once: the caller's earpiece goes quiet within the network delay, and the audio the edge dropped
is put back at the head of the queue, so a resumed answer loses and repeats nothing. How much it
dropped is reckoned at the edge, as it writes audio and then the `clear` (pipeline/
edge_playback.py): the transport paces audio itself, so the `clear` leaves well after it was
queued (~0.1 s on a busy machine), and estimating from the queue time would play that twice.
After each sentence a mark goes out in line with the audio; the edge echoes it once the caller
has heard everything before it, so on barge-in the assistant's turn is cut to those sentences
(plus the words of the cut sentence that had time to play: pipeline/spoken.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
    SystemFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import PHONE_RATE, resample
from voice_agent.events import ReplyPlayed
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.edge_playback import EdgePlayback
from voice_agent.pipeline.frames import (
    HeardReplyFrame,
    MarkEchoFrame,
    PlayoutClearFrame,
    PlayoutMarkFrame,
    ReplyStartedFrame,
    SentenceEndFrame,
)
from voice_agent.pipeline.spoken import PlayedReply, SpokenReplies, SpokenSentence, heard_text

__all__ = ["Playout", "PlayoutController", "SpokenSentence", "heard_text"]

CHUNK_S = 0.04  # release granularity: a pause takes effect within one chunk
CLEAR_TRANSIT_S = 0.02  # a `clear` reaches Twilio about this long after it is queued here
CLEAR_SEND_WAIT_S = 0.5  # the edge has not reported the `clear` sent by then: estimate instead


@dataclass
class _Released:
    """Audio (or a sentence's mark) handed to the transport, until it has surely played."""

    start: float  # monotonic: when it starts playing at the caller
    frame: Frame
    sentence: SpokenSentence | None = None  # a mark: the sentence it closes
    reference: tuple[float, bytes] | None = None


@dataclass
class Playout:
    """One call's bot audio, shared by the barge-in detector (which reads it and pauses or
    resumes it) and the `PlayoutController` (which releases it). Made by the call factory."""

    lead_s: float = 0.08
    clears: bool = False  # the edge takes back unplayed audio (Twilio `clear`): clear on pause
    paused_at: float | None = None
    play_end: float = 0.0  # monotonic: when the released audio has finished at the caller
    # held here, not yet released: bytes per sample rate. Whole numbers, because a float sum of
    # frames added whole and taken out in chunks leaves a crumb (~1e-14 s) that would keep the
    # bot "speaking" forever, and the caller's next question would count as a barge-in.
    held_bytes: dict[int, int] = field(default_factory=dict)
    reference: deque[tuple[float, bytes]] = field(default_factory=lambda: deque(maxlen=200))
    clear_wanted: bool = False  # a pause asked for a `clear` the controller has not sent yet
    # set when the controller has work: audio queued, a pause (its `clear`) or a resume
    wakeup: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def hold(self, n_bytes: int, rate: int) -> None:
        self.held_bytes[rate] = max(0, self.held_bytes.get(rate, 0) + n_bytes)

    def drop_held(self) -> None:
        self.held_bytes.clear()

    def speaking(self, now: float | None = None) -> bool:
        """Bot audio is playing, paused mid-answer, or waiting to be released."""
        now = time.monotonic() if now is None else now
        return any(self.held_bytes.values()) or self.play_end > now or self.paused

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
        """Stop releasing audio now; on an edge that can, also clear what it has not played."""
        if self.paused_at is not None:
            return
        self.paused_at = time.monotonic()
        if self.clears:
            self.clear_wanted = True
            self.wakeup.set()

    def resume(self) -> None:
        """Go on where the answer paused (the held audio was never sent)."""
        self.paused_at = None
        self.wakeup.set()


class PlayoutController(FrameProcessor):
    """Sits between TTS and the output transport (see module doc)."""

    def __init__(
        self, *, state: CallState, playout: Playout, edge: EdgePlayback, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._state = state
        self._playout = playout
        self._edge = edge
        self._queue: deque[Frame] = deque()
        self._task: asyncio.Task | None = None
        self._spoken = SpokenReplies()
        self._released: deque[_Released] = deque()
        self._clear_queued_at: float | None = None  # a `clear` is on its way, no rewind yet

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
        elif isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._task = self.create_task(self._release_loop())
        elif isinstance(frame, CancelFrame):
            if self._task:
                await self.cancel_task(self._task)
                self._task = None
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            await self._interrupted()
            await self.push_frame(frame, direction)
        elif isinstance(frame, MarkEchoFrame):
            self._take_edge_reports()  # a `clear` returns marks unheard: put back first
            self._mark_echoed(frame.mark)
        elif isinstance(frame, SystemFrame):
            await self.push_frame(frame, direction)
        else:  # audio, sentence ends, EndFrame…: released in order, paced
            if isinstance(frame, ReplyStartedFrame):
                self._spoken.reply_started(frame.turn, frame.text)
            elif isinstance(frame, OutputAudioRawFrame):
                self._playout.hold(len(frame.audio), frame.sample_rate)
            self._queue.append(frame)
            self._playout.wakeup.set()

    async def _release_loop(self) -> None:
        playout = self._playout
        while True:
            self._take_edge_reports()
            if playout.clear_wanted:
                playout.clear_wanted = False
                await self._send_clear()
            if self._clear_queued_at is not None:  # the edge has not said what it took back
                if time.monotonic() - self._clear_queued_at < CLEAR_SEND_WAIT_S:
                    await self._sleep_or_wakeup(CHUNK_S / 2)
                    continue
                if not playout.paused:  # resuming without word from the edge
                    self._rewind_estimated()
            if not self._queue or playout.paused:
                playout.wakeup.clear()
                await playout.wakeup.wait()
                continue
            frame = self._queue[0]
            if isinstance(frame, OutputAudioRawFrame):
                wait = playout.play_end - time.monotonic() - playout.lead_s
                if wait > 0:  # a pause (its `clear`) or an interruption may come meanwhile
                    await self._sleep_or_wakeup(min(wait, CHUNK_S))
                    continue
                await self._release_chunk(frame)
                continue
            self._queue.popleft()
            if isinstance(frame, SentenceEndFrame):
                await self._sentence_end(frame)
            else:
                await self.push_frame(frame)
                if isinstance(frame, EndFrame):
                    return

    async def _sleep_or_wakeup(self, seconds: float) -> None:
        self._playout.wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._playout.wakeup.wait(), seconds)

    async def _release_chunk(self, frame: OutputAudioRawFrame) -> None:
        """Release one CHUNK_S of the head frame (splitting it), keep the rest queued."""
        playout = self._playout
        step = int(frame.sample_rate * CHUNK_S) * 2
        chunk, rest = frame.audio[:step], frame.audio[step:]
        if rest:
            self._queue[0] = _with_audio(frame, rest)
        else:
            self._queue.popleft()
        seconds = len(chunk) / 2 / frame.sample_rate
        now = time.monotonic()
        playout.hold(-len(chunk), frame.sample_rate)
        start = max(playout.play_end, now)
        playout.play_end = start + seconds
        reference = (now, resample(chunk, frame.sample_rate, PHONE_RATE))
        playout.reference.append(reference)
        self._spoken.released(seconds, playout.play_end)
        out = _with_audio(frame, chunk)
        self._remember(_Released(start, out, reference=reference))
        await self.push_frame(out)

    def _remember(self, item: _Released) -> None:
        while self._released and self._released[0].start < item.start - 2.0:
            self._released.popleft()  # long played: no `clear` can take it back
        self._released.append(item)

    async def _send_clear(self) -> None:
        """Tell the edge to drop what the caller has not heard yet. The audio goes back in the
        queue once the edge says how much that was (`_clear_went_out`); nothing is released
        meanwhile (paused)."""
        if self._clear_queued_at is None:  # else the earlier `clear` takes it all anyway
            self._clear_queued_at = time.monotonic()
        await self.push_frame(PlayoutClearFrame())

    def _take_edge_reports(self) -> None:
        for report in self._edge.take_clears():
            self._clear_went_out(report.unplayed_s, report.sent_at)

    def _clear_went_out(self, unplayed_s: float, sent_at: float) -> None:
        """The edge wrote a `clear` at `sent_at`, dropping `unplayed_s` of audio there. Taken
        before any mark that `clear` returned is looked at (those are unheard)."""
        if self._clear_queued_at is None:
            return  # an interruption's `clear`: the rest of the answer is gone anyway
        self._clear_queued_at = None
        self._rewind(unplayed_s, sent_at)

    def _rewind_estimated(self) -> None:
        """No word from the edge: reckon the unplayed audio from the playout's own clock."""
        at = self._clear_queued_at + CLEAR_TRANSIT_S
        self._clear_queued_at = None
        self._rewind(max(0.0, self._playout.play_end - at), at)

    def _rewind(self, unplayed_s: float, cleared_at: float) -> None:
        """Hold again, in order, the newest `unplayed_s` of released audio (and the marks among
        it: they go out again later, under new names): the `clear` dropped it unheard."""
        playout = self._playout
        back: list[Frame] = []
        left = unplayed_s
        while self._released and left > 1e-4:
            item = self._released.pop()
            frame = item.frame
            if item.sentence is not None:
                self._spoken.reopen(item.sentence)
                back.append(frame)
                continue
            take = min(len(frame.audio), round(left * frame.sample_rate) * 2)
            if take == 0:
                self._released.append(item)
                break
            cut = len(frame.audio) - take  # the part of this chunk that played
            back.append(_with_audio(frame, frame.audio[cut:]) if cut else frame)
            playout.hold(take, frame.sample_rate)
            took_s = take / 2 / frame.sample_rate
            left -= took_s
            self._spoken.taken_back(took_s, cleared_at)
            if cut:
                break
            if item.reference in playout.reference:
                playout.reference.remove(item.reference)
        self._spoken.forget_empty_open()
        self._queue.extendleft(back)  # newest first in `back`: extendleft restores the order
        playout.play_end = min(playout.play_end, cleared_at)

    async def _sentence_end(self, frame: SentenceEndFrame) -> None:
        sentence = self._spoken.sentence_ended(frame)
        self._remember(_Released(self._playout.play_end, frame, sentence=sentence))
        await self.push_frame(PlayoutMarkFrame(mark=sentence.mark))

    def _mark_echoed(self, name: str) -> None:
        last = self._released[-1].sentence if self._released else None
        played = self._spoken.mark_echoed(name)
        if played is not None:
            self._publish(played, interrupted=False)
            playout = self._playout
            if last is not None and last.mark == name and not any(playout.held_bytes.values()):
                # the edge says the last audio released has played: its word beats our own
                # estimate, which runs late on a busy machine, and a key pressed right after
                # the answer must not count as talking over it
                playout.play_end = min(playout.play_end, time.monotonic())

    def _publish(self, played: PlayedReply, interrupted: bool) -> None:
        self._state.publish(ReplyPlayed(
            call_id=self._state.call_id, turn=played.turn, text=played.text,
            heard_text=played.heard_text, interrupted=interrupted,
        ))

    async def _interrupted(self) -> None:
        """Barge-in: drop the held audio; report what the caller heard of the cut answer, and
        tell the dialogue (upstream)."""
        playout = self._playout
        self._take_edge_reports()
        if self._clear_queued_at is not None:  # the cut sentence lost what the `clear` dropped
            self._rewind_estimated()
        cut_at = time.monotonic()  # paused or not, what was released by now has played or gone
        open_total_s = None
        if self._spoken.open is not None:  # the cut sentence: its audio still held counts too
            held = 0.0
            for queued in self._queue:
                if isinstance(queued, SentenceEndFrame):
                    break
                if isinstance(queued, OutputAudioRawFrame):
                    held += len(queued.audio) / 2 / queued.sample_rate
            open_total_s = self._spoken.open.audio_s + held
        unreleased = [f for f in self._queue if isinstance(f, SentenceEndFrame)]
        self._queue = deque(f for f in self._queue if isinstance(f, EndFrame))
        cut = self._spoken.cut(open_total_s, unreleased, cut_at, self._state.turn)
        if cut is not None:
            self._publish(cut, interrupted=True)
            await self.push_frame(HeardReplyFrame(cut.turn, cut.heard_text),
                                  FrameDirection.UPSTREAM)
        self._released.clear()
        playout.clear_wanted = False
        playout.drop_held()
        playout.play_end = min(playout.play_end, time.monotonic())
        playout.paused_at = None
        playout.wakeup.set()


def _with_audio(frame: OutputAudioRawFrame, audio: bytes) -> OutputAudioRawFrame:
    out = type(frame)(audio, frame.sample_rate, frame.num_channels)
    if hasattr(frame, "context_id"):
        out.context_id = frame.context_id
    return out
