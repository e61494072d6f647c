"""`yes_no`: a caller's yes or no ("yeah sure", "claro", "d'accord", "genau", 对/好的/不是).

The leftmost phrase decides, the longest at that place ("no problem" is a yes, "not sure" is
neither): callers say the answer first and then explain ("no, the other one", "sí, pero...").
"Don't know" phrases return None so the dialogue asks again instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import collapse, fold

YES, NO, UNSURE = True, False, None
PHRASES: dict[str, dict[bool | None, list[str]]] = {
    "en": {
        YES: ["yes", "yeah", "yea", "yep", "yup", "sure", "of course", "correct", "right",
              "that's right", "thats right", "absolutely", "ok", "okay", "alright", "all right",
              "go ahead", "please do", "definitely", "uh huh", "mm hmm", "sounds good",
              "exactly", "perfect", "fine", "no problem", "that's it", "affirmative", "i do"],
        NO: ["no", "nope", "nah", "not", "don't", "do not", "never", "negative", "wrong",
             "incorrect", "that's wrong", "not really"],
        UNSURE: ["not sure", "don't know", "dont know", "maybe", "i'm not sure"],
    },
    "es": {
        YES: ["si", "claro", "claro que si", "vale", "de acuerdo", "correcto", "exacto",
              "por supuesto", "bueno", "dale", "perfecto", "eso es", "afirmativo", "sale", "ok",
              "okey", "esta bien", "sin problema", "asi es"],
        NO: ["no", "para nada", "negativo", "incorrecto", "nunca", "tampoco", "no es correcto"],
        UNSURE: ["no se", "no estoy seguro", "no estoy segura", "quizas", "tal vez"],
    },
    "fr": {
        YES: ["oui", "ouais", "d'accord", "bien sur", "exactement", "tout a fait", "absolument",
              "c'est ca", "c'est bon", "ok", "okay", "volontiers", "voila", "parfait",
              "ca marche", "entendu", "si", "effectivement", "pas de probleme", "avec plaisir"],
        NO: ["non", "pas du tout", "jamais", "pas vraiment", "pas", "c'est pas ca",
             "ce n'est pas ca", "negatif"],
        UNSURE: ["je ne sais pas", "je sais pas", "peut etre"],
    },
    "de": {
        YES: ["ja", "jawohl", "genau", "richtig", "klar", "naturlich", "sicher", "gerne", "gern",
              "einverstanden", "stimmt", "passt", "ok", "okay", "in ordnung", "doch",
              "auf jeden fall", "korrekt", "jep", "jo", "kein problem"],
        NO: ["nein", "nee", "ne", "no", "nicht", "keine", "niemals", "falsch",
             "auf keinen fall", "stimmt nicht", "passt nicht", "nicht richtig"],
        UNSURE: ["weiss nicht", "weiß nicht", "keine ahnung", "vielleicht"],
    },
    "zh": {
        YES: ["对", "是", "是的", "好", "好的", "可以", "行", "没问题", "嗯", "对的", "没错",
              "确定", "当然", "好啊", "要"],
        NO: ["不", "不是", "不对", "不要", "不用", "没有", "别", "不行", "不可以", "错", "算了"],
        UNSURE: ["不知道", "不确定", "不清楚", "也许", "可能"],
    },
}


def _find(text: str, language: str) -> tuple[bool | None, str] | None:
    """(polarity, phrase) of the leftmost, then longest, phrase; None when none is said."""
    table = PHRASES.get(language, PHRASES["en"])
    best: tuple[int, int, bool | None, str] | None = None
    for polarity, phrases in table.items():
        for phrase in phrases:
            target = fold(phrase)
            pattern = re.escape(target)
            if language != "zh":
                pattern = rf"(?<!\w){pattern}(?!\w)"
            match = re.search(pattern, text)
            if match is None:
                continue
            key = (match.start(), -len(target), polarity, phrase)
            if best is None or key[:2] < best[:2]:
                best = key
    return (best[2], best[3]) if best else None


class YesNoSlot:
    name = "yes_no"
    options: Mapping[str, Any] = {}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        resolve_options(self, options)
        norm = collapse(re.sub(r"[^\w\s']", " ", fold(text).replace("’", "'")))
        found = _find(norm, language)
        if found is None or found[0] is None:
            return None
        return SlotValue(self.name, found[0], found[1], norm)

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        return None

    def no_match_reason(self, language: str, options: Mapping[str, Any] | None = None) -> str:
        return "please answer yes or no"


register(YesNoSlot())
