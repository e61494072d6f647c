"""What the agent says in one turn, and how a reply is cut for speech (first audio sooner)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voice_agent.events import CallEvent

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_CLAUSE_END = re.compile(r"(?<=[,;，；])\s+")
LONG_SENTENCE = 60  # characters; longer ones are spoken clause by clause


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def speech_chunks(text: str) -> list[str]:
    """Sentences, with long ones cut at commas: the first audio starts after a short clause."""
    chunks: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence) <= LONG_SENTENCE:
            chunks.append(sentence)
            continue
        clauses = [c for c in _CLAUSE_END.split(sentence) if c]
        # keep very short clauses attached to the next so prosody stays natural
        buf = ""
        for clause in clauses:
            buf = f"{buf} {clause}".strip()
            if len(buf) >= 20:
                chunks.append(buf)
                buf = ""
        if buf and len(chunks) > 0 and chunks[-1] in sentence:
            chunks[-1] = f"{chunks[-1]} {buf}"  # a short tail stays with its clause
        elif buf:
            chunks.append(buf)
    return chunks


@dataclass
class Reply:
    text: str
    language: str
    actions: list[str] = field(default_factory=list)  # "transfer", "end_call", "switch_language"
    # events for the call's bus (ActionFailed); call_id is left empty: the dialogue stage that
    # speaks the reply knows the call and publishes them
    events: list[CallEvent] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return speech_chunks(self.text)
