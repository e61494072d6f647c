"""Knowing what it does not know: an out-of-distribution score for a caller's turn.

The softmax heads always name one of the agent's intents, and on garbage transcripts they can
be confidently wrong (0.99 "complaint" for a Chinese mis-transcription of French): the maximum
probability says how far a turn is from the *boundaries* between intents, not how far it is
from anything the model was trained on. This module measures the latter: the Mahalanobis
distance of the turn's Gemma features to the nearest intent's mean, with one covariance
shared by all intents (shrunk toward a scaled identity, since 1,280 dimensions and a few
thousand examples make the sample covariance singular). Chosen by measurement among the
softmax maximum, energy, nearest-training-example and relative-Mahalanobis scores
(`voice-agent bench fewshot --no-fewshot`, docs/nlu.md).

Measured (`voice-agent bench fewshot --no-fewshot`, docs/nlu.md), the distance alone misses most
store-sounding requests no intent covers (they sit near an intent's mean), and the softmax
alone misses garbage; the shipped score is both, each divided by its own threshold:

    ood_score = max(doubt / doubt_threshold, distance / distance_threshold)

where `doubt` = 1 − the highest probability of any intent but `out_of_scope` (the head's
out-of-scope mass counts as doubt too). A turn is out of domain when ood_score > 1.

What is stored (`models/nlu/ood.safetensors`, written by `voice-agent train`): a projection
onto the top principal components of the training features, the class means there (whitened
by the shrunk shared covariance), and both thresholds. They are chosen at training time without
the held-out split: the 99th percentile of each out-of-fold score of the training turns (each
fold's turns scored by a head and statistics fitted on the other folds), so about 98 % of
in-domain turns pass both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

OOD_FILE = "ood.safetensors"
DEFAULT_COMPONENTS = 256  # ≤ 1,280: keeps the file ~0.7 MB (float16) at no measured loss
DEFAULT_SHRINKAGE = 0.3
DEFAULT_KEEP = 0.99  # share of in-domain training turns (out of fold) each threshold accepts
OUT_OF_SCOPE = "out_of_scope"
MIN_DOUBT_THRESHOLD = 0.05


@dataclass
class OodModel:
    """Min over classes of the Mahalanobis distance (shared, shrunk covariance), in a PCA space."""

    center: np.ndarray  # (dim,) feature mean
    scale: np.ndarray  # (dim,) feature std (standardised like the heads)
    projection: np.ndarray  # (dim, k) principal axes, then whitened: distances are Euclidean
    means: np.ndarray  # (classes, k) class means in the whitened space
    labels: list[str]
    threshold: float = float("inf")  # on `score` (the distance)
    doubt_threshold: float = float("inf")  # on `doubt` (the intent head's)

    def whiten(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.center) / self.scale) @ self.projection

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(n, classes) squared Mahalanobis distances, divided by k (≈ 1 for a typical turn)."""
        z = self.whiten(features)
        d = (z * z).sum(1, keepdims=True) - 2 * z @ self.means.T + (self.means ** 2).sum(1)
        return np.maximum(d, 0) / self.means.shape[1]

    def score(self, features: np.ndarray) -> np.ndarray:
        """Higher = further from every intent the agent was trained on."""
        return self.distances(features).min(axis=1)

    def combined(self, features: np.ndarray, probabilities: np.ndarray,
                 intents: list[str]) -> np.ndarray:
        """The shipped OOD score: > 1 = out of domain (see the module docstring)."""
        return np.maximum(doubt(probabilities, intents) / self.doubt_threshold,
                          self.score(features) / self.threshold)

    def save(self, path: Path) -> None:
        tensors = {name: torch.from_numpy(np.ascontiguousarray(value, np.float32))
                   for name, value in (("center", self.center), ("scale", self.scale),
                                       ("means", self.means))}
        # float16 halves the biggest matrix; scores move by < 1e-3, far below the threshold's
        # resolution
        tensors["projection"] = torch.from_numpy(self.projection.astype(np.float16))
        save_file(tensors, str(path), metadata={"labels": ",".join(self.labels),
                                                 "threshold": repr(self.threshold),
                                                 "doubt_threshold": repr(self.doubt_threshold)})

    @classmethod
    def load(cls, path: Path) -> OodModel:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        t = load_file(str(path))
        return cls(center=t["center"].numpy(), scale=t["scale"].numpy(),
                   projection=t["projection"].float().numpy(), means=t["means"].numpy(),
                   labels=meta["labels"].split(","), threshold=float(meta["threshold"]),
                   doubt_threshold=float(meta.get("doubt_threshold", "inf")))


def fit_ood(features: np.ndarray, labels: list[str], *, components: int = DEFAULT_COMPONENTS,
            shrinkage: float = DEFAULT_SHRINKAGE) -> OodModel:
    """Class means and one shared covariance of the standardised features, projected onto the
    top `components` principal axes, shrunk ((1-s)·Σ + s·mean variance·I) and whitened."""
    center = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - center) / scale
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    # principal axes of the whole training set (float64: the SVD of 3k × 1.3k is ~1 s)
    _, _, vt = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    axes = vt[: min(components, vt.shape[0])].T
    z = x @ axes
    means = np.stack([z[y == c].mean(axis=0) for c in range(len(classes))])
    within = z - means[y]
    cov = within.T @ within / max(1, len(z) - len(classes))
    cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
    # whitening W = U diag(1/√λ): |W'(z - μ)|² is the Mahalanobis distance
    eigval, eigvec = np.linalg.eigh(cov)
    whitening = eigvec / np.sqrt(np.maximum(eigval, 1e-9))
    projection = (axes @ whitening).astype(np.float32)
    return OodModel(center=center.astype(np.float32), scale=scale.astype(np.float32),
                    projection=projection, means=(means @ whitening).astype(np.float32),
                    labels=classes)


def doubt(probabilities: np.ndarray, intents: list[str]) -> np.ndarray:
    """1 − the highest probability of any intent but out_of_scope."""
    p = probabilities.copy()
    if OUT_OF_SCOPE in intents:
        p[:, intents.index(OUT_OF_SCOPE)] = 0
    return 1 - p.max(axis=1)


def out_of_fold_scores(features: np.ndarray, labels: list[str], fit_head: Callable,
                       folds: int = 5, seed: int = 0, **fit_args
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(distance, doubt) of each training turn by a model and a head fitted without it: what
    the scores of unseen in-domain turns look like (a model scores its own turns too low)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    distance, doubts = np.empty(len(labels)), np.empty(len(labels))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        sub = [labels[i] for i in train]
        distance[test] = fit_ood(features[train], sub, **fit_args).score(features[test])
        head = fit_head(features[train], sub)
        doubts[test] = doubt(head.probabilities(features[test]), head.labels)
    return distance, doubts


def fit_ood_with_threshold(features: np.ndarray, labels: list[str], fit_head: Callable,
                           keep: float = DEFAULT_KEEP, seed: int = 0, **fit_args) -> OodModel:
    """The shipped recipe: statistics from all training turns, thresholds from out-of-fold
    scores; `fit_head(features, labels)` trains an intent head like the shipped one."""
    model = fit_ood(features, labels, **fit_args)
    distance, doubts = out_of_fold_scores(features, labels, fit_head, seed=seed, **fit_args)
    # Only the agent's task turns set the thresholds: out_of_scope examples are meant to be
    # refused (their doubt is ~1 by construction)
    tasks = np.array([label != OUT_OF_SCOPE for label in labels])
    distance, doubts = distance[tasks], doubts[tasks]
    model.threshold = float(np.quantile(distance, keep))
    # floor: a head that is certain on every training turn would otherwise refuse any doubt
    model.doubt_threshold = max(float(np.quantile(doubts, keep)), MIN_DOUBT_THRESHOLD)
    return model


def in_domain(intent: str, ood_score: float | None) -> bool:
    """A turn the agent should act on: one of its tasks (not the `out_of_scope` intent, which
    the model learnt from examples) and not out of distribution."""
    return intent != OUT_OF_SCOPE and (ood_score is None or ood_score <= 1.0)
