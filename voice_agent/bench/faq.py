"""`voice-agent bench faq`: FAQ retrieval measured on held-out caller paraphrases.

For each candidate scorer (encoder, optionally a hybrid with char n-grams): index the agent's
FAQ, calibrate the confident/unsure thresholds on the **dev** split (`models/faq_eval/dev.yaml`),
then measure on the **held-out** split (`models/faq_eval/heldout.yaml`), which was written
separately and is never used for tuning:
- top-1: the best entry is the right one (whatever the verdict), per language;
- answered: share of paraphrases answered confidently (and how many of those were wrong);
- confident-wrong on the questions the FAQ cannot answer (target 0);
- median search latency per turn (one text at a time, as in a call).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import yaml

from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import REPO_ROOT
from voice_agent.machine import machine
from voice_agent.models import cache_dir
from voice_agent.nlu.faq import SETTINGS_FILE, FaqRetriever, FaqSettings
from voice_agent.nlu.faq_data import load_faq
from voice_agent.nlu.faq_encoders import make_scorer

EVAL_DIR = REPO_ROOT / "models" / "faq_eval"
DEFAULT_CANDIDATES = ("char-tfidf/knn", "char-tfidf", "gemma/knn", "gemma", "e5-small/knn",
                      "e5-small", "e5-small+0.1")


@dataclass
class EvalSet:
    """(language, gold entry id or None for unanswerable, text)."""

    items: list[tuple[str, str | None, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> EvalSet:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out = cls()
        for lang, per_id in (data.get("paraphrases") or {}).items():
            for entry_id, texts in per_id.items():
                out.items.extend((lang, entry_id, t) for t in texts)
        for lang, texts in (data.get("unanswerable") or {}).items():
            out.items.extend((lang, None, t) for t in texts)
        return out


def parse_candidate(spec: str) -> FaqSettings:
    """'e5-small' (nearest question + entry classifier), 'e5-small/knn' (nearest question
    only), 'e5-small+0.2' (cosine mixed with char n-grams at weight 0.2)."""
    base, _, head = spec.partition("/")
    name, _, weight = base.partition("+")
    if head not in ("", "knn"):
        raise ValueError(f"unknown ranking {head!r} in {spec!r} (only '/knn')")
    return FaqSettings(encoder=name, lexical_weight=float(weight) if weight else 0.0,
                       classifier_weight=0.0 if head == "knn" else FaqSettings.classifier_weight)


@dataclass
class Decisions:
    """Per item, both candidates as (entry, language, score, probability, margin, answerable
    in the caller's language), for threshold sweeps."""

    gold: list[str | None]
    langs: list[str]
    own: list[tuple | None]
    every: list[tuple | None]

    def answers(self, min_score: float, min_probability: float,
                min_margin: float = 0.0) -> list[str | None]:
        """The entry whose answer would be spoken (None: unsure, or no text in the language)."""
        def ok(c):
            return c[2] >= min_score and c[3] >= min_probability and c[4] >= min_margin

        out = []
        for own, every in zip(self.own, self.every, strict=True):
            pick = None
            if own and ok(own):
                pick = own[0]
            elif every and ok(every) and every[5]:
                pick = every[0]
            out.append(pick)
        return out


def decisions(retriever: FaqRetriever, data: EvalSet) -> tuple[Decisions, list]:
    texts = [t for _, _, t in data.items]
    scores, logits = retriever.score_many(texts)
    own, every, top1 = [], [], []
    for i, (lang, _, _) in enumerate(data.items):
        row_logits = None if logits is None else logits[i]
        a, b = retriever.candidates(scores[i], row_logits, lang)
        own.append(_tuple(retriever, a, lang))
        every.append(_tuple(retriever, b, lang))
        match = retriever.decide(scores[i], row_logits, lang)
        top1.append(match.entry_id if match else None)
    return Decisions([g for _, g, _ in data.items], [lang for lang, _, _ in data.items],
                     own, every), top1


def _tuple(retriever: FaqRetriever, found, lang: str) -> tuple | None:
    if found is None:
        return None
    c = found[0]
    return (c.entry_id, c.language, c.score, c.probability, c.margin,
            retriever.faq.entry(c.entry_id, lang) is not None)


def calibrate(d: Decisions) -> tuple[float, float, int, int]:
    """Thresholds (min score, min probability) that answer the most dev paraphrases right with
    no confident wrong answer (dev paraphrases and unanswerable turns); ties go to the higher,
    more cautious thresholds. → (min_score, min_probability, right, wrong)"""
    def arrays(cands: list[tuple | None], other_language: bool):
        score = np.array([c[2] if c else -np.inf for c in cands])
        prob = np.array([c[3] if c else -np.inf for c in cands])
        ok = np.array([c is not None and c[0] == g for c, g in zip(cands, d.gold, strict=True)])
        if other_language:  # the every-language pick is spoken only if the entry has the language
            usable = np.array([c is not None and c[5] for c in cands])
            score = np.where(usable, score, -np.inf)
        return score, prob, ok

    (s1, p1, ok1), (s2, p2, ok2) = arrays(d.own, False), arrays(d.every, True)
    finite = np.concatenate([s1[np.isfinite(s1)], s2[np.isfinite(s2)]])
    if finite.size == 0:
        return 1.0, 1.0, 0, 0
    score_grid = np.unique(np.round(np.linspace(finite.min(), finite.max() + 1e-4, 241), 4))
    prob_grid = np.round(np.arange(0.0, 1.0001, 0.02), 4)
    best = None
    for t in score_grid:
        for m in prob_grid:
            first = (s1 >= t) & (p1 >= m)
            second = ~first & (s2 >= t) & (p2 >= m)
            wrong = int((first & ~ok1).sum() + (second & ~ok2).sum())
            if wrong:
                continue
            right = int((first & ok1).sum() + (second & ok2).sum())
            key = (right, float(t) + float(m))
            if best is None or key > best[0]:
                best = (key, float(t), float(m), right)
    if best is None:  # even the strictest setting answers something wrong: answer nothing
        return float(finite.max() + 1e-3), 1.0, 0, 0
    return best[1], best[2], best[3], 0


def evaluate(retriever: FaqRetriever, d: Decisions, top1: list, data: EvalSet,
             latency_texts: int) -> dict:
    st = retriever.settings
    answers = d.answers(st.min_score, st.min_probability, st.min_margin)
    per_lang: dict[str, dict] = {}
    for (lang, gold, _), a, first in zip(data.items, answers, top1, strict=True):
        s = per_lang.setdefault(lang, {"n": 0, "top1": 0, "answered": 0, "answered_wrong": 0,
                                       "unans": 0, "unans_confident": 0})
        if gold is None:
            s["unans"] += 1
            s["unans_confident"] += a is not None
            continue
        s["n"] += 1
        s["top1"] += first == gold
        s["answered"] += a == gold
        s["answered_wrong"] += a is not None and a != gold
    timings = []
    for lang, _, text in data.items[:latency_texts]:
        started = time.perf_counter()
        retriever.search(text, lang)
        timings.append(time.perf_counter() - started)
    return {"languages": per_lang, "median_ms": statistics.median(timings) * 1000,
            "p95_ms": sorted(timings)[int(0.95 * (len(timings) - 1))] * 1000}


def _pct(a: int, n: int) -> str:
    return f"{100 * a / n:.1f} %" if n else "–"


def run_faq_bench(agent_dir: Path, candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
                  calibrate_shipped: bool = False, write: bool = False,
                  latency_texts: int = 200) -> str:
    agent = agent_dir.name
    faq = load_faq(agent_dir / "faq")
    shipped = FaqSettings.load(agent_dir / "faq" / SETTINGS_FILE)
    dev, held = EvalSet.load(EVAL_DIR / "dev.yaml"), EvalSet.load(EVAL_DIR / "heldout.yaml")
    gemma = None
    rows, lang_rows, notes = [], [], []
    for spec in candidates:
        settings = parse_candidate(spec)
        if settings.encoder == "gemma" and gemma is None:
            from voice_agent.nlu.gemma import GemmaEncoder

            gemma = GemmaEncoder()
        started = time.monotonic()
        scorer = make_scorer(settings.encoder, settings.lexical_weight, gemma=gemma)
        retriever = FaqRetriever(faq, settings, scorer, cache_dir() / "faq")
        index_s = time.monotonic() - started
        d_dev, _ = decisions(retriever, dev)
        t, m, right, _ = calibrate(d_dev)
        dev_n = sum(g is not None for g in d_dev.gold)
        retriever.settings = retriever.settings.with_thresholds(t, m)
        d_held, top1 = decisions(retriever, held)
        res = evaluate(retriever, d_held, top1, held, latency_texts)
        tot = {k: sum(s[k] for s in res["languages"].values())
               for k in ("n", "top1", "answered", "answered_wrong", "unans", "unans_confident")}
        rows.append(
            f"| {spec} | {t:.3f} / {m:.2f} | {_pct(right, dev_n)} | {_pct(tot['top1'], tot['n'])} "
            f"| {_pct(tot['answered'], tot['n'])} | {tot['answered_wrong']} | "
            f"{tot['unans_confident']}/{tot['unans']} | {res['median_ms']:.1f} ms "
            f"({res['p95_ms']:.0f}) | {index_s:.1f} s |")
        for lang, s in sorted(res["languages"].items()):
            lang_rows.append(
                f"| {spec} | {lang} | {s['n']} | {_pct(s['top1'], s['n'])} | "
                f"{_pct(s['answered'], s['n'])} | {s['answered_wrong']} | "
                f"{s['unans_confident']}/{s['unans']} |")
        if calibrate_shipped and (settings.encoder, settings.lexical_weight,
                                  settings.classifier_weight) == (
                shipped.encoder, shipped.lexical_weight, shipped.classifier_weight):
            shipped.with_thresholds(
                t, m, on="models/faq_eval/dev.yaml", date=date.today().isoformat(),
                dev_answered=f"{right}/{dev_n}", dev_confident_wrong=0,
                heldout_top1=_pct(tot["top1"], tot["n"]),
                heldout_confident_wrong=tot["answered_wrong"] + tot["unans_confident"],
            ).dump(agent_dir / "faq" / SETTINGS_FILE)
            notes.append(f"thresholds of {spec} written to {agent_dir}/faq/"
                         f"{SETTINGS_FILE}")
    n_entries = {lang: len(faq.entries[lang]) for lang in faq.languages}
    n_dev = sum(g is not None for _, g, _ in dev.items)
    n_held = sum(g is not None for _, g, _ in held.items)
    lines = [
        f"### FAQ retrieval — {date.today().isoformat()}",
        "",
        f"Machine: {machine()}. Command: `voice-agent bench faq "
        f"--candidates {','.join(candidates)}`. Agent `{agent}`: entries "
        + ", ".join(f"{k} {v}" for k, v in n_entries.items())
        + f". Thresholds calibrated per candidate on the dev split ({n_dev} paraphrases, "
        f"{len(dev.items) - n_dev} unanswerable: most answered with 0 confident wrong); "
        f"measured on the held-out split ({n_held} paraphrases, {len(held.items) - n_held} "
        "unanswerable), never used for tuning. Latency: one `search()` per turn, one text at a "
        "time; the Gemma row excludes nothing (it embeds again; sharing the understander's "
        "features would make it ~free).",
        "",
        "| candidate | min score / probability (dev) | dev answered | held-out top-1 | answered "
        "confidently | … of those wrong | unanswerable answered | search median (p95) | "
        "index build |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| candidate | lang | paraphrases | top-1 | answered confidently | confident wrong | "
        "unanswerable answered |",
        "|---|---|---|---|---|---|---|",
        *lang_rows,
        "",
        *[f"- {n}" for n in notes],
    ]
    report = "\n".join(lines).rstrip() + "\n"
    if write:
        append_to_benchmarks("\n" + report)
    return report
