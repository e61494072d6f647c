"""Per-language phrasing of times of day and relative days that dateparser does not read.

Measured on the dev cases (tests/test_slots.py) before these rules existed, dateparser 1.5 alone
returned None or a wrong value for: every spoken hour without digits or "h"/"Uhr" ("at three",
"a las tres", "um drei"), "halb vier", "y media"/"et demie", "quarter to", parts of the day
("por la tarde", "nachmittags", 下午), "pasado mañana", "el martes", "nächsten Dienstag",
"mardi prochain", every Chinese date but 明天/后天, and "morgen um 15 Uhr" (read as 09:00).
So the time of day and the relative weekday are read here with small tables; dateparser reads
what it is good at — month names in four languages ("el 22 de diciembre", "am 4. Januar",
"December the 22nd") and counted offsets ("in three days", "dentro de tres días", 三天后).

Every pattern runs on a transcript already lower-cased with number words as digits.
"""

from __future__ import annotations

import re

# part of the day → "am" / "pm" / "noon"; longest phrases first (matched in order)
PERIODS: dict[str, list[tuple[str, str]]] = {
    # "a.m."/"p.m." are read with the hour (TIME_PATTERNS): alone, "am" is "I am"
    "en": [(r"in the morning|morning", "am"), (r"in the afternoon|afternoon", "pm"),
           (r"in the evening|evening|at night", "pm"), (r"noon|midday", "noon")],
    "es": [(r"(?:de|por|en) la mañana|de la madrugada", "am"),
           (r"(?:de|por|en) la tarde|esta tarde|(?:de|por|en) la noche|esta noche", "pm"),
           (r"(?:al )?medio ?d[ií]a", "noon")],
    "fr": [(r"du matin|le matin|ce matin|matin(?:ée)?", "am"),
           (r"de l'après midi|l'après midi|cet après midi|après midi|apres midi", "pm"),
           (r"du soir|le soir|ce soir|soir(?:ée)?", "pm"), (r"midi", "noon")],
    "de": [(r"früh|morgens|vormittags?|am vormittag|am morgen", "am"),
           (r"nachmittags?|am nachmittag|abends?|am abend|nachts", "pm"),
           (r"mittags?|am mittag", "noon")],
    "zh": [(r"早上|早晨|上午|凌晨", "am"), (r"下午|傍晚|晚上|夜里", "pm"),
           (r"中午|正午", "noon")],
}
# "pm" for an hour of 12 or less that night phrases name: "8 de la noche" → 20:00

# words that name a day and a part of it at once, spelt out so that each half is read by its
# own table: "tonight" = today + evening, 明晚 = 明天 + 晚上
EXPANSIONS: dict[str, list[tuple[str, str]]] = {
    "en": [(r"\btonight\b", "today in the evening"),
           (r"\bthis (morning|afternoon|evening)\b", r"today in the \1")],
    "es": [(r"\besta (noche|tarde)\b", r"hoy por la \1")],
    "fr": [(r"\bce (soir|matin)\b", r"aujourd'hui le \1"),
           (r"\bcet après midi\b", "aujourd'hui l'après midi")],
    "de": [],
    "zh": [("今晚", "今天晚上"), ("明晚", "明天晚上"), ("明早", "明天早上")],
}

# relative days → offset from today. "mañana" alone is tomorrow, "por la mañana" the morning,
# "morgen" tomorrow, "morgens" in the morning (PERIODS are read and removed first).
RELATIVE_DAYS: dict[str, list[tuple[str, int]]] = {
    "en": [(r"the day after tomorrow|day after tomorrow", 2), (r"tomorrow", 1),
           (r"today", 0)],
    "es": [(r"pasado mañana|pasado manana", 2), (r"mañana|manana", 1),
           (r"hoy", 0)],
    "fr": [(r"après demain|apres demain", 2), (r"demain", 1),
           (r"aujourd'hui|aujourd hui", 0)],
    "de": [(r"übermorgen|uebermorgen", 2), (r"morgen(?!s)", 1), (r"heute", 0)],
    "zh": [(r"大后天", 3), (r"后天", 2), (r"明天|明日", 1), (r"今天|今日", 0)],
}

WEEKDAYS: dict[str, list[str]] = {  # Monday first, as datetime.weekday()
    "en": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "es": ["lunes", "martes", "mi[eé]rcoles", "jueves", "viernes", "s[aá]bado", "domingo"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "de": ["montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag|sonnabend",
           "sonntag"],
}
# words that put a weekday in the following calendar week, before or after it
NEXT_WEEK: dict[str, tuple[str, str]] = {  # (before the day, after the day)
    "en": (r"next", r"next week|of next week"),
    "es": (r"pr[oó]ximo", r"que viene|pr[oó]ximo|de la (?:semana que viene|pr[oó]xima semana)"),
    "fr": (r"", r"prochain|de la semaine prochaine"),
    "de": (r"nächste[nr]?|naechste[nr]?|kommende[nr]?", r"nächste woche|in der nächsten woche"),
}
THIS_WEEK: dict[str, str] = {"en": r"this(?: coming)?", "es": r"este", "fr": r"ce",
                             "de": r"diese[nr]?"}

ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# 周二 / 星期二 / 礼拜二, with 下(个) = next week, 这/本 = this week. Read before the numerals are
# converted, else "下礼拜四十点" (Thursday at ten) would become "下礼拜40点".
ZH_WEEKDAY_RE = re.compile(
    r"(?P<mod>下下个?|下个?|这个?|本)?(?:周|星期|礼拜)(?P<d>[一二三四五六日天])")

# ---------------------------------------------------------------- time of day
# each: (pattern, how to read it). Groups: h (hour), m (minutes), ap (am/pm marker).
# "to": minutes before the hour (quarter to ten = 9:45); "half_before": German "halb vier" = 3:30.
H = r"(?P<h>[012]?\d)"
M = r"(?P<m>[0-5]\d)"
TIME_PATTERNS: dict[str, list[tuple[str, str]]] = {
    "en": [
        (rf"{H}[:.]{M}\s*(?P<ap>[ap]\.? ?m\.?)?", "hm"),
        (rf"half past {H}", "half"),
        (rf"(?:a )?quarter (?:past|after) {H}", "quarter"),
        (rf"(?:a )?quarter (?:to|before|of) {H}", "quarter_to"),
        (rf"(?P<mm>\d{{1,2}}) (?:minutes )?(?:past|after) {H}", "past"),
        (rf"(?P<mm>\d{{1,2}}) (?:minutes )?(?:to|before) {H}", "to"),
        (rf"{H}\s*(?P<ap>[ap]\.? ?m\.?)", "hm"),
        (rf"{H} o'? ?clock", "hm"),
        (rf"(?:at|@|by|around|for) {H}(?: {M})?(?![\d:]|st|nd|rd|th)", "hm"),
        (rf"^{H}(?: {M})?$", "hm"),  # the whole answer is "three" / "nine thirty"
        (rf"(?<![\d/]){H} {M}(?!\d)", "hm"),  # "9 30" = nine thirty
    ],
    "es": [
        (rf"{H}[:.h]{M}", "hm"),
        (rf"(?:a )?(?:las?|eso de las?) {H}(?: y (?P<mm>\d{{1,2}}|media|xcuartox))?"
         rf"(?: menos (?P<to>\d{{1,2}}|xcuartox))?(?: (?:en punto|horas?|h))?", "es"),
        (rf"{H} y (?P<mm>media|xcuartox)", "es"),
        (rf"{H} (?:horas|h)\b", "hm"),
    ],
    "fr": [
        (rf"{H}\s*(?:heures?|h)(?![a-z])(?: {M}|(?P<m2>[0-5]\d))?(?: et (?P<mm>demie?|quart))?"
         rf"(?: moins (?:le )?(?P<to>quart|\d{{1,2}}))?", "fr"),
        (rf"{H}:{M}", "hm"),
        (r"midi et (?P<mm>demie?|quart)", "fr_noon"),
    ],
    "de": [
        (rf"{H}[:.]{M}(?:\s*uhr)?", "hm"),
        (rf"{H}\s*uhr(?: {M})?", "hm"),
        (rf"halb {H}", "half_before"),
        (rf"viertel nach {H}", "quarter"),
        (rf"(?:viertel vor|dreiviertel) {H}", "quarter_to"),
        (rf"(?P<mm>\d{{1,2}}) (?:minuten )?nach {H}", "past"),
        (rf"(?P<mm>\d{{1,2}}) (?:minuten )?vor {H}", "to"),
        (rf"(?:um|gegen|ab) {H}(?![\d.])", "hm"),
        (rf"^{H}$", "hm"),
    ],
    "zh": [
        (rf"{H}[:：]{M}", "hm"),
        (rf"{H}[点點](?:钟)?(?:(?P<half>半)|(?P<q>[13])刻|(?P<m>[0-5]?\d)分?)?", "zh"),
    ],
}
NOON_WORDS = {"en": r"noon|midday", "es": r"medio ?d[ií]a", "fr": r"midi", "de": r"mittags?",
              "zh": r"中午|正午"}
MIDNIGHT_WORDS = {"en": r"midnight", "es": r"medianoche", "fr": r"minuit",
                  "de": r"mitternacht", "zh": r"午夜|半夜"}

# Words with no meaning for the date that dateparser trips over ("el 22 de diciembre" fails
# where "22 de diciembre" parses); removed before the remainder goes to dateparser.
FILLER: dict[str, str] = {
    "en": r"\b(?:on|the|at|for|how about|could we do|can i come in|please|um|uh|of|is|it)\b",
    "es": r"\b(?:el|la|los|las|a|al|para|d[ií]a|puede ser|por favor|es)\b",
    "fr": r"\b(?:le|la|à|a|pour|c'est|s'il vous plaît|euh)\b",
    "de": r"\b(?:am|an|den|dem|um|für|bitte|ähm|äh)\b",
    "zh": r"(?:我想|可以|请|吧|吗|在|的)",
}
# a day of the month said alone: "the 15th", "el día 15", "le 15", "am 15.", 15号
DAY_OF_MONTH: dict[str, str] = {
    "en": r"\b(?P<d>[0-3]?\d)(?:st|nd|rd|th)\b",
    "es": r"\b(?:el|d[ií]a)(?: d[ií]a)? (?P<d>[0-3]?\d)(?:º|°)?\b(?!\s*(?:de|:|h))",
    "fr": r"\b(?:le) (?P<d>[0-3]?\d)(?:er)?\b(?!\s*(?:h|:))",
    "de": r"\b(?:am|den|der) (?P<d>[0-3]?\d)\.(?!\d)",
    "zh": r"(?:(?P<mo>[01]?\d)月)?(?P<d>[0-3]?\d)[日号號]",
}
