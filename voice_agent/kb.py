"""The company's knowledge base as the pipeline sees it: one language pack per served language,
backed by the company's agent folder (config/agents/<name>/, docs/agents.md).

The pipeline, the keypad menu and the TTS pre-cache read phrases and fixed answers through
`kb.pack(lang)`; the dialogue policy (agent/policy.py) reads the agent itself. Nothing here
knows one company: intents, phrases and tables all come from the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from voice_agent.agent.actions import ActionRunner
from voice_agent.agent.check import check_agent
from voice_agent.agent.loader import Agent, lang_file, read_agent
from voice_agent.agent.models import REQUIRED_PHRASES, HttpAction, LanguageFile, TableAction
from voice_agent.agent.table import Table, open_table
from voice_agent.agent.templates import render_outcome, resolve
from voice_agent.config import Settings, load_settings


class KnowledgeBaseError(ValueError):
    """An agent folder is missing something the agent needs (the message names file and line)."""


@dataclass
class LanguagePack:
    """Everything the agent can say and recognise in one language."""

    language: str
    name: str
    phrases: dict[str, str]
    answers: dict[str, str]  # intent → its answer (an intent with slots: its first question)
    examples: dict[str, list[str]]
    texts: LanguageFile | None = None
    order_status: dict[str, str] = field(default_factory=dict)  # the status intent's replies
    relative_days: dict[str, str] = field(default_factory=dict)

    def phrase(self, key: str, **values: Any) -> str:
        return self.phrases[key].format(**values)

    def when(self, days_ago: int) -> str:
        key = str(days_ago)
        if key in self.relative_days:
            return self.relative_days[key]
        return self.relative_days.get("other", "{n}").format(n=days_ago)


def _pack(texts: LanguageFile, status_intent: str | None = None) -> LanguagePack:
    answers = {}
    for intent, body in texts.intents.items():
        text = body.answer or next(iter(body.ask.values()), None)
        if text is not None:
            answers[intent] = resolve(text, texts)
    found = texts.intents[status_intent].replies.get("found") if status_intent and \
        status_intent in texts.intents else None
    return LanguagePack(
        language=texts.language, name=texts.name, phrases=dict(texts.phrases), answers=answers,
        examples={i: list(b.examples) for i, b in texts.intents.items()}, texts=texts,
        order_status=dict(found) if isinstance(found, dict) else {},
        relative_days=dict(texts.formats.get("relative_days", {})),
    )


@dataclass
class KnowledgeBase:
    packs: dict[str, LanguagePack]
    agent: Agent | None = None
    runner: ActionRunner | None = None
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.packs)

    @property
    def intents(self) -> list[str]:
        return self.agent.intent_names if self.agent else []

    def pack(self, language: str, fallback: str | None = None) -> LanguagePack:
        default = fallback or (self.agent.company.languages.default if self.agent else "en")
        return self.packs.get(language) or self.packs.get(default) or \
            next(iter(self.packs.values()))

    # -- the record-lookup intent, for callers written before agent folders ---------------
    @property
    def status_intent(self) -> str | None:
        """The first intent whose action only looks a record up (Northwind: order_status)."""
        return status_intent(self.agent) if self.agent else None

    @property
    def orders(self) -> Table | list[str]:
        """The keys the status intent can look up (its table; [] when it asks an API)."""
        intent = self.status_intent
        action = self.agent.actions.actions.get(self.agent.intents[intent].action or "") \
            if intent else None
        return self.tables[action.table] if isinstance(action, TableAction) else []

    def order_reply(self, pack: LanguagePack, number: str) -> str:
        """The status intent's reply for one key, only from the action's result."""
        intent = self.status_intent
        if intent is None or self.runner is None or pack.texts is None:
            raise KnowledgeBaseError("this agent has no record-lookup intent")
        spec = self.agent.intents[intent]
        slot = next(iter(spec.slots))
        result = self.runner.run(spec.action, {slot: number}, {})
        text = render_outcome(self.agent.intents, pack.texts, intent, result.outcome,
                              {slot: number, **result.fields})
        return text if text is not None else pack.phrase("action_failed")


def status_intent(agent: Agent) -> str | None:
    for name, spec in agent.intents.items():
        action = agent.actions.actions.get(spec.action or "")
        lookup = (isinstance(action, TableAction) and not action.update) or \
            (isinstance(action, HttpAction) and action.method == "GET")
        if lookup and len(spec.slots) == 1:
            return name
    return None


def load_language_pack(path: Path) -> LanguagePack:
    """One language file on its own (no agent around it): phrases, answers, examples."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [k for k in REQUIRED_PHRASES if k not in (data.get("phrases") or {})]
    if missing:
        raise KnowledgeBaseError(f"{path}: phrases missing {', '.join(missing)}")
    try:
        return _pack(LanguageFile.model_validate({"language": path.stem, "name": path.stem,
                                                  **data}))
    except ValueError as e:
        raise KnowledgeBaseError(f"{path}: {e}") from e


def load_knowledge_base(
    folder: Path, languages: list[str] | None = None,
    orders_db: Path | None = None, action_overrides: dict[str, Any] | None = None,
) -> KnowledgeBase:
    """Load and check an agent folder for the given languages (each must be served).

    `orders_db`: one SQLite file for the folder's CSV tables, seeded while empty.
    `action_overrides` replace actions by name (config `agent_actions`: a demo's table
    actions pointed at an HTTP backend)."""
    for lang in languages or []:
        path = lang_file(folder, lang)
        if not path.exists():
            raise KnowledgeBaseError(f"no knowledge base for language {lang!r}: {path} is missing")
    agent, problems = read_agent(folder, languages, action_overrides)
    if agent is not None:
        problems += check_agent(agent)
    if problems or agent is None:
        listed = "\n".join(f"  {p}" for p in problems)
        raise KnowledgeBaseError(f"agent folder {folder} fails its check "
                                 f"(voice-agent agent check):\n{listed}")
    tables = {name: open_table(name, spec, folder, orders_db)
              for name, spec in agent.actions.tables.items()}
    intent = status_intent(agent)
    packs = {lang: _pack(texts, intent) for lang, texts in agent.languages.items()}
    return KnowledgeBase(packs=packs, agent=agent,
                         runner=ActionRunner(agent.actions.actions, tables), tables=tables)


def configured_knowledge_base(
    settings: Settings, languages: list[str] | None = None
) -> KnowledgeBase:
    """The agent folder named by the settings (`agent:`), for the allowed languages."""
    return load_knowledge_base(
        settings.agent_dir, languages or list(settings.languages.allowed),
        settings.resolve(settings.orders_db) if settings.orders_db else None,
        settings.agent_actions or None,
    )


@lru_cache(maxsize=8)
def _intent_names(folder: Path) -> tuple[str, ...]:
    agent, problems = read_agent(folder)
    if agent is None:
        raise KnowledgeBaseError("\n".join(str(p) for p in problems))
    return tuple(agent.intent_names)


def intent_names(settings: Settings | None = None) -> tuple[str, ...]:
    """The configured agent's intents, in the order of its trained model's labels."""
    return _intent_names((settings or load_settings()).agent_dir)


def __getattr__(name: str) -> Any:
    # `from voice_agent.kb import INTENTS`: the configured agent's intents, read from its
    # folder when first asked for (the code names none)
    if name == "INTENTS":
        return intent_names()
    raise AttributeError(name)
