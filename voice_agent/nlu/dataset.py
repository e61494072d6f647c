"""The NLU dataset under version control: models/nlu_dataset/{train,heldout}/<lang>.yaml.

Reviewed caller utterances (40 train + 12 held-out per intent and language), labelled with
intent, sentiment, order number and target language; plus scripted multi-turn dialogues.
The held-out split is never trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from voice_agent.config import REPO_ROOT
from voice_agent.kb import INTENTS

DATASET_DIR = REPO_ROOT / "models" / "nlu_dataset"
SENTIMENTS = ("negative", "neutral", "positive")
LANGUAGES = ("en", "es", "fr", "de", "zh")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    sentiment: str
    language: str
    order_number: str | None = None
    target_language: str | None = None


class DatasetError(ValueError):
    """A dataset file has a row the trainer cannot use."""


def _example(row: dict, language: str, where: str) -> Example:
    intent, sentiment = row.get("intent"), row.get("sentiment", "neutral")
    if intent not in INTENTS:
        raise DatasetError(f"{where}: unknown intent {intent!r}")
    if sentiment not in SENTIMENTS:
        raise DatasetError(f"{where}: unknown sentiment {sentiment!r}")
    number = row.get("order_number")
    return Example(
        text=str(row["text"]), intent=intent, sentiment=sentiment, language=language,
        order_number=str(number) if number is not None else None,
        target_language=row.get("target_language"),
    )


def load_split(split: str, languages: list[str] | None = None, root: Path = DATASET_DIR,
               per_intent: int | None = None) -> list[Example]:
    """The examples of a split ("train" or "heldout") for the given languages; `per_intent`
    keeps only the first N of every (language, intent)."""
    out: list[Example] = []
    for lang in languages or LANGUAGES:
        path = root / split / f"{lang}.yaml"
        if not path.exists():
            raise DatasetError(f"missing dataset file {path}")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, row in enumerate(data.get("utterances", [])):
            out.append(_example(row, lang, f"{path.name}#{i}"))
    return subset(out, per_intent) if per_intent else out


def load_dialogues(root: Path = DATASET_DIR) -> list[dict]:
    return yaml.safe_load((root / "dialogues.yaml").read_text(encoding="utf-8"))["dialogues"]


def dataset_hash(root: Path = DATASET_DIR) -> str:
    """sha256 over every file training and its evaluation read (names and contents): recorded
    with each trained model. The out-of-domain turns (`ood/`) are left out: only `bench fewshot`
    reads them, and editing that bench's data must not make the shipped model look stale."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.yaml") if p.relative_to(root).parts[0] != "ood"):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def subset(examples: list[Example], per_intent_language: int) -> list[Example]:
    """The first N examples of every (language, intent): a small, balanced training set."""
    counts: dict[tuple[str, str], int] = {}
    out = []
    for ex in examples:
        key = (ex.language, ex.intent)
        if counts.get(key, 0) < per_intent_language:
            counts[key] = counts.get(key, 0) + 1
            out.append(ex)
    return out
