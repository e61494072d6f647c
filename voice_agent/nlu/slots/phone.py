"""`phone`: a phone number said in digits or groups — "plus one five five five…", "double five",
"zéro six, douze, trente-quatre", "一三八…", "幺三九…" — normalised with phonenumbers to E.164.

A number said without a country code is read in the `region` option (ISO 3166 code, "US", "ES"),
else in the caller's language's usual region.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import has_cjk, words_to_digits

LANGUAGE_REGION = {"en": "US", "es": "ES", "fr": "FR", "de": "DE", "zh": "CN"}
PLUS = {"en": r"plus", "es": r"m[aá]s", "fr": r"plus", "de": r"plus", "zh": r"加"}
# "double five" → "five five": said in British and Irish English, sometimes in French/German
REPEAT = {"double": 2, "triple": 3, "doble": 2, "doppel": 2, "dreifach": 3}
SPOKEN_ZERO = {"en": r"\boh?\b", "de": r"\bnull\b", "fr": r"\bz[ée]ro\b", "es": r"\bcero\b"}


def spoken_to_digits(text: str, language: str) -> str:
    """"+15552345678"-like string: digits and an optional leading "+"."""
    text = text.replace("＋", "+")
    if not has_cjk(text):
        text = text.lower()  # not fold(): text2num needs "fünf", "zéro" with accents
        text = re.sub(rf"(?<!\w){PLUS.get(language, 'plus')}(?!\w)", " + ", text)
        text = re.sub(SPOKEN_ZERO["en"] if language == "en" else r"$^", " zero ", text)
        # repeat words before number words become digits: "double oh" → "zero zero"
        text = re.sub(rf"\b({'|'.join(REPEAT)})[\s-]+(\w+)",
                      lambda m: " ".join([m[2]] * REPEAT[m[1]]), text)
        # number words become digits one group at a time: "douze, trente-quatre" → 12 34;
        # each comma-separated group is converted alone so that text2num does not join
        # "five five five" across a pause into something else
        groups = re.split(r"[,;]", text)
        text = " ".join(words_to_digits(g, language) for g in groups)
    else:
        text = words_to_digits(text.replace("加", "+"), "zh")
    plus = bool(re.match(r"\s*\+", re.sub(r"^[^\d+]*", "", text)))
    digits = "".join(re.findall(r"\d", text))
    return ("+" if plus else "") + digits


class PhoneSlot:
    name = "phone"
    options: Mapping[str, Any] = {"region": None, "strict": False, "allowed_regions": []}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        import phonenumbers

        opts = resolve_options(self, options)
        raw = spoken_to_digits(text, language)
        if len(raw.lstrip("+")) < 3:
            return None
        region = opts["region"] or LANGUAGE_REGION.get(language, "US")
        try:
            number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
        except phonenumbers.NumberParseException:
            return SlotValue(self.name, raw, text, raw, {"parsed": False})
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return SlotValue(self.name, e164, text, raw,
                         {"parsed": True, "region": phonenumbers.region_code_for_number(number)})

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        import phonenumbers
        from phonenumbers import ValidationResult as V

        opts = resolve_options(self, options)
        if not value.extra.get("parsed"):
            return "that does not sound like a phone number"
        number = phonenumbers.parse(value.value)
        why = phonenumbers.is_possible_number_with_reason(number)
        if why == V.TOO_SHORT:
            return "that number is too short; some digits are missing"
        if why in (V.TOO_LONG, V.INVALID_LENGTH):
            return "that number has too many digits" if why == V.TOO_LONG else \
                "that number does not have the right number of digits"
        if why == V.INVALID_COUNTRY_CODE:
            return "I don't know that country code"
        if opts["strict"] and not phonenumbers.is_valid_number(number):
            return "that is not a valid phone number"
        allowed = [r.upper() for r in opts["allowed_regions"] or []]
        if allowed and value.extra.get("region") not in allowed:
            return f"we can only take numbers from {', '.join(allowed)}"
        return None

    def no_match_reason(self, language: str, options: Mapping[str, Any] | None = None) -> str:
        return "please say the number digit by digit"


register(PhoneSlot())
