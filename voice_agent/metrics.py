"""Prometheus metrics at GET /metrics, fed from this process's call events.

Each worker counts its own calls (with a Redis bus, events from other workers are not counted
again); Prometheus scrapes every worker and sums. A registry per app, so several apps in one
process (tests) never collide.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from voice_agent.events import (
    BargeIn,
    CallEnded,
    CallError,
    CallerTurn,
    CallEvent,
    CallStarted,
    EventBus,
    LanguageSwitched,
    TransferRequested,
    TurnLatency,
)

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)


class CallMetrics:
    """Prometheus metrics of one process, from its call events. `live_calls`: the process's
    call registry's count (the server passes it, so the gauge and admission agree); without
    it the gauge follows the call_started/call_ended events (an exporter that only has a bus)."""

    def __init__(self, live_calls: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("voice_agent_active_calls", "Calls in progress", registry=r)
        if live_calls is not None:
            self.active_calls.set_function(live_calls)
        self._live_from_events = live_calls is None
        self.calls = Counter("voice_agent_calls", "Calls started", ["transport"], registry=r)
        self.calls_ended = Counter("voice_agent_calls_ended", "Calls ended", ["reason"],
                                   registry=r)
        self.turns = Counter("voice_agent_caller_turns", "Caller turns transcribed",
                             ["language"], registry=r)
        self.turn_latency = Histogram(
            "voice_agent_turn_latency_seconds",
            "End of caller speech to first bot audio", buckets=LATENCY_BUCKETS, registry=r)
        self.barge_ins = Counter("voice_agent_barge_ins", "Caller interrupted the bot", ["cause"],
                                 registry=r)
        self.transfers = Counter("voice_agent_transfers", "Hand-overs to a human requested",
                                 registry=r)
        self.language_switches = Counter(
            "voice_agent_language_switches", "Language switches within a call",
            ["from_language", "to_language"], registry=r)
        self.errors = Counter("voice_agent_call_errors", "Call errors", ["fatal"], registry=r)
        self._live: set[str] = set()

    def attach(self, bus: EventBus) -> CallMetrics:
        bus.local.on_event(self.observe)
        if bus.spans_processes:  # how much this worker hears from the others
            self.add_gauge("voice_agent_bus_remote_events", "Events received from other workers",
                           lambda: bus.received)
        return self

    def add_gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A gauge read at each scrape: how another part (the call records) reports its counts
        without this module knowing it."""
        Gauge(name, doc, registry=self.registry).set_function(read)

    def observe(self, event: CallEvent) -> None:
        match event:
            case CallStarted():
                self._live.add(event.call_id)
                self.calls.labels(event.transport).inc()
            case CallEnded():
                self._live.discard(event.call_id)
                self.calls_ended.labels(event.reason).inc()
            case CallerTurn():
                self.turns.labels(event.language).inc()
            case TurnLatency():
                self.turn_latency.observe(event.total_s)
            case BargeIn():
                self.barge_ins.labels(event.cause).inc()
            case TransferRequested():
                self.transfers.inc()
            case LanguageSwitched():
                self.language_switches.labels(event.from_language, event.to_language).inc()
            case CallError():
                self.errors.labels(str(event.fatal).lower()).inc()
        if self._live_from_events:
            self.active_calls.set(len(self._live))

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
