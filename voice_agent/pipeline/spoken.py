"""What the caller heard of the agent's answers: sentences, their marks, and the cut one.

The playout (pipeline/playout.py) releases each answer sentence by sentence; after each one a
mark goes out, and the edge echoes it once the caller has heard everything before it. This
ledger keeps which sentence each mark closes, which marks came back, and each answer's whole
text, so that on barge-in the answer counts only as far as it was heard: the echoed sentences,
plus the share of the cut sentence that had time to play.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.pipeline.frames import SentenceEndFrame

RECENT_TURNS = 3  # whole answers remembered this many turns back (a cut can only be recent)


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
    for sentence in sentences:
        total = sentence.total_s if sentence.total_s is not None else sentence.audio_s
        played = sentence.played_s(cut_at)
        if sentence.heard or (total > 0 and played >= total - 1e-6):
            words.extend(sentence.text.split())
            continue
        if total > 0:
            part = sentence.text.split()
            words.extend(part[: int(len(part) * played / total)])
        break
    return " ".join(words)


@dataclass(frozen=True)
class PlayedReply:
    """An answer that has played to its end, or was cut: what it said and what was heard."""

    turn: int
    text: str
    heard_text: str


class SpokenReplies:
    """The playout's ledger of sentences released, marked and heard (see module doc)."""

    def __init__(self) -> None:
        self.open: SpokenSentence | None = None  # being released, its end not yet seen
        self._marked: dict[int, list[SpokenSentence]] = {}  # turn → sentences, until played
        self._by_mark: dict[str, tuple[SpokenSentence, bool]] = {}  # → (sentence, last)
        self._marks = 0
        self._texts: dict[int, str] = {}  # turn → the whole answer, as the dialogue said it

    def reply_started(self, turn: int, text: str) -> None:
        self._texts = {t: said for t, said in self._texts.items() if t >= turn - RECENT_TURNS}
        self._texts[turn] = text

    def released(self, seconds: float, ends_at: float) -> None:
        """Audio of the sentence being released went to the transport, playing until
        `ends_at`."""
        if self.open is None:
            self.open = SpokenSentence(turn=-1, text="", mark="")
        self.open.audio_s += seconds
        self.open.ends_at = ends_at

    def taken_back(self, seconds: float, cleared_at: float) -> None:
        """A `clear` took back this much of the open sentence's released audio."""
        if self.open is not None:
            self.open.audio_s = max(0.0, self.open.audio_s - seconds)
            self.open.ends_at = min(self.open.ends_at, cleared_at)

    def forget_empty_open(self) -> None:
        if self.open is not None and self.open.audio_s <= 0 and not self.open.text:
            self.open = None

    def sentence_ended(self, frame: SentenceEndFrame) -> SpokenSentence:
        """Close the open sentence under a new mark name (`SpokenSentence.mark`)."""
        sentence = self.open or SpokenSentence(turn=-1, text="", mark="")
        self.open = None
        self._marks += 1
        sentence.turn, sentence.text = frame.turn, frame.text
        sentence.mark = f"t{frame.turn}-s{self._marks}"
        self._marked.setdefault(frame.turn, []).append(sentence)
        self._by_mark[sentence.mark] = (sentence, frame.last)
        return sentence

    def reopen(self, sentence: SpokenSentence) -> None:
        """A sentence whose mark a `clear` returned unheard: open again, its mark forgotten."""
        self._by_mark.pop(sentence.mark, None)
        marked = self._marked.get(sentence.turn, [])
        if marked and marked[-1] is sentence:
            marked.pop()
        sentence.mark, self.open = "", sentence

    def mark_echoed(self, name: str) -> PlayedReply | None:
        """The edge echoed a mark; the answer, when that was its last sentence's."""
        found = self._by_mark.pop(name, None)
        if found is None:
            return None  # unknown, or an echo of audio that `clear` discarded
        sentence, last = found
        sentence.heard = True
        if not last:
            return None
        text = " ".join(s.text for s in self._marked.pop(sentence.turn, [sentence]))
        return PlayedReply(sentence.turn, text, text)

    def cut(
        self, open_total_s: float | None, unreleased: list[SentenceEndFrame], cut_at: float,
        current_turn: int,
    ) -> PlayedReply | None:
        """Barge-in at `cut_at`: what the caller heard of the oldest answer not yet played out,
        and forget every sentence. `open_total_s`: the open sentence's whole length (released
        and still held); `unreleased`: the ends of the sentences not released yet, in order."""
        unreleased = list(unreleased)
        pending = [s for turn in sorted(self._marked) for s in self._marked[turn]]
        if self.open is not None:
            self.open.total_s = open_total_s
            self.open.turn = unreleased[0].turn if unreleased else current_turn
            self.open.text = unreleased.pop(0).text if unreleased else ""
            pending.append(self.open)
        pending += [SpokenSentence(f.turn, f.text, "") for f in unreleased]
        self._marked, self._by_mark, self.open = {}, {}, None
        if not pending:
            return None
        turn = pending[0].turn
        cut = [s for s in pending if s.turn == turn]
        said = " ".join(s.text for s in cut if s.text)
        # sentences TTS never reached count in the whole answer too
        return PlayedReply(turn, self._texts.get(turn, said), heard_text(cut, cut_at))
