"""Keypad digits: each configured digit maps to an action the dialogue carries out.

Actions: `operator` (hand over to a human), `repeat` (say the last answer again), `goodbye`
(end the call), `language:<code>` (go on in that language). A digit pressed while the bot
speaks also interrupts it (see bargein.py).
"""

from __future__ import annotations

from voice_agent.kb import KnowledgeBase
from voice_agent.nlu.policy import Reply


def dtmf_action(digit: str, actions: dict[str, str]) -> str | None:
    return actions.get(digit)


def dtmf_reply(
    action: str | None, language: str, kb: KnowledgeBase, last_reply: str | None,
    allowed: list[str],
) -> Reply | None:
    """What the agent says (and does) for a keypad action; None: nothing (unmapped digit)."""
    pack = kb.pack(language)
    if action == "operator":
        return Reply(pack.phrase("transfer"), language, ["transfer"])
    if action == "repeat":
        return Reply(last_reply or pack.phrase("greeting"), language)
    if action == "goodbye":
        return Reply(pack.answers["goodbye"], language, ["end_call"])
    if action and action.startswith("language:"):
        target = action.split(":", 1)[1]
        if target in allowed and target in kb.packs:
            return Reply(kb.pack(target).phrase("language_switched"), target, ["switch_language"])
    return None
