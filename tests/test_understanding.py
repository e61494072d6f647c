"""Baseline understanding and the dialogue policy, as scripted turns of text."""

import pytest

from voice_agent.config import load_settings
from voice_agent.kb import configured_knowledge_base
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.numbers import extract_order_number
from voice_agent.nlu.policy import DialogueContext, DialoguePolicy, speech_chunks

S = load_settings(env={})


@pytest.fixture
def kb():
    return configured_knowledge_base(S)


@pytest.fixture
def call(kb):
    """A caller talking to the baseline agent: say(text, lang) → Reply."""
    understander = BaselineUnderstander(kb)
    policy = DialoguePolicy(kb, S.dialogue.min_confidence)
    ctx = DialogueContext()

    def say(text: str, lang: str = "en"):
        return policy.respond(understander.understand(text, lang), ctx)

    return say


@pytest.mark.parametrize("text, lang, number", [
    ("where is my order one zero zero one", "en", "1001"),
    ("order number 1002 please", "en", "1002"),
    ("Sorry, what is the status of order 1,002?", "en", "1002"),  # a group separator
    ("Wo ist Bestellung 1.003?", "de", "1003"),
    ("Can I pay 29.99 by card?", "en", None),  # an amount
    ("order number one thousand and four", "en", "1004"),
    ("¿Dónde está mi pedido mil uno?", "es", "1001"),
    ("Wo ist meine Bestellung tausendzwei?", "de", "1002"),
    ("Où en est ma commande mille trois ?", "fr", "1003"),
    ("我的订单一零零一在哪里", "zh", "1001"),
    ("I have one question about two items", "en", None),
])
def test_order_numbers_as_whisper_writes_them(text, lang, number):
    assert extract_order_number(text, lang) == number


@pytest.mark.parametrize("text, lang, intent", [
    ("hello, when do you open on saturdays?", "en", "opening_hours"),
    ("do you take paypal", "en", "billing_payment"),
    ("I'd like to send back these shoes and get my money", "en", "return_refund"),
    ("get me a human being please", "en", "speak_to_agent"),
    ("¿A qué hora abren mañana?", "es", "opening_hours"),
    ("Je voudrais parler à un conseiller", "fr", "speak_to_agent"),
    ("Kann ich mit Kreditkarte bezahlen?", "de", "billing_payment"),
])
def test_baseline_finds_the_intent_of_unseen_paraphrases(kb, text, lang, intent):
    assert BaselineUnderstander(kb).understand(text, lang).intent == intent


def test_caller_asks_order_status_with_number_and_gets_the_table_facts(call):
    reply = call("Hi, where is my order one zero zero one?")
    assert reply.text == "Order 1001 has shipped and should arrive in 2 days."


def test_agent_asks_for_the_number_then_answers(call):
    assert "order number" in call("where is my package").text
    assert "1003" in call("it's one zero zero three").text


def test_cancel_needs_a_yes_and_shipped_orders_cannot_be_cancelled(call):
    assert "confirm" in call("please cancel order 1002").text
    assert "has been cancelled" in call("yes please").text
    assert "can no longer be cancelled" in call("cancel my order 1001").text


def test_cancel_declined_keeps_the_order(call):
    call("I want to cancel order 1002")
    assert "leave your order as it is" in call("no, don't").text


def test_human_request_transfers_and_goodbye_ends_the_call(call):
    assert call("can I speak to a real person").actions == ["transfer"]
    assert call("thanks, bye").actions == ["end_call"]


def test_spanish_caller_gets_spanish_answers(call):
    reply = call("¿Cuál es su horario de apertura?", "es")
    assert reply.language == "es" and "sábado" in reply.text.lower()


def test_gibberish_gets_a_request_to_rephrase(call):
    assert "another way" in call("zzzz qqqq").text


def test_long_sentences_are_spoken_clause_by_clause():
    text = ("We're open Monday to Friday from eight in the morning to eight in the evening, "
            "and Saturday from nine in the morning to five in the afternoon. Closed Sunday.")
    chunks = speech_chunks(text)
    assert len(chunks) == 3 and chunks[0].endswith("evening,")
    assert " ".join(chunks) == text


def test_a_caller_who_just_gives_the_number_continues_the_pending_request(call):
    assert "order number" in call("I'd like to cancel an order").text
    # "where is" would read as order_status on its own; as a reply it is the number asked for
    assert "confirm" in call("Yes, the number is one zero zero two").text


def test_a_number_reply_is_told_apart_from_a_new_request():
    from voice_agent.nlu.numbers import is_number_reply

    assert is_number_reply("Die Nummer ist eins null null drei.", "de")
    assert is_number_reply("嗯，是一零零二。", "zh")
    assert not is_number_reply("I would like to know where my order 1001 is right now", "en")
