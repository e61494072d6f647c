"""Linear classification heads on Gemma features: intent, sentiment, change-language target.

Multinomial logistic regression (standardised features, L2), trained full-batch with L-BFGS:
deterministic for a fixed seed, a few seconds on CPU, and a few KB on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file


@dataclass
class LinearHead:
    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.weight.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> list[tuple[str, float]]:
        p = self.probabilities(features)
        best = p.argmax(axis=1)
        return [(self.labels[i], float(p[n, i])) for n, i in enumerate(best)]

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        return {
            f"{prefix}.mean": torch.from_numpy(self.mean.astype(np.float32)),
            f"{prefix}.scale": torch.from_numpy(self.scale.astype(np.float32)),
            f"{prefix}.weight": torch.from_numpy(self.weight.astype(np.float32)),
            f"{prefix}.bias": torch.from_numpy(self.bias.astype(np.float32)),
        }


def train_head(
    features: np.ndarray, labels: list[str], classes: list[str], *, l2: float = 1e-2,
    seed: int = 0, max_iter: int = 300, balanced: bool = False,
) -> LinearHead:
    """Fit softmax regression; `classes` fixes the label order (and allows absent classes).
    `balanced` weighs each class by 1 / its count, so intents with few examples (a company's
    own, beside the product's 200 per system intent) are not drowned by the rest."""
    torch.manual_seed(seed)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[label] for label in labels])
    linear = torch.nn.Linear(x.shape[1], len(classes))
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    weight = None
    if balanced:
        counts = torch.bincount(y, minlength=len(classes)).float()
        weight = torch.where(counts > 0, len(y) / (counts.clamp(min=1) * (counts > 0).sum()),
                             torch.zeros_like(counts))
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=max_iter,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y, weight=weight)
        loss = loss + l2 * linear.weight.pow(2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    return LinearHead(
        labels=list(classes), mean=mean, scale=scale,
        weight=linear.weight.detach().numpy().copy(), bias=linear.bias.detach().numpy().copy(),
    )


def save_heads(path: Path, heads: dict[str, LinearHead]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    meta = {}
    for name, head in heads.items():
        tensors.update(head.tensors(name))
        meta[f"{name}.labels"] = ",".join(head.labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)


def load_heads(path: Path) -> dict[str, LinearHead]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    tensors = load_file(str(path))
    heads = {}
    for key, labels in meta.items():
        name = key.removesuffix(".labels")
        heads[name] = LinearHead(
            labels=labels.split(","),
            mean=tensors[f"{name}.mean"].numpy(), scale=tensors[f"{name}.scale"].numpy(),
            weight=tensors[f"{name}.weight"].numpy(), bias=tensors[f"{name}.bias"].numpy(),
        )
    return heads
