"""The company's knowledge base (config/kb/<lang>.yaml) and demo orders (config/orders.yaml).

Editable without code: a company changes answers and example phrases in YAML. Replies state only
what is written here or in the order table (orders.py) — nothing comes from a model's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voice_agent.config import Settings
from voice_agent.orders import OrderTable, load_orders

INTENTS = (
    "order_status", "cancel_order", "return_refund", "change_address", "billing_payment",
    "opening_hours", "speak_to_agent", "change_language", "complaint", "goodbye", "affirm",
    "deny", "out_of_scope",
)
REQUIRED_PHRASES = ("greeting", "fallback", "ask_order_number", "order_not_found", "transfer")


class KnowledgeBaseError(ValueError):
    """A knowledge-base file is missing something the agent needs."""


@dataclass
class LanguagePack:
    """Everything the agent can say and recognise in one language."""

    language: str
    name: str
    phrases: dict[str, str]
    order_status: dict[str, str]
    relative_days: dict[str, str]
    answers: dict[str, str]
    examples: dict[str, list[str]]

    def phrase(self, key: str, **values: Any) -> str:
        return self.phrases[key].format(**values)

    def when(self, days_ago: int) -> str:
        key = str(days_ago)
        if key in self.relative_days:
            return self.relative_days[key]
        return self.relative_days.get("other", "{n}").format(n=days_ago)


@dataclass
class KnowledgeBase:
    packs: dict[str, LanguagePack]
    orders: OrderTable = field(default_factory=OrderTable)

    @property
    def languages(self) -> list[str]:
        return sorted(self.packs)

    def pack(self, language: str, fallback: str = "en") -> LanguagePack:
        return self.packs.get(language) or self.packs[fallback]

    def order_reply(self, pack: LanguagePack, number: str) -> str:
        """The order's status in the pack's language, only from the order data."""
        order = self.orders.get(number)
        if order is None:
            return pack.phrase("order_not_found", order_number=number)
        template = pack.order_status.get(order.status)
        if template is None:
            raise KnowledgeBaseError(
                f"{pack.language}: no order_status template for {order.status}"
            )
        when = pack.when(order.delivered_days_ago) if order.delivered_days_ago is not None else ""
        return template.format(order_number=order.number, eta_days=order.eta_days, when=when)


def load_language_pack(path: Path) -> LanguagePack:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lang = data.get("language") or path.stem
    phrases = data.get("phrases") or {}
    missing = [k for k in REQUIRED_PHRASES if k not in phrases]
    if missing:
        raise KnowledgeBaseError(f"{path}: phrases missing {', '.join(missing)}")
    intents = data.get("intents") or {}
    unknown = sorted(set(intents) - set(INTENTS))
    if unknown:
        raise KnowledgeBaseError(f"{path}: unknown intents {', '.join(unknown)}")
    answers, examples = {}, {}
    for name, body in intents.items():
        if not body or "answer" not in body or not body.get("examples"):
            raise KnowledgeBaseError(f"{path}: intent {name} needs an answer and examples")
        answers[name] = str(body["answer"])
        examples[name] = [str(e) for e in body["examples"]]
    return LanguagePack(
        language=lang, name=data.get("name", lang), phrases=phrases,
        order_status=data.get("order_status") or {},
        relative_days={str(k): v for k, v in (data.get("relative_days") or {}).items()},
        answers=answers, examples=examples,
    )


def load_knowledge_base(
    kb_dir: Path, orders_file: Path, languages: list[str], orders_db: Path | None = None
) -> KnowledgeBase:
    """Load the packs for the allowed languages (each must exist) and the order data."""
    packs = {}
    for lang in languages:
        path = kb_dir / f"{lang}.yaml"
        if not path.exists():
            raise KnowledgeBaseError(f"no knowledge base for language {lang!r}: {path} is missing")
        packs[lang] = load_language_pack(path)
    return KnowledgeBase(packs=packs, orders=load_orders(orders_file, orders_db))


def configured_knowledge_base(
    settings: Settings, languages: list[str] | None = None
) -> KnowledgeBase:
    """The knowledge base and order table named by the settings (relative to the repository)."""
    return load_knowledge_base(
        settings.resolve(settings.knowledge_base_dir), settings.resolve(settings.orders_file),
        languages or list(settings.languages.allowed),
        settings.resolve(settings.orders_db) if settings.orders_db else None,
    )
