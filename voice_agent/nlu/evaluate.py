"""`voice-agent eval`: the fine-tuned model against the baseline on the held-out split.

Per language: intent accuracy of both, a classification report (precision / recall / F1 per
intent), the most frequent confusions, order-number slot accuracy, sentiment accuracy, and the
understanding latency per turn (text → intent + first reply sentence ready). Written to
docs/nlu_eval.md.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from datetime import date

from voice_agent.config import REPO_ROOT, Settings
from voice_agent.kb import INTENTS, configured_knowledge_base
from voice_agent.machine import machine
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.dataset import Example, load_dialogues, load_split
from voice_agent.nlu.numbers import extract_order_number
from voice_agent.nlu.policy import DialogueContext, DialoguePolicy, speech_chunks
from voice_agent.nlu.understanding import Understanding

REPORT = REPO_ROOT / "docs" / "nlu_eval.md"


def _prf(gold: list[str], pred: list[str], label: str) -> tuple[float, float, float, int]:
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    n_pred, n_gold = pred.count(label), gold.count(label)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, n_gold


def classification_report(gold: list[str], pred: list[str]) -> list[str]:
    lines = ["| intent | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for label in INTENTS:
        p, r, f, n = _prf(gold, pred, label)
        lines.append(f"| {label} | {p:.2f} | {r:.2f} | {f:.2f} | {n} |")
    return lines


def _acc(pairs) -> float:
    pairs = list(pairs)
    return sum(a == b for a, b in pairs) / max(1, len(pairs))


def run_eval(settings: Settings, model, write: bool = True) -> str:
    kb = configured_knowledge_base(settings)
    baseline = BaselineUnderstander(kb)
    heldout = load_split("heldout", settings.languages.allowed)
    by_lang: dict[str, list[Example]] = defaultdict(list)
    for ex in heldout:
        by_lang[ex.language].append(ex)

    results: dict[str, tuple[list[Understanding], list[Understanding]]] = {}
    for lang, exs in by_lang.items():
        texts = [e.text for e in exs]
        results[lang] = (model.understand_many(texts, lang),
                         [baseline.understand(t, lang) for t in texts])

    # latency per turn: one utterance at a time, as in a call, plus the reply's first sentence
    policy = DialoguePolicy(kb, settings.dialogue.min_confidence)
    latencies = []
    for ex in heldout[:: max(1, len(heldout) // 100)]:
        started = time.perf_counter()
        understood = model.understand(ex.text, ex.language)
        speech_chunks(policy.respond(understood, DialogueContext()).text)[:1]
        latencies.append(time.perf_counter() - started)

    today = date.today().isoformat()
    lines = [
        "# Understanding: fine-tuned model vs baseline (held-out split)",
        "",
        f"{today}, {machine()}. Command: `voice-agent eval`. Held-out: "
        f"{len(heldout)} utterances never trained on (12 per intent and language). "
        f"Model: `{model.name}` ({model.metadata.get('method', '')}, layers "
        f"{model.metadata.get('layers')}); baseline: nearest knowledge-base example.",
        "",
        "| language | model intent acc. | baseline intent acc. | order number slot | "
        "sentiment acc. |",
        "|---|---|---|---|---|",
    ]
    all_model, all_base, all_slot, all_sent = [], [], [], []
    confusions: Counter[tuple[str, str]] = Counter()
    for lang in sorted(results):
        exs = by_lang[lang]
        mod, base = results[lang]
        m_pairs = [(u.intent, e.intent) for u, e in zip(mod, exs, strict=True)]
        b_pairs = [(u.intent, e.intent) for u, e in zip(base, exs, strict=True)]
        slot_pairs = [(extract_order_number(e.text, lang), e.order_number) for e in exs
                      if e.order_number]
        sent_pairs = [(u.sentiment, e.sentiment) for u, e in zip(mod, exs, strict=True)]
        confusions.update((e.intent, u.intent) for u, e in zip(mod, exs, strict=True)
                          if u.intent != e.intent)
        all_model += m_pairs
        all_base += b_pairs
        all_slot += slot_pairs
        all_sent += sent_pairs
        lines.append(f"| {lang} | {_acc(m_pairs):.1%} | {_acc(b_pairs):.1%} | "
                     f"{_acc(slot_pairs):.1%} ({len(slot_pairs)}) | {_acc(sent_pairs):.1%} |")
    lines.append(f"| **all** | **{_acc(all_model):.1%}** | {_acc(all_base):.1%} | "
                 f"{_acc(all_slot):.1%} ({len(all_slot)}) | {_acc(all_sent):.1%} |")
    # scripted multi-turn dialogues: does the agent act on the right request at every turn?
    dialogue_hits, dialogue_turns, dialogues_ok = 0, 0, 0
    scripts = [d for d in load_dialogues() if d["language"] in results]
    for script in scripts:
        ctx, all_ok = DialogueContext(), True
        for turn in script["turns"]:
            lang = turn.get("language", script["language"])
            policy.respond(model.understand(turn["text"], lang), ctx)
            ok = ctx.acted_intent == turn["intent"]
            dialogue_hits += ok
            dialogue_turns += 1
            all_ok &= ok
        dialogues_ok += all_ok
    lines += ["", f"Scripted dialogues (`models/nlu_dataset/dialogues.yaml`, with the dialogue "
              f"policy's context): {dialogue_hits}/{dialogue_turns} turns acted on the right "
              f"request; {dialogues_ok}/{len(scripts)} dialogues right at every turn."]

    scored = [(u.confidence, u.intent == e.intent) for lang in sorted(results)
              for u, e in zip(results[lang][0], by_lang[lang], strict=True)]
    lines += ["", "Confidence threshold (`dialogue.min_confidence`): below it the agent asks the "
              "caller to rephrase.", "", "| threshold | turns answered | accuracy of answered |",
              "|---|---|---|"]
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        answered = [ok for c, ok in scored if c >= t]
        lines.append(f"| {t} | {len(answered) / len(scored):.1%} | "
                     f"{sum(answered) / max(1, len(answered)):.1%} |")
    lines += [
        "",
        f"Understanding latency per turn (text → intent + first reply sentence, one utterance "
        f"at a time, n={len(latencies)}): median "
        f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
        f"{sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms.",
        "",
        "## Most frequent confusions (true → predicted), model",
        "",
    ]
    lines += [f"- {t} → {p}: {n}" for (t, p), n in confusions.most_common(12)] or ["- none"]
    for lang in sorted(results):
        exs = by_lang[lang]
        lines += ["", f"## Classification report, {lang} (model)", ""]
        predicted = [u.intent for u in results[lang][0]]
        lines += classification_report([e.intent for e in exs], predicted)
    report = "\n".join(lines) + "\n"
    if write:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(report, encoding="utf-8")
    return report
