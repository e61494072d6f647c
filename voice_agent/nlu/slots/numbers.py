"""`number`, `digits` and `amount` slots.

- `digits`: account numbers, PINs, order numbers — read digit by digit (spoken_digits.py); the
  length is checked by validation so that a caller hears "that has 3 digits, I need 4".
- `number`: a quantity ("twenty five", "veinticinco", "四十二", "2.5").
- `amount`: money, with the cents said the way people say them: "twenty-five fifty",
  "veinticinco euros con cincuenta", "quarante-deux euros", "zweiundvierzig Euro", "四十二块五".
Number words become digits through text2num / cn2an (normalise.py), then small patterns read the
digits; no per-language number tables here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import collapse, fold, words_to_digits
from voice_agent.nlu.slots.spoken_digits import extract_digits

# ---------------------------------------------------------------- digits


class DigitsSlot:
    name = "digits"
    options: Mapping[str, Any] = {"min_length": 4, "max_length": 12}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        opts = resolve_options(self, options)
        found = extract_digits(text, language, opts["min_length"], opts["max_length"])
        if found is None:
            # two or more digits of another length, so that validation can tell the caller what
            # is wrong ("that has 3 digits"); a lone "two" in "two items" is no answer
            found = extract_digits(text, language, 2, 64)
        if found is None:  # pairs said as numbers: "twelve thirty-four" → 1234
            converted = words_to_digits(text, language)
            runs = re.findall(r"\d+", re.sub(r"(?<=\d)[\s,.-]+(?=\d)", "", converted))
            found = max(runs, key=len) if runs else None
            if found is None or len(found) < 2:
                return None
            return SlotValue(self.name, found, text, converted)
        return SlotValue(self.name, found, text, found)

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        n, lo, hi = len(value.value), opts["min_length"], opts["max_length"]
        if lo <= n <= hi:
            return None
        need = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return f"that number has {n} digit{'s' if n != 1 else ''}; it needs {need} digits"

    def check_options(self, opts: Mapping[str, Any]) -> list[str]:
        lo, hi = opts["min_length"], opts["max_length"]
        ok = isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi
        return [] if ok else [f"digits: need 1 <= min_length <= max_length, got {lo}, {hi}"]


# ---------------------------------------------------------------- number

NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _to_decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", "."))
    except InvalidOperation:
        return None


class NumberSlot:
    name = "number"
    options: Mapping[str, Any] = {"min": None, "max": None, "integer": False}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        resolve_options(self, options)
        converted = words_to_digits(text, language)
        # "1,002" is a thousands group (Whisper's writing of "one thousand two")
        converted = re.sub(r"(?<![\d.,])(\d{1,3})[.,](\d{3})(?![\d.,])", r"\1\2", converted)
        match = NUMBER.search(converted)
        if match is None:
            return None
        value = _to_decimal(match.group())
        if value is None:
            return None
        return SlotValue(self.name, value, match.group(), converted)

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        number = value.value
        if opts["integer"] and number != number.to_integral_value():
            return "that needs to be a whole number"
        if opts["min"] is not None and number < Decimal(str(opts["min"])):
            return f"that is less than {opts['min']}"
        if opts["max"] is not None and number > Decimal(str(opts["max"])):
            return f"that is more than {opts['max']}"
        return None


# ---------------------------------------------------------------- amount

CURRENCY_WORDS = {
    "USD": ["$", "usd", "dollars", "dollar", "dolares", "dolar", "bucks"],
    "EUR": ["€", "eur", "euros", "euro"],
    "GBP": ["£", "gbp", "pounds", "pound", "libras", "livres", "pfund"],
    "CNY": ["¥", "rmb", "cny", "yuan", "元", "块钱", "块"],
}
CURRENCY_OF = {w: code for code, words in CURRENCY_WORDS.items() for w in words}
_CURRENCY_ALT = "|".join(sorted((re.escape(w) for w in CURRENCY_OF), key=len, reverse=True))
CENTS_WORDS = r"(?:cents?|centimos?|centavos?|centimes?|pence|p|毛|角|分)"
CONNECT = r"(?:\s*(?:and|y|con|et|und|,)\s*|\s*)"  # 块 is followed by 五 with no space


@dataclass(frozen=True)
class Amount:
    amount: Decimal
    currency: str | None

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency or ''}".strip()


# "25 dollars 50", "25 euros con 50 centimos", "42块5", "€25.50", "25,50 €", "25 50"
AMOUNT_PATTERNS = [
    # currency sign first: "$25.50", "€ 42"
    re.compile(r"(?P<cur>[$€£¥])\s*(?P<units>\d+)(?:[.,](?P<cents>\d{1,2}))?(?!\d)"),
    # units, currency word, optional cents: "25 dollars and 50 cents", "42块5", "42 euro 50"
    re.compile(rf"(?P<units>\d+)(?:[.,](?P<dec>\d{{1,2}}))?\s*(?P<cur>{_CURRENCY_ALT})"
               rf"(?:{CONNECT}(?P<cents>\d{{1,2}})(?!\d)\s*{CENTS_WORDS}?)?", re.I),
    # a plain decimal: "29.99", "3,50"
    re.compile(r"(?P<units>\d+)[.,](?P<cents>\d{1,2})(?!\d)"),
    # "twenty-five fifty" → "25 50": units then two-digit cents (10–99) said after a pause
    re.compile(r"(?<![\d.,])(?P<units>\d{1,4}) (?P<cents>[1-9]\d)(?![\d.,])"),
    # "50 cents": cents alone
    re.compile(rf"(?<![\d.,])(?P<cents_only>\d{{1,2}})\s*{CENTS_WORDS}(?!\w)", re.I),
    re.compile(r"(?<![\d.,])(?P<units>\d+)(?![\d.,])"),
]


def _cents(digits: str | None) -> Decimal:
    if not digits:
        return Decimal(0)
    # "42块5": the digit after 块 is jiao, tenths; elsewhere one digit ("3,5") is tenths too
    if len(digits) == 1:
        return Decimal(digits) / 10
    return Decimal(digits) / 100


class AmountSlot:
    name = "amount"
    options: Mapping[str, Any] = {"currency": None, "min": None, "max": None}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        opts = resolve_options(self, options)
        folded = fold(text) if language != "zh" else text
        folded = re.sub(r"[.!?。]\s*$", "", folded.strip())  # Whisper's full stop is no decimal
        converted = collapse(words_to_digits(folded, language))
        converted = re.sub(r"(?<![\d.,])(\d{1,3})[.,](\d{3})(?![\d.,])", r"\1\2", converted)
        for pattern in AMOUNT_PATTERNS:
            match = pattern.search(converted)
            if match is None:
                continue
            groups = match.groupdict()
            if groups.get("cents_only"):
                value = Decimal(groups["cents_only"]) / 100
            else:
                value = Decimal(groups["units"]) + _cents(groups.get("cents") or groups.get("dec"))
            cur = groups.get("cur")
            currency = CURRENCY_OF.get(cur.lower()) if cur else self._currency_anywhere(converted)
            amount = Amount(value.quantize(Decimal("0.01")), currency or opts["currency"])
            return SlotValue(self.name, amount, match.group().strip(), converted)
        return None

    @staticmethod
    def _currency_anywhere(text: str) -> str | None:
        match = re.search(rf"(?<!\w)({_CURRENCY_ALT})(?!\w)", text, re.I)
        return CURRENCY_OF.get(match.group(1).lower()) if match else None

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        opts = resolve_options(self, options)
        amount: Amount = value.value
        if opts["currency"] and amount.currency and amount.currency != opts["currency"]:
            return f"we can only take amounts in {opts['currency']}"
        if opts["min"] is not None and amount.amount < Decimal(str(opts["min"])):
            return f"the amount must be at least {opts['min']}"
        if opts["max"] is not None and amount.amount > Decimal(str(opts["max"])):
            return f"the amount can be at most {opts['max']}"
        return None


register(DigitsSlot())
register(NumberSlot())
register(AmountSlot())
