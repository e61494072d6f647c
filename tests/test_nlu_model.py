"""The fine-tuned understanding model: training end to end, the shipped model, scripted calls."""

import json

import pytest
from pipecat.frames.frames import EndTaskFrame, TranscriptionFrame, TTSSpeakFrame
from pipecat.tests.utils import run_test

from voice_agent.events import (
    BotReply,
    EventBus,
    EventRecorder,
    IntentDetected,
    TransferRequested,
)
from voice_agent.nlu.dataset import dataset_hash
from voice_agent.nlu.finetuned import FineTunedUnderstander
from voice_agent.nlu.gemma import base_model_sha256
from voice_agent.nlu.policy import split_sentences
from voice_agent.nlu.train import MODEL_DIR, train
from voice_agent.pipeline.dialogue import DialogueProcessor
from voice_agent.pipeline.edge import EdgeCapabilities
from voice_agent.pipeline.stt import SegmentResult
from voice_agent.pipeline.turn_timer import TurnTimer
from voice_agent.pipeline.whisper_turn import TurnTranscript

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(resources):
    return resources.models.registry.gemma_encoder()


@pytest.fixture(scope="module")
def model(encoder):
    return FineTunedUnderstander(encoder)


def test_training_runs_end_to_end_on_a_small_subset(encoder, tmp_path):
    result = train(out_dir=tmp_path, per_intent=2, evaluate=False, encoder=encoder)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["metrics"]["train_examples"] == 2 * 13 * 5
    assert meta["dataset_sha256"] == dataset_hash()
    assert meta["base_model"]["gguf_sha256"] == base_model_sha256()
    small = FineTunedUnderstander(encoder, tmp_path)
    assert small.understand("What are your opening hours?", "en").intent  # loads and answers
    assert result.seconds > 0


def test_the_shipped_model_records_how_it_was_made():
    meta = json.loads((MODEL_DIR / "metadata.json").read_text())
    assert meta["dataset_sha256"] == dataset_hash(), "dataset changed: run `voice-agent train`"
    assert meta["metrics"]["heldout"]["intent_accuracy_all"] >= 0.9


@pytest.mark.parametrize("lang, text, intent, slots", [
    ("en", "Hey, any news on my order one zero zero three?", "order_status",
     {"order_number": "1003"}),
    ("en", "I need a human, please put me through", "speak_to_agent", {}),
    ("es", "¿A qué hora cierran los sábados?", "opening_hours", {}),
    ("es", "Quiero anular el pedido mil cuatro", "cancel_order", {"order_number": "1004"}),
    ("fr", "Je peux payer avec PayPal ?", "billing_payment", {}),
    ("fr", "On peut parler en allemand s'il vous plaît ?", "change_language", {"language": "de"}),
    ("de", "Ich möchte die Jacke zurückschicken und mein Geld zurück", "return_refund", {}),
    ("de", "Tschüss, vielen Dank", "goodbye", {}),
    ("zh", "我的订单一零零二到哪儿了？", "order_status", {"order_number": "1002"}),
    ("zh", "我要换收货地址", "change_address", {}),
])
def test_the_shipped_model_understands_callers_in_every_language(model, lang, text, intent, slots):
    u = model.understand(text, lang)
    assert (u.intent, u.slots) == (intent, slots), (text, u)
    assert u.sentiment in ("negative", "neutral", "positive")


def test_an_angry_caller_is_read_as_negative(model):
    u = model.understand("This is the third time I call, you people are useless!", "en")
    assert (u.intent, u.sentiment) == ("complaint", "negative")


async def talk(fresh_resources, turns: list[tuple[str, str]]):
    """Caller turns as transcripts through the dialogue stage; returns spoken text and events."""
    bus = EventBus()
    events = EventRecorder(bus)
    call = fresh_resources.new_call(EdgeCapabilities("test"))
    call.state.bus = bus
    stage = DialogueProcessor(
        understander=fresh_resources.models.understander,
        policy=fresh_resources.models.dialogue_policy(), state=call.state,
        language_policy=call.language_policy, kb=fresh_resources.models.kb,
    )
    audio_s = 2.0  # what STT reports for a short sentence
    frames = [
        TranscriptionFrame(text, "caller", "", language=lang, result=SegmentResult(
            TurnTranscript(text, lang, 0.99), TurnTimer(), audio_s))
        for text, lang in turns
    ]
    down, up = await run_test(stage, frames_to_send=frames)
    spoken = " ".join(f.text for f in down if isinstance(f, TTSSpeakFrame))
    return spoken, events, up


async def test_caller_asks_where_order_1001_is_and_hears_the_table_facts(fresh_resources):
    spoken, events, _ = await talk(fresh_resources, [("Where's my order 1001?", "en")])
    assert spoken == "Order 1001 has shipped and should arrive in 2 days."
    assert events.of(IntentDetected)[0].engine == "finetuned"


async def test_cancel_is_confirmed_before_it_happens(fresh_resources):
    spoken, events, _ = await talk(fresh_resources, [
        ("I want to cancel an order", "en"), ("It's 1002", "en"), ("Yes, go ahead", "en"),
    ])
    replies = [e.text for e in events.of(BotReply)]
    assert "order number" in replies[0]
    assert "confirm" in replies[1] and "1002" in replies[1]
    assert "has been cancelled" in replies[2]


async def test_spanish_caller_asks_for_a_person_and_is_transferred(fresh_resources):
    _, events, _ = await talk(fresh_resources, [("Quiero hablar con una persona", "es")])
    assert events.of(TransferRequested)
    assert events.of(BotReply)[0].language == "es"


async def test_caller_asks_for_french_and_the_agent_switches(fresh_resources):
    spoken, events, _ = await talk(fresh_resources, [
        ("Can we speak French please?", "en"), ("Quels sont vos horaires ?", "fr"),
    ])
    replies = events.of(BotReply)
    assert [r.language for r in replies] == ["fr", "fr"]
    assert replies[0].text == fresh_resources.models.kb.pack("fr").phrase("language_switched")


async def test_goodbye_ends_the_call(fresh_resources):
    _, _, up = await talk(fresh_resources, [("Thanks, that's all, bye", "en")])
    assert any(isinstance(f, EndTaskFrame) for f in up)


async def test_no_reply_states_a_fact_outside_the_knowledge_base(fresh_resources):
    """Every sentence the agent says comes from the KB or the order table, whatever is asked."""
    kb = fresh_resources.models.kb
    numbers = [*kb.orders, "9999"]
    allowed: set[str] = set()
    for pack in kb.packs.values():
        texts = [*pack.answers.values(), *(kb.order_reply(pack, n) for n in numbers)]
        texts += [p.format(order_number=n) for p in pack.phrases.values() for n in numbers]
        allowed |= {s for t in texts for s in split_sentences(t)}
    questions = [("Is order 1004 refunded?", "en"), ("Can I return after 60 days?", "en"),
                 ("Do you open on Sundays?", "en"), ("How much is shipping to Canada?", "en"),
                 ("¿Dónde está el pedido 1003?", "es"), ("Bestellung 9999?", "de")]
    _, events, _ = await talk(fresh_resources, questions)
    replies = events.of(BotReply)
    assert len(replies) == len(questions)
    for reply in replies:
        for sentence in split_sentences(reply.text):
            assert sentence in allowed, sentence
