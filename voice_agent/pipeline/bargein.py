"""Barge-in: the caller talking over the bot, told apart from backchannels, noise and echo.

Sits right after the VAD. When the caller starts speaking while the bot's answer plays:
- speech that is the bot's own echo (correlates with what was just played) is ignored — the
  segment never reaches STT;
- a sound without a voice in it (no periodic, pitched audio: a cough, breath, a door, line
  crackle) does not even pause the answer, and its transcript (Whisper makes up words for
  noise) is ignored;
- otherwise the answer is *paused* at once (the playout stops releasing audio; on Twilio the
  line is cleared with it, so the caller hears silence within the network delay), and
  - speech that goes on for `confirm_secs` is a barge-in: an InterruptionFrame is broadcast
    (pipecat cancels the old answer's TTS; the Twilio serializer sends `clear`);
  - a shorter sound waits for its transcript (`BargeInVerdict`, between STT and the dialogue,
    asks `resolve`): a stop word, or words that are not a backchannel and that Whisper was sure
    of, make it a barge-in and the caller's turn; a backchannel ("uh-huh", "genau", "嗯") or no
    words at all resume the answer exactly where it paused — nothing lost — and go no further.
A DTMF key pressed while the bot speaks interrupts at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.config import BargeInSettings
from voice_agent.events import BargeIn, FalseInterruption
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.echo import echo_match
from voice_agent.pipeline.playout import Playout
from voice_agent.pipeline.vad import TimedVADAnalyzer
from voice_agent.pipeline.voicing import VoicingTracker, is_voiced

ECHO_RECHECK_S = 0.1
EARLY_FRAMES, EARLY_VOICED = 5, 3  # early pause: this many of the last frames voiced
EARLY_COOLDOWN_S = 1.0  # after a blip that came to nothing: a hum or a TV cannot stutter the bot
ECHO_BREAK_CHECKS = 2  # rechecks in a row that find no echo: the caller is talking over it
VOICED_NOW_S = 0.1
_WORD = re.compile(r"[\w']+|[\u4e00-\u9fff]", re.UNICODE)


def interrupts(
    text: str, language: str, settings: BargeInSettings, language_probability: float = 1.0,
) -> bool:
    """Does a short sound's transcript interrupt? Whisper turns an "uh-huh" or a cough into a
    stray word ("Ow.", "C") often enough that one unknown word must not stop the agent: it takes
    a stop word ("stop", "espera", "warte", "等等") or `min_words` words beyond backchannels —
    and those only when Whisper was sure of the language (`min_language_probability`): a French
    "D'accord" heard on an English call comes out as "Not all of it." at p ≈ 0.64, an "mm-hmm"
    as "M M M" at ≈ 0.6, real words at ≥ 0.95."""
    if is_backchannel(text, language, settings):
        return False
    said = _norm(text)
    stops = settings.stop_words.get(language, []) + settings.stop_words.get("en", [])
    if any(f" {_norm(w)} " in f" {said} " for w in stops):
        return True
    if language_probability < settings.min_language_probability:
        return False
    options = {_norm(b) for b in settings.backchannels.get(language, [])}
    return len([w for w in said.split() if w not in options]) >= settings.min_words


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))  # D’accord = D'accord


def is_backchannel(text: str, language: str, settings: BargeInSettings) -> bool:
    """A transcript made only of listening noises/acknowledgements ("okay, okay", "嗯")."""
    known = settings.backchannels.get(language, []) + settings.backchannels.get("en", [])
    options = {_norm(b) for b in known}
    parts = [_norm(p) for p in re.split(r"[,.!?;:，。！？、…]+", text)]
    return all(p in options or all(w in options for w in p.split()) for p in parts if p)


class BargeInDetector(FrameProcessor):
    """Right after the VAD: watches the caller's audio while the call's `playout` speaks, pauses
    and resumes it, and interrupts it (see module doc)."""

    def __init__(
        self, *, state: CallState, playout: Playout, settings: BargeInSettings,
        vad_analyzer: TimedVADAnalyzer, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._state = state
        self._playout = playout
        self._s = settings
        self._vad = vad_analyzer
        self._start_secs = vad_analyzer.params.start_secs
        self._inbound: deque[tuple[float, bytes]] = deque(maxlen=100)  # last ~2 s
        self._echo_segment = False
        self._echo_checked_at = 0.0
        self._not_echo_streak = 0
        self._speaking = False
        self._onset: float | None = None  # caller onset of a pending (unconfirmed) interruption
        self._cleared_at: float | None = None  # when its pause cleared the line (Twilio)
        self._resumed = False  # a short sound ended: the answer goes on, verdict still pending
        self._pending_audio_s = 0.0  # audio since the onset of a pending interruption
        self._voicing = VoicingTracker()  # its periodic (voiced) seconds: a voice, not noise
        self._voicing_fed_at = 0.0
        self._in_rate = 16000
        self._paused = False  # this pending sound has paused the answer (it has a voice)
        self._vad_started = False  # the VAD took this pending sound for speech (STT hears it)
        self._recent: deque[tuple[float, bool]] = deque(maxlen=EARLY_FRAMES)  # (at, voiced)
        self._early_echo_at = 0.0  # last echo check of the early pause
        self._early_off_until = 0.0  # no early pause before this (after a blip)
        self._quiet_s = 0.0  # unvoiced audio since its last voiced frame
        self._prev_frame_at = 0.0
        self._timeout: asyncio.Task | None = None

    @property
    def pending(self) -> bool:
        """An answer is paused, waiting to learn whether the caller really interrupted."""
        return self._onset is not None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, InputAudioRawFrame):
                await self._on_audio(frame)
            elif isinstance(frame, VADUserStartedSpeakingFrame):
                if not await self._on_speech_start():
                    return  # the bot's own echo: STT never sees this segment
            elif isinstance(frame, VADUserStoppedSpeakingFrame):
                self._speaking = False
                if self._echo_segment:
                    self._echo_segment = False
                    return
                if self.pending:
                    self._arm_timeout()
            elif isinstance(frame, InputDTMFFrame) and self._playout.speaking():
                await self.interrupt("dtmf", time.monotonic())
        await self.push_frame(frame, direction)

    def _is_echo(self) -> bool:
        now = time.monotonic()
        window = self._s.echo_window_secs
        inbound = b"".join(pcm for at, pcm in self._inbound if at >= now - window)
        since = now - window - self._s.echo_max_delay_secs
        reference = self._playout.reference_audio(since)
        score, level = echo_match(inbound, reference)
        logger.debug(f"{self._state.call_id}: echo correlation {score:.2f} level {level:.2f}")
        return score >= self._s.echo_correlation and level <= self._s.echo_max_level

    async def _on_speech_start(self) -> bool:
        playout = self._playout
        if not self._s.enabled or not playout.recently_spoke(self._s.echo_max_delay_secs):
            self._speaking = True
            return True
        if self._is_echo():
            self._echo_segment = True
            self._not_echo_streak = 0
            self._echo_checked_at = time.monotonic()
            if self.pending and not self._vad_started:  # an early pause on the echo after all
                self._drop_early()
            return False
        self._speaking = True
        if self.pending:
            self._vad_started = True  # an early pause's sound: the onset stays the early one
        elif playout.speaking():
            self._begin(time.monotonic() - self._start_secs)
        return True

    def _begin(self, onset: float, heard_s: float | None = None) -> None:
        if self._onset is None:
            self._onset = onset
            self._resumed = False
            # the VAD heard this much before starting (an early pause: since its onset)
            self._pending_audio_s = self._start_secs if heard_s is None else heard_s
            self._quiet_s = 0.0
            self._paused = False
            self._vad_started = self._speaking
            self._voicing.reset()
            self._voicing_fed_at = onset - 0.02
            self._pause_if_voiced()

    def _pause_if_voiced(self) -> None:
        """Pause once the sound since the onset has a voice in it (the VAD's frames included);
        noise alone never stops the answer."""
        fresh = []  # the frames since the last call, newest first (not the whole ~2 s)
        for at, pcm in reversed(self._inbound):
            if at <= self._voicing_fed_at:
                break
            fresh.append(pcm)
        for pcm in reversed(fresh):
            self._voicing.add(pcm, self._in_rate)
        if self._inbound:
            self._voicing_fed_at = self._inbound[-1][0]
        if not self._paused and self._voicing.voiced_s >= self._s.pause_voiced_secs:
            self._paused = True
            self._pause_playout()

    @property
    def _voiced(self) -> bool:
        """Enough voice in the pending sound for it to be speech at all."""
        return self._voicing.voiced_s >= self._s.min_voiced_secs

    async def _on_audio(self, frame: InputAudioRawFrame) -> None:
        now = time.monotonic()
        last_voiced_at = self._vad.last_voiced_at or 0.0
        # the VAD (just upstream) marked speech while it handled this frame
        voiced = last_voiced_at >= self._prev_frame_at
        self._prev_frame_at = now
        self._in_rate = frame.sample_rate
        self._inbound.append((now, frame.audio))
        if self._echo_segment and now - self._echo_checked_at >= ECHO_RECHECK_S:
            self._echo_checked_at = now
            # only voiced audio that is not echo means the caller talks: the quiet after an
            # echo's last word (the VAD still counting its stop time) is not the caller
            heard = now - last_voiced_at <= VOICED_NOW_S
            caller = heard and not self._is_echo()
            self._not_echo_streak = self._not_echo_streak + 1 if caller else 0
            if self._not_echo_streak >= ECHO_BREAK_CHECKS:  # the caller talks over the echo
                self._echo_segment = False
                self._speaking = True
                await self.push_frame(VADUserStartedSpeakingFrame())
                if self._playout.speaking():
                    self._begin(now - ECHO_RECHECK_S)
        if self.pending:
            await self._follow_pending(len(frame.audio) / 2 / frame.sample_rate, voiced)
        elif self._s.early_pause:
            # the VAD judges 30 ms windows: "speech-like" = one of its windows within ~2 frames
            vad_heard = now - last_voiced_at <= 0.05
            self._pause_early(now, frame, vad_heard)

    def _pause_early(self, now: float, frame: InputAudioRawFrame, vad_heard: bool) -> None:
        """Pause on a voice before the VAD has declared speech (its start takes 0.2–0.5 s):
        `EARLY_VOICED` of the last `EARLY_FRAMES` frames periodic and speech-like to the VAD,
        and not the bot's own echo. The VAD still decides whether it is speech at all: a blip
        it never starts on resumes the answer once quiet (`_follow_pending`)."""
        if (self._speaking or self._echo_segment or now < self._early_off_until
                or not self._playout.speaking()):
            self._recent.clear()
            return
        # the last 40 ms (two periods of a low voice), without copying the ~2 s deque per frame
        last = self._inbound[-1][1]
        window = self._inbound[-2][1] + last if len(self._inbound) > 1 else last
        self._recent.append((now, vad_heard and is_voiced(window, frame.sample_rate)))
        voiced = [at for at, v in self._recent if v]
        if len(voiced) < EARLY_VOICED or now - self._early_echo_at < ECHO_RECHECK_S:
            return
        self._early_echo_at = now
        if self._is_echo():
            return
        self._recent.clear()
        onset = voiced[0] - len(frame.audio) / 2 / frame.sample_rate
        self._begin(onset, heard_s=now - onset)

    def _drop_early(self) -> None:
        """An early pause whose sound the VAD never took for speech (or took for echo): no
        transcript will come to decide it, so it ends here, the answer going on."""
        self._early_off_until = time.monotonic() + EARLY_COOLDOWN_S
        self._false_alarm("", "noise")

    def _false_alarm(self, transcript: str, kind: str) -> None:
        """The pending sound did not interrupt: say so, and let the answer go on."""
        self._onset, self._cleared_at, self._resumed = None, None, False
        self._state.publish(FalseInterruption(
            call_id=self._state.call_id, turn=self._state.turn, transcript=transcript,
            kind=kind,
        ))
        self._resume_playout()

    async def _follow_pending(self, seconds: float, voiced: bool) -> None:
        """Long speech interrupts; a sound that stops early lets the answer go on at once
        (tentatively: its transcript may still turn out to be words, e.g. "stop"). Counted in
        audio time, not wall time: a stalled CPU must not stretch an "mm-hmm" into speech."""
        self._pending_audio_s += seconds
        self._quiet_s = 0.0 if voiced else self._quiet_s + seconds
        self._pause_if_voiced()
        talking = self._quiet_s <= VOICED_NOW_S
        if not (talking or self._vad_started) and self._quiet_s >= self._s.resume_after_secs:
            self._drop_early()  # an early pause on a blip: STT never hears it
            return
        if not self._paused:
            return  # noise so far: the answer plays on (its transcript will not count)
        if (talking and self._speaking and self._voiced
                and self._pending_audio_s >= self._s.confirm_secs):
            await self.interrupt("speech", self._onset)
        elif talking and self._resumed:
            self._resumed = False  # talking again: hold the answer again
            self._pause_playout()
        elif not (talking or self._resumed) and self._quiet_s >= self._s.resume_after_secs:
            self._resumed = True
            self._resume_playout()

    def _pause_playout(self) -> None:
        """Pause (and on Twilio `clear`) the answer; remember when the line was cleared."""
        if self._playout.clears and self._cleared_at is None:
            self._cleared_at = time.monotonic()
        self._playout.pause()

    def _resume_playout(self) -> None:
        self._playout.resume()

    def _arm_timeout(self) -> None:
        if self._timeout is None or self._timeout.done():
            self._timeout = self.create_task(self._resume_after_timeout())

    async def _resume_after_timeout(self) -> None:
        await asyncio.sleep(self._s.resolve_timeout_secs)
        if self.pending:
            await self.resolve("")

    async def interrupt(self, cause: str, onset: float) -> None:
        """The caller did interrupt: clear the line and drop the rest of the answer."""
        cleared = self._cleared_at or time.monotonic()
        self._onset, self._cleared_at = None, None
        self._resumed = False
        await self.broadcast_interruption()
        self._state.publish(BargeIn(
            call_id=self._state.call_id, turn=self._state.turn, cause=cause,
            onset_to_clear_s=round(cleared - onset, 4),
        ))

    async def resolve(
        self, transcript: str, language: str | None = None, language_probability: float = 1.0,
    ) -> bool:
        """The transcript of a pending interruption is in (`language`: the one Whisper wrote it
        in, else the call's). True: it interrupted, the transcript is the caller's turn."""
        if not self.pending:
            return True
        language = language or self._state.language
        if self._voiced and interrupts(transcript, language, self._s, language_probability):
            await self.interrupt("speech", self._onset)
            return True
        heard_words = (self._voiced and transcript.strip()
                       and is_backchannel(transcript, language, self._s))
        self._false_alarm(transcript, "backchannel" if heard_words else "noise")
        return False
