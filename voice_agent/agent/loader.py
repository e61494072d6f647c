"""Reading an agent folder (config/agents/<name>/) into typed models, with every problem located.

    agent.yaml      the company: name, languages, voices, transfer targets, keypad menu
    intents.yaml    what callers ask for: slots, action, confirmation (language-neutral)
    actions.yaml    tables (CSV/SQLite) and the company's HTTP API
    lang/<xx>.yaml  per served language: phrases, example sentences, questions, reply templates
    data/           the tables' CSV files

Loading reports problems of form (YAML syntax, unknown or mistyped fields); check.py adds the
rules that span files. Both name file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from voice_agent.agent.models import (
    ActionsFile,
    AgentFile,
    IntentsFile,
    IntentSpec,
    LanguageFile,
)
from voice_agent.agent.yamlfile import Problem, YamlDoc, read_yaml


class AgentError(ValueError):
    """An agent folder that cannot be served; `problems` lists each with file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the agent folder:\n{listed}")


@dataclass
class Agent:
    """A loaded agent folder: the company, its intents and actions, its languages' texts."""

    name: str
    folder: Path
    company: AgentFile
    intents: dict[str, IntentSpec]
    actions: ActionsFile
    languages: dict[str, LanguageFile]
    docs: dict[str, YamlDoc] = field(default_factory=dict)  # "agent", "intents", "lang/en", …

    @property
    def intent_names(self) -> list[str]:
        """The intents in the order written (the order the trained model's labels follow)."""
        return list(self.intents)

    def doc(self, key: str) -> YamlDoc:
        return self.docs[key]


def _validated(doc: YamlDoc | None, model: type[BaseModel], problems: list[Problem]) -> Any:
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        problems.append(doc.problem("the file must hold a mapping (key: value lines)"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as e:
        for err in e.errors():
            # discriminator tags (table/http) are in pydantic's path but not the file's
            path: tuple[str, ...] = ()
            for part in err["loc"]:
                if (*path, str(part)) in doc.lines:
                    path = (*path, str(part))
            where = ".".join(str(p) for p in err["loc"])
            problems.append(doc.problem(f"{where}: {err['msg']}", *path))
        return None


def _raw_served(doc: YamlDoc | None) -> list[str]:
    """The served languages as written, when agent.yaml failed validation elsewhere: the
    language files are still checked, so one run lists every error."""
    data = doc.data if doc else None
    langs = data.get("languages") if isinstance(data, dict) else None
    served = langs.get("served") if isinstance(langs, dict) else None
    return [s for s in served if isinstance(s, str)] if isinstance(served, list) else []


def lang_file(folder: Path, language: str) -> Path:
    return folder / "lang" / f"{language}.yaml"


def read_agent(
    folder: Path, languages: list[str] | None = None,
    action_overrides: dict[str, Any] | None = None,
) -> tuple[Agent | None, list[Problem]]:
    """The folder's models and its problems of form; `languages`: load only these (each must
    be served); `action_overrides`: actions replaced by name before validation (config
    `agent_actions`). The agent is None when agent.yaml, intents.yaml or actions.yaml could
    not be read or validated; a failed language file is left out of `languages`. Any problem
    means the folder must not be served."""
    problems: list[Problem] = []
    if not (folder / "agent.yaml").exists():
        return None, [Problem(folder / "agent.yaml", None, "missing: no agent folder here")]
    docs: dict[str, YamlDoc] = {}
    for key in ("agent", "intents", "actions"):
        path = folder / f"{key}.yaml"
        if key == "actions" and not path.exists():
            continue  # an agent that only answers questions needs no actions
        doc = read_yaml(path, problems)
        if doc is not None:
            docs[key] = doc
    if action_overrides:
        doc = docs.setdefault("actions", YamlDoc(folder / "actions.yaml", {}))
        if isinstance(doc.data, dict):
            doc.data = {**doc.data, "actions": {**(doc.data.get("actions") or {}),
                                                **action_overrides}}
    company = _validated(docs.get("agent"), AgentFile, problems)
    intents = _validated(docs.get("intents"), IntentsFile, problems)
    actions = _validated(docs.get("actions"), ActionsFile, problems) if "actions" in docs \
        else ActionsFile()
    served = company.languages.served if company else _raw_served(docs.get("agent"))
    wanted = languages or served
    texts: dict[str, LanguageFile] = {}
    for language in wanted:
        path = lang_file(folder, language)
        if language not in served:
            problems.append(docs["agent"].problem(
                f"language {language!r} is not served (languages.served: "
                f"{', '.join(served)})", "languages", "served"))
            continue
        if not path.exists():
            line = docs["agent"].line("languages", "served") if "agent" in docs else None
            problems.append(Problem(path, None, f"missing: language {language!r} is served"
                                    + (f" (agent.yaml line {line})" if line else "")))
            continue
        doc = read_yaml(path, problems)
        if doc is None:
            continue
        docs[f"lang/{language}"] = doc
        parsed = _validated(doc, LanguageFile, problems)
        if parsed is not None:
            if parsed.language != language:
                problems.append(doc.problem(
                    f"language: {parsed.language!r} in the file for {language!r}", "language"))
            texts[language] = parsed
    if company is None or intents is None or actions is None:
        return None, problems
    # a language file that failed is left out (its problems are listed): the others are
    # still checked, so one run names every error
    agent = Agent(folder.name, folder, company, intents.intents, actions, texts, docs)
    return agent, problems
