"""Reply templates: which text an outcome gets, and filling it from slots and the action's result.

A template is plain text with `{field}` placeholders (`str.format` style, nothing else: no
expressions, so a template can only repeat data, never compute a fact). A text that starts with
`$` names a phrase of the same language file. An outcome's reply is one text, or several by
the value of the intent's `reply_by` field (`other:` catches the rest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from voice_agent.agent.models import IntentSpec, IntentTexts, LanguageFile, Variant

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def phrase_ref(text: str) -> str | None:
    """The phrase a `$name` text refers to (None: the text is itself the template)."""
    return text[1:] if text.startswith("$") else None


def resolve(text: str, lang: LanguageFile) -> str:
    ref = phrase_ref(text)
    return lang.phrases.get(ref, "") if ref is not None else text


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Placeholders replaced by their values; a missing one (check.py rejects those) by ''."""
    def value(m: re.Match) -> str:
        v = values.get(m.group(1))
        return "" if v is None else str(v)

    return PLACEHOLDER.sub(value, template)


def format_value(table: Mapping[str, str], value: Any) -> str:
    """A value through a language's format: {"0": "today", "1": "yesterday",
    other: "{n} days ago"}."""
    if value is None:
        return ""
    key = str(value)
    if key in table:
        return table[key]
    return table.get("other", "{n}").replace("{n}", key)


def variants(text: Variant) -> list[str]:
    return [text] if isinstance(text, str) else list(text.values())


def pick(text: Variant, by: Any) -> str:
    if isinstance(text, str):
        return text
    return text.get(str(by)) or text.get("other", "")


def reply_source(intents: Mapping[str, IntentSpec], lang: LanguageFile, intent: str,
                 outcome: str) -> tuple[str, Variant] | None:
    """(the intent whose texts hold the outcome's reply, the reply) — the intent's own, else
    the one named by `replies_from`."""
    own = lang.intents.get(intent, IntentTexts())
    if outcome in own.replies:
        return intent, own.replies[outcome]
    source = intents[intent].replies_from
    if source and outcome in lang.intents.get(source, IntentTexts()).replies:
        return source, lang.intents[source].replies[outcome]
    return None


def template_values(spec: IntentSpec, lang: LanguageFile,
                    fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields plus the intent's derived values (`when` from `delivered_days_ago`)."""
    out = dict(fields)
    for name, value in spec.values.items():
        out[name] = format_value(lang.formats.get(value.format, {}), fields.get(value.field))
    return out


def render_outcome(intents: Mapping[str, IntentSpec], lang: LanguageFile, intent: str,
                   outcome: str, fields: Mapping[str, Any]) -> str | None:
    """The reply for an outcome, filled in; None when the folder has none for it."""
    found = reply_source(intents, lang, intent, outcome)
    if found is None:
        return None
    source, text = found
    spec = intents[source]
    values = template_values(spec, lang, fields)
    reply = fill(resolve(pick(text, fields.get(spec.reply_by or "")), lang), values)
    after = lang.intents.get(intent, IntentTexts()).append.get(outcome)
    return f"{reply} {fill(resolve(after, lang), values)}" if after else reply
