"""Per-call language switching: the policy's hysteresis, and scripted calls through the pipeline
(WAV replay and the simulated Twilio client) — the caller asks for Spanish, a German caller says
one English "okay", DTMF 2 picks Spanish."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voice_agent.config import LanguageSettings
from voice_agent.events import BotReply, EventBus, EventRecorder, LanguageSwitched
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.language import LanguagePolicy

from conftest import TEST_AUTH_TOKEN, fixture_wav


@dataclass
class PolicedCallState(CallState):
    """A call's state with its language policy beside it (the call factory keeps the two on
    the `Call`)."""

    language_policy: LanguagePolicy | None = None


def call_in(language: str, **thresholds) -> tuple[PolicedCallState, EventRecorder]:
    bus = EventBus()
    recorder = EventRecorder(bus)
    state = PolicedCallState(bus=bus, language=language,
                             allowed_languages=["en", "es", "fr", "de", "zh"], transport="test")
    state.language_policy = LanguagePolicy(state, LanguageSettings(**thresholds))
    return state, recorder


# --- the policy, turn by turn (no models) ---

def test_one_short_turn_in_another_language_never_switches():
    state, events = call_in("de")
    assert state.language_policy.observe_turn("en", 0.99, audio_s=0.9) is None  # "okay"
    assert state.language_policy.observe_turn("en", 0.99, audio_s=0.8) is None  # "yes"
    assert state.language == "de" and not events.of(LanguageSwitched)


def test_one_unsure_turn_never_switches_even_when_long():
    state, _ = call_in("en")
    assert state.language_policy.observe_turn("es", 0.55, audio_s=4.0) is None
    assert state.language == "en"


def test_two_clear_turns_in_a_row_switch():
    state, events = call_in("en")
    assert state.language_policy.observe_turn("es", 0.75, audio_s=2.0) is None
    assert state.language_policy.observe_turn("es", 0.8, audio_s=1.6) == "es"
    assert state.language == "es"
    switched = events.of(LanguageSwitched)
    assert [(e.from_language, e.to_language, e.reason) for e in switched] == [
        ("en", "es", "detected")]


def test_a_turn_in_the_call_language_breaks_the_streak():
    state, _ = call_in("en")
    state.language_policy.observe_turn("es", 0.75, audio_s=2.0)
    state.language_policy.observe_turn("en", 0.95, audio_s=2.0)
    assert state.language_policy.observe_turn("es", 0.75, audio_s=2.0) is None
    assert state.language == "en"


def test_a_short_turn_neither_counts_nor_breaks_the_streak():
    state, _ = call_in("en")
    state.language_policy.observe_turn("fr", 0.8, audio_s=2.0)
    state.language_policy.observe_turn("en", 0.99, audio_s=0.7)  # "ok"
    assert state.language_policy.observe_turn("fr", 0.8, audio_s=2.0) == "fr"


def test_one_long_confident_turn_switches_at_once():
    state, events = call_in("en")
    assert state.language_policy.observe_turn("de", 0.92, audio_s=4.1) == "de"
    assert events.of(LanguageSwitched)[0].reason == "detected"


def test_thresholds_come_from_config():
    state, _ = call_in("en", switch_consecutive_turns=3, switch_single_turn_min_probability=0.99)
    for _ in range(2):
        assert state.language_policy.observe_turn("es", 0.9, audio_s=3.0) is None
    assert state.language_policy.observe_turn("es", 0.9, audio_s=3.0) == "es"


def test_an_explicit_switch_is_immediate_and_validated():
    state, events = call_in("en")
    assert state.language_policy.switch("es", "dtmf") is True
    assert state.language_policy.switch("es", "request") is False  # already there: no event
    assert [e.reason for e in events.of(LanguageSwitched)] == ["dtmf"]
    with pytest.raises(ValueError, match="not allowed"):
        state.language_policy.switch("ja", "dtmf")
    with pytest.raises(ValueError, match="reason"):
        state.language_policy.switch("fr", "whim")


def test_whisper_is_hinted_toward_the_call_language():
    from voice_agent.pipeline.whisper_turn import restrict_language_probs

    state, _ = call_in("es")
    prior = state.language_policy.decode_prior()
    probs = restrict_language_probs([("<|en|>", 0.5), ("<|es|>", 0.3)], state.allowed_languages)
    assert max(probs, key=lambda lang: probs[lang] * prior.get(lang, 1.0)) == "es"
    probs = restrict_language_probs([("<|en|>", 0.95), ("<|es|>", 0.02)], state.allowed_languages)
    assert max(probs, key=lambda lang: probs[lang] * prior.get(lang, 1.0)) == "en"


def test_a_call_to_a_configured_number_starts_in_its_language():
    from voice_agent.config import load_settings
    from voice_agent.events import EventBus as Bus
    from voice_agent.pipeline.factory import CallFactory
    from voice_agent.pipeline.shared_models import SharedModels
    from voice_agent.telephony.twilio.session import TWILIO_EDGE

    settings = load_settings(env={}, overrides={"languages": {"by_number": {"+34911000000": "es"}}})
    models = SharedModels(settings=settings, registry=None, kb=None,  # type: ignore
                          understander=None, synthesizer=None)  # type: ignore
    res = CallFactory.around(models, Bus())
    assert res.new_call(TWILIO_EDGE, callee="+34911000000").state.language == "es"
    assert res.new_call(TWILIO_EDGE, language="fr", callee="+34911000000").state.language == "fr"
    assert res.new_call(TWILIO_EDGE, callee="+15550002222").state.language == "en"
    assert res.new_call(TWILIO_EDGE).language_policy.language == "en"


# --- scripted calls through the real pipeline (Whisper, the fine-tuned model, voices) ---

def replies_and_switches(events: EventRecorder, call_id: str):
    replies = [(e.turn, e.language, e.text) for e in events.of(BotReply, call_id)]
    switches = [(e.from_language, e.to_language, e.reason)
                for e in events.of(LanguageSwitched, call_id)]
    return replies, switches


@pytest.mark.slow
async def test_english_caller_asks_to_continue_in_spanish_and_gets_spanish_answers(
    fresh_resources,
):
    from voice_agent.simulate import simulate_call

    res = fresh_resources
    events = EventRecorder(res.bus)
    wavs = [fixture_wav(i) for i in ("en_opening_hours", "en_continue_in_spanish", "es_return")]
    result = await simulate_call(res, wavs, realtime=False)
    assert not result.errors
    replies, switches = replies_and_switches(events, result.call_id)
    assert [t.intent for t in result.turns] == ["opening_hours", "change_language",
                                                "return_refund"]
    assert switches == [("en", "es", "request")]
    es = res.models.kb.pack("es")
    assert replies[0][1] == "en"
    assert replies[1][1:] == ("es", es.phrase("language_switched"))
    assert replies[2][1:] == ("es", es.answers["return_refund"])


@pytest.mark.slow
async def test_a_german_call_stays_german_through_one_english_okay(fresh_resources):
    from voice_agent.simulate import simulate_call

    res = fresh_resources
    events = EventRecorder(res.bus)
    wavs = [fixture_wav(i) for i in ("de_order_status", "en_okay", "de_return")]
    result = await simulate_call(res, wavs, realtime=False, language="de")
    assert not result.errors
    replies, switches = replies_and_switches(events, result.call_id)
    assert [t.language for t in result.turns] == ["de", "en", "de"]  # "okay" was heard as English
    assert switches == []
    assert [lang for _, lang, _ in replies] == ["de", "de", "de"]
    assert replies[2][2] in res.models.kb.pack("de").answers.values()  # answered from the German KB


@pytest.mark.slow
async def test_dtmf_2_switches_a_twilio_call_to_spanish(fresh_resources):
    from voice_agent.server import running_server
    from voice_agent.testing.twilio_line import SimulatedCall

    res = fresh_resources
    assert res.settings.dtmf.actions["2"] == "language:es"
    events = EventRecorder(res.bus)
    async with running_server(res.settings, res) as (base, _):
        url = base.replace("http", "ws", 1) + "/media"
        async with SimulatedCall(url, auth_token=TEST_AUTH_TOKEN) as call:
            assert await call.wait_quiet(call.start_sent_at, timeout=15)
            await call.send_dtmf("2")
            switched = await events.wait_for(LanguageSwitched, timeout=10)
            call_id = switched[0].call_id
            assert (switched[0].from_language, switched[0].to_language) == ("en", "es")
            assert switched[0].reason == "dtmf"
            await call.wait_quiet(call.start_sent_at, timeout=15)
            turn = await call.say(fixture_wav("es_opening_hours"))
            assert turn.agent_audio_s > 1.0
            await call.stop()
    replies, switches = replies_and_switches(events, call_id)
    es = res.models.kb.pack("es")
    assert replies[0][1:] == ("es", es.phrase("language_switched"))
    assert replies[-1][1:] == ("es", es.answers["opening_hours"])
    assert switches == [("en", "es", "dtmf")]


@pytest.mark.slow
async def test_after_a_switch_the_new_language_speaks_with_its_own_coqui_voice(
    fresh_resources, tmp_path,
):
    """Spanish is voiced by Coqui (a tiny random-weight VITS): nothing loads it while the call
    is English; the Spanish answers after the request are synthesised through it."""
    import dataclasses

    from voice_agent.audio import is_silent
    from voice_agent.config import VoiceSettings
    from voice_agent.pipeline.factory import CallFactory
    from voice_agent.speech import Synthesizer
    from voice_agent.tts_engines.tiny_vits import build_tiny_vits

    folder = build_tiny_vits(tmp_path / "tiny-vits-es")
    tts = fresh_resources.settings.tts.model_copy(deep=True)
    tts.voices["es"] = VoiceSettings(engine="coqui", voice=str(folder))
    models = dataclasses.replace(fresh_resources.models,
                                 synthesizer=Synthesizer(tts, fresh_resources.models.registry))
    res = CallFactory.around(models, fresh_resources.bus)
    res.models.greeting_audio("en")  # as the server's warm-up does
    coqui_loaded = lambda: any(str(folder) in key for key in res.models.registry.loaded())  # noqa: E731
    assert not coqui_loaded()

    from voice_agent.simulate import simulate_call

    events = EventRecorder(res.bus)
    wavs = [fixture_wav("en_continue_in_spanish"), fixture_wav("es_return")]
    result = await simulate_call(res, wavs, realtime=False, out_dir=tmp_path / "out")
    replies, switches = replies_and_switches(events, result.call_id)
    assert switches == [("en", "es", "request")]
    assert [lang for _, lang, _ in replies] == ["es", "es"]
    assert coqui_loaded()  # the Spanish voice was Coqui's
    from voice_agent.audio import read_wav

    for turn in result.turns:
        audio, rate = read_wav(turn.bot_audio)
        assert rate == 8000 and not is_silent(audio)


def test_a_clear_first_answer_to_the_greeting_in_another_language_switches_at_once():
    state, events = call_in("en")  # greeted in English; the caller answers in Spanish
    assert state.language_policy.observe_turn("es", 0.98, audio_s=1.8) == "es"
    later, _ = call_in("en")
    later.language_policy.observe_turn("en", 0.99, audio_s=2.0)
    assert later.language_policy.observe_turn("es", 0.98, audio_s=1.8) is None  # not the first
