"""The dialogue policy, driven by the agent folder: what the agent says and does after a turn.

The mechanics are the product's, the content the company's: a missing slot → its question; a
value that fails validation → why, and the question again; confirmation → yes/no → act or
keep; an action → its outcome → that outcome's template; unclear turns → "say it another way",
then a human; transfer, goodbye, repeat and change of language as system intents. Facts come
only from an action's result or the folder's approved texts.
"""

from __future__ import annotations

from dataclasses import replace

from voice_agent.agent import slots as slot_types
from voice_agent.agent.actions import READY, ActionResult
from voice_agent.agent.context import OFFER_HUMAN, Confirmation, DialogueContext, Pending
from voice_agent.agent.models import IntentSpec, IntentTexts, LanguageFile, TableAction
from voice_agent.agent.reply import Reply, split_sentences
from voice_agent.agent.templates import fill, render_outcome, resolve
from voice_agent.events import ActionFailed
from voice_agent.kb import KnowledgeBase
from voice_agent.nlu.understanding import Understanding

AFFIRM, DENY = "affirm", "deny"


class DialoguePolicy:
    """One call's policy (it is cheap: the agent, tables and HTTP client are shared)."""

    def __init__(
        self, kb: KnowledgeBase, min_confidence: float, transfer_after_unclear: int = 2
    ) -> None:
        if kb.agent is None or kb.runner is None:
            raise ValueError("the dialogue policy needs a knowledge base loaded from an agent "
                             "folder")
        self._kb = kb
        self._agent = kb.agent
        self._runner = kb.runner
        self._min_confidence = min_confidence
        self._transfer_after = transfer_after_unclear

    # -- a caller turn ------------------------------------------------------------------
    def respond(self, u: Understanding, ctx: DialogueContext) -> Reply:
        pack = self._kb.pack(u.language)
        lang, language = pack.texts, pack.language
        ctx.acted_intent = u.intent

        if ctx.confirming and u.intent in (AFFIRM, DENY):
            waiting, ctx.confirming = ctx.confirming, None
            return self._confirmed(waiting, u.intent == AFFIRM, lang, ctx)

        continued = self._continues_pending(u, ctx)
        if continued is not None:
            u = continued
            ctx.acted_intent = u.intent
        if u.confidence < self._min_confidence and continued is None \
                or u.intent not in self._agent.intents:
            ctx.acted_intent = None
            ctx.low_confidence_streak += 1
            if ctx.low_confidence_streak >= self._transfer_after:
                ctx.low_confidence_streak = 0
                return Reply(lang.phrases["transfer"], language, ["transfer"])
            return Reply(lang.phrases["fallback"], language)
        ctx.low_confidence_streak = 0
        asked = ctx.pending if continued is not None else None
        ctx.pending = None

        spec = self._agent.intents[u.intent]
        texts = lang.intents.get(u.intent, IntentTexts())
        if spec.on_negative == "transfer" and u.sentiment == "negative":
            # an upset caller gets an apology and a person, not another automated answer
            apology = split_sentences(resolve(texts.answer or "", lang))[:1]
            return Reply(" ".join([*apology, lang.phrases["transfer"]]), language, ["transfer"])
        if u.intent == "change_language":
            target = u.slots.get("language")
            if target and target in self._kb.packs and target != language:
                new = self._kb.pack(target).texts
                return Reply(new.phrases["language_switched"], target, ["switch_language"])
        if spec.slots or spec.action:
            return self._act(u, asked, lang, ctx)
        if u.intent == "speak_to_agent":
            return Reply(lang.phrases["transfer"], language, ["transfer"])
        if u.intent == "repeat":
            return Reply(ctx.last_bot_text() or lang.phrases["greeting"], language)
        answer = resolve(texts.answer or "", lang)
        return Reply(answer, language, ["end_call"] if u.intent == "goodbye" else [])

    def _continues_pending(self, u: Understanding, ctx: DialogueContext) -> Understanding | None:
        """The caller answers our question for a slot: the pending request goes on. A turn that
        is itself a request needing slots counts only when it is mostly just the value."""
        pending = ctx.pending
        if pending is None:
            return None
        spec = self._agent.intents[pending.intent].slots[pending.slot]
        value, reason = self._read_slot(pending.slot, spec, u)
        own = self._agent.intents.get(u.intent)
        answers = not (own and own.slots) or slot_types.is_bare_answer(spec, u.text, u.language)
        # a value that fails validation continues the request only when nothing else was
        # meant: the model reads the same request, or cannot place the turn at all
        unsure = u.intent == pending.intent or u.confidence < self._min_confidence
        if (value and answers) or (reason and unsure):
            return replace(u, intent=pending.intent)
        return None

    @staticmethod
    def _read_slot(name: str, spec, u: Understanding) -> tuple[str | None, str | None]:
        """A slot's value: as the understanding engine read it, else parsed from the text."""
        if u.slots.get(name):
            return u.slots[name], None
        return slot_types.read(spec, u.text, u.language)

    # -- slots, confirmation, action ------------------------------------------------------
    def _act(self, u: Understanding, asked: Pending | None, lang: LanguageFile,
             ctx: DialogueContext) -> Reply:
        """`asked`: the question this turn answers. A value that fails validation is
        explained only then ("one of my orders" is no order number one)."""
        intent = u.intent
        spec = self._agent.intents[intent]
        texts = lang.intents.get(intent, IntentTexts())
        slots = dict(asked.slots) if asked else {}
        for name, sspec in spec.slots.items():
            if name in slots:
                continue
            value, reason = self._read_slot(name, sspec, u)
            if value:
                slots[name] = value
            elif reason and asked and asked.slot == name:  # why, then the question again
                ctx.pending = Pending(intent, name, slots)
                why = resolve(texts.invalid.get(name) or lang.phrases.get("invalid_value", ""),
                              lang)
                ask = resolve(texts.ask[name], lang)
                return Reply(fill(f"{why} {ask}".strip(), slots), lang.language)
        for name in spec.slots:
            if name not in slots:
                ctx.pending = Pending(intent, name, slots)
                return Reply(fill(resolve(texts.ask[name], lang), slots), lang.language)
        if not spec.action:
            return Reply(fill(resolve(texts.answer or "", lang), slots), lang.language)
        if spec.confirm:
            checked = self._runner.check(spec.action, slots, ctx.changes)
            if checked.outcome != READY:
                return self._outcome(intent, checked, slots, lang, ctx)
            ctx.confirming = Confirmation(intent, slots, checked.fields)
            values = {**slots, **checked.fields}
            return Reply(fill(resolve(texts.confirm or "", lang), values), lang.language)
        return self._outcome(intent, self._runner.run(spec.action, slots, ctx.changes), slots,
                             lang, ctx)

    def _confirmed(self, waiting: Confirmation, yes: bool, lang: LanguageFile,
                   ctx: DialogueContext) -> Reply:
        if waiting.intent == OFFER_HUMAN:
            if yes:
                return Reply(lang.phrases["transfer"], lang.language, ["transfer"])
            deny = lang.intents.get(DENY, IntentTexts()).answer
            return Reply(lang.phrases.get("anything_else") or resolve(deny or "", lang),
                         lang.language)
        if not yes:
            kept = ActionResult("kept", waiting.fields)
            return self._outcome(waiting.intent, kept, waiting.slots, lang, ctx)
        spec = self._agent.intents[waiting.intent]
        result = self._runner.run(spec.action, waiting.slots, ctx.changes)
        return self._outcome(waiting.intent, result, waiting.slots, lang, ctx)

    def _key_slot(self, spec: IntentSpec) -> str:
        action = self._agent.actions.actions.get(spec.action or "")
        return action.key_slot if isinstance(action, TableAction) else next(iter(spec.slots))

    def _outcome(self, intent: str, result: ActionResult, slots: dict[str, str],
                 lang: LanguageFile, ctx: DialogueContext) -> Reply:
        spec = self._agent.intents[intent]
        fields = {**slots, **result.fields}
        text = render_outcome(self._agent.intents, lang, intent, result.outcome, fields)
        if result.outcome == "failed":
            # an apology and a colleague offered; nothing about the request is guessed
            ctx.confirming = Confirmation(OFFER_HUMAN)
            event = ActionFailed(call_id="", intent=intent, action=spec.action or "",
                                 reason=result.reason, seconds=round(result.seconds, 3))
            return Reply(text or lang.phrases["action_failed"], lang.language, events=[event])
        if result.outcome == "not_found" and spec.slots:
            key = self._key_slot(spec)  # let the caller say it again
            ctx.pending = Pending(intent, key, {k: v for k, v in slots.items() if k != key})
        if result.outcome == "done":
            ctx.done.append((spec.action or "", str(slots.get(self._key_slot(spec), ""))))
        return Reply(text or lang.phrases["fallback"], lang.language)
