"""`voice-agent train`: fine-tune the understanding model on the dataset, write it under models/.

Method "head" (default, chosen by measurement): linear heads for intent, sentiment and the
change-language target on Gemma 3 270M's own features (layers 6 + 10, mean-pooled). The result
(`models/nlu/heads.safetensors`, a few hundred KB) is committed, with `metadata.json` recording
the base model hash, the dataset hash, the settings and the held-out metrics.
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from voice_agent.config import REPO_ROOT, load_settings
from voice_agent.kb import INTENTS
from voice_agent.nlu.dataset import (
    LANGUAGES,
    SENTIMENTS,
    Example,
    dataset_hash,
    load_split,
)
from voice_agent.nlu.feature_cache import FeatureCache
from voice_agent.nlu.gemma import DEFAULT_LAYERS, GemmaEncoder, base_model_sha256
from voice_agent.nlu.head import LinearHead, save_heads, train_head
from voice_agent.nlu.ood import OOD_FILE, fit_ood_with_threshold

MODEL_DIR = REPO_ROOT / "models" / "nlu"
HEADS_FILE = "heads.safetensors"
METADATA_FILE = "metadata.json"


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict
    seconds: float


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit_heads(
    features: np.ndarray, examples: list[Example], seed: int,
    intent_only: tuple[np.ndarray, list[str]] | None = None,
) -> dict[str, LinearHead]:
    """Intent, sentiment and target-language heads; `intent_only` adds rows (features, intents)
    that carry an intent label only (the knowledge base's example phrases)."""
    x, y = features, [e.intent for e in examples]
    if intent_only is not None and len(intent_only[1]):
        x, y = np.concatenate([features, intent_only[0]]), y + intent_only[1]
    heads = {
        # balanced: a no-op on an agent with as many examples per intent (Northwind), up to
        # +9 points for one whose own intents have fewer than the product's system intents
        # (docs/nlu.md, "Few examples, many languages")
        "intent": train_head(x, y, list(INTENTS), seed=seed, l2=1e-3, balanced=True),
        "sentiment": train_head(features, [e.sentiment for e in examples], list(SENTIMENTS),
                                seed=seed, l2=1e-2),
    }
    switch = [i for i, e in enumerate(examples) if e.target_language]
    if switch:
        heads["target_language"] = train_head(
            features[switch], [examples[i].target_language for i in switch], list(LANGUAGES),
            seed=seed, l2=1e-2,
        )
    return heads


def kb_examples(per_intent: int | None = None) -> list[tuple[str, str]]:
    """(text, intent) from the knowledge base's example phrases, in every language: reviewed
    caller phrases too (the baseline's index), so the intent head learns from them as well.
    They are disjoint from the held-out split."""
    from voice_agent.kb import configured_knowledge_base

    kb = configured_knowledge_base(load_settings(env={}), list(LANGUAGES))
    rows = []
    for pack in kb.packs.values():
        for intent, phrases in pack.examples.items():
            rows += [(p, intent) for p in phrases[:per_intent]]
    return rows


def intent_only_rows(
    per_intent: int | None = None, with_kb_examples: bool = True,
    feedback: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """(text, intent) rows the intent head learns from beside the dataset: the knowledge base's
    example phrases and operators' corrections of live calls (`train --with-feedback`)."""
    return (kb_examples(per_intent) if with_kb_examples else []) + list(feedback or [])


def intent_accuracy(predicted: list[str], examples: list[Example]) -> dict:
    """Intent accuracy per language and overall (the held-out metric of every method)."""
    by_lang: dict[str, list[bool]] = defaultdict(list)
    for label, ex in zip(predicted, examples, strict=True):
        by_lang[ex.language].append(label == ex.intent)
    return {
        "intent_accuracy": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_lang.items())},
        "intent_accuracy_all": round(float(np.mean([x for v in by_lang.values() for x in v])), 4),
    }


def accuracy_by_language(
    heads: dict[str, LinearHead], features: np.ndarray, examples: list[Example]
) -> dict:
    intents = [i for i, _ in heads["intent"].predict(features)]
    sentiments = heads["sentiment"].predict(features)
    sentiment_ok = [s == ex.sentiment for ex, (s, _) in zip(examples, sentiments, strict=True)]
    return {**intent_accuracy(intents, examples),
            "sentiment_accuracy": round(float(np.mean(sentiment_ok)), 4)}


def train(
    *, out_dir: Path = MODEL_DIR, per_intent: int | None = None, seed: int = 0,
    layers: tuple[int, ...] = DEFAULT_LAYERS, device: str = "cpu", evaluate: bool = True,
    extra_examples: list[Example] | None = None, encoder: GemmaEncoder | None = None,
    with_kb_examples: bool = True, feedback: list[tuple[str, str]] | None = None,
    cache: FeatureCache | None = None,
) -> TrainResult:
    """Train the heads; `per_intent` limits the examples per (language, intent) (CI runs).
    With a `cache` (feature_cache.py), features already extracted are not computed again."""
    started = time.monotonic()
    seed_everything(seed)
    examples = load_split("train", per_intent=per_intent) + (extra_examples or [])
    if cache is not None:
        if encoder is not None:
            cache.use_encoder(encoder)
        layers = encoder.layers if encoder is not None else layers

        def embed(texts: list[str], progress: bool = False):
            return cache.features(texts, layers, progress=progress)
    else:
        encoder = encoder or GemmaEncoder(layers=layers, device=device)
        layers = encoder.layers
        embed = encoder.embed
    features = embed([e.text for e in examples], progress=True)
    kb_rows = intent_only_rows(per_intent, with_kb_examples, feedback)
    kb_features = embed([t for t, _ in kb_rows], progress=True)
    heads = fit_heads(features, examples, seed, (kb_features, [i for _, i in kb_rows]))
    # The out-of-distribution statistics, on the same turns the intent head learns from
    intent_x = np.concatenate([features, kb_features])
    intent_y = [e.intent for e in examples] + [i for _, i in kb_rows]
    ood = fit_ood_with_threshold(
        intent_x, intent_y, seed=seed,
        fit_head=lambda x, y: train_head(x, y, list(INTENTS), seed=seed, l2=1e-3))
    metrics: dict = {"train_examples": len(examples),
                     "kb_examples": len(kb_rows) - len(feedback or []),
                     "feedback_examples": len(feedback or [])}
    if evaluate:
        heldout = load_split("heldout")
        heldout_x = embed([e.text for e in heldout], progress=True)
        metrics["heldout"] = accuracy_by_language(heads, heldout_x, heldout)
        tasks = [i for i, e in enumerate(heldout) if e.intent != "out_of_scope"]
        score = ood.combined(heldout_x[tasks], heads["intent"].probabilities(heldout_x[tasks]),
                             heads["intent"].labels)
        metrics["heldout"]["ood_accepted_in_domain"] = round(float((score <= 1).mean()), 4)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_heads(out_dir / HEADS_FILE, heads)
    ood.save(out_dir / OOD_FILE)
    metadata = {
        "method": "linear heads on Gemma 3 270M features",
        "base_model": {"name": "gemma-3-270m (base) Q4_K_M GGUF, de-quantised",
                       "gguf_sha256": base_model_sha256()},
        "layers": list(layers), "pooling": "mean over tokens, BOS excluded",
        "dataset_sha256": dataset_hash(), "seed": seed, "per_intent_limit": per_intent,
        "intent_head_also_trained_on": "the agent folder's example phrases (lang/*.yaml)"
        if with_kb_examples else None,
        "kb_sha256": dataset_hash(load_settings(env={}).agent_dir / "lang")
        if with_kb_examples else None,
        "device": device, "metrics": metrics,
        "ood": {"file": OOD_FILE, "score": "max(intent doubt / its threshold, Mahalanobis "
                "distance to the nearest intent mean / its threshold); > 1 = out of domain",
                "distance_threshold": round(ood.threshold, 4),
                "doubt_threshold": round(ood.doubt_threshold, 4),
                "components": int(ood.means.shape[1]),
                "thresholds_from": "99th percentile of 5-fold out-of-fold training scores"},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return TrainResult(out_dir, metrics, time.monotonic() - started)
