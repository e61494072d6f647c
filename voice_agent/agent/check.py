"""`voice-agent agent check`: the rules that span an agent folder's files, each error located.

A folder that passes can be served: every intent has examples and replies in every served
language, every reply template reads only fields its action returns, every slot type exists,
every action names real tables and columns. `serve` refuses a folder that fails.
"""

from __future__ import annotations

from pathlib import Path

from voice_agent.agent import slots as slot_types
from voice_agent.agent.loader import Agent, read_agent
from voice_agent.agent.models import (
    OUTCOMES,
    REQUIRED_PHRASES,
    HttpAction,
    IntentSpec,
    IntentTexts,
    TableAction,
)
from voice_agent.agent.table import convert, read_csv
from voice_agent.agent.templates import phrase_ref, placeholders, reply_source
from voice_agent.agent.yamlfile import Problem

# the mechanics rely on these; their training data will ship with the product (issue 13)
NEEDED_SYSTEM_INTENTS = ("speak_to_agent", "goodbye", "affirm", "deny", "out_of_scope")
DTMF_ACTIONS = ("operator", "repeat", "goodbye")


def returned_fields(agent: Agent, action_name: str | None) -> set[str]:
    """The fields an action's result holds (what templates may read)."""
    action = agent.actions.actions.get(action_name or "")
    if isinstance(action, TableAction):
        table = agent.actions.tables.get(action.table)
        return {action.key_slot, *(table.columns if table else ())}
    if isinstance(action, HttpAction):
        checked = returned_fields(agent, action.check_with) if action.check_with else set()
        return {*action.returns, *checked}
    return set()


def outcomes(agent: Agent, spec: IntentSpec) -> set[str]:
    """The outcomes an intent's action can end in (`failed` has a default: the phrase)."""
    action = agent.actions.actions.get(spec.action or "")
    out: set[str] = {"kept"} if spec.confirm else set()
    if isinstance(action, TableAction):
        out |= {"not_found", "done" if action.update else "found"}
        if action.allowed_when:
            out.add("not_allowed")
    elif isinstance(action, HttpAction):
        out |= {action.success or ("found" if action.method == "GET" else "done"),
                *action.statuses.values()}
        if action.check_with:
            out.add("not_found")
            if action.allowed_when:
                out.add("not_allowed")
    return out


class _Checker:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.problems: list[Problem] = []

    def error(self, doc_key: str, message: str, *path: object) -> None:
        self.problems.append(self.agent.doc(doc_key).problem(message, *path))

    def run(self) -> list[Problem]:
        self.company()
        self.actions()
        for intent in NEEDED_SYSTEM_INTENTS:
            if intent not in self.agent.intents:
                self.error("intents", f"system intent {intent!r} is missing (every agent needs "
                           "it)", "intents")
        for name, spec in self.agent.intents.items():
            self.intent(name, spec)
        for language in self.agent.languages:
            self.language(language)
        return self.problems

    # -- agent.yaml ---------------------------------------------------------------------
    def company(self) -> None:
        c = self.agent.company
        served = c.languages.served
        if c.languages.default not in served:
            self.error("agent", f"languages.default {c.languages.default!r} is not served",
                       "languages", "default")
        for lang in c.voices:
            if lang not in served:
                self.error("agent", f"voices: {lang!r} is not a served language", "voices", lang)
        for digit, action in c.dtmf.items():
            target = action.split(":", 1)[1] if action.startswith("language:") else None
            if action not in DTMF_ACTIONS and target not in served:
                self.error("agent", f"dtmf {digit!r}: unknown action {action!r} (operator, "
                           f"repeat, goodbye or language:<a served code>)", "dtmf", digit)

    # -- actions.yaml -------------------------------------------------------------------
    def actions(self) -> None:
        tables = self.agent.actions.tables
        for name, table in tables.items():
            if table.key not in table.columns:
                self.error("actions", f"table {name}: key {table.key!r} is not one of its "
                           "columns", "tables", name, "key")
            self.table_file(name)
        for name, action in self.agent.actions.actions.items():
            where = ("actions", name)
            if isinstance(action, TableAction):
                table = tables.get(action.table)
                if table is None:
                    self.error("actions", f"action {name}: unknown table {action.table!r}",
                               *where, "table")
                    continue
                for part in ("allowed_when", "update"):
                    for col, value in getattr(action, part).items():
                        if col not in table.columns:
                            self.error("actions", f"action {name}: {part} names unknown column "
                                       f"{col!r} of table {action.table}", *where, part, col)
                        elif part == "update" and table.columns[col].values and \
                                str(value) not in table.columns[col].values:
                            self.error("actions", f"action {name}: {value!r} is not an allowed "
                                       f"value of {action.table}.{col}", *where, part, col)
            else:
                if action.check_with:
                    other = self.agent.actions.actions.get(action.check_with)
                    if other is None:
                        self.error("actions", f"action {name}: check_with names unknown action "
                                   f"{action.check_with!r}", *where, "check_with")
                unknown = set(action.allowed_when) - returned_fields(self.agent, name)
                for field in sorted(unknown):
                    self.error("actions", f"action {name}: allowed_when reads {field!r}, which "
                               "the check never returns", *where, "allowed_when", field)

    def table_file(self, name: str) -> None:
        table = self.agent.actions.tables[name]
        path = self.agent.folder / table.file
        if not path.exists():
            self.error("actions", f"table {name}: file {table.file} is missing",
                       "tables", name, "file")
            return
        if path.suffix != ".csv":
            return
        header, rows = read_csv(path)
        for col in table.columns:
            if col not in header:
                self.problems.append(Problem(path, 1, f"column {col!r} (declared in "
                                             "actions.yaml) is missing from the header"))
        seen: set[str] = set()
        for i, row in enumerate(rows, start=2):
            key = row.get(table.key, "")
            if key in seen:
                self.problems.append(Problem(path, i, f"duplicate key {key!r}"))
            seen.add(key)
            for col, spec in table.columns.items():
                cell = row.get(col) or ""
                if spec.values and cell and cell not in spec.values:
                    self.problems.append(Problem(path, i, f"{col} {cell!r} is not one of "
                                                 f"{', '.join(spec.values)}"))
                try:
                    convert(cell, spec.type)
                except ValueError:
                    self.problems.append(Problem(path, i, f"{col} {cell!r} is not {spec.type}"))

    # -- intents.yaml -------------------------------------------------------------------
    def intent(self, name: str, spec: IntentSpec) -> None:
        where = ("intents", name)
        for slot, sspec in spec.slots.items():
            for msg in slot_types.check_slot(sspec):
                self.error("intents", f"intent {name}, slot {slot}: {msg}", *where, "slots",
                           slot, "type")
        action = self.agent.actions.actions.get(spec.action or "")
        if spec.action and action is None:
            self.error("intents", f"intent {name}: unknown action {spec.action!r}", *where,
                       "action")
        needed = set()
        if isinstance(action, TableAction):
            needed = {action.key_slot}
        elif isinstance(action, HttpAction):
            needed = placeholders(action.url) | placeholders(str(action.body or ""))
        for slot in sorted(needed - set(spec.slots)):
            self.error("intents", f"intent {name}: action {spec.action} needs slot {slot!r}, "
                       "which the intent does not declare", *where, "action")
        if spec.confirm and not spec.action:
            self.error("intents", f"intent {name}: confirm without an action", *where, "confirm")
        if spec.replies_from and spec.replies_from not in self.agent.intents:
            self.error("intents", f"intent {name}: replies_from names unknown intent "
                       f"{spec.replies_from!r}", *where, "replies_from")
        fields = returned_fields(self.agent, spec.action)
        for value_name, value in spec.values.items():
            if value.field not in fields:
                self.error("intents", f"intent {name}: value {value_name} reads {value.field!r}, "
                           f"which action {spec.action} never returns", *where, "values",
                           value_name)
        if spec.reply_by and spec.reply_by not in fields:
            self.error("intents", f"intent {name}: reply_by {spec.reply_by!r} is not a field "
                       f"action {spec.action} returns", *where, "reply_by")

    # -- lang/<xx>.yaml -----------------------------------------------------------------
    def language(self, language: str) -> None:
        key = f"lang/{language}"
        texts = self.agent.languages[language]
        missing = [p for p in REQUIRED_PHRASES if p not in texts.phrases]
        if missing:
            self.error(key, f"phrases missing {', '.join(missing)}", "phrases")
        for intent in texts.intents:
            if intent not in self.agent.intents:
                self.error(key, f"intent {intent!r} is not in intents.yaml", "intents", intent)
        for name, spec in self.agent.intents.items():
            self.intent_texts(key, language, name, spec)

    def intent_texts(self, key: str, language: str, name: str, spec: IntentSpec) -> None:
        lang = self.agent.languages[language]
        where = ("intents", name)
        if name not in lang.intents or not lang.intents[name].examples:
            self.error(key, f"intent {name} has no examples in {language}", *where)
        texts = lang.intents.get(name, IntentTexts())
        slots = set(spec.slots)
        fields = slots | returned_fields(self.agent, spec.action) | set(spec.values)
        if spec.replies_from in self.agent.intents:
            fields |= set(self.agent.intents[spec.replies_from].values)
        if not spec.action and not texts.answer:
            self.error(key, f"intent {name}: no answer in {language}", *where)
        for slot in spec.slots:
            if slot not in texts.ask:
                self.error(key, f"intent {name}: no question (ask.{slot}) for its slot in "
                           f"{language}", *where, "ask")
        if spec.confirm and not texts.confirm:
            self.error(key, f"intent {name}: confirm is on but no confirm text in {language}",
                       *where)
        for outcome in sorted(outcomes(self.agent, spec)):
            if reply_source(self.agent.intents, lang, name, outcome) is None:
                self.error(key, f"intent {name}: no reply for outcome {outcome!r} in {language}",
                           *where, "replies")
        for outcome in texts.replies:
            if outcome not in OUTCOMES:
                self.error(key, f"intent {name}: unknown outcome {outcome!r} (one of "
                           f"{', '.join(OUTCOMES)})", *where, "replies", outcome)
        self.variants_cover(key, name, spec, texts)
        named = [(("answer",), texts.answer, slots), (("confirm",), texts.confirm, fields)]
        named += [(("ask", s), t, slots) for s, t in texts.ask.items()]
        named += [(("invalid", s), t, slots) for s, t in texts.invalid.items()]
        named += [(("append", o), t, fields) for o, t in texts.append.items()]
        named += [(("replies", o), v, fields) for o, v in texts.replies.items()
                  if isinstance(v, str)]
        named += [(("replies", o, k), t, fields) for o, v in texts.replies.items()
                  if isinstance(v, dict) for k, t in v.items()]
        for path, text, allowed in named:
            if text is None:
                continue
            ref = phrase_ref(text)
            if ref is not None and ref not in lang.phrases:
                self.error(key, f"intent {name}: {'.'.join(path)} names unknown phrase "
                           f"{ref!r}", *where, *path)
                continue
            body = lang.phrases[ref] if ref is not None else text
            for field in sorted(placeholders(body) - allowed):
                self.error(key, f"intent {name}: {'.'.join(path)} reads {{{field}}}, which "
                           f"neither its slots nor action {spec.action} provide", *where, *path)
        for value in spec.values.values():
            if value.format not in lang.formats:
                self.error(key, f"intent {name}: format {value.format!r} is missing from "
                           "formats", "formats")

    def variants_cover(self, key: str, name: str, spec: IntentSpec, texts: IntentTexts) -> None:
        """Replies by a field's value cover every value its column allows (or have `other`)."""
        action = self.agent.actions.actions.get(spec.action or "")
        if not isinstance(action, TableAction) or not spec.reply_by:
            return
        table = self.agent.actions.tables.get(action.table)
        column = table.columns.get(spec.reply_by) if table else None
        if column is None or not column.values:
            return
        for outcome, text in texts.replies.items():
            if isinstance(text, dict) and "other" not in text:
                for value in column.values:
                    if value not in text:
                        self.error(key, f"intent {name}: reply {outcome} has no text for "
                                   f"{spec.reply_by} {value!r} (nor `other`)", "intents", name,
                                   "replies", outcome)


def check_folder(folder: Path) -> list[Problem]:
    """Every problem of an agent folder (empty: it can be served)."""
    agent, problems = read_agent(folder)
    if agent is None:
        return problems
    return problems + _Checker(agent).run()


def check_agent(agent: Agent) -> list[Problem]:
    return _Checker(agent).run()
