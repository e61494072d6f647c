"""The far end's playback as the edge reports it: the one way back from an edge into the playout.

An edge that takes unplayed audio back (Twilio's `clear`) plays whatever it was sent, in order,
from when it was written. Only the edge knows when it really wrote each piece of audio and the
`clear`: pipecat's output transport paces the audio itself, so a `clear` leaves well after the
playout queued it (~0.1 s on a busy machine). The edge reports both here, as it writes them; the
playout reads what each `clear` dropped and holds exactly that again (pipeline/playout.py).
One per call, made by the call factory and handed to the edge and to the `PlayoutController`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ClearReport:
    """A `clear` left the edge at `sent_at` (monotonic), dropping `unplayed_s` of audio it had
    been sent and not yet played."""

    sent_at: float
    unplayed_s: float


class EdgePlayback:
    """What the edge has written, and when each `clear` went out."""

    def __init__(self) -> None:
        self._play_end = 0.0  # monotonic: when the audio written so far has played out there
        self._clears: deque[ClearReport] = deque()

    def audio_written(self, seconds: float) -> None:
        """The edge has just written this much audio: it plays after what is still playing."""
        now = time.monotonic()
        self._play_end = max(self._play_end, now) + seconds

    def clear_written(self) -> None:
        """The edge has just written a `clear`: what it had sent and not yet played is gone."""
        now = time.monotonic()
        self._clears.append(ClearReport(now, max(0.0, self._play_end - now)))
        self._play_end = now

    def take_clears(self) -> list[ClearReport]:
        """The `clear`s written since the last call, oldest first."""
        reports = list(self._clears)
        self._clears.clear()
        return reports
