"""What a telephony edge can do, declared as data: the call factory builds each call's
pipeline from it instead of testing edges by name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EdgeCapabilities:
    """One edge's abilities; `name` is recorded as the call's transport."""

    name: str
    # a `clear` makes the far end drop audio it was sent but has not played (Twilio): a pause
    # then silences the caller's earpiece at once and the dropped audio is held again here
    takes_back_unplayed: bool = False
    # the edge reports when the audio before a playout mark has played (Twilio echoes marks;
    # SIP and replay pace the audio themselves and know when it is out)
    echoes_marks: bool = True
