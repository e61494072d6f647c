"""Gemma sentence features cached on disk, so experiments and retraining only refit heads.

Extracting features is the slow part of every understanding experiment (a few minutes for the
dataset on 2 CPU cores); fitting heads on them takes seconds. Features are stored per layer,
keyed by the base model's sha256, the layer, the pooling recipe and the text, so any layer
combination can be assembled from one extraction, and a changed model or pooling never
serves stale vectors.

Layout: `<cache>/gemma_features/<model sha[:16]>-<pooling>/L<layer>.npz` holding `keys`
(sha1 of each text) and `x` (float32, one row per key).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from voice_agent.models import cache_dir

# Bump when GemmaEncoder.pooled changes what a vector means (BOS handling, truncation, …).
POOLING = "mean-nobos-t64"
HIDDEN = 640  # Gemma 3 270M's hidden size: one layer's slice of a concatenated feature


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class FeatureCache:
    """Per-layer feature store; `features()` fills what is missing with a Gemma encoder that
    is only built when needed (tens of seconds to load), so a warm cache never loads Gemma."""

    def __init__(self, folder: Path | None = None, model_sha: str | None = None,
                 device: str = "cpu") -> None:
        if model_sha is None:
            from voice_agent.nlu.gemma import base_model_sha256

            model_sha = base_model_sha256()
        self.folder = (folder or cache_dir() / "gemma_features") / f"{model_sha[:16]}-{POOLING}"
        self.device = device
        self._layers: dict[int, dict[str, np.ndarray]] = {}
        self._encoder = None

    def _path(self, layer: int) -> Path:
        return self.folder / f"L{layer}.npz"

    def _table(self, layer: int) -> dict[str, np.ndarray]:
        if layer not in self._layers:
            table: dict[str, np.ndarray] = {}
            path = self._path(layer)
            if path.exists():
                with np.load(path) as data:
                    table = dict(zip(data["keys"].tolist(), data["x"], strict=True))
            self._layers[layer] = table
        return self._layers[layer]

    def _save(self, layer: int) -> None:
        table = self._layers[layer]
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._path(layer).with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.array(list(table)), x=np.stack(list(table.values())))
        tmp.replace(self._path(layer))  # atomic: a concurrent reader sees old or new, not half

    def missing(self, texts: list[str], layers: tuple[int, ...]) -> list[str]:
        out = {t for layer in layers for t in texts if text_key(t) not in self._table(layer)}
        return sorted(out)

    def use_encoder(self, encoder) -> None:
        """Reuse an already loaded encoder (it must cover every layer asked for later)."""
        self._encoder = encoder

    def extract(self, texts: list[str], layers: tuple[int, ...], progress: bool = False) -> int:
        """Compute and store the features of `texts` not cached yet; returns how many."""
        todo = self.missing(texts, layers)
        if not todo:
            return 0
        encoder = self._encoder
        if encoder is None or not set(layers) <= set(encoder.layers):
            from voice_agent.nlu.gemma import GemmaEncoder

            encoder = self._encoder = GemmaEncoder(layers=tuple(sorted(layers)),
                                                   device=self.device)
        x = encoder.embed(todo, progress=progress)
        for i, layer in enumerate(encoder.layers):
            table = self._table(layer)
            for text, row in zip(todo, x[:, i * HIDDEN:(i + 1) * HIDDEN], strict=True):
                table[text_key(text)] = row.astype(np.float32)
            self._save(layer)
        return len(todo)

    def features(self, texts: list[str], layers: tuple[int, ...],
                 progress: bool = False) -> np.ndarray:
        """(len(texts), HIDDEN × len(layers)) features, layers concatenated in the given order
        (the same vectors GemmaEncoder(layers).embed returns)."""
        self.extract(texts, layers, progress=progress)
        if not texts:
            return np.zeros((0, HIDDEN * len(layers)), np.float32)
        return np.concatenate(
            [np.stack([self._table(layer)[text_key(t)] for t in texts]) for layer in layers],
            axis=1)
