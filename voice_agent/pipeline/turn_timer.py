"""One caller turn's timing marks, carried with the turn from the VAD's stop to its answer's
first audio: the latency taps (pipeline/latency.py) read it at the transport edges."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TurnTimer:
    """Monotonic marks along one caller turn (speech_end, vad_stop, stt_end, reply_ready,
    first_audio)."""

    marks: dict[str, float] = field(default_factory=dict)
    turn: int = 0

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks[name] = time.monotonic() if at is None else at

    def has(self, name: str) -> bool:
        return name in self.marks

    def span(self, start: str, end: str) -> float:
        if start in self.marks and end in self.marks:
            return max(0.0, self.marks[end] - self.marks[start])
        return 0.0

    def reset(self) -> None:
        self.marks.clear()
