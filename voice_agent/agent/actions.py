"""Running an intent's action: a lookup or change in a local table, or a call to the company's API.

Every run ends in an outcome the intent has a reply template for: found, not_found,
not_allowed, done, or failed (a backend that is slow, down, answers 5xx or invalid JSON: the
caller hears an apology and an offer of a human, never an invented fact). `check` is the dry
run before asking the caller to confirm: it says `ready` when the action would go ahead.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from voice_agent.agent.models import HttpAction, TableAction
from voice_agent.agent.table import Row, Table

PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENV_REF = re.compile(r"\$\{(\w+)\}")
READY = "ready"  # check(): the action would go ahead (ask the caller to confirm)

# a change made to a `writes: call` table: (table, key) → the columns changed, for this call only
CallChanges = dict[tuple[str, str], dict[str, Any]]


@dataclass
class ActionResult:
    outcome: str
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # failed: timeout | unreachable | http_<status> | invalid_json | …
    seconds: float = 0.0


def fill(template: str, values: Mapping[str, Any], escape=str) -> str:
    """`{name}` placeholders replaced by values (missing ones by nothing)."""
    return PLACEHOLDER.sub(lambda m: escape(str(values.get(m.group(1), ""))), template)


def _fill_json(value: Any, slots: Mapping[str, Any]) -> Any:
    """A JSON body from slots: "{slot}" alone keeps the slot's value, else text is filled in."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        return slots.get(whole.group(1)) if whole else fill(value, slots)
    if isinstance(value, dict):
        return {k: _fill_json(v, slots) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_json(v, slots) for v in value]
    return value


def allowed(fields: Mapping[str, Any], rule: Mapping[str, list[Any]]) -> bool:
    """Every named field holds one of its allowed values (compared as text: CSV and JSON)."""
    return all(str(fields.get(col)) in {str(v) for v in ok} for col, ok in rule.items())


class ActionRunner:
    """Runs the actions of one agent; shared by every call (tables and the HTTP client are)."""

    def __init__(self, actions: Mapping[str, TableAction | HttpAction],
                 tables: Mapping[str, Table], env: Mapping[str, str] | None = None) -> None:
        self.actions = dict(actions)
        self.tables = dict(tables)
        self._env = env
        self._client: httpx.Client | None = None

    # -- public -------------------------------------------------------------------------
    def check(self, name: str, slots: Mapping[str, Any], changes: CallChanges) -> ActionResult:
        action = self.actions[name]
        if isinstance(action, TableAction):
            return self._table(action, slots, changes, apply=False)
        if action.check_with is None:
            return ActionResult(READY)
        looked = self.run(action.check_with, slots, changes)
        if looked.outcome != "found":
            return looked
        if not allowed(looked.fields, action.allowed_when):
            return ActionResult("not_allowed", looked.fields, seconds=looked.seconds)
        return ActionResult(READY, looked.fields, seconds=looked.seconds)

    def run(self, name: str, slots: Mapping[str, Any], changes: CallChanges) -> ActionResult:
        action = self.actions[name]
        if isinstance(action, TableAction):
            return self._table(action, slots, changes, apply=True)
        return self._http(action, slots)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- table --------------------------------------------------------------------------
    def _table(self, action: TableAction, slots: Mapping[str, Any], changes: CallChanges,
               apply: bool) -> ActionResult:
        table = self.tables[action.table]
        key = str(slots.get(action.key_slot, ""))
        row = table.get(key)
        if row is None:
            return ActionResult("not_found", {action.key_slot: key})
        row = Row({**row, **changes.get((action.table, key), {})})
        fields = {action.key_slot: key, **row}
        if not allowed(row, action.allowed_when):
            return ActionResult("not_allowed", fields)
        if not action.update:
            return ActionResult("found", fields)
        if not apply:
            return ActionResult(READY, fields)
        if table.spec.writes == "table":
            table.update(key, action.update)
        else:  # demo data stays as shipped: the change lasts for this call
            changes.setdefault((action.table, key), {}).update(action.update)
        return ActionResult("done", {**fields, **action.update})

    # -- http ---------------------------------------------------------------------------
    def _http(self, action: HttpAction, slots: Mapping[str, Any]) -> ActionResult:
        env = os.environ if self._env is None else self._env
        missing = [m for v in action.headers.values() for m in ENV_REF.findall(v)
                   if m not in env]
        if missing:
            return ActionResult("failed", reason=f"environment variable {missing[0]} not set")
        headers = {k: ENV_REF.sub(lambda m: env[m.group(1)], v)
                   for k, v in action.headers.items()}
        url = fill(action.url, slots, escape=lambda s: quote(s, safe=""))
        body = _fill_json(action.body, slots) if action.body is not None else None
        started = time.monotonic()
        if self._client is None:
            self._client = httpx.Client()
        try:
            response = self._client.request(action.method, url, headers=headers, json=body,
                                            timeout=action.timeout_s)
        except httpx.TimeoutException:
            return ActionResult("failed", reason="timeout", seconds=time.monotonic() - started)
        except httpx.HTTPError as e:
            return ActionResult("failed", reason=f"unreachable: {type(e).__name__}",
                                seconds=time.monotonic() - started)
        seconds = time.monotonic() - started
        known = action.statuses.get(response.status_code)
        if known is not None:
            return ActionResult(known, {**slots, **self._fields(response, action)},
                                seconds=seconds)
        if not response.is_success:
            return ActionResult("failed", reason=f"http_{response.status_code}",
                                seconds=seconds)
        fields = self._fields(response, action, strict=True)
        if fields is None:
            return ActionResult("failed", reason="invalid_json", seconds=seconds)
        success = action.success or ("found" if action.method == "GET" else "done")
        return ActionResult(success, {**slots, **fields}, seconds=seconds)

    @staticmethod
    def _fields(response: httpx.Response, action: HttpAction,
                strict: bool = False) -> dict[str, Any] | None:
        """The answer's object at `result` (None when strict and it is not a JSON object)."""
        try:
            data: Any = response.json()
            for part in (action.result.split(".") if action.result else []):
                data = data[part]
        except (ValueError, KeyError, TypeError, IndexError):
            return None if strict else {}
        if not isinstance(data, dict):
            return None if strict else {}
        return data
