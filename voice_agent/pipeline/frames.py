"""Frames of our own that travel the call pipeline next to pipecat's.

Downstream, in order with the bot's audio: `ReplyStartedFrame` before an answer, then each
sentence's audio and its `SentenceEndFrame`; the playout turns those into `PlayoutMarkFrame`s and
asks for a `PlayoutClearFrame` on a pause. Both subclass pipecat's `OutputTransportMessageFrame`,
so the output transport keeps them in line with the audio and hands them to its serializer
(Twilio) or its `send_message` (SIP, replay): each edge writes them in its own wire protocol.
Upstream: the edge's `MarkEchoFrame` (played), the playout's `HeardReplyFrame` (what the caller
heard of a cut answer) for the dialogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    DataFrame,
    OutputTransportMessageFrame,
    SystemFrame,
    VADUserStoppedSpeakingFrame,
)

from voice_agent.pipeline.turn_timer import TurnTimer


@dataclass
class TimedVADStopFrame(VADUserStoppedSpeakingFrame):
    """The VAD's stop, carrying the timer of the turn it ends to STT (which keeps it with the
    segment it transcribes)."""

    timer: TurnTimer = field(default_factory=TurnTimer)


@dataclass
class NoSpeechSegmentFrame(DataFrame):
    """A VAD segment held no words (noise, a cough, a breath)."""

    audio_s: float


@dataclass
class ReplyStartedFrame(DataFrame):
    """Goes before an answer's first sentence: the playout learns the whole answer's text from
    it (a cut answer is reported whole), and after the output transport the latency tap closes
    `timer` (None: no caller turn to time, e.g. a keypad reply) on the first audible frame."""

    turn: int
    text: str
    timer: TurnTimer | None = None


@dataclass
class SentenceEndFrame(DataFrame):
    """Follows the audio of one spoken sentence: the playout sends a mark after it."""

    turn: int
    text: str
    last: bool = False  # the reply's last sentence


@dataclass
class PlayoutMarkFrame(OutputTransportMessageFrame):
    """Goes out right after a sentence's audio; the edge reports it back (`MarkEchoFrame`) once
    the caller has heard everything before it."""

    # no wire message: each edge writes the mark in its own protocol
    message: Any = field(default=None, init=False)
    mark: str = ""  # (not `name`: every pipecat frame has its own)


@dataclass
class PlayoutClearFrame(OutputTransportMessageFrame):
    """Asks an edge that can (`EdgeCapabilities.takes_back_unplayed`) to drop the audio it was
    sent and has not played yet; the edge reports when it went (`EdgePlayback.clear_written`)."""

    message: Any = field(default=None, init=False)


@dataclass
class MarkEchoFrame(SystemFrame):
    """The telephony edge says the audio up to this mark has been played (or cleared)."""

    mark: str


@dataclass
class HeardReplyFrame(SystemFrame):
    """Upstream from the playout: the caller cut answer `turn` after hearing `heard_text`."""

    turn: int
    heard_text: str
