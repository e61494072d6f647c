"""`voice-agent bench fewshot`: held-out intent accuracy against how many examples a company writes.

A company should not have to write 40 examples × 5 languages per intent. This bench trains the
intent head on random draws of N examples per intent (N = 5, 10, 20, 40; several seeded draws
per size; mean and spread reported) and tests on the whole held-out split (12 turns per intent
and language, never trained on), in four settings:

- **all 13 intents, N in each of the five languages** / **in English only** (tested in all
  five): the plain question;
- **the company's intents** (order status, cancel, … — the ones it defines) with N examples in
  five languages / in English only, **beside the product's system intents** (speak to agent,
  change language, goodbye, affirm, deny, out of scope), which ship with the product in all five
  languages (issue 13, item 2): what a company really has to write.

Heads compared (all on the cached Gemma layer 6 + 10 features, feature_cache.py): the shipped
softmax head; the same with class-balanced weights, with L2 chosen by cross-validation, and on
language-centred, length-normalised features; a nearest-centroid (prototype) head; and a
Gaussian classifier with one shrunk covariance (the statistics of the OOD score, ood.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from voice_agent.bench.report import append_to_benchmarks
from voice_agent.machine import machine
from voice_agent.nlu.dataset import LANGUAGES, Example, load_split
from voice_agent.nlu.feature_cache import FeatureCache
from voice_agent.nlu.gemma import DEFAULT_LAYERS
from voice_agent.nlu.head import train_head
from voice_agent.nlu.ood import fit_ood

SIZES = (5, 10, 20, 40)
# The product's system intents (agent/models.py SYSTEM_INTENTS) that this dataset labels;
# a company never writes their examples.
SYSTEM_INTENTS = ("speak_to_agent", "change_language", "goodbye", "affirm", "deny",
                  "out_of_scope")

Predictor = Callable[[np.ndarray, list[str]], list[str]]


@dataclass
class BenchData:
    train: list[Example]
    train_x: np.ndarray
    heldout: list[Example]
    heldout_x: np.ndarray
    language_means: dict[str, np.ndarray]  # per language, from the product's system intents

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.train})


def load_data(layers: tuple[int, ...] = DEFAULT_LAYERS, cache: FeatureCache | None = None,
              progress: bool = True) -> BenchData:
    cache = cache or FeatureCache()
    train, heldout = load_split("train"), load_split("heldout")
    train_x = cache.features([e.text for e in train], layers, progress=progress)
    heldout_x = cache.features([e.text for e in heldout], layers, progress=progress)
    # Unlabelled text in every served language that exists whatever the company writes: the
    # product's system-intent examples. Their mean is each language's offset in Gemma's space.
    means = {lang: train_x[[i for i, e in enumerate(train)
                            if e.language == lang and e.intent in SYSTEM_INTENTS]].mean(0)
             for lang in LANGUAGES}
    return BenchData(train, train_x, heldout, heldout_x, means)


# --- heads: each fits on (features, labels, languages) and returns a predictor -------------

def _normalise(data: BenchData, x: np.ndarray, langs: list[str],
               scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Subtract the language's mean, then unit length: removes "which language" from the
    features so an English example sits nearer its French paraphrase."""
    centred = (x - np.stack([data.language_means[lang] for lang in langs])) / scale
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def softmax_head(l2: float = 1e-3, balanced: bool = False, normalise: bool = False):
    def fit(data: BenchData, x, y, langs, classes) -> Predictor:
        tx = (lambda f, ls: _normalise(data, f, ls)) if normalise else (lambda f, ls: f)
        head = train_head(tx(x, langs), y, classes, l2=l2, balanced=balanced)
        return lambda f, ls: [label for label, _ in head.predict(tx(f, ls))]
    return fit


def cv_l2_head(grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1), folds: int = 3,
               balanced: bool = False):
    """L2 strength chosen by stratified cross-validation on the training draw itself."""
    def fit(data: BenchData, x, y, langs, classes) -> Predictor:
        order = np.argsort(np.array(y), kind="stable")  # stratify: every fold has every intent
        best, best_acc = grid[0], -1.0
        for l2 in grid:
            hits = 0
            for k in range(folds):
                test = order[k::folds]
                train = np.setdiff1d(order, test)
                head = train_head(x[train], [y[i] for i in train], classes, l2=l2,
                                  balanced=balanced, max_iter=100)
                hits += sum(p == y[i] for (p, _), i in zip(head.predict(x[test]), test,
                                                           strict=True))
            if hits / len(y) > best_acc:
                best, best_acc = l2, hits / len(y)
        return softmax_head(best, balanced)(data, x, y, langs, classes)
    return fit


def prototype_head(data: BenchData, x, y, langs, classes) -> Predictor:
    """Nearest class centroid by cosine on language-centred, standardised, normalised features
    (without the per-dimension scale a few huge dimensions decide every cosine)."""
    scale = x.std(axis=0) + 1e-6
    z = _normalise(data, x, langs, scale)
    present = sorted(set(y))
    protos = np.stack([z[[i for i, label in enumerate(y) if label == c]].mean(0)
                       for c in present])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    return lambda f, ls: [present[i]
                          for i in (_normalise(data, f, ls, scale) @ protos.T).argmax(1)]


def gaussian_head(normalise: bool = True):
    """Nearest class mean by Mahalanobis distance (shared, shrunk covariance)."""
    def fit(data: BenchData, x, y, langs, classes) -> Predictor:
        tx = (lambda f, ls: _normalise(data, f, ls)) if normalise else (lambda f, ls: f)
        model = fit_ood(tx(x, langs), y, components=min(256, len(y) - 1))
        return lambda f, ls: [model.labels[i] for i in model.distances(tx(f, ls)).argmin(1)]
    return fit


HEADS: dict[str, Callable] = {
    "softmax (shipped)": softmax_head(),
    "softmax, balanced": softmax_head(balanced=True),
    "softmax, L2 by CV": cv_l2_head(),
    "softmax, centred+normalised": softmax_head(l2=1e-3, normalise=True),
    "softmax, centred+normalised, balanced": softmax_head(l2=1e-3, normalise=True,
                                                          balanced=True),
    "prototype (centred+normalised)": prototype_head,
    "gaussian, shared covariance": gaussian_head(),
}


# --- settings: which examples a company writes ---------------------------------------------

@dataclass(frozen=True)
class Setting:
    name: str
    languages: tuple[str, ...]  # languages the company writes its examples in
    system_full: bool  # the product's system intents come with all their examples

    def draw(self, data: BenchData, n: int, rng: np.random.Generator) -> list[int]:
        groups: dict[tuple[str, str], list[int]] = {}
        for i, e in enumerate(data.train):
            groups.setdefault((e.language, e.intent), []).append(i)
        chosen = []
        for (lang, intent), rows in sorted(groups.items()):
            if self.system_full and intent in SYSTEM_INTENTS:
                chosen += rows
            elif lang in self.languages:
                chosen += sorted(rng.choice(rows, size=min(n, len(rows)), replace=False))
        return chosen


SETTINGS = (
    Setting("all intents, 5 languages", LANGUAGES, False),
    Setting("all intents, English only", ("en",), False),
    Setting("company intents, 5 languages + system intents", LANGUAGES, True),
    Setting("company intents, English only + system intents", ("en",), True),
)


def evaluate(data: BenchData, setting: Setting, head: Callable, n: int, seed: int
             ) -> dict[str, float]:
    rows = setting.draw(data, n, np.random.default_rng(seed))
    x, y = data.train_x[rows], [data.train[i].intent for i in rows]
    langs = [data.train[i].language for i in rows]
    predict = head(data, x, y, langs, data.intents)
    predicted = predict(data.heldout_x, [e.language for e in data.heldout])
    out: dict[str, list[bool]] = {}
    for p, e in zip(predicted, data.heldout, strict=True):
        ok = p == e.intent
        out.setdefault(e.language, []).append(ok)
        out.setdefault("all", []).append(ok)
        if e.intent not in SYSTEM_INTENTS:
            out.setdefault("company", []).append(ok)
    return {k: float(np.mean(v)) for k, v in out.items()}


def draws_for(n: int, draws: int) -> int:
    return 1 if n >= 40 else draws  # 40 is the whole training split: one draw only


def _cell(values: list[float]) -> str:
    mean = 100 * statistics.mean(values)
    spread = 100 * (max(values) - min(values)) if len(values) > 1 else 0.0
    return f"{mean:.1f}" + (f" ±{spread / 2:.1f}" if spread else "")


def run_fewshot_bench(heads: list[str] | None = None, settings: list[str] | None = None,
                      sizes: tuple[int, ...] = SIZES, draws: int = 3, write: bool = False,
                      data: BenchData | None = None) -> str:
    started = time.monotonic()
    data = data or load_data()
    chosen_heads = heads or ["softmax (shipped)", "softmax, balanced",
                             "softmax, centred+normalised, balanced"]
    chosen_settings = [s for s in SETTINGS if not settings or s.name in settings]
    cols = ["en", "es", "fr", "de", "zh", "all", "company"]
    lines = [f"### Few examples, many languages — {date.today().isoformat()}", "",
             f"Machine: {machine()}. Command: `voice-agent bench fewshot --draws {draws}"
             + "".join(f" --head '{h}'" for h in chosen_heads) + "`. "
             "Held-out intent accuracy (%, 780 turns: 12 per intent and language); N examples "
             f"per intent; {draws} seeded draws per N < 40 (mean ±half the range); features: "
             f"Gemma layers {'+'.join(map(str, DEFAULT_LAYERS))}, cached. \"company\" = the 7 "
             "intents a company defines (84 turns per language), \"all\" = all 13.", ""]
    for setting in chosen_settings:
        lines += [f"**{setting.name}**", "",
                  "| head | N | " + " | ".join(cols) + " |",
                  "|---|---|" + "---|" * len(cols)]
        for name in chosen_heads:
            for n in sizes:
                runs = [evaluate(data, setting, HEADS[name], n, seed)
                        for seed in range(draws_for(n, draws))]
                lines.append(f"| {name} | {n} | "
                             + " | ".join(_cell([r[c] for r in runs]) for c in cols) + " |")
        lines.append("")
    lines.append(f"({time.monotonic() - started:.0f} s)")
    report = "\n".join(lines) + "\n"
    if write:
        append_to_benchmarks("\n" + report)
    return report
