"""Call records: events of a call become rows (SQLite and PostgreSQL), the operator's queries,
intent feedback into training, retention, and a real call through the server."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from storage_fixtures import pg_schema_url
from typer.testing import CliRunner

from voice_agent.config import REPO_ROOT, StorageSettings
from voice_agent.events import (
    BargeIn,
    BotReply,
    CallEnded,
    CallError,
    CallerTurn,
    CallStarted,
    CallStatus,
    CallTransferred,
    EventBus,
    FalseInterruption,
    IntentDetected,
    LanguageSwitched,
    ReplyPlayed,
    TransferRequested,
    TurnLatency,
)
from voice_agent.nlu.feedback import feedback_rows
from voice_agent.nlu.train import intent_only_rows
from voice_agent.redaction import CARD, PHONE
from voice_agent.store import CallStore, StoreWriter
from voice_agent.store.database import resolve_url
from voice_agent.store.retention import purge, retention_loop


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    if request.param == "sqlite":
        s = CallStore.open(StorageSettings(url="sqlite://"))
        yield s
        s.dispose()
        return
    with pg_schema_url() as url:
        s = CallStore.open(StorageSettings(url=url))
        yield s
        s.dispose()


@pytest.fixture
def bus_and_writer(store):
    bus = EventBus()
    writer = StoreWriter(store).attach(bus).start()
    yield bus, writer
    writer.stop()


def play_call(bus: EventBus, call_id: str = "call-a1", started: float | None = None) -> None:
    """A two-turn call as the pipeline publishes it: an order question with a card number said
    by mistake, a barge-in, a switch to Spanish, a hand-over to a human."""
    t0 = started or time.time()

    def at(dt: float) -> dict:
        return {"call_id": call_id, "wall_time": t0 + dt}

    bus.publish(CallStarted(**at(0), transport="twilio", caller="+15551230000",
                            callee="+15559870000", language="en", provider_call_id="CA123"))
    bus.publish(CallerTurn(**at(3), turn=1, transcript="Where is my order 1001? My card is "
                           "4111 1111 1111 1111.", language="en", language_probability=0.97,
                           audio_s=2.4, stt_s=0.31))
    bus.publish(IntentDetected(**at(3.4), turn=1, intent="order_status", confidence=0.93,
                               engine="finetuned", sentiment="neutral"))
    bus.publish(BotReply(**at(3.5), turn=1, text="Order 1001 has shipped.", language="en"))
    bus.publish(TurnLatency(**at(3.9), turn=1, total_s=0.92, vad_s=0.5, stt_s=0.31,
                            dialogue_s=0.05, tts_s=0.06))
    bus.publish(BargeIn(**at(4.2), turn=1, cause="speech", onset_to_clear_s=0.21))
    bus.publish(ReplyPlayed(**at(4.2), turn=1, text="Order 1001 has shipped.",
                            heard_text="Order 1001", interrupted=True))
    bus.publish(LanguageSwitched(**at(5), from_language="en", to_language="es",
                                 reason="request"))
    bus.publish(CallerTurn(**at(8), turn=2, transcript="Quiero hablar con una persona, mi "
                           "número es 612 345 678", language="es", language_probability=0.88,
                           audio_s=2.9, stt_s=0.35))
    bus.publish(IntentDetected(**at(8.3), turn=2, intent="speak_to_agent", confidence=0.81,
                               engine="finetuned", sentiment="negative"))
    bus.publish(BotReply(**at(8.4), turn=2, text="Le paso con una persona.", language="es"))
    bus.publish(FalseInterruption(**at(8.6), turn=2, kind="noise"))
    bus.publish(TransferRequested(**at(8.5), reason="speak_to_agent"))
    bus.publish(CallTransferred(**at(10), reason="speak_to_agent", target="+15550001111",
                                waited_s=1.5, reply_played=True))
    bus.publish(CallError(**at(10.5), message="TTS slow for +15551230000"))
    bus.publish(CallEnded(**at(12), reason="caller_hangup", duration_s=12.0))


def test_a_call_becomes_rows_the_operator_can_read(store, bus_and_writer):
    bus, writer = bus_and_writer
    play_call(bus)
    assert writer.flush() and writer.failed == 0

    call = store.get_call("call-a1")
    assert call is not None
    assert (call.transport, call.caller, call.callee, call.provider_call_id, call.language) == (
        "twilio", "+15551230000", "+15559870000", "CA123", "en")
    assert call.status == "ended" and call.end_reason == "caller_hangup"
    assert call.duration_s == 12.0 and call.ended_at > call.started_at
    assert call.started_at.tzinfo is not None

    first, second = call.turns
    assert first.turn == 1 and first.transcript == f"Where is my order 1001? My card is {CARD}."
    assert (first.intent, first.confidence, first.sentiment) == ("order_status", 0.93, "neutral")
    assert first.reply_text == "Order 1001 has shipped." and first.heard_text == "Order 1001"
    assert first.interrupted and first.language_probability == 0.97
    assert (first.latency_total_s, first.latency_vad_s, first.latency_stt_s,
            first.latency_dialogue_s, first.latency_tts_s) == (0.92, 0.5, 0.31, 0.05, 0.06)
    assert second.language == "es" and second.intent == "speak_to_agent"
    assert second.transcript.endswith(PHONE) and "612" not in second.transcript
    assert not second.interrupted

    assert [(s.from_language, s.to_language, s.reason) for s in call.language_switches] == [
        ("en", "es", "request")]
    assert [(t.reason, t.target, t.waited_s) for t in call.transfers] == [
        ("speak_to_agent", "+15550001111", 1.5)]
    assert [(b.cause, b.false_alarm) for b in call.barge_ins] == [
        ("speech", False), ("noise", True)]
    assert [(e.message, e.fatal) for e in call.errors] == [(f"TTS slow for {PHONE}", False)]

    [summary] = store.list_calls()
    assert summary.id == "call-a1" and summary.turn_count == 2 and summary.transferred


def test_listing_searching_and_live_calls(store, bus_and_writer):
    bus, writer = bus_and_writer
    now = time.time()
    play_call(bus, "call-old", started=now - 600)
    bus.publish(CallStarted(call_id="call-live", transport="sip", caller="+4930123456",
                            language="de", wall_time=now))
    bus.publish(CallerTurn(call_id="call-live", turn=1, transcript="Wo ist meine Bestellung 1003?",
                           language="de", language_probability=0.9, audio_s=2, stt_s=0.3))
    assert writer.flush()

    assert [c.id for c in store.list_calls()] == ["call-live", "call-old"]  # newest first
    assert [c.id for c in store.list_calls(live_only=True)] == ["call-live"]
    assert [c.id for c in store.list_calls(search="bestellung")] == ["call-live"]
    assert [c.id for c in store.list_calls(search="+1555123")] == ["call-old"]
    assert [c.id for c in store.list_calls(search="shipped")] == ["call-old"]  # reply text
    assert [c.id for c in store.list_calls(search="CALL-OLD")] == ["call-old"]
    assert store.list_calls(search="4111") == []  # redacted: never stored
    assert len(store.list_calls(limit=1)) == 1
    assert store.get_call("no-such-call") is None

    # Twilio's status callback (by CallSid) ends a call whose stream never said goodbye
    bus.publish(CallStarted(call_id="call-cb", transport="twilio", language="en",
                            provider_call_id="CAxyz"))
    bus.publish(CallStatus(call_id="CAxyz", status="completed", duration_s=31.0,
                           hung_up_by="caller"))
    assert writer.flush()
    cb = store.get_call("call-cb")
    assert (cb.status, cb.telephony_status, cb.hung_up_by, cb.duration_s) == (
        "ended", "completed", "caller", 31.0)


def test_operator_feedback_is_stored_and_reaches_training(store, bus_and_writer):
    bus, writer = bus_and_writer
    play_call(bus)
    assert writer.flush()

    fb = store.add_feedback("call-a1", 1, "order_status", "ana")
    assert (fb.transcript, fb.language, fb.predicted_intent) == (
        f"Where is my order 1001? My card is {CARD}.", "en", "order_status")
    store.add_feedback("call-a1", 2, "complaint", "ana")
    store.add_feedback("call-a1", 2, "speak_to_agent", "ben")  # a second look: the newest counts
    store.add_feedback("call-x", 4, "opening_hours", "ben", transcript="when are you open",
                       language="en", predicted_intent="greeting")
    with pytest.raises(ValueError, match="unknown intent"):
        store.add_feedback("call-a1", 1, "teleport", "ana")
    with pytest.raises(ValueError, match="no transcript"):
        store.add_feedback("call-a1", 9, "order_status", "ana")

    listed = store.list_feedback()
    assert len(listed) == 4 and listed[0].who == "ben" and listed[0].call_id == "call-x"
    assert [f.turn for f in store.list_feedback(call_id="call-a1")] == [2, 2, 1]

    rows = feedback_rows(listed)
    assert sorted(rows) == sorted([
        (f"Where is my order 1001? My card is {CARD}.", "order_status"),
        ("Quiero hablar con una persona, mi número es [phone]", "speak_to_agent"),
        ("when are you open", "opening_hours"),
    ])
    training = intent_only_rows(per_intent=1, feedback=rows)
    assert all(r in training for r in rows)
    assert len(training) > len(rows)  # the knowledge base's phrases are still there


def test_train_with_feedback_reads_the_configured_store(tmp_path, monkeypatch):
    from voice_agent import cli
    from voice_agent.nlu import train as train_module

    url = f"sqlite:///{tmp_path / 'records.db'}"
    store = CallStore.open(StorageSettings(url=url))
    store.add_feedback("call-1", 1, "cancel_order", "ana", transcript="cancel 1002 please",
                       language="en")
    store.dispose()
    config = tmp_path / "site.yaml"
    config.write_text(f"storage:\n  url: {url}\n")
    seen = {}

    def fake_training(**kwargs):  # the CLI's wiring only; training itself is tested elsewhere
        seen.update(kwargs)
        return train_module.TrainResult(tmp_path, {"feedback_examples": 1}, 0.0)

    monkeypatch.setattr(train_module, "train", fake_training)
    result = CliRunner().invoke(cli.app, ["train", "--with-feedback", "--per-intent", "1",
                                          "--config", str(config), "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 corrected turn(s)" in result.output
    assert seen["feedback"] == [("cancel 1002 please", "cancel_order")]

    refused = CliRunner().invoke(cli.app, ["train", "--with-feedback", "--method", "lora",
                                           "--config", str(config)])
    assert refused.exit_code == 2


def test_a_failing_database_never_breaks_the_call():
    # nothing listens on port 9: every write fails, publishing still returns at once
    store = CallStore.open(StorageSettings(url="postgresql+psycopg://u@127.0.0.1:9/x"),
                           run_migrations=False)
    bus = EventBus()
    writer = StoreWriter(store).attach(bus).start()
    started = time.perf_counter()
    for i in range(200):
        bus.publish(CallerTurn(call_id="c", turn=i, transcript="hello", language="en",
                               language_probability=1.0, audio_s=1, stt_s=0.1))
    assert time.perf_counter() - started < 0.5
    assert writer.flush(timeout=60)
    assert writer.failed == 200 and writer.written == 0
    writer.stop()
    store.dispose()


def test_one_bad_event_costs_only_itself():
    with pg_schema_url() as url:  # PostgreSQL enforces column sizes
        store = CallStore.open(StorageSettings(url=url))
        bus = EventBus()
        writer = StoreWriter(store).attach(bus).start()
        bus.publish(CallStarted(call_id="c1", transport="twilio", language="en"))
        bus.publish(IntentDetected(call_id="c1", turn=1, intent="x" * 200, confidence=0.5,
                                   engine="finetuned"))
        bus.publish(BotReply(call_id="c1", turn=1, text="Hello!", language="en"))
        assert writer.flush()
        writer.stop()
        assert writer.failed == 1
        call = store.get_call("c1")
        assert call.status == "live" and call.turns[0].reply_text == "Hello!"
        store.dispose()


def test_schema_is_migrated_once_and_sqlite_paths_are_from_the_repo(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = CallStore.open(StorageSettings(url=url))
    second = CallStore.open(StorageSettings(url=url))  # another worker: upgrade is a no-op
    with second.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    first.dispose()
    second.dispose()
    assert resolve_url("sqlite:///var/x.db") == f"sqlite:///{REPO_ROOT / 'var' / 'x.db'}"
    assert resolve_url("sqlite://") == "sqlite://"


def test_retention_purges_old_calls_with_their_rows(store, bus_and_writer):
    bus, writer = bus_and_writer
    now = time.time()
    play_call(bus, "call-ancient", started=now - 120 * 86400)
    play_call(bus, "call-recent", started=now - 10 * 86400)
    bus.publish(CallError(call_id="unstarted", message="bad start", wall_time=now - 95 * 86400))
    assert writer.flush()
    store.add_feedback("call-ancient", 1, "order_status", "ana")

    result = purge(store, retention_days=90)
    assert result.calls == 1 and result.deleted["turns"] == 2
    assert result.deleted["errors"] == 2  # the call's error and the unstarted one
    assert [c.id for c in store.list_calls()] == ["call-recent"]
    assert store.get_call("call-ancient") is None
    assert len(store.get_call("call-recent").turns) == 2
    assert len(store.list_feedback()) == 1  # kept by default (redacted training rows)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM turns WHERE call_id = 'call-ancient'")
                            ).scalar() == 0

    later = datetime.now(UTC) + timedelta(days=200)
    result = purge(store, retention_days=90, keep_feedback=False, now=later)
    assert result.calls == 1 and result.deleted["intent_feedback"] == 1
    with pytest.raises(ValueError):
        purge(store, retention_days=0)


async def test_retention_runs_at_start_up_then_daily():
    store = CallStore.open(StorageSettings(url="sqlite://"))
    bus = EventBus()
    writer = StoreWriter(store).attach(bus).start()
    play_call(bus, "call-ancient", started=time.time() - 100 * 86400)
    assert writer.flush()
    task = asyncio.create_task(retention_loop(store, 90, every_s=0.05))
    for _ in range(100):
        if not store.list_calls():
            break
        await asyncio.sleep(0.02)
    assert store.list_calls() == []
    play_call(bus, "call-ancient-2", started=time.time() - 100 * 86400)  # the next round
    assert writer.flush()
    await asyncio.sleep(0.3)
    assert store.list_calls() == []
    task.cancel()
    writer.stop()
    store.dispose()


@pytest.mark.slow
async def test_a_real_call_is_recorded_by_the_server(fresh_resources, tmp_path):
    from voice_agent.server import running_server
    from voice_agent.testing.twilio_line import SimulatedCall

    from conftest import fixture_wav

    res = fresh_resources
    settings = res.settings.model_copy(update={
        "storage": StorageSettings(url=f"sqlite:///{tmp_path / 'calls.db'}")})
    async with running_server(settings, res) as (base, app):
        url = base.replace("http", "ws", 1) + settings.server.media_path
        async with SimulatedCall(url, {"from": "+15551230000"},
                                 auth_token=settings.twilio.auth_token) as call:
            await call.wait_quiet(call.start_sent_at, timeout=10)
            await call.say(fixture_wav("en_order_status_1001"))
            await call.stop()
        store = app.state.store
        for _ in range(200):
            calls = store.list_calls()
            if calls and calls[0].status != "live":
                break
            await asyncio.sleep(0.05)
        [summary] = calls
        detail = store.get_call(summary.id)
    assert summary.caller == "+15551230000" and summary.transport == "twilio"
    assert summary.status == "ended" and summary.provider_call_id == call.call_sid
    [turn] = [t for t in detail.turns if t.transcript]  # turn 0 may hold the greeting played
    assert "1001" in turn.transcript and turn.intent == "order_status"
    assert turn.reply_text and turn.latency_total_s and turn.latency_total_s > 0


def test_the_tables_match_the_migration(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from voice_agent.store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []  # a model change needs a new revision in store/migrations/versions/


async def test_the_server_takes_calls_without_records_when_the_database_is_down(tmp_path):
    from voice_agent.config import load_settings
    from voice_agent.store.service import CallRecords

    down = load_settings(env={}, overrides={"storage": {
        "url": "postgresql+psycopg://u@127.0.0.1:9/x"}})
    assert await CallRecords.start(down, EventBus()) is None  # logged; calls go on
    off = load_settings(env={}, overrides={"storage": {"enabled": False}})
    assert await CallRecords.start(off, EventBus()) is None

    bus = EventBus()
    ok = load_settings(env={}, overrides={"storage": {"url": f"sqlite:///{tmp_path / 'r.db'}"}})
    records = await CallRecords.start(ok, bus)
    play_call(bus, "call-b1")
    await records.stop()  # writes what is queued first
    store = CallStore.open(ok.storage)
    assert store.get_call("call-b1").status == "ended"
    store.dispose()
