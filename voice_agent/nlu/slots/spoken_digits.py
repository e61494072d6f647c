"""Digit strings as callers say them and Whisper writes them: order numbers, accounts, PINs.

"1001", "one zero zero one", "ten oh one", "1,002", "mil uno", "tausendeins", "mille trois",
"一零零一". Spelled digits are read digit by digit; number words are matched against num2words'
spelling of every number in range, longest phrase first (how the order-number reader has always
worked; `voice_agent.nlu.numbers` is now a thin use of this module).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ARTICLE_LIKE = {"o", "un", "une", "una", "uno", "ein", "eine", "one"}
DIGIT_WORDS = {
    "en": {"ten": "10", "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
           "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"},
    "es": {"diez": "10", "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3",
           "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"},
    "fr": {"dix": "10", "zero": "0", "un": "1", "une": "1", "deux": "2", "trois": "3",
           "quatre": "4", "cinq": "5", "six": "6", "sept": "7", "huit": "8", "neuf": "9"},
    "de": {"zehn": "10", "null": "0", "eins": "1", "ein": "1", "zwei": "2", "zwo": "2",
           "drei": "3", "vier": "4", "funf": "5", "sechs": "6", "sieben": "7", "acht": "8",
           "neun": "9"},
}
ZH_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
             "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
NUM2WORDS_LANG = {"en": "en", "es": "es", "fr": "fr", "de": "de"}
WORDS_RANGE = range(1000, 10_000)  # numbers said as words ("ten oh one", "mil dos") are 4 digits
CONNECTORS = {"and", "y", "et", "und"}


def fold_words(text: str) -> str:
    """Lower-case, strip accents, turn hyphens and punctuation into spaces."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^\w\s]", " ", text.replace("-", " "))


@lru_cache(maxsize=8)
def spelled_numbers(lang: str) -> list[tuple[list[str], str]]:
    """num2words spellings of 1001–9999 as token lists, longest first."""
    code = NUM2WORDS_LANG.get(lang)
    if code is None:
        return []
    from num2words import num2words

    table = {}
    for n in WORDS_RANGE:
        if n % 1000 == 0:
            continue  # "mil gracias" is thanks, not order 1000
        spelled = fold_words(num2words(n, lang=code)).split()
        spelled = [t for t in spelled if t not in CONNECTORS]
        table[tuple(spelled)] = str(n)
        if lang == "de" and spelled[0].startswith("eintausend"):  # "tausendzwei" is said too
            table[(spelled[0][3:], *spelled[1:])] = str(n)
    return sorted(((list(k), v) for k, v in table.items()), key=lambda kv: -len(kv[0]))


def _digit_runs(tokens: list[str], words: dict[str, str], min_digits: int) -> list[str]:
    """Digits said one by one ("one zero zero one", "ten oh two") or written ("10 01").

    A run is all digits or all digit words, never a mix ("1001, una dirección" is 1001).
    Words that double as articles ("a"/"one" in fr/es/de: un, una, ein) start a run only when
    another digit word follows."""
    runs, current, kind = [], "", None
    for i, tok in enumerate(tokens + [""]):
        tok_kind = "digits" if tok.isdigit() else "words" if tok in words else None
        if tok_kind == "words" and not current and tok in ARTICLE_LIKE:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if nxt not in words:
                tok_kind = None
        if tok_kind is not None and (kind is None or tok_kind == kind):
            current += tok if tok_kind == "digits" else words[tok]
            kind = tok_kind
            continue
        if len(current) >= min_digits:
            runs.append(current)
        current, kind = "", None
        if tok_kind is not None:  # a new run of the other kind starts here
            current, kind = (tok if tok_kind == "digits" else words[tok]), tok_kind
    return runs


def _spelled_match(tokens: list[str], lang: str) -> str | None:
    table = spelled_numbers(lang)
    tokens = [t for t in tokens if t not in CONNECTORS]
    for i in range(len(tokens)):
        for spelled, value in table:
            if tokens[i : i + len(spelled)] == spelled:
                return value
    return None


def _zh_numeral(text: str) -> int | None:
    """一千零二 → 1002, 两千零四十五 → 2045 (units 千/百/十 with 零 as a filler)."""
    total, digit = 0, None
    units = {"千": 1000, "百": 100, "十": 10}
    for ch in text:
        if ch in units:
            total += (digit if digit is not None else 1) * units[ch]
            digit = None
        elif ch in ZH_DIGITS:
            value = int(ZH_DIGITS[ch])
            digit = None if value == 0 else value
        else:
            return None
    return total + (digit or 0)


def _zh_digits(text: str, min_digits: int, max_digits: int) -> str | None:
    for match in re.finditer(r"[零〇一幺二两三四五六七八九千百十]+", text):
        chunk = match.group()
        if any(u in chunk for u in "千百十"):
            value = _zh_numeral(chunk)
            if value is not None and min_digits <= len(str(value)) <= max_digits:
                return str(value)
        else:
            digits = "".join(ZH_DIGITS[c] for c in chunk)
            if min_digits <= len(digits) <= max_digits:
                return digits
    for match in re.finditer(r"\d+(?: \d+)*", text):  # "10 02" as Whisper writes it
        digits = match.group().replace(" ", "")
        if min_digits <= len(digits) <= max_digits:
            return digits
    return None


def extract_digits(text: str, lang: str, min_digits: int = 4, max_digits: int = 8) -> str | None:
    """The first digit string of min_digits–max_digits digits in a transcript, or None."""
    if lang == "zh" or re.search(r"[\u4e00-\u9fff]", text):
        found = _zh_digits(text, min_digits, max_digits)
        if found or lang == "zh":
            return found
    # Whisper writes "one zero zero two" as "1,002" (a group separator: three digits follow);
    # "29.99" or "3,50" is an amount, not digits to join
    # (a full stop may end the sentence: "It's 1,002.")
    text = re.sub(r"(?<![\d.,])(\d{1,3})[.,](\d{3})(?![\d,]|\.\d)", r"\1\2", text)
    folded = fold_words(re.sub(r"(?<=\d)[.,](?=\d)", " _ ", text))
    tokens = folded.split()
    for run in _digit_runs(tokens, DIGIT_WORDS.get(lang, {}), min_digits):
        if len(run) <= max_digits:
            return run
    found = _spelled_match(tokens, lang)
    if found and min_digits <= len(found) <= max_digits:
        return found
    return None


def is_digits_reply(text: str, lang: str, max_other_words: int = 4) -> bool:
    """A turn that mostly just gives a number ("The number is one zero zero three", "是一零零二"):
    the answer to our question, not a new request."""
    if not extract_digits(text, lang):
        return False
    if lang == "zh" or re.search(r"[\u4e00-\u9fff]", text):
        rest = [c for c in text if "\u4e00" <= c <= "\u9fff" and c not in ZH_DIGITS
                and c not in "千百十"]
        return len(rest) <= max_other_words
    words = DIGIT_WORDS.get(lang, {})
    rest = [t for t in fold_words(text).split() if not t.isdigit() and t not in words]
    return len(rest) <= max_other_words
