"""What understanding a caller's sentence yields, and what every understanding engine offers.

The dialogue stage depends on these two names only; the baseline and the fine-tuned model both
implement `Understander`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Understanding:
    intent: str
    confidence: float
    language: str
    slots: dict[str, str] = field(default_factory=dict)
    nearest_example: str = ""
    sentiment: str | None = None  # negative | neutral | positive (None: not estimated)
    sentiment_confidence: float = 0.0
    text: str = ""  # the transcript it was read from
    # Out-of-distribution score (nlu/ood.py; > 1 = unlike anything the model was trained on)
    # and whether the agent should act on the turn (False: out_of_scope or out of distribution
    # → FAQ search, then "say it another way" / a human). None/True where not estimated.
    ood_score: float | None = None
    in_domain: bool = True


class Understander(Protocol):
    """What the dialogue stage needs: the baseline and the fine-tuned model both provide it."""

    name: str

    def understand(self, text: str, language: str) -> Understanding: ...
