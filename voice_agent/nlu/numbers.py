"""Order numbers as callers say them and Whisper writes them.

"1001", "one zero zero one", "ten oh one", "mil uno", "tausendeins", "mille trois", "一零零一".
Spelled digits are read digit by digit; number words are matched against num2words' spelling of
every number in range, longest phrase first.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

DIGIT_WORDS = {
    "en": {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
           "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"},
    "es": {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4",
           "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"},
    "fr": {"zero": "0", "un": "1", "une": "1", "deux": "2", "trois": "3", "quatre": "4",
           "cinq": "5", "six": "6", "sept": "7", "huit": "8", "neuf": "9"},
    "de": {"null": "0", "eins": "1", "ein": "1", "zwei": "2", "zwo": "2", "drei": "3",
           "vier": "4", "funf": "5", "sechs": "6", "sieben": "7", "acht": "8", "neun": "9"},
}
ZH_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
             "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
NUM2WORDS_LANG = {"en": "en", "es": "es", "fr": "fr", "de": "de"}
MIN_DIGITS, MAX_DIGITS = 3, 8
WORDS_RANGE = range(100, 10_000)
CONNECTORS = {"and", "y", "et", "und"}


def _fold(text: str) -> str:
    """Lower-case, strip accents, turn hyphens and punctuation into spaces."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^\w\s]", " ", text.replace("-", " "))


@lru_cache(maxsize=8)
def spelled_numbers(lang: str) -> list[tuple[list[str], str]]:
    """num2words spellings of 100–9999 as token lists, longest first."""
    code = NUM2WORDS_LANG.get(lang)
    if code is None:
        return []
    from num2words import num2words

    table = {}
    for n in WORDS_RANGE:
        spelled = _fold(num2words(n, lang=code)).split()
        spelled = [t for t in spelled if t not in CONNECTORS]
        table[tuple(spelled)] = str(n)
        if lang == "de" and spelled[0].startswith("eintausend"):  # "tausendzwei" is said too
            table[(spelled[0][3:], *spelled[1:])] = str(n)
    return sorted(((list(k), v) for k, v in table.items()), key=lambda kv: -len(kv[0]))


def _digit_runs(tokens: list[str], words: dict[str, str]) -> list[str]:
    runs, current = [], ""
    for tok in tokens + [""]:
        if tok.isdigit():
            current += tok
        elif tok in words and (current or tok not in ("o", "un", "une", "ein", "una")):
            current += words[tok]
        else:
            if len(current) >= MIN_DIGITS:
                runs.append(current)
            current = ""
    return runs


def _spelled_match(tokens: list[str], lang: str) -> str | None:
    table = spelled_numbers(lang)
    tokens = [t for t in tokens if t not in CONNECTORS]
    for i in range(len(tokens)):
        for spelled, value in table:
            if tokens[i : i + len(spelled)] == spelled:
                return value
    return None


def extract_order_number(text: str, lang: str) -> str | None:
    """The first order-like number in a transcript (3–8 digits), or None."""
    if lang == "zh" or re.search(r"[\u4e00-\u9fff]", text):
        digits = "".join(ZH_DIGITS.get(c, c if c.isdigit() else " ") for c in text)
        for run in digits.split():
            if MIN_DIGITS <= len(run) <= MAX_DIGITS:
                return run
    folded = _fold(text)
    # "10 01" or "1 0 0 1": digits split by spaces are still one number
    tokens = folded.split()
    for run in _digit_runs(tokens, DIGIT_WORDS.get(lang, {})):
        if len(run) <= MAX_DIGITS:
            return run
    return _spelled_match(tokens, lang)
