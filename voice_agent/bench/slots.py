"""`voice-agent bench slots`: slot parsers on held-out spoken values (models/slot_eval/).

Date/time accuracy per language and overall on datetimes.yaml, next to dateparser alone on the
same sentences (what the pre-normalisation in voice_agent/nlu/slots/datetime_rules.py buys);
digits/number/amount/email/phone accuracy on values.yaml; the median parse time. The held-out
sentences were written apart from the dev cases the parsers were tuned on (tests/test_slots.py).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from voice_agent.bench.report import append_to_benchmarks
from voice_agent.config import REPO_ROOT
from voice_agent.machine import machine
from voice_agent.nlu.slots import LANGUAGES, parse_slot

EVAL_DIR = REPO_ROOT / "models" / "slot_eval"


@dataclass
class Outcome:
    group: str  # a language for dates, a slot type for values
    text: str
    expected: str
    got: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.got == self.expected


def _as_string(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_timed(slot: str, text: str, lang: str, now: datetime | None,
                 options: dict | None) -> tuple[str | None, float]:
    start = time.perf_counter()
    value = parse_slot(slot, text, lang, now=now, options=options)
    return _as_string(value.value if value else None), time.perf_counter() - start


def _dateparser_alone(item: dict, now: datetime) -> str | None:
    """The same sentence straight into dateparser, read the way the slot would be."""
    import dateparser

    found = dateparser.parse(item["text"], languages=[item["lang"]],
                             settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": now,
                                       "RETURN_AS_TIMEZONE_AWARE": False})
    if found is None:
        return None
    return {"date": found.date().isoformat(), "time": found.strftime("%H:%M"),
            "datetime": found.isoformat(timespec="minutes")}[item["slot"]]


def run_datetimes(path: Path) -> tuple[list[Outcome], list[Outcome]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    nows = {k: datetime.fromisoformat(v) for k, v in data["nows"].items()}
    ours, baseline = [], []
    for item in data["items"]:
        now = nows[item["now"]]
        got, seconds = _parse_timed(item["slot"], item["text"], item["lang"], now, None)
        ours.append(Outcome(item["lang"], item["text"], item["expect"], got, seconds))
        start = time.perf_counter()
        alone = _dateparser_alone(item, now)
        baseline.append(Outcome(item["lang"], item["text"], item["expect"], alone,
                                time.perf_counter() - start))
    return ours, baseline


def run_values(path: Path) -> list[Outcome]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    outcomes = []
    for item in data["items"]:
        got, seconds = _parse_timed(item["slot"], item["text"], item["lang"], None,
                                    item.get("options"))
        outcomes.append(Outcome(item["slot"], f"[{item['lang']}] {item['text']}",
                                str(item["expect"]), got, seconds))
    return outcomes


def _accuracy(outcomes: list[Outcome]) -> str:
    right = sum(o.ok for o in outcomes)
    return f"{100 * right / len(outcomes):.1f}% ({right}/{len(outcomes)})" if outcomes else "–"


def _by_group(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.group].append(o)
    return groups


def build_report(ours: list[Outcome], baseline: list[Outcome], values: list[Outcome],
                 first_call_s: float) -> str:
    ours_by, base_by = _by_group(ours), _by_group(baseline)
    lines = [f"### Slot parsers on held-out speech — {date.today().isoformat()}", "",
             f"Machine: {machine()}. Command: `voice-agent bench slots`. "
             f"{len(ours)} spoken dates/times (models/slot_eval/datetimes.yaml) and "
             f"{len(values)} numbers, amounts, e-mail addresses and phone numbers "
             "(models/slot_eval/values.yaml), none of them used for tuning (the dev cases are "
             "tests/test_slots.py). Exact match of the ISO value.", "",
             "| date/time | slots (dateparser + pre-normalisation) | dateparser alone |",
             "|---|---|---|"]
    for lang in LANGUAGES:
        if lang in ours_by:
            lines.append(f"| {lang} | {_accuracy(ours_by[lang])} | "
                         f"{_accuracy(base_by[lang])} |")
    lines.append(f"| **all** | **{_accuracy(ours)}** | {_accuracy(baseline)} |")
    lines += ["", "| value slot | accuracy |", "|---|---|"]
    for slot, outcomes in _by_group(values).items():
        lines.append(f"| {slot} | {_accuracy(outcomes)} |")
    lines.append(f"| **all** | **{_accuracy(values)}** |")
    times = [o.seconds for o in ours + values]
    lines += ["", f"Parse time per utterance, median: {statistics.median(times) * 1000:.2f} ms "
              f"(date/time {statistics.median([o.seconds for o in ours]) * 1000:.2f} ms, "
              f"p95 {sorted(times)[int(0.95 * (len(times) - 1))] * 1000:.2f} ms); the first "
              f"call in a process (imports dateparser, loads its English data): "
              f"{first_call_s * 1000:.0f} ms. Most sentences are read by the rules alone; "
              "dateparser runs for month names and counted offsets."]
    misses = [o for o in ours + values if not o.ok]
    if misses:
        lines += ["", "Misses (said → expected / got):", ""]
        lines += [f"- `{o.text}` → {o.expected} / {o.got}" for o in misses]
    return "\n".join(lines) + "\n"


def run_slots_bench(write: bool, eval_dir: Path = EVAL_DIR) -> str:
    start = time.perf_counter()  # first call: imports dateparser, text2num; English data
    parse_slot("datetime", "the 22nd of December at three", "en", now=datetime(2026, 1, 5, 9))
    first_call_s = time.perf_counter() - start
    for lang in LANGUAGES:  # each language's dateparser data loads on first use; not timed
        parse_slot("datetime", "x 1", lang, now=datetime(2026, 1, 5, 9))
        parse_slot("date", "in 3 days", lang, now=datetime(2026, 1, 5, 9))
    ours, baseline = run_datetimes(eval_dir / "datetimes.yaml")
    values = run_values(eval_dir / "values.yaml")
    report = build_report(ours, baseline, values, first_call_s)
    if write:
        append_to_benchmarks("\n" + report)
    return report
