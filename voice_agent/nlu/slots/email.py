"""`email`: an address spelt out loud — "john dot smith at gmail dot com",
"juan punto perez arroba gmail punto com", "jean point dupont arobase orange point fr",
"max punkt müller at web punkt de", "li点ming艾特163点com" — checked with email-validator
(syntax only: no DNS lookups on a live call).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voice_agent.nlu.slots.base import SlotValue, register, resolve_options
from voice_agent.nlu.slots.normalise import collapse

# spoken symbol → symbol; every language also gets English (callers spell addresses in English)
SYMBOLS: dict[str, list[tuple[str, str]]] = {
    "en": [("at sign", "@"), ("at", "@"), ("dot", "."), ("period", "."), ("point", "."),
           ("underscore", "_"), ("under score", "_"), ("dash", "-"), ("hyphen", "-"),
           ("minus", "-")],
    "es": [("arroba", "@"), ("punto", "."), ("guion bajo", "_"), ("guión bajo", "_"),
           ("guion", "-"), ("guión", "-"), ("menos", "-")],
    "fr": [("arobase", "@"), ("arobas", "@"), ("point", "."), ("tiret bas", "_"),
           ("underscore", "_"), ("tiret", "-"), ("moins", "-")],
    "de": [("ät", "@"), ("klammeraffe", "@"), ("punkt", "."), ("unterstrich", "_"),
           ("bindestrich", "-"), ("minus", "-")],
    "zh": [("艾特", "@"), ("圈a", "@"), ("点", "."), ("點", "."), ("下划线", "_"),
           ("横杠", "-"), ("减号", "-"), ("中划线", "-")],
}
LITERAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _symbolise(text: str, language: str) -> str:
    text = text.lower().replace("＠", "@")
    pairs = SYMBOLS.get(language, []) + SYMBOLS["en"]
    for spoken, symbol in sorted(pairs, key=lambda p: -len(p[0])):
        if re.search(r"[\u4e00-\u9fff]", spoken):
            text = text.replace(spoken, f" {symbol} ")
        else:
            text = re.sub(rf"(?<!\w){re.escape(spoken)}(?!\w)", f" {symbol} ", text)
    return text


def spoken_to_address(text: str, language: str) -> tuple[str, str] | None:
    """(address, normalised text) or None when no "@" with a dotted domain was said."""
    literal = LITERAL.search(text.lower())
    if literal:
        return literal.group().strip("."), text
    norm = _symbolise(text, language)
    # sentence punctuation off the ends of words, not the dots we just made
    norm = collapse(re.sub(r"[,;:!?¿¡。，]|(?<=\w)\.(?=\s|$)(?!\s*\w+\s*[.@])", " ", norm))
    tokens = norm.replace(".", " . ").replace("@", " @ ").replace("_", " _ ").split()
    tokens = [t for t in tokens if t not in {"'s", "it's", "c'est"}]
    ats = [i for i, t in enumerate(tokens) if t == "@"]
    for at in reversed(ats):  # "reach me at john at gmail dot com": the last "@" with a domain
        domain, j = [], at + 1
        while j < len(tokens) and re.fullmatch(r"[\w-]+", tokens[j]):
            domain.append(tokens[j])
            if j + 1 < len(tokens) and tokens[j + 1] in ".-":
                domain.append(tokens[j + 1])
                j += 2
            else:
                break
        domain_text = "".join(domain).strip(".-")
        if "." not in domain_text:
            continue
        local, i = [], at - 1
        while i >= 0 and re.fullmatch(r"[\w+]+", tokens[i]):
            local.insert(0, tokens[i])
            if i - 1 >= 0 and tokens[i - 1] in "._-":
                local.insert(0, tokens[i - 1])
                i -= 2
            else:
                break
        local_text = "".join(local).strip("._-")
        # Chinese around the address ("我的邮箱是wang"): keep only the Latin part
        local_text = re.sub(r"^.*[\u4e00-\u9fff]", "", local_text)
        if local_text:
            return f"{local_text}@{domain_text}", norm
    return None


class EmailSlot:
    name = "email"
    options: Mapping[str, Any] = {"allowed_domains": []}

    def parse(self, text: str, language: str, *, now: datetime | None = None,
              options: Mapping[str, Any] | None = None) -> SlotValue | None:
        resolve_options(self, options)
        found = spoken_to_address(text, language)
        if found is None:
            return None
        return SlotValue(self.name, found[0], text, found[1])

    def validate(self, value: SlotValue, language: str, *, now: datetime | None = None,
                 options: Mapping[str, Any] | None = None) -> str | None:
        from email_validator import EmailNotValidError, validate_email

        opts = resolve_options(self, options)
        try:
            validate_email(value.value, check_deliverability=False)
        except EmailNotValidError as exc:
            return f"that does not sound like a complete e-mail address ({exc})"
        domain = value.value.rsplit("@", 1)[1]
        allowed = [d.lower() for d in opts["allowed_domains"] or []]
        if allowed and domain not in allowed:
            return f"it has to be an address at {' or '.join(allowed)}"
        return None

    def no_match_reason(self, language: str, options: Mapping[str, Any] | None = None) -> str:
        return "please spell the address, for example 'john dot smith at gmail dot com'"


register(EmailSlot())
