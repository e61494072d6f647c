"""Twilio's far end of the line, as a model: the earpiece that plays what the agent sends.

Twilio plays the media it is sent in order, in real time, from when it arrives (a gap when
nothing is queued); it echoes a `mark` once everything sent before the mark has played; `clear`
drops the audio not yet played and returns every pending mark at once (TWILIO.md). The
simulated Twilio line, the WAV-replay edge and the playout's unit test all need exactly this,
so it lives here once: pure bookkeeping on an injectable clock, no I/O and no tasks. The caller
of the model sends what it says when it says (`marks_due`, the names `clear` returns).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voice_agent.audio import PHONE_RATE


@dataclass
class Earpiece:
    """What the caller hears: `played` holds (start, pcm16) of every piece, cut where a
    `clear` stopped it. `rate`: the PCM's sample rate (the phone line's 8 kHz)."""

    clock: Callable[[], float] = time.monotonic
    rate: int = PHONE_RATE
    played: list[tuple[float, bytes]] = field(default_factory=list)
    play_end: float = 0.0  # when everything sent so far has played
    cleared_at: list[float] = field(default_factory=list)
    _marks: dict[str, float] = field(default_factory=dict)  # pending mark → when it is due

    def play(self, pcm16: bytes) -> float:
        """Queue a piece of audio; returns when it starts playing (after what is queued)."""
        now = self.clock()
        start = max(self.play_end, now)
        self.play_end = start + len(pcm16) / 2 / self.rate
        self.played.append((start, pcm16))
        return start

    def unplayed_s(self) -> float:
        """Seconds of sent audio still waiting to be played."""
        return max(0.0, self.play_end - self.clock())

    def mark(self, name: str) -> float:
        """A mark arrives: returns the seconds until it is due (all audio before it played)."""
        now = self.clock()
        self._marks[name] = max(self.play_end, now)
        return self._marks[name] - now

    def marks_due(self) -> list[str]:
        """Pending marks whose audio has played by now, in the order they were sent (each is
        returned once; a mark that `clear` already returned is never due again)."""
        now = self.clock()
        due = [name for name, at in self._marks.items() if at <= now]
        for name in due:
            del self._marks[name]
        return due

    def clear(self) -> list[str]:
        """Drop what has not played (the piece playing now is cut here) and return the names
        of every pending mark: Twilio echoes them all at once."""
        now = self.clock()
        self.cleared_at.append(now)
        while self.played and self.played[-1][0] >= now:
            self.played.pop()
        if self.played:
            start, pcm = self.played[-1]
            keep = int((now - start) * self.rate) * 2
            if keep < len(pcm):
                self.played[-1] = (start, pcm[:keep])
        self.play_end = min(self.play_end, now)
        returned = list(self._marks)
        self._marks.clear()
        return returned

    def heard_audio(self, since: float = 0.0) -> bytes:
        """The pieces that started playing from `since` on, gaps left out."""
        return b"".join(pcm for start, pcm in self.played if start >= since)

    def audio_at(self, at: float, n_bytes: int) -> bytes:
        """`n_bytes` of what the earpiece sounded from `at` on, on its timeline (silence where
        nothing played): what a microphone next to it picks up (the echo simulation)."""
        out = bytearray(n_bytes)
        until = at + n_bytes / 2 / self.rate
        for start, pcm in reversed(self.played):
            end = start + len(pcm) / 2 / self.rate
            if end <= at:
                break  # pieces are in time order: everything earlier ended earlier
            if start >= until:
                continue
            src = max(0, int(round((at - start) * self.rate)) * 2)
            dst = max(0, int(round((start - at) * self.rate)) * 2)
            length = min(len(pcm) - src, n_bytes - dst)
            if length > 0:
                out[dst : dst + length] = pcm[src : src + length]
        return bytes(out)
