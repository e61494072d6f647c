"""`date`, `time` and `datetime` slots over spoken_datetime.read_datetime.

Values are ISO strings ("2026-12-15", "15:00", "2026-12-15T15:00") so that actions and logs
carry them as they are; `extra` keeps the parts and whether the business-hours rule chose
am/pm, so the dialogue can confirm "Tuesday the 15th at 3 pm?".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.spoken_datetime import BusinessHours, SpokenDateTime, read_datetime

WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
COMMON_OPTIONS: dict[str, Any] = {
    # hours said without am/pm are read inside this window ("at three" → 15:00)
    "business_hours": "08:00-20:00",
    # "next Tuesday" on a Monday: "following_week" (the 15th, not tomorrow) or "upcoming"
    "next_weekday": "following_week",
}


def parse_hours(window: str) -> BusinessHours:
    start, end = (time.fromisoformat(part.strip()) for part in window.split("-"))
    return start, end


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(tzinfo=None, second=0, microsecond=0)


def _read(text: str, language: str, now: datetime | None, opts: Mapping[str, Any]):
    return read_datetime(text, language, _now(now),
                         business_hours=parse_hours(opts["business_hours"]),
                         next_means=opts["next_weekday"])


def _check_common(opts: Mapping[str, Any]) -> list[str]:
    problems = []
    try:
        start, end = parse_hours(opts["business_hours"])
        if start >= end:
            problems.append(f"business_hours {opts['business_hours']!r}: start after end")
    except ValueError:
        problems.append(f"business_hours {opts['business_hours']!r}: write it as 'HH:MM-HH:MM'")
    if opts["next_weekday"] not in ("following_week", "upcoming"):
        problems.append("next_weekday must be 'following_week' or 'upcoming'")
    for day in opts.get("closed_weekdays") or []:
        if str(day).lower() not in WEEKDAY_NAMES:
            problems.append(f"closed_weekdays: {day!r} is not a weekday name")
    return problems


def _date_reason(day: date, now: datetime, opts: Mapping[str, Any]) -> str | None:
    if not opts["allow_past"] and day < now.date():
        return "that date is in the past"
    limit = opts["max_days_ahead"]
    if limit is not None and day > now.date() + timedelta(days=int(limit)):
        return f"we can only book up to {limit} days ahead"
    closed = [str(d).lower() for d in opts["closed_weekdays"] or []]
    if WEEKDAY_NAMES[day.weekday()] in closed:
        return f"we are closed on {WEEKDAY_NAMES[day.weekday()].capitalize()}s"
    return None


def _time_reason(when: time, opts: Mapping[str, Any]) -> str | None:
    if not opts["within_business_hours"]:
        return None
    start, end = parse_hours(opts["business_hours"])
    if not start <= when < end:
        return f"we are open from {start:%H:%M} to {end:%H:%M}"
    return None


def _extra(read: SpokenDateTime) -> dict[str, Any]:
    return {"date": read.date.isoformat() if read.date else None,
            "time": read.time.strftime("%H:%M") if read.time else None,
            "hour_was_ambiguous": read.hour_was_ambiguous, "date_rule": read.date_rule}


class DateSlot:
    name = "date"
    options: Mapping[str, Any] = {**COMMON_OPTIONS, "allow_past": False,
                                  "max_days_ahead": None, "closed_weekdays": []}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        read = _read(text, language, now, resolve_options(self, options))
        if read.date is None:
            return None
        return SlotValue(self.name, read.date.isoformat(), text, read.normalized, _extra(read))

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        return _date_reason(date.fromisoformat(value.value), _now(now), opts)

    def check_options(self, opts: Mapping[str, Any]) -> list[str]:
        return _check_common(opts)


class TimeSlot:
    name = "time"
    options: Mapping[str, Any] = {**COMMON_OPTIONS, "within_business_hours": False}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        read = _read(text, language, now, resolve_options(self, options))
        if read.time is None:
            return None
        return SlotValue(self.name, read.time.strftime("%H:%M"), text, read.normalized,
                         _extra(read))

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        return _time_reason(time.fromisoformat(value.value), resolve_options(self, options))

    def check_options(self, opts: Mapping[str, Any]) -> list[str]:
        return _check_common(opts)


class DateTimeSlot:
    """A day and a time. Half of it parses (value = what was said, extra["missing"] names the
    other half) so the dialogue can keep "tomorrow" and ask only "at what time?"."""

    name = "datetime"
    options: Mapping[str, Any] = {**DateSlot.options, "within_business_hours": False}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        read = _read(text, language, now, resolve_options(self, options))
        extra = _extra(read)
        if read.date and read.time:
            value = datetime.combine(read.date, read.time).isoformat(timespec="minutes")
        elif read.date or read.time:
            value = extra["date"] or extra["time"]
            extra["missing"] = "time" if read.date else "date"
        else:
            return None
        return SlotValue(self.name, value, text, read.normalized, extra)

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        missing = value.extra.get("missing")
        if missing == "time":
            return "I need a time as well as the day"
        if missing == "date":
            return "I need the day as well as the time"
        when = datetime.fromisoformat(value.value)
        if not opts["allow_past"] and when < _now(now):
            return "that time is in the past"
        return _date_reason(when.date(), _now(now), {**opts, "allow_past": True}) or \
            _time_reason(when.time(), opts)

    def check_options(self, opts: Mapping[str, Any]) -> list[str]:
        return _check_common(opts)


register(DateSlot())
register(TimeSlot())
register(DateTimeSlot())
