"""`voice-agent simulate`: a call replayed from WAV files through the same call pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from voice_agent.audio import PHONE_RATE, write_wav
from voice_agent.events import (
    BotReply,
    CallError,
    CallerTurn,
    EventRecorder,
    IntentDetected,
    TurnLatency,
)
from voice_agent.pipeline.factory import CallFactory
from voice_agent.telephony.replay import REPLAY_EDGE, ReplayScript, ReplayTransport


@dataclass
class SimulatedTurn:
    turn: int
    transcript: str
    language: str
    language_probability: float
    intent: str
    confidence: float
    slots: dict
    reply: str
    reply_language: str
    latency_s: float | None
    stt_s: float | None
    bot_audio: str | None


@dataclass
class SimulationResult:
    call_id: str
    turns: list[SimulatedTurn]
    errors: list[str]
    greeting_audio: str | None

    def to_dict(self) -> dict:
        return asdict(self)


async def simulate_call(
    factory: CallFactory, wavs: list[Path], *, realtime: bool = True,
    out_dir: Path | None = None, language: str | None = None,
) -> SimulationResult:
    """Replay caller WAVs as one call; collect per-turn results from the call's events."""
    for wav in wavs:
        if not wav.exists():
            raise FileNotFoundError(f"no such WAV file: {wav}")
    recorder = EventRecorder(factory.bus)
    transport = ReplayTransport(ReplayScript(list(wavs), realtime=realtime))
    call = factory.build(factory.new_call(REPLAY_EDGE, language=language), transport)
    state = call.state
    await factory.run(call)

    def by_turn(kind) -> dict[int, object]:
        return {e.turn: e for e in recorder.of(kind, state.call_id)}

    callers, intents = by_turn(CallerTurn), by_turn(IntentDetected)
    replies, latencies = by_turn(BotReply), by_turn(TurnLatency)
    audio = transport.recording.turn_audio
    written: dict[int, str] = {}
    if out_dir is not None:
        for n, pcm in audio.items():
            path = out_dir / (f"turn{n:02d}_bot.wav" if n else "turn00_greeting.wav")
            write_wav(path, bytes(pcm), PHONE_RATE)
            written[n] = str(path)
    turns = []
    for n in sorted(callers):
        c, i, r, lat = callers[n], intents.get(n), replies.get(n), latencies.get(n)
        turns.append(SimulatedTurn(
            turn=n, transcript=c.transcript, language=c.language,
            language_probability=c.language_probability,
            intent=i.intent if i else "", confidence=i.confidence if i else 0.0,
            slots=i.slots if i else {}, reply=r.text if r else "",
            reply_language=r.language if r else "",
            latency_s=lat.total_s if lat else None, stt_s=lat.stt_s if lat else None,
            bot_audio=written.get(n),
        ))
    errors = [e.message for e in recorder.of(CallError, state.call_id)]
    return SimulationResult(state.call_id, turns, errors, written.get(0))
