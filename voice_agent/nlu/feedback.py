"""Operators' intent corrections (the `intent_feedback` table) as training rows.

`voice-agent train --with-feedback` adds them to the intent head's data, beside the knowledge
base's example phrases: (transcript, corrected intent). When a turn was corrected more than
once, the newest correction counts. Transcripts were redacted when stored.
"""

from __future__ import annotations

from voice_agent.kb import INTENTS
from voice_agent.store.queries import CallStore, Feedback


def feedback_rows(feedback: list[Feedback]) -> list[tuple[str, str]]:
    """(text, intent) per corrected turn, newest correction first wins; unknown intents (a
    renamed one) and empty transcripts are left out."""
    seen: set[tuple[str, int]] = set()
    rows = []
    for fb in sorted(feedback, key=lambda f: (f.at, f.id), reverse=True):
        key = (fb.call_id, fb.turn)
        if key in seen:
            continue
        seen.add(key)
        if fb.corrected_intent in INTENTS and fb.transcript.strip():
            rows.append((fb.transcript.strip(), fb.corrected_intent))
    return rows


def stored_feedback_rows(store: CallStore) -> list[tuple[str, str]]:
    return feedback_rows(store.list_feedback())
