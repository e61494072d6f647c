"""Call events are data: typed, serialisable, and delivered to every subscriber."""

import asyncio

from voice_agent.events import (
    CallerTurn,
    EventBus,
    EventRecorder,
    IntentDetected,
    event_from_json,
)


def test_an_event_survives_a_trip_through_json_with_its_type():
    turn = CallerTurn(call_id="c1", turn=1, transcript="¿Dónde está mi pedido?", language="es",
                      language_probability=0.93, audio_s=2.1, stt_s=0.4)
    back = event_from_json(turn.model_dump_json())
    assert isinstance(back, CallerTurn) and back == turn


async def test_every_subscriber_gets_every_event_and_a_broken_one_harms_nobody():
    bus = EventBus()
    queue = bus.subscribe()
    recorder = EventRecorder(bus)
    bus.on_event(lambda e: 1 / 0)  # a subscriber that always fails
    event = IntentDetected(call_id="c1", turn=1, intent="order_status", confidence=0.9,
                           engine="finetuned", sentiment="neutral")
    bus.publish(event)
    assert await asyncio.wait_for(queue.get(), 1) is event
    assert recorder.of(IntentDetected, "c1") == [event]
