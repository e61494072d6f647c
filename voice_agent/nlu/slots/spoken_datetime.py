"""Read a date and/or a time of day from what a caller said.

Order of work, each step removing what it read from the text:
1. normalise: lower case, number words → digits (text2num / cn2an), Chinese weekdays first;
2. time of day (datetime_rules.TIME_PATTERNS) and the part of the day ("por la tarde", 下午);
3. the date: a day of the month or a month name (dateparser, then the day-alone rule), else a
   weekday with or without "next"/"this", else a relative day (tomorrow, pasado mañana),
   else dateparser on what is left ("in three days", "dentro de tres días");
4. an hour said without am/pm or part of the day is read inside business hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from voice_agent.nlu.slots import datetime_rules as R
from voice_agent.nlu.slots.normalise import collapse, has_cjk, words_to_digits

BusinessHours = tuple[time, time]
DEFAULT_BUSINESS_HOURS: BusinessHours = (time(8, 0), time(20, 0))


@dataclass(frozen=True)
class SpokenDateTime:
    date: date | None
    time: time | None
    normalized: str
    hour_was_ambiguous: bool = False  # "at three": read as 15:00 by the business-hours rule
    date_rule: str = ""  # which step found the date (for the bench's error analysis)


# ---------------------------------------------------------------- normalisation


def normalise(text: str, language: str) -> str:
    text = text.replace("’", "'").replace("，", ",").replace("。", " ").lower()
    if language == "zh" or has_cjk(text):
        # weekdays before the numerals: 下礼拜四十点 is Thursday at ten, not "40点"
        text = R.ZH_WEEKDAY_RE.sub(
            lambda m: f" wd{R.ZH_WEEKDAY[m['d']]}{_zh_week_mod(m['mod'])} ", text)
        for pattern, repl in R.EXPANSIONS["zh"]:
            text = text.replace(pattern, repl)
        return collapse(words_to_digits(text, "zh"))
    if language == "es":  # text2num reads "cuarto" as the ordinal 4º ("las diez y cuarto")
        text = re.sub(r"\bcuarto\b", "xcuartox", text)
    text = words_to_digits(text, language)
    text = re.sub(r"[¿?!¡;]", " ", text)
    text = re.sub(r"(?<!\d)[.,](?!\d)|[.,]$", " ", text)  # sentence punctuation, not 16.30 / 18.
    text = collapse(text.replace("-", " "))
    for pattern, repl in R.EXPANSIONS.get(language, []):
        text = re.sub(pattern, repl, text)
    return text


def _zh_week_mod(mod: str | None) -> str:
    if not mod:
        return ""
    return "nn" if mod.startswith("下下") else "n" if mod.startswith("下") else "t"


# ---------------------------------------------------------------- time of day


def _take(pattern: str, text: str) -> tuple[re.Match[str] | None, str]:
    match = re.search(pattern, text)
    if match is None:
        return None, text
    return match, collapse(text[: match.start()] + " " + text[match.end():])


def _read_time(text: str, language: str) -> tuple[tuple[int, int, str | None] | None, str]:
    """(hour, minute, "am"/"pm" marker said with it) and the text without it."""
    for pattern, kind in R.TIME_PATTERNS.get(language, []):
        match, rest = _take(pattern, text)
        if match is None:
            continue
        g = match.groupdict()
        hour = int(g["h"]) if g.get("h") else 12
        minute = int(g.get("m") or g.get("m2") or 0)
        ap = g.get("ap")
        ap = ("pm" if ap.startswith("p") else "am") if ap else None
        mm = g.get("mm")
        if kind == "half":
            minute = 30
        elif kind == "quarter":
            minute = 15
        elif kind == "quarter_to":
            hour, minute = hour - 1, 45
        elif kind == "half_before":
            hour, minute = hour - 1, 30
        elif kind == "past":
            minute = int(mm)
        elif kind == "to":
            hour, minute = hour - 1, 60 - int(mm)
        elif kind == "es":
            minute = {"media": 30, "xcuartox": 15}[mm] if mm in ("media", "xcuartox") \
                else int(mm or 0)
            if g.get("to"):
                hour, minute = hour - 1, 60 - (15 if g["to"] == "xcuartox" else int(g["to"]))
        elif kind == "fr":
            if mm:
                minute = 30 if mm.startswith("dem") else 15
            if g.get("to"):
                hour, minute = hour - 1, 60 - (15 if g["to"] == "quart" else int(g["to"]))
        elif kind == "fr_noon":
            hour, minute = 12, 30 if mm.startswith("dem") else 15
        elif kind == "zh":
            minute = 30 if g.get("half") else int(g["q"]) * 15 if g.get("q") else minute
        if not (0 <= hour <= 24 and 0 <= minute < 60):
            continue
        return (hour % 24, minute, ap), rest
    return None, text


def _read_period(text: str, language: str) -> tuple[str | None, str]:
    for pattern, period in R.PERIODS.get(language, []):
        bounded = pattern if language == "zh" else rf"(?<!\w)(?:{pattern})(?!\w)"
        match, rest = _take(bounded, text)
        if match is not None:
            return period, rest
    return None, text


def resolve_hour(hour: int, minute: int, marker: str | None,
                 business_hours: BusinessHours) -> tuple[time, bool]:
    """24-hour time from a spoken hour; True when the business-hours rule chose am/pm."""
    if marker in ("pm", "noon") and hour < 12:
        return time(hour + 12, minute), False
    if marker == "am":
        return time(hour % 12 if hour == 12 else hour, minute), False
    if hour == 0 or hour > 12:
        return time(hour % 24, minute), False
    start, end = business_hours

    def outside(t: time) -> int:  # minutes outside the window, 0 inside
        m = t.hour * 60 + t.minute
        lo, hi = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        return max(lo - m, m - hi + 1, 0)

    # morning reading first on a tie ("at 8" with 08:00–20:00 is 08:00)
    am, pm = time(hour % 12, minute), time(hour % 12 + 12, minute)
    return (am if outside(am) <= outside(pm) else pm), True


# ---------------------------------------------------------------- date


def _dateparser(text: str, language: str, now: datetime) -> date | None:
    import dateparser

    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": now,
                "RETURN_AS_TIMEZONE_AWARE": False, "PREFER_DAY_OF_MONTH": "first"}
    text = collapse(re.sub(R.FILLER.get(language, r"$^"), " ", text))
    if not text or not re.search(r"\w", text):
        return None
    found = dateparser.parse(text, languages=[language], settings=settings)
    if found is None:
        from dateparser.search import search_dates

        hits = search_dates(text, languages=[language], settings=settings) or []
        # accept a hit only if it carries a digit or a word longer than a filler ("we" → date)
        hits = [h for h in hits if re.search(r"\d", h[0]) or len(h[0]) > 4]
        found = max(hits, key=lambda h: len(h[0]))[1] if hits else None
    return found.date() if found else None


def _next_day_of_month(day: int, month: int | None, today: date) -> date | None:
    """The first such day on or after today (this month, else next month / next year)."""
    year, mo = today.year, month or today.month
    for _ in range(13):
        try:
            candidate = date(year, mo, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        if month:  # a named month: the same day next year
            year += 1
        else:
            mo, year = (1, year + 1) if mo == 12 else (mo + 1, year)
    return None


def weekday_date(weekday: int, modifier: str, today: date, next_means: str) -> date:
    """"" (bare weekday): the next one after today; "this": on or after today;
    "next": in the following calendar week, or the next one after today with
    next_means="upcoming"."""
    ahead = (weekday - today.weekday()) % 7
    if modifier == "this":
        return today + timedelta(days=ahead)
    if modifier == "next" and next_means == "following_week" or modifier == "after_next":
        monday_next = today + timedelta(days=7 - today.weekday())
        return monday_next + timedelta(days=weekday + (7 if modifier == "after_next" else 0))
    return today + timedelta(days=ahead or 7)


def _read_weekday(text: str, language: str) -> tuple[tuple[int, str, int | None] | None, str]:
    """(weekday, "next"/"this"/"", a day of the month said with it) and the rest."""
    if language == "zh":
        match, rest = _take(r"wd(?P<d>\d)(?P<mod>nn|n|t)?", text)
        if match is None:
            return None, text
        mod = {"nn": "after_next", "n": "next", "t": "this"}.get(match["mod"] or "", "")
        if re.search(r"下(?:个)?(?:周|星期|礼拜)", rest):
            mod = "next"
        return (int(match["d"]), mod, None), rest
    before, after = R.NEXT_WEEK[language]
    this = R.THIS_WEEK[language]
    for i, name in enumerate(R.WEEKDAYS[language]):
        pattern = (rf"(?:(?P<pre>{before})\s+|(?P<this>{this})\s+)?\b(?:{name})\b"
                   rf"(?:,?\s*(?P<post>{after}))?"
                   rf"(?:,?\s*(?:the |den |le )?(?P<dom>[0-3]?\d)"
                   rf"(?:st|nd|rd|th|er|\.|º)?(?!\d|:))?")
        pattern = pattern.replace("(?P<pre>)\\s+|", "")  # French has no "next" before the day
        match, rest = _take(pattern, text)
        if match is None:
            continue
        mod = "next" if match["post"] or (before and match.groupdict().get("pre")) else ""
        mod = "this" if match["this"] else mod
        if not mod and re.search(rf"\b(?:{after})\b", rest):  # "Tuesday ... of next week"
            mod = "next"
            rest = collapse(re.sub(rf"\b(?:{after})\b", " ", rest))
        dom = int(match["dom"]) if match["dom"] else None
        return (i, mod, dom), rest
    return None, text


def read_date(text: str, language: str, now: datetime,
              next_means: str = "following_week") -> tuple[date | None, str]:
    today = now.date()
    weekday, rest = _read_weekday(text, language)
    if weekday and weekday[2]:  # "el viernes 18": the day of the month decides
        return _next_day_of_month(weekday[2], None, today), "weekday+day"
    # a date with digits or a month name: dateparser first, the day alone second
    day_match = re.search(R.DAY_OF_MONTH[language], rest)
    if language == "zh" and day_match:
        month = int(day_match["mo"]) if day_match["mo"] else None
        return _next_day_of_month(int(day_match["d"]), month, today), "day-of-month"
    relative = None
    for pattern, offset in R.RELATIVE_DAYS[language]:
        bounded = pattern if language == "zh" else rf"(?<!\w)(?:{pattern})(?!\w)"
        match, after_rel = _take(bounded, rest)
        if match is not None:
            relative, rest = offset, after_rel
            break
    if re.search(r"\d", rest) and language != "zh" or weekday is None and relative is None:
        parsed = _dateparser(rest, language, now) if rest.strip() else None
        if parsed is not None and parsed >= today:
            return parsed, "dateparser"
        if day_match:  # dateparser reads "el día 3" as this month's 3rd even when it has passed
            return _next_day_of_month(int(day_match["d"]), None, today), "day-of-month"
        if parsed is not None and relative is None and weekday is None:
            return parsed, "dateparser"  # a past date said in full: validation says so
    if weekday:
        return weekday_date(weekday[0], weekday[1], today, next_means), "weekday"
    if relative is not None:
        return today + timedelta(days=relative), "relative-day"
    return None, ""


# ---------------------------------------------------------------- both


def read_datetime(text: str, language: str, now: datetime, *,
                  business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS,
                  next_means: str = "following_week") -> SpokenDateTime:
    norm = normalise(text, language)
    rest = norm
    hm, rest = _read_time(rest, language)
    period, rest = _read_period(rest, language)
    when: time | None = None
    ambiguous = False
    if hm is not None:
        hour, minute, marker = hm
        when, ambiguous = resolve_hour(hour, minute, marker or period, business_hours)
    elif period == "noon":
        when = time(12, 0)
    elif re.search(rf"(?<!\w)(?:{R.MIDNIGHT_WORDS[language]})(?!\w)", rest):
        when = time(0, 0)
    day, rule = read_date(rest, language, now, next_means)
    return SpokenDateTime(day, when, norm, ambiguous, rule)
