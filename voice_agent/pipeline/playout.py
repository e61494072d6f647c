"""Bot audio playout: paced release, pause/resume, `mark`s, and what the caller actually heard.

The output transport plays whatever it holds, and Twilio plays whatever it was sent; so this
stage keeps the bot's audio and hands it to the transport only `playout_lead_secs` ahead of real
time. That makes a pause audible within that lead, lets an answer resume exactly where it
stopped (a backchannel or a cough) and keeps a reference of what was just played for the echo
check. On an edge that can take audio back (Twilio's `clear`), a pause also clears the line at
once: the caller's earpiece goes quiet within the network delay, and the audio Twilio dropped is
put back at the head of the queue, so a resumed answer loses and repeats nothing. How much it
dropped is reckoned at the edge, as the serializer writes audio and then the `clear` (`Playout.
audio_sent`/`clear_sent`): the transport paces audio itself, so the `clear` leaves well after it
was queued (~0.1 s on a busy machine), and estimating from the queue time would play that twice.
After each sentence a `mark` goes out in line with the audio; the edge echoes it once the caller
has heard everything before it, so on barge-in the assistant's turn is cut to those sentences
(plus the words of the cut sentence that had time to play).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
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
CLEAR_TRANSIT_S = 0.02  # a `clear` reaches Twilio about this long after it is queued here
CLEAR_SEND_WAIT_S = 0.5  # the edge has not reported the `clear` sent by then: estimate instead


@dataclass
class SpokenSentence:
    turn: int
    text: str
    mark: str
    audio_s: float = 0.0  # released to the transport (less what a `clear` took back)
    ends_at: float = 0.0  # monotonic: when that released audio has played at the caller
    total_s: float | None = None  # the whole sentence's audio, when more is still held here
    heard: bool = False  # its mark came back

    def played_s(self, at: float) -> float:
        return max(0.0, self.audio_s - max(0.0, self.ends_at - at))


def heard_text(sentences: list[SpokenSentence], cut_at: float) -> str:
    """Heard sentences, then the words of the cut one that had time to play by `cut_at`."""
    words: list[str] = []
    for s in sentences:
        total = s.total_s if s.total_s is not None else s.audio_s
        played = s.played_s(cut_at)
        if s.heard or (total > 0 and played >= total - 1e-6):
            words.extend(s.text.split())
            continue
        if total > 0:
            part = s.text.split()
            words.extend(part[: int(len(part) * played / total)])
        break
    return " ".join(words)


@dataclass
class _Released:
    """Audio (or a sentence's mark) handed to the transport, until it has surely played."""

    start: float  # monotonic: when it starts playing at the caller
    frame: Frame
    sentence: SpokenSentence | None = None  # a mark: the sentence it closes
    reference: tuple[float, bytes] | None = None


@dataclass
class Playout:
    """Per-call playout state shared by the barge-in detector, the dialogue and this stage."""

    lead_s: float = 0.08
    clears: bool = False  # the edge takes back unplayed audio (Twilio `clear`): clear on pause
    paused_at: float | None = None
    play_end: float = 0.0  # monotonic: when the released audio has finished at the caller
    # held here, not yet released: bytes per sample rate. Whole numbers, because a float sum of
    # frames added whole and taken out in chunks leaves a crumb (~1e-14 s) that would keep the
    # bot "speaking" forever, and the caller's next question would count as a barge-in.
    held_bytes: dict[int, int] = field(default_factory=dict)
    # the edge's side (its serializer reports what it writes): when the audio it has sent will
    # have played, and who wants to know when a `clear` goes out (the PlayoutController)
    edge_play_end: float = 0.0
    on_clear_sent: Callable[[float, float], None] | None = None
    reference: deque[tuple[float, bytes]] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def hold(self, n_bytes: int, rate: int) -> None:
        self.held_bytes[rate] = max(0, self.held_bytes.get(rate, 0) + n_bytes)

    def drop_held(self) -> None:
        self.held_bytes.clear()

    def audio_sent(self, seconds: float) -> None:
        """The edge has just written this much audio: it plays after what is still playing."""
        now = time.monotonic()
        self.edge_play_end = max(self.edge_play_end, now) + seconds

    def clear_sent(self) -> None:
        """The edge has just written a `clear`: what it had sent and not yet played is gone."""
        now = time.monotonic()
        unplayed = max(0.0, self.edge_play_end - now)
        self.edge_play_end = now
        if self.on_clear_sent is not None:
            self.on_clear_sent(unplayed, now)

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
        self._released: deque[_Released] = deque()
        self._clear_asked = False
        self._clear_queued_at: float | None = None  # a `clear` is on its way, no rewind yet
        self._playout.on_clear_sent = self._clear_went_out

    def resume_soon(self) -> None:
        self._playout.resume()
        self._wakeup.set()

    def pause(self) -> None:
        """Stop releasing audio now; on an edge that can, also clear what it has not played."""
        p = self._playout
        if p.paused:
            return
        p.pause()
        if p.clears:
            self._clear_asked = True
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
                self._playout.hold(len(frame.audio), frame.sample_rate)
            self._queue.append(frame)
            self._wakeup.set()

    async def _release_loop(self) -> None:
        p = self._playout
        while True:
            if self._clear_asked:
                self._clear_asked = False
                await self._send_clear()
            if self._clear_queued_at is not None and not p.paused:  # resuming: the edge has
                if time.monotonic() - self._clear_queued_at < CLEAR_SEND_WAIT_S:  # not said
                    await self._sleep_or_wakeup(CHUNK_S / 2)  # what the `clear` took back yet
                    continue
                self._rewind_estimated()
            if not self._queue or p.paused:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frame = self._queue[0]
            if isinstance(frame, OutputAudioRawFrame):
                wait = p.play_end - time.monotonic() - p.lead_s
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
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

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
        p.hold(-len(chunk), frame.sample_rate)
        start = max(p.play_end, now)
        p.play_end = start + seconds
        reference = (now, resample(chunk, frame.sample_rate, PHONE_RATE))
        p.reference.append(reference)
        if self._open is None:
            self._open = SpokenSentence(turn=-1, text="", mark="")
        self._open.audio_s += seconds
        self._open.ends_at = p.play_end
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
        await self.push_frame(OutputTransportMessageFrame(message={"event": "clear"}))

    def _clear_went_out(self, unplayed_s: float, sent_at: float) -> None:
        """The edge wrote the `clear` at `sent_at`, dropping `unplayed_s` of audio at Twilio.
        Runs before the marks that `clear` returns can come back (they are unheard)."""
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
        p = self._playout
        back: list[Frame] = []
        left = unplayed_s
        while self._released and left > 1e-4:
            item = self._released.pop()
            frame = item.frame
            if item.sentence is not None:
                self._reopen(item.sentence)
                back.append(frame)
                continue
            take = min(len(frame.audio), round(left * frame.sample_rate) * 2)
            if take == 0:
                self._released.append(item)
                break
            cut = len(frame.audio) - take  # the part of this chunk that played
            back.append(_with_audio(frame, frame.audio[cut:]) if cut else frame)
            p.hold(take, frame.sample_rate)
            took_s = take / 2 / frame.sample_rate
            left -= took_s
            if self._open is not None:
                self._open.audio_s = max(0.0, self._open.audio_s - took_s)
                self._open.ends_at = min(self._open.ends_at, cleared_at)
            if cut:
                break
            if item.reference in p.reference:
                p.reference.remove(item.reference)
        if self._open is not None and self._open.audio_s <= 0 and not self._open.text:
            self._open = None
        self._queue.extendleft(back)  # newest first in `back`: extendleft restores the order
        p.play_end = min(p.play_end, cleared_at)

    def _reopen(self, sentence: SpokenSentence) -> None:
        """A sentence whose mark a `clear` returned unheard: open again, its mark forgotten."""
        self._by_mark.pop(sentence.mark, None)
        replies = self._replies.get(sentence.turn, [])
        if replies and replies[-1] is sentence:
            replies.pop()
        sentence.mark, self._open = "", sentence

    async def _sentence_end(self, frame: SentenceEndFrame) -> None:
        sentence = self._open or SpokenSentence(turn=-1, text="", mark="")
        self._open = None
        self._remember(_Released(self._playout.play_end, frame, sentence=sentence))
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
        if self._clear_queued_at is not None:  # the cut sentence lost what the `clear` dropped
            self._rewind_estimated()
        cut_at = time.monotonic()  # paused or not, what was released by now has played or gone
        if self._open is not None:  # the cut sentence: its audio still held counts in its length
            held = 0.0
            for f in self._queue:
                if isinstance(f, SentenceEndFrame):
                    break
                if isinstance(f, OutputAudioRawFrame):
                    held += len(f.audio) / 2 / f.sample_rate
            self._open.total_s = self._open.audio_s + held
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
            heard = heard_text(cut, cut_at)
            said = " ".join(s.text for s in cut if s.text)
            full = self._state.replies.get(turn, said)  # sentences TTS never reached count too
            self._state.publish(ReplyPlayed(
                call_id=self._state.call_id, turn=turn, text=full, heard_text=heard,
                interrupted=True,
            ))
            self._state.last_heard = (turn, heard)
        self._replies, self._by_mark, self._open = {}, {}, None
        self._released.clear()
        self._clear_asked = False
        p.drop_held()
        p.play_end = min(p.play_end, time.monotonic())
        p.paused_at = None
        self._wakeup.set()


def _with_audio(frame: OutputAudioRawFrame, audio: bytes) -> OutputAudioRawFrame:
    out = type(frame)(audio, frame.sample_rate, frame.num_channels)
    if hasattr(frame, "context_id"):
        out.context_id = frame.context_id
    return out
