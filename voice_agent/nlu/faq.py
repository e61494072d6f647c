"""FAQ retrieval: find the approved answer to a caller's question by meaning, or say unsure.

Nothing is generated: a confident match returns the entry's approved `answer` text as written in
`config/agents/<agent>/faq/<lang>.yaml`; anything else is "unsure" and the dialogue offers a
colleague. Usage (docs/faq.md):

    faq = FaqRetriever.load(Path("config/agents/northwind"))    # indexes once (disk-cached)
    match = faq.search("um do you ship to canada", "en")
    if match and match.confident and match.answer:
        say(match.answer)                  # in match.answer_language == the caller's language
    else:
        say_unsure_and_offer_a_colleague()

Search: every question variant (and answer) of every language is embedded once, and a small
entry classifier (softmax regression, entries as classes) is trained on them at index time. A
turn embeds the caller's text once (~10–25 ms with e5-small on 2 cores) and ranks entries by
`best variant's cosine + classifier_weight · log P(entry)`; the verdict needs the cosine (is the
caller near a question we know? — the guard against off-topic and garbage turns, which a softmax
alone cannot refuse) and the probability (is this entry clearly the one?) above calibrated
thresholds. First among the caller's language's entries; if that is not confident (or the language
has no FAQ), across all languages — a German caller may match an English entry's questions. The
answer is spoken only in the caller's language: a cross-language match whose entry has no text
in the caller's language comes back with `answer=None` (`foreign_answer` holds the other text).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from voice_agent.models import cache_dir
from voice_agent.nlu.faq_data import Faq, FaqError, load_faq
from voice_agent.nlu.faq_encoders import Scorer, make_scorer

SETTINGS_FILE = "retrieval.yaml"


@dataclass(frozen=True)
class FaqSettings:
    """`faq/retrieval.yaml`: the encoder, the ranking, and the thresholds calibrated for them."""

    encoder: str = "e5-small"
    lexical_weight: float = 0.0  # > 0: nearest-question cosine mixed with char n-gram TF-IDF
    classifier_weight: float = 0.05  # weight of log P(entry); 0: nearest question only
    classifier_c: float = 300.0  # inverse L2 strength of the entry classifier
    # conservative defaults; `voice-agent bench faq --calibrate` measures them on the dev split
    min_score: float = 0.93  # cosine of the caller's turn to the entry's nearest question
    min_probability: float = 0.5  # the entry classifier's probability (over all entries)
    min_margin: float = 0.0  # ranking margin to the runner-up entry
    cross_language: bool = True
    calibration: dict = field(default_factory=dict)  # how the thresholds were obtained

    @classmethod
    def load(cls, path: Path) -> FaqSettings:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise FaqError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        return cls(**data)

    def with_thresholds(self, min_score: float, min_probability: float, min_margin: float = 0.0,
                        **calibration) -> FaqSettings:
        return replace(self, min_score=round(min_score, 4),
                       min_probability=round(min_probability, 4),
                       min_margin=round(min_margin, 4), calibration=calibration)

    def dump(self, path: Path) -> None:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        header = ("# FAQ retrieval settings (docs/faq.md). The thresholds are calibrated on the "
                  "dev split\n# by `voice-agent bench faq --calibrate`; edit by hand only with "
                  "a measurement.\n")
        path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    language: str  # the language of the nearest question variant
    question: str
    score: float  # cosine to that variant
    probability: float  # entry classifier's probability (softmax over all entries)
    margin: float  # ranking score minus the best *different* entry's; 1.0 when alone


@dataclass(frozen=True)
class FaqMatch:
    entry_id: str
    language: str  # the caller's
    answer: str | None  # approved text in the caller's language; None if the entry lacks it
    question: str  # the variant that matched best
    score: float
    probability: float
    margin: float
    confident: bool
    cross_language: bool  # found among other languages' questions
    runner_up: str | None = None
    foreign_answer: str | None = None  # the entry's text in the matched language, if no answer
    seconds: float = 0.0

    @property
    def answer_language(self) -> str | None:
        return self.language if self.answer is not None else None


# Openers and fillers callers say before the question ("um hi yeah I was wondering …"): they
# add nothing to the meaning and pull a short question's embedding away from every entry.
_FILLER = re.compile(
    r"^(?:(?:um+|uh+|erm|hmm+|ah|oh|hi|hello|hey|yeah|yes|so|okay|ok|well|right|please|"
    r"i was wondering(?: if)?|i wanted to ask(?: if)?|eh|euh|ehm|este|bueno|pues|hola|oiga|"
    r"mire|bonjour|allô|alors|bah|ben|hallo|äh+m?|ähm|also|ja|guten tag|嗯|呃|啊|那个|"
    r"你好|喂|请问)[\s,.!?，。！？、]+)+",
    re.IGNORECASE)


def strip_fillers(text: str) -> str:
    """The caller's turn without leading fillers; the turn itself if nothing else is left."""
    rest = _FILLER.sub("", text.strip() + " ").strip()
    return rest or text.strip()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class FaqRetriever:
    """One agent's FAQ, indexed once per process; `search()` per caller turn."""

    def __init__(self, faq: Faq, settings: FaqSettings | None = None,
                 scorer: Scorer | None = None, cache: Path | None = None) -> None:
        self.faq = faq
        self.settings = settings or FaqSettings()
        self.scorer = scorer or make_scorer(self.settings.encoder, self.settings.lexical_weight)
        self._ids = sorted(faq.ids())
        col = {entry_id: i for i, entry_id in enumerate(self._ids)}
        self._labels: list[tuple[str, str, str]] = []  # (language, entry id, question)
        answers: list[tuple[str, str]] = []
        for lang in faq.languages:
            for entry in faq.entries[lang].values():
                self._labels.extend((lang, entry.id, q) for q in entry.questions)
                answers.append((entry.id, entry.answer))
        started = time.monotonic()
        self.scorer.index([q for _, _, q in self._labels] + [a for _, a in answers])
        self._entry_col = np.array([col[e] for _, e, _ in self._labels], dtype=int)
        self._n_q = len(self._labels)
        langs = np.array([lang for lang, _, _ in self._labels])
        self._lang_rows = {lang: np.flatnonzero(langs == lang) for lang in faq.languages}
        self._lang_cols = {lang: np.array(sorted(col[i] for i in faq.ids(lang)), dtype=int)
                           for lang in faq.languages}
        self._all_rows = np.arange(self._n_q)
        self._all_cols = np.arange(len(self._ids))
        self._coef = self._intercept = None
        if self.settings.classifier_weight > 0 and len(self._ids) > 1:
            y = np.concatenate([self._entry_col, [col[e] for e, _ in answers]])
            self._train_classifier(y, cache)
        self.index_seconds = time.monotonic() - started

    @classmethod
    def load(cls, agent_dir: Path, *, gemma=None, settings: FaqSettings | None = None,
             cache: Path | None | bool = True) -> FaqRetriever:
        folder = Path(agent_dir) / "faq"
        faq = load_faq(folder)
        settings = settings or FaqSettings.load(folder / SETTINGS_FILE)
        scorer = make_scorer(settings.encoder, settings.lexical_weight, gemma=gemma, cache=cache)
        folder_cache = (cache_dir() / "faq") if cache is True else (cache or None)
        return cls(faq, settings, scorer, folder_cache)

    # --- the entry classifier ------------------------------------------------------------
    def _train_classifier(self, y: np.ndarray, cache: Path | None) -> None:
        key = hashlib.sha256(f"{self.scorer.id}|{self.faq.content_hash()}|"
                             f"{self.settings.classifier_c}".encode()).hexdigest()[:32]
        path = cache / f"clf-{key}.npz" if cache else None
        if path is not None and path.exists():
            data = np.load(path)
            self._coef, self._intercept = data["coef"], data["intercept"]
            return
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=self.settings.classifier_c, max_iter=3000)
        clf.fit(self.scorer.document_features(), y)
        coef = np.zeros((len(self._ids), clf.coef_.shape[1]), np.float32)
        intercept = np.full(len(self._ids), -1e4, np.float32)  # entries never seen: impossible
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
        self._coef, self._intercept = coef, intercept
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, coef=coef, intercept=intercept)

    def _logits(self, features) -> np.ndarray | None:
        if self._coef is None:
            return None
        if isinstance(features, np.ndarray) and features.shape[0] == 1:
            return np.einsum("ij,j->i", self._coef, features[0])[None] + self._intercept
        return np.asarray(features @ self._coef.T) + self._intercept

    # --- scoring -------------------------------------------------------------------------
    def _best(self, scores: np.ndarray, logits: np.ndarray | None, rows: np.ndarray,
              cols: np.ndarray) -> tuple[Candidate, str | None] | None:
        """The top entry among `cols` (its variants among `rows`), and the runner-up's id."""
        if rows.size == 0 or cols.size == 0:
            return None
        near = np.full(len(self._ids), -1.0, dtype=np.float32)
        np.maximum.at(near, self._entry_col[rows], scores[rows])
        near = near[cols]
        # probability over *all* entries (not renormalised over the pool): a caller whose
        # question belongs to an entry their language lacks must not look sure of another one
        prob = _softmax(logits)[cols] if logits is not None else np.ones(len(cols))
        w = self.settings.classifier_weight if logits is not None else 0.0
        rank = near + w * np.log(np.maximum(prob, 1e-12))
        order = np.argsort(-rank)
        top = order[0]
        entry = self._ids[cols[top]]
        within = rows[self._entry_col[rows] == cols[top]]
        best_row = within[np.argmax(scores[within])]
        lang, _, question = self._labels[best_row]
        margin = float(rank[top] - rank[order[1]]) if len(order) > 1 else 1.0
        runner_up = self._ids[cols[order[1]]] if len(order) > 1 else None
        return Candidate(entry, lang, question, float(near[top]), float(prob[top]),
                         margin), runner_up

    def is_confident(self, c: Candidate) -> bool:
        s = self.settings
        return (c.score >= s.min_score and c.probability >= s.min_probability
                and c.margin >= s.min_margin)

    def candidates(self, scores: np.ndarray, logits: np.ndarray | None, language: str):
        """((best, runner-up) in the caller's language, (best, runner-up) across languages)."""
        own = self._best(scores, logits, self._lang_rows.get(language, np.zeros(0, int)),
                         self._lang_cols.get(language, np.zeros(0, int)))
        every = (self._best(scores, logits, self._all_rows, self._all_cols)
                 if self.settings.cross_language else None)
        return own, every

    def decide(self, scores: np.ndarray, logits: np.ndarray | None,
               language: str) -> FaqMatch | None:
        own, every = self.candidates(scores, logits, language)
        # the caller's language first; if that is not confident, the search over every
        # language's questions (a superset: its top is the same entry or a better one)
        chosen = own if own is not None and (every is None or self.is_confident(own[0])) \
            else every
        if chosen is None:
            return None
        best, runner_up = chosen
        cross = best.language != language
        entry = self.faq.entry(best.entry_id, language)
        foreign = None if entry else self.faq.entry(best.entry_id, best.language).answer
        return FaqMatch(
            entry_id=best.entry_id, language=language, answer=entry.answer if entry else None,
            question=best.question, score=round(best.score, 4),
            probability=round(best.probability, 4), margin=round(best.margin, 4),
            confident=self.is_confident(best), cross_language=cross, runner_up=runner_up,
            foreign_answer=foreign,
        )

    def score_many(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw question-variant scores and classifier logits for texts (evaluation batches)."""
        texts = [strip_fillers(t) for t in texts]
        features = self.scorer.features(texts)
        scores = self.scorer.scores(texts, features)[:, : self._n_q]
        logits = self._logits(features)
        return scores, logits

    def search(self, text: str, language: str) -> FaqMatch | None:
        """The best entry for a caller's turn, with score, probability, margin and a
        confident/unsure verdict. None only for a blank turn or an empty FAQ. Speak `answer`
        only when `confident` and `answer` is not None."""
        if not text or not text.strip() or not self._labels:
            return None
        started = time.perf_counter()
        scores, logits = self.score_many([text])
        match = self.decide(scores[0], None if logits is None else logits[0], language)
        return replace(match, seconds=time.perf_counter() - started) if match else None
