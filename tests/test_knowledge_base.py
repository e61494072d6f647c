"""The knowledge base and demo orders load in every language, and answers state only its facts."""

import re

import pytest

from voice_agent.config import load_settings
from voice_agent.kb import (
    INTENTS,
    KnowledgeBaseError,
    configured_knowledge_base,
    load_knowledge_base,
    load_language_pack,
)

S = load_settings(env={})
KB = configured_knowledge_base(S)


@pytest.mark.parametrize("lang", S.languages.allowed)
def test_every_language_has_every_intent_with_examples_and_an_answer(lang):
    pack = KB.pack(lang)
    assert set(pack.answers) == set(INTENTS)
    assert all(len(pack.examples[i]) >= 10 for i in INTENTS)


@pytest.mark.parametrize("lang", S.languages.allowed)
def test_order_replies_come_from_the_order_data(lang):
    pack = KB.pack(lang)
    assert "1001" in KB.order_reply(pack, "1001") and "2" in KB.order_reply(pack, "1001")
    assert KB.order_reply(pack, "1003") == pack.order_status["delivered"].format(
        order_number="1003", when=pack.when(1))
    assert "9999" in KB.order_reply(pack, "9999")  # unknown order: says so, invents nothing


def test_answers_state_only_the_policies_we_have():
    en = KB.pack("en")
    assert "thirty days" in en.answers["return_refund"]
    assert "five to seven business days" in en.answers["return_refund"]
    assert "PayPal" in en.answers["billing_payment"]
    assert "closed on Sunday" in en.answers["opening_hours"]
    # no digits in spoken answers: numbers are words, so every voice reads them right
    for lang in S.languages.allowed:
        for text in KB.pack(lang).answers.values():
            assert not re.search(r"\d", text), text


def test_a_broken_language_file_is_named_in_the_error(tmp_path):
    bad = tmp_path / "xx.yaml"
    bad.write_text("language: xx\nphrases: {greeting: hi}\nintents: {}\n")
    with pytest.raises(KnowledgeBaseError, match="xx.yaml: phrases missing"):
        load_language_pack(bad)
    with pytest.raises(KnowledgeBaseError, match="no knowledge base for language 'it'"):
        load_knowledge_base(tmp_path, ["it"])


def test_the_order_table_is_sqlite_seeded_once_from_the_config_file(tmp_path):
    import sqlite3

    from voice_agent.orders import load_orders

    db = tmp_path / "orders.sqlite"
    seed = S.agent_dir / "data" / "orders.csv"  # the table actions.yaml names
    table = load_orders(seed, db)
    assert sorted(table) == ["1001", "1002", "1003", "1004"]
    assert table.get("1001").status == "shipped" and table.get("1001").eta_days == 2
    assert table.get("9999") is None
    # a company's own rows survive a restart: the seed file only fills an empty table
    with sqlite3.connect(db) as con:
        con.execute("UPDATE orders SET status = 'delivered', delivered_days_ago = 0 "
                    "WHERE number = '1001'")
    again = load_orders(seed, db)
    assert again.get("1001").status == "delivered"
    with pytest.raises(sqlite3.IntegrityError):
        with sqlite3.connect(db) as con:
            con.execute("INSERT INTO orders (number, status) VALUES ('5', 'teleported')")
