"""The shape of an agent folder's files, as pydantic models (docs/agents.md, field by field).

Unknown keys are refused (`extra="forbid"`): a misspelt field that silently did nothing would
be worse than an error naming its line. Cross-file rules (a template field the action never
returns, an intent without examples in a served language) are checked in check.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OUTCOMES = ("found", "not_found", "not_allowed", "done", "kept", "failed")
SYSTEM_INTENTS = ("speak_to_agent", "change_language", "goodbye", "affirm", "deny", "repeat",
                  "out_of_scope")
REQUIRED_PHRASES = ("greeting", "fallback", "transfer", "language_switched", "action_failed")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- agent.yaml
class Company(Strict):
    name: str


class Languages(Strict):
    served: list[str] = Field(min_length=1)
    default: str


class Transfer(Strict):
    phone: str | None = None  # E.164 number a hand-over dials
    sip_uri: str | None = None  # or a SIP URI


class DialogueRules(Strict):
    unclear_turns_before_transfer: int | None = Field(None, ge=1)


class AgentFile(Strict):
    company: Company
    languages: Languages
    voices: dict[str, dict[str, Any]] = {}  # language → config's tts voice entry
    transfer: Transfer = Transfer()
    dtmf: dict[str, str] = {}  # digit → operator | repeat | goodbye | language:<code>
    dialogue: DialogueRules = DialogueRules()


# ---------------------------------------------------------------- intents.yaml
class SlotSpec(Strict):
    type: str
    options: dict[str, Any] = {}


class ValueSpec(Strict):
    """A template value computed from a result field through a per-language format."""

    field: str
    format: str  # a name under `formats:` in every language file


class IntentSpec(Strict):
    slots: dict[str, SlotSpec] = {}
    action: str | None = None
    confirm: bool = False
    reply_by: str | None = None  # result field whose value picks a reply variant
    replies_from: str | None = None  # another intent whose replies fill the missing outcomes
    values: dict[str, ValueSpec] = {}
    on_negative: Literal["transfer"] | None = None  # an upset caller: apology + a human


class IntentsFile(Strict):
    intents: dict[str, IntentSpec] = Field(min_length=1)


# ---------------------------------------------------------------- actions.yaml
class ColumnSpec(Strict):
    type: Literal["text", "integer", "number"] = "text"
    values: list[str] | None = None  # the only values allowed (a CHECK constraint)


class TableSpec(Strict):
    file: str  # CSV (header row = column names) or .sqlite/.db, relative to the folder
    key: str
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    writes: Literal["call", "table"] = "call"  # call: a change lasts for the call (demo data)


class TableAction(Strict):
    kind: Literal["table"]
    table: str
    key_slot: str  # the slot whose value is looked up in the table's key column
    allowed_when: dict[str, list[Any]] = {}  # column → values that allow the operation
    update: dict[str, Any] = {}  # column → new value; empty: a lookup


class HttpAction(Strict):
    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str  # "{slot}" placeholders, URL-quoted
    headers: dict[str, str] = {}  # "${ENV_NAME}" is replaced by that environment variable
    body: dict[str, Any] | None = None  # JSON; string values may hold "{slot}"
    timeout_s: float = Field(3.0, gt=0, le=30)
    result: str | None = None  # dotted path to the object inside the JSON answer
    returns: list[str] = []  # fields of that object templates may read
    success: Literal["found", "done"] | None = None  # default: found for GET, else done
    # HTTP statuses that are answers, not failures (e.g. 409: not_allowed); others: failed
    statuses: dict[int, Literal["not_found", "not_allowed"]] = {404: "not_found"}
    check_with: str | None = None  # a lookup action run before asking to confirm
    allowed_when: dict[str, list[Any]] = {}  # on the check's result


Action = Annotated[TableAction | HttpAction, Field(discriminator="kind")]


class ActionsFile(Strict):
    tables: dict[str, TableSpec] = {}
    actions: dict[str, Action] = {}


# ---------------------------------------------------------------- lang/<code>.yaml
Variant = str | dict[str, str]  # one text, or texts by the value of the intent's reply_by


class IntentTexts(Strict):
    examples: list[str] = []
    answer: str | None = None  # said when the intent needs nothing more
    ask: dict[str, str] = {}  # slot → question when it is missing
    invalid: dict[str, str] = {}  # slot → what to say when its value fails validation
    confirm: str | None = None
    replies: dict[str, Variant] = {}  # outcome → text(s)
    append: dict[str, str] = {}  # outcome → a sentence said after the reply


class LanguageFile(Strict):
    language: str
    name: str
    phrases: dict[str, str] = {}
    formats: dict[str, dict[str, str]] = {}  # name → {value: text, other: "… {n} …"}
    intents: dict[str, IntentTexts] = {}
