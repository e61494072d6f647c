"""A company's agent as a folder of data: loading, `agent check` (file and line), the scaffold,
and the data-driven dialogue as call scripts — against the demo table and, end to end, against
Northwind's order API over HTTP (including a backend that is slow, down, 500 or not JSON)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voice_agent.agent.check import check_folder
from voice_agent.agent.scaffold import scaffold
from voice_agent.cli import app
from voice_agent.config import load_settings
from voice_agent.events import ActionFailed
from voice_agent.kb import configured_knowledge_base, load_knowledge_base
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.policy import DialogueContext, DialoguePolicy
from voice_agent.testing.northwind_backend import http_actions, running_backend

S = load_settings(env={})
NORTHWIND = S.agent_dir


def caller(kb, min_confidence: float = S.dialogue.min_confidence):
    """A caller talking to the agent, text in, reply out: say(text, lang) → Reply."""
    understander = BaselineUnderstander(kb)
    policy = DialoguePolicy(kb, min_confidence)
    ctx = DialogueContext()

    def say(text: str, lang: str = "en"):
        return policy.respond(understander.understand(text, lang), ctx)

    say.ctx = ctx
    return say


@pytest.fixture(scope="module")
def northwind_kb():
    return configured_knowledge_base(S)


@pytest.fixture
def say(northwind_kb):
    return caller(northwind_kb)


# ---------------------------------------------------------------- the folder and its check
def test_northwind_is_a_folder_that_passes_its_check_and_matches_the_trained_labels():
    from safetensors import safe_open

    assert check_folder(NORTHWIND) == []
    with safe_open(str(S.resolve(Path("models/nlu/heads.safetensors"))), "np") as f:
        trained = (f.metadata() or {})["intent.labels"].split(",")
    kb = configured_knowledge_base(S)
    assert kb.intents == trained  # the folder's intents are the model's labels, in order


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """1-based line of the first `needle` (after the line holding `after`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.fixture
def broken(tmp_path) -> Path:
    """A copy of Northwind's folder, to break."""
    folder = tmp_path / "northwind"
    shutil.copytree(NORTHWIND, folder)
    return folder


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in check_folder(folder)]


def assert_reported(problems: list[str], path: Path, line: int, words: str) -> None:
    where = f"{path}:{line}:"
    assert any(p.startswith(where) and words in p for p in problems), (where, words, problems)


def test_check_names_file_and_line_of_every_error(broken):
    en, es, fr = (broken / "lang" / f"{c}.yaml" for c in ("en", "es", "fr"))
    intents, actions = broken / "intents.yaml", broken / "actions.yaml"
    # a template field the action never returns
    edit(en, "arrive in {eta_days} days", "arrive in {eta_weeks} weeks")
    # an unknown slot type
    edit(intents, "type: digits", "type: digitz")
    # an intent without examples in a served language
    es.write_text(re.sub(r"(  opening_hours:\n    examples:)\n(    - .*\n)+", r"\1 []\n",
                         es.read_text(encoding="utf-8")), encoding="utf-8")
    # a missing phrase
    edit(fr, "\n  transfer: ", "\n  tranfer: ")
    # an action naming an unknown table column
    edit(actions, "allowed_when: {status: [processing]}", "allowed_when: {state: [processing]}")
    # duplicate intent names
    edit(intents, "  billing_payment: {}\n", "  billing_payment: {}\n  return_refund: {}\n")
    problems = problems_of(broken)

    assert_reported(problems, en, line_of(en, "{eta_weeks}"), "reads {eta_weeks}")
    assert_reported(problems, intents, line_of(intents, "digitz"), "unknown slot type 'digitz'")
    assert_reported(problems, intents, line_of(intents, "return_refund: {}", "billing_payment"),
                    "duplicate key 'return_refund'")
    assert_reported(problems, actions, line_of(actions, "{state:"), "unknown column 'state'")
    assert any(p.startswith(f"{es}:") and "opening_hours" in p for p in problems), problems
    assert any(p.startswith(f"{fr}:") and "phrases missing transfer" in p for p in problems)
    assert len(problems) >= 6


def test_check_reports_syntax_errors_unknown_fields_and_missing_language_files(broken):
    edit(broken / "agent.yaml", "  default: en", "  default: en\n  defualt: es")
    (broken / "lang" / "de.yaml").unlink()
    edit(broken / "lang" / "zh.yaml", "language: zh", "language: zh\nphrases: [oops")
    problems = problems_of(broken)
    agent = broken / "agent.yaml"
    assert_reported(problems, agent, line_of(agent, "defualt"), "Extra inputs are not permitted")
    assert any(p.startswith(str(broken / "lang" / "de.yaml")) and "missing" in p
               for p in problems)
    assert any(p.startswith(f"{broken / 'lang' / 'zh.yaml'}:") and "YAML syntax" in p
               for p in problems)


def test_a_folder_that_fails_its_check_is_never_loaded(broken):
    from voice_agent.kb import KnowledgeBaseError

    edit(broken / "intents.yaml", "action: find_order", "action: find_ordr")
    with pytest.raises(KnowledgeBaseError, match=r"intents.yaml:\d+: intent order_status: "
                                                 r"unknown action 'find_ordr'"):
        load_knowledge_base(broken, ["en"])


def test_the_scaffold_passes_check_and_answers_from_its_own_table(tmp_path):
    folder = tmp_path / "acme_dental"
    scaffold(folder, "Acme Dental")
    assert problems_of(folder) == []
    say = caller(load_knowledge_base(folder, ["en"]))
    assert say("Is booking 5001 confirmed?").text == "Booking 5001 is confirmed for Monday."
    assert "Acme Dental" in say("That's all, thanks.").text


def test_agent_commands_new_check_and_serve_refusing_a_broken_folder(tmp_path):
    cli = CliRunner()
    folder = tmp_path / "acme"
    made = cli.invoke(app, ["agent", "new", str(folder)])
    assert made.exit_code == 0, made.output
    assert cli.invoke(app, ["agent", "new", str(folder)]).exit_code == 1  # never overwrites
    checked = cli.invoke(app, ["agent", "check", str(folder)])
    assert checked.exit_code == 0 and "ok" in checked.output

    lang = folder / "lang" / "en.yaml"
    edit(lang, "is confirmed for {day}", "is confirmed for {weekday}")
    edit(folder / "intents.yaml", "type: digits", "type: number_plate")
    failed = cli.invoke(app, ["agent", "check", str(folder)])
    assert failed.exit_code == 1
    assert f"{lang}:{line_of(lang, '{weekday}')}:" in failed.output
    assert "number_plate" in failed.output and "2 problem(s)" in failed.output
    served = cli.invoke(app, ["serve", "--agent", str(folder), "--port", "1"])
    assert served.exit_code == 1 and "fails its check" in served.output


# ---------------------------------------------------------------- call scripts: demo table
def test_caller_asks_where_order_1001_is_and_hears_the_table_facts(say):
    assert say("Hi, where is my order one zero zero one?").text == \
        "Order 1001 has shipped and should arrive in 2 days."


def test_an_unknown_order_is_said_so_and_the_number_asked_again(say):
    assert "couldn't find an order with the number 9999" in say("Where is order 9999?").text
    assert say("Sorry, it's one zero zero three.").text == "Order 1003 was delivered yesterday."


def test_caller_cancels_1002_confirms_and_is_told_it_is_cancelled(say):
    assert say("Can you cancel order 1002, please?").text == \
        "Just to confirm, would you like me to cancel order 1002?"
    assert say("Yes, please.").text.startswith("Order 1002 has been cancelled.")
    assert say.ctx.cancelled_orders == {"1002"}
    # the change lasts for the call: asked again, the order is cancelled
    assert say("Where is order 1002?").text == \
        "Order 1002 was cancelled and the refund has been issued."


def test_cancel_declined_keeps_the_order(say):
    say("I want to cancel order 1002")
    assert say("No, don't.").text.startswith("Okay, I'll leave your order as it is.")
    assert say.ctx.cancelled_orders == set()


def test_a_shipped_order_cannot_be_cancelled_and_no_yes_is_asked_for(say):
    reply = say("Cancel my order 1001")
    assert reply.text == ("I'm sorry, order 1001 can no longer be cancelled because it has "
                          "already shipped or been delivered.")
    assert say.ctx.confirming is None


def test_a_missing_number_is_asked_for_and_a_wrong_one_asked_again_with_a_reason(say):
    assert say("I'd like to cancel an order").text == \
        "I can help you cancel an order. What is the order number?"
    again = say("It's one two.")
    assert again.text.startswith("Sorry, that doesn't sound like an order number")
    assert again.text.endswith("What is the order number?")
    assert say("one zero zero two").text == \
        "Just to confirm, would you like me to cancel order 1002?"


def test_spanish_caller_gets_the_spanish_template_and_the_day_in_words(say):
    reply = say("¿Dónde está mi pedido uno cero cero tres?", "es")
    assert (reply.language, reply.text) == ("es", "El pedido 1003 se entregó ayer.")


# ---------------------------------------------------------------- call scripts: HTTP API
@pytest.fixture
def backend(monkeypatch):
    monkeypatch.setenv("NORTHWIND_API_TOKEN", "t0ken")
    with running_backend(token="t0ken") as api:
        yield api


def http_kb(url: str):
    """Northwind with its order actions switched to the API (config `agent_actions`)."""
    return configured_knowledge_base(load_settings(env={}, overrides={
        "agent_actions": http_actions(url)}))


def test_over_http_status_and_cancellation_run_end_to_end(backend):
    say = caller(http_kb(backend.url))
    assert say("Where is my order 1001?").text == \
        "Order 1001 has shipped and should arrive in 2 days."
    assert "couldn't find an order with the number 9999" in say("Where is order 9999?").text
    assert say("Can you cancel order 1002, please?").text == \
        "Just to confirm, would you like me to cancel order 1002?"
    assert say("Yes.").text.startswith("Order 1002 has been cancelled.")
    assert backend.orders["1002"]["status"] == "cancelled"  # the company's system did it
    assert ("POST", "/orders/1002/cancel") in backend.requests
    assert say("Where is order 1002?").text == \
        "Order 1002 was cancelled and the refund has been issued."
    # a shipped order: the API's own answer says no; nothing is posted
    assert "can no longer be cancelled" in say("Cancel my order 1001").text
    assert ("POST", "/orders/1001/cancel") not in backend.requests


def test_the_api_refusing_the_cancel_is_not_allowed_not_a_failure(backend):
    say = caller(http_kb(backend.url))
    say("Can you cancel order 1002, please?")
    backend.orders["1002"]["status"] = "shipped"  # it shipped while the caller thought
    assert "can no longer be cancelled" in say("Yes.").text


@pytest.mark.parametrize("mode, reason", [
    ("slow", "timeout"), ("error", "http_500"), ("invalid_json", "invalid_json")])
def test_a_failing_api_gets_an_apology_an_offer_of_a_human_and_an_event(backend, mode, reason):
    say = caller(http_kb(backend.url))
    backend.mode = mode
    started = time.monotonic()
    reply = say("Where is my order 1001?")
    assert time.monotonic() - started < 1.0 + 2.0  # the action's timeout + 2 s at most
    assert reply.text == ("I'm sorry, I can't reach our order system right now. Would you "
                          "like me to put you through to a colleague?")
    [event] = reply.events
    assert isinstance(event, ActionFailed)
    assert (event.intent, event.action, event.reason) == ("order_status", "find_order", reason)
    assert say("Yes, please.").actions == ["transfer"]  # the offered colleague


def test_a_backend_that_is_down_fails_in_the_callers_language(monkeypatch):
    monkeypatch.setenv("NORTHWIND_API_TOKEN", "t0ken")
    with running_backend() as api:
        url = api.url
    say = caller(http_kb(url))  # the server is gone: connection refused
    reply = say("¿Dónde está mi pedido mil uno?", "es")
    assert reply.language == "es" and reply.text.startswith("Lo siento, ahora mismo no puedo")
    assert reply.events[0].reason.startswith("unreachable")
    assert say("No, gracias.", "es").text == "¿Puedo ayudarle en algo más?"


def test_a_header_secret_missing_from_the_environment_is_a_failure_not_a_crash(backend,
                                                                             monkeypatch):
    monkeypatch.delenv("NORTHWIND_API_TOKEN")
    reply = caller(http_kb(backend.url))("Where is my order 1001?")
    assert reply.events[0].reason == "environment variable NORTHWIND_API_TOKEN not set"
    assert backend.requests == []
