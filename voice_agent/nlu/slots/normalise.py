"""Transcript clean-up shared by the slot parsers: case and accent folding, number words as digits.

Number words go through maintained parsers rather than our own tables: text2num (MIT) for
en/es/fr/de — "veinticinco" → 25, "zweiundvierzig" → 42, "quinze heures trente" → "15 heures 30" —
and cn2an (MIT) for Chinese numerals — "十点半" → "10点半", "一零零一" → "1001".
"""

from __future__ import annotations

import re
import unicodedata

CJK = re.compile(r"[\u4e00-\u9fff]")
TEXT2NUM_LANGS = {"en", "es", "fr", "de"}


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))


def fold(text: str) -> str:
    """Lower-case, strip accents (Whisper is inconsistent with them: "manana"/"mañana")."""
    text = unicodedata.normalize("NFKD", text.lower())
    return unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def words_to_digits(text: str, language: str) -> str:
    """Every spelled number in `text` as digits, the rest untouched.

    threshold=0 so lone small numbers count ("at one", "à une heure"): the callers of this
    function are reading a number, so "one" is one, not an article.
    """
    if language == "zh" or has_cjk(text):
        return zh_numerals_to_digits(text)
    if language not in TEXT2NUM_LANGS:
        return text
    from text_to_num import alpha2digit

    # text2num reads "vingt-deux" but not "twenty five-fifty"-style hyphen chains the same way
    # in every language; spaces are always safe
    return alpha2digit(text.replace("-", " "), language, threshold=0)


ZH_NUMERAL_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万幺]+")
ZH_DIGIT = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
            "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}


def zh_numerals_to_digits(text: str) -> str:
    """Chinese numerals as digits. Runs of bare digits ("一零零一", phone-style "幺三八") are read
    digit by digit; runs with units (十/百/千/万) go through cn2an ("四十二" → 42)."""
    import cn2an

    def one(match: re.Match[str]) -> str:
        run = match.group()
        if not any(u in run for u in "十百千万"):
            return "".join(ZH_DIGIT[c] for c in run)
        try:
            return str(cn2an.cn2an(run, "smart"))
        except (ValueError, KeyError):
            return run

    return ZH_NUMERAL_RUN.sub(one, text)
