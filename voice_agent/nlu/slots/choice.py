"""`choice`: one of a company's own list (departments, products), with synonyms per language and
fuzzy matching for what Whisper mishears ("bil ing" for "billing", "ventes" for "ventas").

Options:
    choices:                       # id → synonyms per language ("any": every language)
      billing: {en: [billing, invoices], es: [facturación, facturas], any: [billing]}
      sales: [sales, ventas, ventes, Verkauf, 销售]      # a list: synonyms in any language
    threshold: 85                  # rapidfuzz score (0–100) a near match needs

An exact phrase wins over a fuzzy one; among fuzzy ones the best score wins. Nothing close
enough → None, and no_match_reason names the options in the caller's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import collapse, fold, has_cjk

OR_WORD = {"en": "or", "es": "o", "fr": "ou", "de": "oder", "zh": "或"}


def _synonyms(choices: Mapping[str, Any], choice_id: str, language: str) -> list[str]:
    spec = choices[choice_id]
    if spec is None:
        names: list[str] = []
    elif isinstance(spec, str):
        names = [spec]
    elif isinstance(spec, list | tuple):
        names = list(spec)
    else:
        names = list(spec.get(language) or []) + list(spec.get("any") or [])
    return [*names, choice_id.replace("_", " ")]


def _normalise_choices(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    return {str(c): None for c in raw or []}  # a plain list of ids


def _clean(text: str) -> str:
    return collapse(re.sub(r"[^\w\s]", " ", fold(text)))


def _windows(tokens: list[str], size: int) -> list[str]:
    return [" ".join(tokens[i:i + size]) for i in range(max(1, len(tokens) - size + 1))]


class ChoiceSlot:
    name = "choice"
    options: Mapping[str, Any] = {"choices": {}, "threshold": 85}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        from rapidfuzz import fuzz

        opts = resolve_options(self, options)
        choices = _normalise_choices(opts["choices"])
        said = _clean(text)
        tokens = said.split()
        best: tuple[float, int, str, str] | None = None  # (score, length, id, phrase)
        for choice_id in choices:
            for synonym in _synonyms(choices, choice_id, language):
                target = _clean(synonym)
                if not target:
                    continue
                cjk = has_cjk(target)
                exact = target in said if cjk else \
                    re.search(rf"(?<!\w){re.escape(target)}(?!\w)", said) is not None
                if exact:
                    score = 101.0  # above any fuzzy score
                elif cjk:
                    continue  # fuzzy matching on a few characters says nothing
                else:
                    size = len(target.split())
                    score = max(fuzz.ratio(target, w) for w in _windows(tokens, size))
                candidate = (score, len(target), choice_id, synonym)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
        if best is None or best[0] < opts["threshold"]:
            return None
        return SlotValue(self.name, best[2], best[3], said, {"score": min(best[0], 100.0)})

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        choices = _normalise_choices(resolve_options(self, options)["choices"])
        if value.value not in choices:
            return self.no_match_reason(language, options)
        return None

    def labels(self, language: str, options: Mapping[str, Any] | None = None) -> list[str]:
        """What to read to the caller: each choice's first synonym in their language."""
        choices = _normalise_choices(resolve_options(self, options)["choices"])
        return [_synonyms(choices, c, language)[0] for c in choices]

    def no_match_reason(self, language: str, options: Mapping[str, Any] | None = None) -> str:
        labels = self.labels(language, options)
        if len(labels) > 1:
            listed = f"{', '.join(labels[:-1])} {OR_WORD.get(language, 'or')} {labels[-1]}"
        else:
            listed = "".join(labels)
        return f"the options are: {listed}"

    def check_options(self, opts: Mapping[str, Any]) -> list[str]:
        choices = opts["choices"]
        problems = []
        if not choices:
            problems.append("choice: `choices` must list at least one option")
        if not 0 <= float(opts["threshold"]) <= 100:
            problems.append("choice: `threshold` is a rapidfuzz score from 0 to 100")
        if isinstance(choices, Mapping):
            for cid, spec in choices.items():
                if isinstance(spec, Mapping):
                    bad = set(spec) - {"en", "es", "fr", "de", "zh", "any"}
                    if bad:
                        problems.append(f"choice {cid!r}: unknown language(s) {sorted(bad)}")
        return problems


register(ChoiceSlot())
