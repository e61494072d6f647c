"""Personal data out of text before it is stored or logged: card numbers, phone numbers, e-mail.

    redact("my card is 4111 1111 1111 1111")           -> "my card is [card]"
    redact("call me on +44 20 7946 0958")               -> "call me on [phone]"
    redact("cuatro uno uno uno ... (16 digit words)")    -> "[card]"
    redact("john dot smith at gmail dot com")           -> "[email]"
    redact("my order is 1001")                          -> unchanged: order numbers survive

How numbers are found: every written digit group, Chinese digit character and spoken number
word (0–9 in en/es/fr/de, and 10–99 as said in pairs: "zéro six, douze, trente-quatre") is an
item; items of one kind separated only by spaces, dashes, dots, slashes, brackets or commas
make a run. A run of 13–19 digits that passes the Luhn check is a card; 7–15 digits (8–15
after a "+") a phone number; a longer run is an unnamed number. Shorter runs (order numbers,
times, amounts) stay, as do dates (2026-12-01) and amounts beside a currency ("1 250 000 €").

`redact_log_record` is a loguru patcher: `logger.configure(patcher=redact_log_record)`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from voice_agent.nlu.numbers import DIGIT_WORDS, ZH_DIGITS

CARD, PHONE, EMAIL, NUMBER = "[card]", "[phone]", "[email]", "[number]"
PHONE_MIN, PHONE_MAX, CARD_MIN, CARD_MAX = 7, 15, 13, 19

_AT = r"(?:@|\s+(?:at|arroba|arobase|ät)\s+|\s*艾特\s*)"
_DOT_WORD = r"(?:dot|punto|point|punkt)"
_DOT = rf"(?:\s*\.\s*|\s+{_DOT_WORD}\s+|\s*点\s*)"
_TLD = r"(?:com|net|org|edu|gov|io|info|biz|de|fr|es|cn|uk|co|mx|ar|ch|at|be|eu|us|ca|it|nl)"
_LOCAL = rf"[A-Za-z0-9_%+-]+(?:(?:\.|\s+{_DOT_WORD}\s+)[A-Za-z0-9_%+-]+)*"
_DOMAIN = r"[A-Za-z0-9-]+"
EMAIL_RE = re.compile(
    rf"(?<![A-Za-z0-9._%+-]){_LOCAL}{_AT}{_DOMAIN}(?:{_DOT}{_DOMAIN})*{_DOT}{_TLD}\b",
    re.IGNORECASE,
)
WRITTEN_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# Separators allowed between two items of a run; "." or "," directly between written digits
# is a decimal or thousands mark, handled below.
GAP_RE = re.compile(r"[\s\-–—./()（）,，、]*")
CURRENCY_RE = re.compile(
    r"^\s*(?:[$€£¥₹元块]|euros?|dollars?|d[oó]lares|pesos|pounds|yuan|eur|usd|gbp|francs?|"
    r"franken|rmb)\b|^\s*[$€£¥₹元块]", re.IGNORECASE)
CURRENCY_BEFORE_RE = re.compile(r"(?:[$€£¥₹]|eur|usd|gbp|rmb)\s*$", re.IGNORECASE)
DATE_RE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
WORD_RE = re.compile(r"[^\W\d_\u3000-\u9fff\uff00-\uffef]+")
WRITTEN_DIGITS_RE = re.compile(r"\d+")


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in word if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def number_phrases() -> dict[tuple[str, ...], str]:
    """Spoken phrases → digits: 0–9 in every language, and 10–99 (numbers said in pairs)."""
    table: dict[tuple[str, ...], str] = {}
    for words in DIGIT_WORDS.values():
        for word, digits in words.items():
            if word != "o":  # Spanish/English "o" ("or") is too common to be a zero
                table[(word,)] = digits
    table[("funf",)] = table[("fünf",)] = "5"
    from num2words import num2words

    for lang in ("en", "es", "fr", "de"):
        for n in range(10, 100):
            tokens = tuple(_fold(num2words(n, lang=lang)).replace("-", " ").split())
            table.setdefault(tokens, str(n))
    return table


@dataclass
class _Item:
    start: int
    end: int
    digits: str
    kind: str  # written | word | zh


def _word_items(text: str) -> list[_Item]:
    table = number_phrases()
    longest = max(len(k) for k in table)
    words = [(m.start(), m.end(), _fold(m.group())) for m in WORD_RE.finditer(text)]
    items, i = [], 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            span = words[i : i + size]
            # a phrase's words are joined by spaces or hyphens only
            joined = all(re.fullmatch(r"[\s\-]+", text[a[1] : b[0]])
                         for a, b in zip(span, span[1:], strict=False))
            key = tuple(w for _, _, w in span)
            if joined and key in table:
                items.append(_Item(span[0][0], span[-1][1], table[key], "word"))
                i += size
                break
        else:
            i += 1
    return items


def _items(text: str) -> list[_Item]:
    items = [_Item(m.start(), m.end(), "".join(str(unicodedata.digit(c)) for c in m.group()),
                   "written") for m in WRITTEN_DIGITS_RE.finditer(text)]
    items += [_Item(i, i + 1, ZH_DIGITS[c], "zh") for i, c in enumerate(text)
              if c in ZH_DIGITS and c != "两"]
    items += _word_items(text)
    return sorted(items, key=lambda it: it.start)


def _joins(text: str, a: _Item, b: _Item) -> bool:
    if a.kind != b.kind:
        return False
    gap = text[a.end : b.start]
    if not GAP_RE.fullmatch(gap):
        return False
    if a.kind == "written":
        if gap == ",":  # 1,250 — a thousands or decimal mark
            return False
        if re.search(r"\.\s", gap):  # "… 1001. 555 …" — a sentence ends between them
            return False
    return True


def _runs(text: str) -> list[list[_Item]]:
    runs: list[list[_Item]] = []
    for item in _items(text):
        if runs and _joins(text, runs[-1][-1], item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _has_card(run: list[_Item]) -> bool:
    """Any stretch of whole items with 13–19 digits passing Luhn ("… 1111 12/27" too)."""
    for i in range(len(run)):
        digits = ""
        for item in run[i:]:
            digits += item.digits
            if len(digits) > CARD_MAX:
                break
            if len(digits) >= CARD_MIN and luhn_ok(digits):
                return True
    return False


def _label(text: str, run: list[_Item], plus: bool) -> str | None:
    digits = "".join(it.digits for it in run)
    start, end = run[0].start, run[-1].end
    if len(digits) < PHONE_MIN:
        return None
    if run[0].kind == "written" and DATE_RE.match(text[start:end]):
        return None
    if CURRENCY_RE.match(text[end:]) or CURRENCY_BEFORE_RE.search(text[:start]):
        return None  # an amount
    if len(digits) >= CARD_MIN and _has_card(run):
        return CARD
    if len(digits) <= PHONE_MAX and (not plus or len(digits) >= 8):
        return PHONE
    return NUMBER


def _redact_numbers(text: str) -> str:
    out, pos = [], 0
    for run in _runs(text):
        start, end = run[0].start, run[-1].end
        before = text[:start]
        plus = re.search(r"(?:\+|\bplus)\s*$", before, re.IGNORECASE)
        label = _label(text, run, bool(plus))
        if label is None:
            continue
        if plus:
            start = plus.start()
        elif before.endswith("(") and ")" in text[start:end]:
            start -= 1
        out.append(text[pos:start] + label)
        pos = end
    out.append(text[pos:])
    return "".join(out)


_QUICK = re.compile(r"[\d@零〇一幺二三四五六七八九艾]")


def redact(text: str | None) -> str:
    """`text` with card numbers, phone numbers and e-mail addresses replaced by placeholders."""
    if not text:
        return text or ""
    text = WRITTEN_EMAIL_RE.sub(EMAIL, text)
    text = EMAIL_RE.sub(EMAIL, text)
    if not _QUICK.search(text) and not _word_items(text):
        return text
    return _redact_numbers(text)


def mask_phone(number: str) -> str:
    """A caller id kept recognisable but not whole: "+15551230000" → "+1••••••0000"."""
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    hidden = set(digits[1:-4]) if len(digits) > 5 else set()
    return "".join("•" if i in hidden else c for i, c in enumerate(number))


def redact_log_record(record: dict) -> None:
    """loguru patcher: the message of every log record, redacted."""
    record["message"] = redact(record["message"])


def install_log_redaction() -> None:
    """Every loguru message of this process redacted (the server calls this at start-up)."""
    from loguru import logger

    logger.configure(patcher=redact_log_record)
