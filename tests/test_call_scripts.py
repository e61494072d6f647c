"""Fast call scripts: what a caller does, on a timeline, over the real server, Twilio line and
call pipeline — only speech recognition is scripted (each line known by its pitch) and the voice
is a tone (voice_agent/testing/). Each script runs in a few seconds of real time; the slow
scripts (test_bargein.py, test_language_switching.py) run the same calls with Whisper and Piper.
"""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.events import (
    BargeIn,
    BotReply,
    CallEnded,
    CallerTurn,
    DtmfPressed,
    FalseInterruption,
    IntentDetected,
    LanguageSwitched,
    ReplyPlayed,
    TransferRequested,
)
from voice_agent.kb import configured_knowledge_base
from voice_agent.nlu.baseline import BaselineUnderstander
from voice_agent.nlu.policy import speech_chunks
from voice_agent.testing.call_script import (
    CallScript,
    call_script,
    fast_settings,
    scripted_models,
)

HOURS_QUESTION = "When are you open?"  # the longest answer: three sentences


@pytest.fixture(scope="session")
def script_settings(settings):
    return fast_settings(settings)


@pytest.fixture(scope="session")
def kb(script_settings):
    return configured_knowledge_base(script_settings)


@pytest.fixture(scope="session")
def understander(kb):
    from voice_agent.nlu.numbers import spelled_numbers

    for language in kb.packs:
        spelled_numbers(language)  # ~0.3 s a language, once (the server's warm-up asks too)
    return BaselineUnderstander(kb)


@pytest.fixture
def models(script_settings, kb, understander):
    """Fresh scripted models per script: the transcriber's lines and the voice's log are its own."""
    return scripted_models(script_settings, kb, understander)


def answer_seconds(script: CallScript, text: str) -> float:
    """How long the tone voice speaks this answer."""
    return sum(script.voice.seconds_for(s) for s in speech_chunks(text))


def spoken_seconds(script: CallScript, text: str, heard_text: str) -> float:
    """How long the tone voice took to say the first words of `text` that make `heard_text`."""
    left, seconds = len(heard_text.split()), 0.0
    for chunk in speech_chunks(text):
        words = len(chunk.split())
        seconds += script.voice.seconds_for(chunk) * min(1.0, left / words)
        left -= min(left, words)
    return seconds


def spoken_in(script: CallScript, reply: BotReply) -> set[str]:
    """The languages of the voices that spoke this reply's sentences."""
    sentences = set(speech_chunks(reply.text))
    return {language for language, said in script.voice.spoken if said in sentences}


def speech_heard_between(script: CallScript, since: float, until: float) -> float:
    """Seconds of the agent's voice the caller's earpiece played in [since, until)."""
    return sum(np.count_nonzero(np.frombuffer(pcm, np.int16)) for start, pcm in
               script.call.played if since <= start < until) / 8000


async def ask_for_the_hours(script: CallScript) -> BotReply:
    await script.caller_says(HOURS_QUESTION)
    return await script.agent_answers()


async def heard_whole_answer(script: CallScript, reply: BotReply) -> float:
    """Wait for the answer to play out; the seconds of it the caller heard."""
    played = await script.wait_for(ReplyPlayed, turn=reply.turn)
    assert not played[0].interrupted and played[0].heard_text == reply.text
    return script.call.heard_speech_s(script.answer_started_at() - 0.01)


# --- barge-in ---

async def test_caller_cuts_in_on_the_opening_hours_to_ask_where_order_1002_is(models, kb):
    async with call_script(models) as script:
        hours = await ask_for_the_hours(script)
        assert hours.text == kb.pack("en").answers["opening_hours"]
        await script.caller_says("Where is my order 1002?", at=0.3)
        status = await script.agent_answers()
        await script.wait_for(ReplyPlayed, turn=status.turn)
        barge = script.one(BargeIn)
        status_started = script.answer_started_at()
        started = min(s for s, pcm in script.call.played if s >= hours.at and any(pcm))
    assert barge.cause == "speech" and barge.onset_to_clear_s < 0.3
    cut = [e for e in script.of(ReplyPlayed) if e.interrupted]
    assert len(cut) == 1 and cut[0].turn == hours.turn and cut[0].text == hours.text
    # `heard_text` is what the caller's earpiece really played of the answer (to a word or two)
    assert cut[0].heard_text and hours.text.startswith(cut[0].heard_text)
    assert cut[0].heard_text != hours.text
    played_s = speech_heard_between(script, started, status_started)
    assert spoken_seconds(script, hours.text, cut[0].heard_text) == pytest.approx(
        played_s, abs=0.06)
    # the old answer went quiet at the `clear`: the next voice the caller heard is the new one
    after_clear = [s for s, pcm in script.call.played if s > barge.at and any(pcm)]
    assert after_clear and min(after_clear) >= status_started - 0.01
    assert [e.intent for e in script.of(IntentDetected)] == ["opening_hours", "order_status"]
    assert "1002" in status.text


async def test_caller_says_stop_over_the_answer_and_the_agent_stops(models):
    # a slower voice: a short "Stop." is judged on its transcript, after the VAD's stop time,
    # and the answer must still be playing by then for there to be anything to cut
    models.synthesizer.seconds_per_char = 0.01
    async with call_script(models) as script:
        hours = await ask_for_the_hours(script)
        await script.caller_says("Stop.", at=0.4, seconds=0.45)  # too short to confirm by time
        await script.wait_for(BargeIn)
        await script.agent_answers()  # the "Stop." is a turn of its own
    cut = script.one(BargeIn)
    assert cut.cause == "speech"
    played = [e for e in script.of(ReplyPlayed) if e.turn == hours.turn]
    assert len(played) == 1 and played[0].interrupted and played[0].heard_text != hours.text
    assert [t.transcript for t in script.of(CallerTurn)] == [HOURS_QUESTION, "Stop."]


@pytest.mark.parametrize("backchannel,language", [
    ("Uh-huh.", "en"), ("Genau.", "de"), ("嗯。", "zh"),
])
async def test_a_backchannel_over_the_answer_pauses_it_and_the_caller_still_hears_all_of_it(
    models, backchannel, language,
):
    async with call_script(models) as script:
        hours = await ask_for_the_hours(script)
        await script.caller_says(backchannel, language, at=0.4, seconds=0.4)
        heard_s = await heard_whole_answer(script, hours)
        assert script.call.cleared_at  # its voice paused the answer and cleared Twilio's line
    assert not script.of(BargeIn)
    false = script.one(FalseInterruption)
    assert (false.kind, false.transcript) == ("backchannel", backchannel)
    assert [t.transcript for t in script.of(CallerTurn)] == [HOURS_QUESTION]  # no turn
    # nothing lost, nothing repeated: what `clear` dropped was played again after the pause
    assert heard_s == pytest.approx(answer_seconds(script, hours.text), abs=0.03)


async def test_a_cough_over_the_answer_does_not_even_pause_it(models):
    async with call_script(models) as script:
        hours = await ask_for_the_hours(script)
        await script.coughs(at=0.4)
        heard_s = await heard_whole_answer(script, hours)
    assert script.call.cleared_at == []  # no pause, no `clear`
    assert not script.of(BargeIn)
    assert all(e.kind == "noise" for e in script.of(FalseInterruption))
    assert len(script.of(CallerTurn)) == 1
    assert heard_s == pytest.approx(answer_seconds(script, hours.text), abs=0.03)


async def test_a_cough_while_the_agent_listens_is_no_turn(models):
    async with call_script(models) as script:
        await script.coughs()
        await script.quiet(0.6)
        await script.caller_says(HOURS_QUESTION)
        await script.agent_answers()
    assert [t.transcript for t in script.of(CallerTurn)] == [HOURS_QUESTION]
    assert len(script.of(BotReply)) == 1


async def test_the_agents_own_voice_echoing_back_from_a_speakerphone_does_not_interrupt(models):
    async with call_script(models, echo_gain=0.1) as script:  # -20 dB, 150 ms late
        hours = await ask_for_the_hours(script)
        await heard_whole_answer(script, hours)
    assert script.call.cleared_at == [] and not script.of(BargeIn)
    assert [t.transcript for t in script.of(CallerTurn)] == [HOURS_QUESTION]


# --- keypad ---

async def test_caller_presses_0_during_the_answer_and_is_handed_to_an_operator(models, kb):
    async with call_script(models) as script:
        hours = await ask_for_the_hours(script)
        await script.press("0", at=0.4)
        transfer = await script.agent_answers()
        played = await script.wait_for(ReplyPlayed, turn=transfer.turn)
    assert script.one(BargeIn).cause == "dtmf"
    assert [(d.digit, d.action) for d in script.of(DtmfPressed)] == [("0", "operator")]
    assert script.one(TransferRequested).reason == "dtmf:0"
    assert transfer.text == kb.pack("en").phrase("transfer")
    assert played[0].heard_text == transfer.text  # the hand-over sentence was heard whole
    cut = [e for e in script.of(ReplyPlayed) if e.turn == hours.turn]
    assert cut[0].interrupted


async def test_caller_presses_2_and_the_call_goes_on_in_spanish(models, kb):
    async with call_script(models) as script:
        await script.press("2")
        switched = await script.agent_answers()
        await script.wait_for(ReplyPlayed, turn=switched.turn)
        await script.caller_says("¿Cuál es su horario?", "es")
        hours = await script.agent_answers()
        await script.wait_for(ReplyPlayed, turn=hours.turn)
    es = kb.pack("es")
    assert [(e.from_language, e.to_language, e.reason) for e in script.of(LanguageSwitched)] == [
        ("en", "es", "dtmf")]
    assert (switched.language, switched.text) == ("es", es.phrase("language_switched"))
    assert (hours.language, hours.text) == ("es", es.answers["opening_hours"])
    assert spoken_in(script, hours) == {"es"}  # spoken with the Spanish voice


async def test_a_short_question_over_the_agents_phrase_interrupts_it_and_is_answered(models, kb):
    async with call_script(models) as script:
        await script.press("2")
        await script.agent_answers()  # "A partir de ahora hablaré en español."
        await script.caller_says("¿Cuál es su horario?", "es", at=0.05, seconds=0.6)
        hours = await script.agent_answers()
        played = await script.wait_for(ReplyPlayed, turn=hours.turn, timeout=5)
    assert script.one(BargeIn).cause == "speech"
    assert hours.text == kb.pack("es").answers["opening_hours"] and not played[0].interrupted


# --- language ---

async def test_caller_asks_in_spanish_where_order_1001_is_and_is_answered_in_spanish(models, kb):
    async with call_script(models) as script:
        await script.caller_says("¿Dónde está mi pedido 1001?", "es", seconds=1.3, sure=0.98)
        reply = await script.agent_answers()
    assert [(e.from_language, e.to_language, e.reason) for e in script.of(LanguageSwitched)] == [
        ("en", "es", "detected")]
    assert reply.language == "es" and "1001" in reply.text
    assert reply.text == kb.order_reply(kb.pack("es"), "1001")


async def test_a_german_caller_saying_one_short_english_okay_is_answered_in_german(models):
    async with call_script(models, language="de") as script:
        await script.caller_says("Okay.", "en", seconds=0.45, sure=0.9)
        reply = await script.agent_answers()
        await script.wait_for(ReplyPlayed, turn=reply.turn)
    assert script.of(LanguageSwitched) == []
    assert reply.language == "de" and spoken_in(script, reply) == {"de"}


async def test_one_unsure_spanish_turn_does_not_switch_an_english_call(models):
    async with call_script(models) as script:
        await script.caller_says("Quiero saber el horario.", "es", seconds=1.4, sure=0.55)
        reply = await script.agent_answers()
    assert script.of(LanguageSwitched) == [] and reply.language == "en"


@pytest.mark.xfail(strict=True, reason="the baseline understanding fills no `language` slot: "
                   "only the fine-tuned model's target-language head does (reported)")
async def test_caller_asks_to_speak_french_and_the_agent_switches_to_french(models, kb):
    async with call_script(models) as script:
        await script.caller_says("Can we speak French?")
        reply = await script.agent_answers()
    assert script.one(IntentDetected).intent == "change_language"
    assert (reply.language, reply.text) == ("fr", kb.pack("fr").phrase("language_switched"))


# --- hand-over, cancellation, goodbye, unclear ---

async def test_caller_asks_for_a_person_and_is_transferred_after_the_hand_over_sentence(
    models, kb,
):
    async with call_script(models) as script:
        await script.caller_says("Can I speak to a person, please?")
        reply = await script.agent_answers()
        played = await script.wait_for(ReplyPlayed, turn=reply.turn)
    transfer = script.one(TransferRequested)
    assert transfer.reason == "speak_to_agent"
    assert reply.text == kb.pack("en").phrase("transfer")
    # call control redirects on this ReplyPlayed: the caller heard the whole sentence first
    assert played[0].heard_text == reply.text and not played[0].interrupted


async def test_cancelling_order_1002_is_confirmed_before_it_happens(models, kb):
    en = kb.pack("en")
    async with call_script(models) as script:
        await script.caller_says("Please cancel order 1002.")
        question = await script.agent_answers()
        await script.wait_for(ReplyPlayed, turn=question.turn)
        await script.caller_says("Yes.", seconds=0.5)
        done = await script.agent_answers()
    assert question.text == en.phrase("cancel_confirm", order_number="1002")
    assert done.text == en.phrase("cancel_done", order_number="1002")


async def test_a_yes_over_a_cut_cancellation_question_cancels_nothing(models, kb):
    en = kb.pack("en")
    async with call_script(models) as script:
        await script.caller_says("Please cancel order 1002.")
        question = await script.agent_answers()
        # the caller talks over the question before its end: they never heard "…1002?"
        await script.caller_says("Yes, yes, go ahead and do it.", at=0.15, seconds=1.1)
        reply = await script.agent_answers()
    assert script.one(BargeIn).cause == "speech"
    cut = [e for e in script.of(ReplyPlayed) if e.turn == question.turn]
    assert cut[0].interrupted and "?" not in cut[0].heard_text
    assert reply.text != en.phrase("cancel_done", order_number="1002")


async def test_caller_says_goodbye_hears_the_whole_farewell_and_the_agent_hangs_up(models, kb):
    async with call_script(models) as script:
        await script.caller_says("Thank you, goodbye.")
        farewell = await script.agent_answers()
        ended = await script.wait_for(CallEnded)
        await script.quiet(0.1)
        assert script.call.closed  # the agent closed the stream
        heard_s = script.call.heard_speech_s(script.answer_started_at() - 0.01)
    assert farewell.text == kb.pack("en").answers["goodbye"]
    assert ended[0].reason == "agent_goodbye"
    assert heard_s == pytest.approx(answer_seconds(script, farewell.text), abs=0.03)
    # (no ReplyPlayed for the farewell: the stream closes as its last mark comes back; reported)


async def test_two_unclear_turns_in_a_row_get_a_rephrase_request_then_a_person(models, kb):
    en = kb.pack("en")
    async with call_script(models) as script:
        await script.caller_says("Purple monkey dishwasher.")
        first = await script.agent_answers()
        await script.caller_says("Kangaroo violin.")
        second = await script.agent_answers()
    assert first.text == en.phrase("fallback")
    assert second.text == en.phrase("transfer")
    assert script.one(TransferRequested).reason
