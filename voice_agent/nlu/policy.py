"""Dialogue policy: what the agent says and does after an understood caller turn.

Facts come only from the knowledge base and the order data. Keeps the little context a phone
conversation needs: an intent waiting for its order number, a cancellation waiting for a yes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voice_agent.kb import KnowledgeBase, LanguagePack
from voice_agent.nlu.numbers import is_number_reply
from voice_agent.nlu.understanding import Understanding

NEEDS_ORDER = ("order_status", "cancel_order", "change_address")
CANCELLABLE = ("processing",)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_CLAUSE_END = re.compile(r"(?<=[,;，；])\s+")
LONG_SENTENCE = 60  # characters; longer ones are spoken clause by clause


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def speech_chunks(text: str) -> list[str]:
    """Sentences, with long ones cut at commas: the first audio starts after a short clause."""
    chunks: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence) <= LONG_SENTENCE:
            chunks.append(sentence)
            continue
        clauses = [c for c in _CLAUSE_END.split(sentence) if c]
        # keep very short clauses attached to the next so prosody stays natural
        buf = ""
        for clause in clauses:
            buf = f"{buf} {clause}".strip()
            if len(buf) >= 20:
                chunks.append(buf)
                buf = ""
        if buf and len(chunks) > 0 and chunks[-1] in sentence:
            chunks[-1] = f"{chunks[-1]} {buf}"  # a short tail stays with its clause
        elif buf:
            chunks.append(buf)
    return chunks


@dataclass
class Reply:
    text: str
    language: str
    actions: list[str] = field(default_factory=list)  # "transfer", "end_call", "switch_language"

    @property
    def sentences(self) -> list[str]:
        return speech_chunks(self.text)


@dataclass
class DialogueContext:
    """What one call remembers between turns."""

    awaiting_order_for: str | None = None  # intent that asked for an order number
    awaiting_cancel_confirm: str | None = None  # order number to cancel on "yes"
    low_confidence_streak: int = 0
    cancelled_orders: set[str] = field(default_factory=set)
    acted_intent: str | None = None  # what the last reply answered (None: asked to rephrase)
    bot_turns: list[dict] = field(default_factory=list)  # {turn, text, interrupted}

    def add_bot_turn(self, turn: int, text: str) -> None:
        self.bot_turns = [*self.bot_turns[-9:], {"turn": turn, "text": text, "interrupted": False}]

    def last_bot_text(self) -> str | None:
        return self.bot_turns[-1]["text"] if self.bot_turns else None

    def truncate_bot_turn(self, turn: int, heard: str) -> None:
        """The caller cut that answer: keep only what they heard. A question they did not hear
        to its end (a cancellation's "shall I?") cannot be answered with a yes."""
        for entry in self.bot_turns:
            if entry["turn"] == turn:
                entry["text"], entry["interrupted"] = heard, True
        if not any(mark in heard for mark in "?？"):
            self.awaiting_cancel_confirm = None


class DialoguePolicy:
    def __init__(
        self, kb: KnowledgeBase, min_confidence: float, transfer_after_unclear: int = 2
    ) -> None:
        self._kb = kb
        self._min_confidence = min_confidence
        self._transfer_after = transfer_after_unclear

    def respond(self, u: Understanding, ctx: DialogueContext) -> Reply:
        pack = self._kb.pack(u.language)
        number = u.slots.get("order_number")

        ctx.acted_intent = u.intent
        if ctx.awaiting_cancel_confirm and u.intent in ("affirm", "deny"):
            order = ctx.awaiting_cancel_confirm
            ctx.awaiting_cancel_confirm = None
            key = "cancel_done" if u.intent == "affirm" else "cancel_kept"
            if u.intent == "affirm":
                # Demo data stays read-only; a deployment wires this to its order system.
                ctx.cancelled_orders.add(order)
            return Reply(pack.phrase(key, order_number=order), pack.language)

        answers_our_question = u.intent not in NEEDS_ORDER or is_number_reply(u.text, u.language)
        if ctx.awaiting_order_for and number and answers_our_question:
            # the caller answers our question for the number: the pending request goes on
            u = Understanding(ctx.awaiting_order_for, u.confidence, u.language, u.slots,
                              sentiment=u.sentiment, text=u.text)
            ctx.acted_intent = u.intent
        if u.confidence < self._min_confidence and not (ctx.awaiting_order_for and number):
            ctx.acted_intent = None
            ctx.low_confidence_streak += 1
            if ctx.low_confidence_streak >= self._transfer_after:
                ctx.low_confidence_streak = 0
                return Reply(pack.phrase("transfer"), pack.language, ["transfer"])
            return Reply(pack.phrase("fallback"), pack.language)
        ctx.low_confidence_streak = 0
        ctx.awaiting_order_for = None

        if u.intent == "complaint" and u.sentiment == "negative":
            # an upset caller gets an apology and a person, not another automated answer
            apology = split_sentences(pack.answers["complaint"])[0]
            return Reply(f"{apology} {pack.phrase('transfer')}", pack.language, ["transfer"])
        if u.intent == "change_language":
            target = u.slots.get("language")
            if target and target in self._kb.packs and target != pack.language:
                new = self._kb.pack(target)
                return Reply(new.phrase("language_switched"), target, ["switch_language"])

        if u.intent in NEEDS_ORDER:
            if not number:
                ctx.awaiting_order_for = u.intent
                return Reply(pack.answers[u.intent], pack.language)
            return self._with_order(u.intent, number, pack, ctx)
        if u.intent == "speak_to_agent":
            return Reply(pack.phrase("transfer"), pack.language, ["transfer"])
        if u.intent == "goodbye":
            return Reply(pack.answers["goodbye"], pack.language, ["end_call"])
        return Reply(pack.answers[u.intent], pack.language)

    def _with_order(
        self, intent: str, number: str, pack: LanguagePack, ctx: DialogueContext
    ) -> Reply:
        order = self._kb.orders.get(number)
        if order is None:
            ctx.awaiting_order_for = intent  # let the caller say the number again
            return Reply(pack.phrase("order_not_found", order_number=number), pack.language)
        if number in ctx.cancelled_orders:
            return Reply(pack.order_status["cancelled"].format(order_number=number), pack.language)
        if intent == "cancel_order":
            if order.status in CANCELLABLE:
                ctx.awaiting_cancel_confirm = number
                return Reply(pack.phrase("cancel_confirm", order_number=number), pack.language)
            if order.status != "cancelled":
                return Reply(pack.phrase("cancel_not_possible", order_number=number), pack.language)
        status = self._kb.order_reply(pack, number)
        if intent == "change_address":
            rule = split_sentences(pack.answers["change_address"])[0]  # "…until the order ships."
            return Reply(f"{status} {rule}", pack.language)
        return Reply(status, pack.language)
