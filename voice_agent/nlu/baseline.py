"""Baseline understanding: nearest knowledge-base example by character n-gram TF-IDF cosine.

An honest, model-free baseline: the fine-tuned model is measured against it. It works the same in
every language (character n-grams need no tokenizer, so Chinese works too).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

import numpy as np

from voice_agent.kb import KnowledgeBase
from voice_agent.nlu.numbers import extract_order_number
from voice_agent.nlu.understanding import Understanding

NGRAMS = (2, 3, 4)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\d+", "#", text)  # any number looks alike: "order 1001" ≈ "order 1004"
    return " " + re.sub(r"[^\w#]+", " ", text).strip() + " "


def char_ngrams(text: str) -> Counter[str]:
    t = normalise(text)
    return Counter(t[i : i + n] for n in NGRAMS for i in range(len(t) - n + 1))


class _LanguageIndex:
    def __init__(self, examples: dict[str, list[str]]) -> None:
        self.labels: list[str] = []
        self.texts: list[str] = []
        grams: list[Counter[str]] = []
        for intent, phrases in examples.items():
            for phrase in phrases:
                self.labels.append(intent)
                self.texts.append(phrase)
                grams.append(char_ngrams(phrase))
        df: Counter[str] = Counter(g for c in grams for g in c)
        n = len(grams)
        self.vocab = {g: i for i, g in enumerate(df)}
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in df], dtype=np.float32)
        self.matrix = np.stack([self._vector(c) for c in grams]) if grams else np.zeros((0, 1))

    def _vector(self, grams: Counter[str]) -> np.ndarray:
        v = np.zeros(len(self.vocab), dtype=np.float32)
        for g, count in grams.items():
            i = self.vocab.get(g)
            if i is not None:
                v[i] = (1 + math.log(count)) * self.idf[i]
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def nearest(self, text: str) -> tuple[str, float, str]:
        scores = self.matrix @ self._vector(char_ngrams(text))
        best = int(np.argmax(scores))
        return self.labels[best], float(scores[best]), self.texts[best]


class BaselineUnderstander:
    """Classifies an utterance by its nearest example in the language's knowledge base."""

    name = "baseline"

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._index = {lang: _LanguageIndex(pack.examples) for lang, pack in kb.packs.items()}

    def understand(self, text: str, language: str) -> Understanding:
        lang = language if language in self._index else next(iter(self._index))
        intent, score, example = self._index[lang].nearest(text)
        slots = {}
        number = extract_order_number(text, lang)
        if number:
            slots["order_number"] = number
        return Understanding(intent, round(score, 4), lang, slots, example, text=text)
