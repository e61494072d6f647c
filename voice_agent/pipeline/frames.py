"""Frames of our own that travel the call pipeline next to pipecat's."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class SentenceEndFrame(DataFrame):
    """Follows the audio of one spoken sentence: the playout sends a `mark` after it."""

    turn: int
    text: str
    last: bool = False  # the reply's last sentence


@dataclass
class MarkEchoFrame(SystemFrame):
    """The telephony edge says the audio up to this mark has been played (or cleared)."""

    mark: str  # (not `name`: every pipecat frame has its own)


@dataclass
class NoSpeechSegmentFrame(DataFrame):
    """A VAD segment held no words (noise, a cough, a breath)."""

    audio_s: float
