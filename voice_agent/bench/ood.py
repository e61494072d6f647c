"""`voice-agent bench fewshot --no-fewshot`: which score tells turns the model cannot place
from turns it can.

In-domain: the held-out turns of the agent's tasks (every intent but `out_of_scope`; 720 turns
never trained on) — they must keep being accepted. Out-of-distribution: models/nlu_dataset/ood/
(store-sounding requests no intent covers, off-topic chit-chat, garbage transcripts such as
robotic-voice mishearings and Whisper's hallucinations on noise; five languages).

Reported per score: AUROC, and the share of OOD turns rejected at the threshold that keeps 98 %
of the in-domain turns (set on those turns: an oracle threshold, to compare scores fairly);
for the shipped score also at its own threshold, chosen at training time without the held-out
split, and with the decision the understander returns (`in_domain`: rejected by the score
*or* classified `out_of_scope`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import yaml

from voice_agent.bench.report import append_to_benchmarks
from voice_agent.machine import machine
from voice_agent.nlu.dataset import DATASET_DIR, LANGUAGES, load_split
from voice_agent.nlu.feature_cache import FeatureCache
from voice_agent.nlu.gemma import DEFAULT_LAYERS
from voice_agent.nlu.head import train_head
from voice_agent.nlu.ood import OodModel, doubt, fit_ood, fit_ood_with_threshold

KEEP = 0.98


@dataclass(frozen=True)
class OodTurn:
    text: str
    language: str
    kind: str  # unsupported | chitchat | garbage


def load_ood(root: Path = DATASET_DIR / "ood") -> list[OodTurn]:
    out = []
    for lang in LANGUAGES:
        data = yaml.safe_load((root / f"{lang}.yaml").read_text(encoding="utf-8"))
        out += [OodTurn(str(u["text"]), lang, u["kind"]) for u in data["utterances"]]
    return out


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(score of a random OOD turn > score of a random in-domain turn), ties counted half."""
    diff = outside[:, None] - inside[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def _logits(head, x: np.ndarray) -> np.ndarray:
    return ((x - head.mean) / head.scale) @ head.weight.T + head.bias


def _knn(train_x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    center = train_x.mean(0)
    ref = train_x - center
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)

    def score(x: np.ndarray) -> np.ndarray:
        z = x - center
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        return 1 - (z @ ref.T).max(1)
    return score


def candidate_scores(train_x: np.ndarray, labels: list[str], intents: list[str],
                     model: OodModel) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Every score: higher = further from what the model knows."""
    head = train_head(train_x, labels, intents, l2=1e-3)
    scores: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "1 − max softmax (today)": lambda x: 1 - head.probabilities(x).max(1),
        "doubt: 1 − max softmax of a task intent": lambda x: doubt(head.probabilities(x),
                                                                    intents),
        "energy (−logsumexp)": lambda x: -np.log(np.exp(_logits(head, x)).sum(1)),
        "nearest training turn (cosine)": _knn(train_x),
    }
    for k, s in ((64, 0.3), (256, 0.1), (256, 0.3), (256, 0.6), (1280, 0.1)):
        scores[f"Mahalanobis, {k} PCA dims, shrinkage {s}"] = fit_ood(
            train_x, labels, components=k, shrinkage=s).score
    background = fit_ood(train_x, ["all"] * len(labels))
    shipped = fit_ood(train_x, labels)
    scores["relative Mahalanobis (− background)"] = (
        lambda x: shipped.score(x) - background.score(x))
    # The shipped combination, each part divided by its training-time threshold
    scores["max(doubt, Mahalanobis 256/0.3) — shipped"] = (
        lambda x: model.combined(x, head.probabilities(x), intents))
    return scores


def run_ood_bench(write: bool = False, cache: FeatureCache | None = None) -> str:
    from voice_agent.nlu.train import kb_examples

    started = time.monotonic()
    cache = cache or FeatureCache()
    layers = DEFAULT_LAYERS
    train = load_split("train")
    kb = kb_examples()  # the shipped intent head learns from these too
    texts = [e.text for e in train] + [t for t, _ in kb]
    labels = [e.intent for e in train] + [i for _, i in kb]
    train_x = cache.features(texts, layers, progress=True)
    intents = sorted(set(labels))
    heldout = [e for e in load_split("heldout") if e.intent != "out_of_scope"]
    scope = [e for e in load_split("heldout") if e.intent == "out_of_scope"]
    ood = load_ood()
    held_x = cache.features([e.text for e in heldout], layers)
    scope_x = cache.features([e.text for e in scope], layers)
    ood_x = cache.features([t.text for t in ood], layers)
    kinds = sorted({t.kind for t in ood})
    lines = [f"### Out-of-distribution score — {date.today().isoformat()}", "",
             f"Machine: {machine()}. Command: `voice-agent bench fewshot --no-fewshot`. "
             f"In-domain: {len(heldout)} "
             f"held-out turns (all intents but out_of_scope); OOD: {len(ood)} turns of "
             "models/nlu_dataset/ood/ (" + ", ".join(
                 f"{sum(t.kind == k for t in ood)} {k}" for k in kinds) + "). Statistics from "
             f"the training split + the agent's example phrases ({len(texts)} turns). "
             "Rejected = share of OOD turns above the threshold that keeps 98 % of the "
             "in-domain turns.", "",
             "| score | AUROC | rejected | " + " | ".join(kinds) + " |",
             "|---|---|---|" + "---|" * len(kinds)]
    model = fit_ood_with_threshold(train_x, labels, fit_head=lambda x, y: train_head(
        x, y, intents, l2=1e-3))
    for name, score in candidate_scores(train_x, labels, intents, model).items():
        inside, outside = score(held_x), score(ood_x)
        threshold = np.quantile(inside, KEEP)
        rejected = outside > threshold
        lines.append(f"| {name} | {auroc(inside, outside):.3f} | {100 * rejected.mean():.0f} % | "
                     + " | ".join(f"{100 * rejected[[t.kind == k for t in ood]].mean():.0f} %"
                                  for k in kinds) + " |")
    # The shipped recipe, end to end: its own thresholds (out-of-fold on training turns), and
    # the understander's decision (score above 1, or the out_of_scope intent).
    head = train_head(train_x, labels, intents, l2=1e-3)

    def refused(x: np.ndarray) -> np.ndarray:
        p = head.probabilities(x)
        named = np.array([intents[i] == "out_of_scope" for i in p.argmax(1)])
        return (model.combined(x, p, intents) > 1) | named

    ood_rule = refused(ood_x)
    lines += ["", "Shipped, at its own thresholds (chosen at training time, out of fold, no "
              f"held-out turn: distance {model.threshold:.3f}, doubt "
              f"{model.doubt_threshold:.3f}): `in_domain` False (score > 1 or the out_of_scope "
              f"intent) for {100 * refused(held_x).mean():.1f} % of the in-domain held-out "
              f"turns, {100 * ood_rule.mean():.0f} % of the OOD turns ("
              + ", ".join(f"{k} {100 * ood_rule[[t.kind == k for t in ood]].mean():.0f} %"
                          for k in kinds)
              + f") and {100 * refused(scope_x).mean():.0f} % of the held-out out_of_scope "
              "turns.",
              "", f"({time.monotonic() - started:.0f} s)"]
    report = "\n".join(lines) + "\n"
    if write:
        append_to_benchmarks("\n" + report)
    return report
