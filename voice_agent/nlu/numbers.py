"""Order numbers as callers say them and Whisper writes them.

"1001", "one zero zero one", "ten oh one", "mil uno", "tausendeins", "mille trois", "一零零一".
A thin use of the `digits` slot's reader (voice_agent/nlu/slots/spoken_digits.py) with the order
numbers' length: four to eight digits.
"""

from __future__ import annotations

from voice_agent.nlu.slots.spoken_digits import (
    DIGIT_WORDS,
    ZH_DIGITS,
    extract_digits,
    is_digits_reply,
    spelled_numbers,
)

__all__ = ["DIGIT_WORDS", "ZH_DIGITS", "MIN_DIGITS", "MAX_DIGITS", "extract_order_number",
           "is_number_reply", "spelled_numbers"]

MIN_DIGITS, MAX_DIGITS = 4, 8  # order numbers have four or more digits


def extract_order_number(text: str, lang: str) -> str | None:
    """The first order-like number in a transcript (4–8 digits), or None."""
    return extract_digits(text, lang, MIN_DIGITS, MAX_DIGITS)


def is_number_reply(text: str, lang: str, max_other_words: int = 4) -> bool:
    """A turn that mostly just gives a number: the answer to our question, not a new request."""
    return is_digits_reply(text, lang, max_other_words)
