"""The model of Twilio's earpiece (voice_agent/testing/earpiece.py), on a hand-driven clock."""

from voice_agent.testing.earpiece import Earpiece


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pcm(seconds: float, value: int = 1) -> bytes:
    return value.to_bytes(2, "little", signed=True) * int(seconds * 8000)


def test_audio_plays_in_order_from_when_it_arrives_with_gaps_when_nothing_is_queued():
    clock = Clock()
    ear = Earpiece(clock=clock)
    assert ear.play(pcm(0.5)) == 100.0
    clock.now = 100.2
    assert ear.play(pcm(0.5)) == 100.5  # queued behind the first piece
    clock.now = 102.0
    assert ear.play(pcm(0.1)) == 102.0  # the line was idle: plays at once
    assert abs(ear.play_end - 102.1) < 1e-9 and abs(ear.unplayed_s() - 0.1) < 1e-9


def test_a_mark_is_due_once_everything_sent_before_it_has_played_and_only_once():
    clock = Clock()
    ear = Earpiece(clock=clock)
    ear.play(pcm(0.4))
    assert abs(ear.mark("t1-s1") - 0.4) < 1e-9
    ear.play(pcm(0.4))
    ear.mark("t1-s2")
    clock.now = 100.3
    assert ear.marks_due() == []
    clock.now = 100.45
    assert ear.marks_due() == ["t1-s1"]
    clock.now = 101.0
    assert ear.marks_due() == ["t1-s2"]
    assert ear.marks_due() == []
    assert ear.mark("idle") == 0.0  # nothing playing: due at once


def test_clear_cuts_the_playing_piece_drops_the_queued_ones_and_returns_every_pending_mark():
    clock = Clock()
    ear = Earpiece(clock=clock)
    ear.play(pcm(0.5, 1))
    ear.mark("a")
    ear.play(pcm(0.5, 2))
    ear.mark("b")
    clock.now = 100.25
    assert ear.clear() == ["a", "b"]
    assert ear.cleared_at == [100.25]
    assert ear.played == [(100.0, pcm(0.25, 1))]  # half of the first piece was heard
    assert ear.heard_audio() == pcm(0.25, 1)
    assert ear.marks_due() == []  # returned by the `clear`: never due again
    clock.now = 100.3
    assert ear.play(pcm(0.1, 3)) == 100.3  # after a clear, new audio plays at once


def test_what_a_microphone_next_to_the_earpiece_picks_up_is_on_its_timeline():
    clock = Clock()
    ear = Earpiece(clock=clock)
    ear.play(pcm(0.1, 5))
    clock.now = 100.3
    ear.play(pcm(0.1, 7))
    window = ear.audio_at(100.05, int(0.3 * 8000) * 2)  # 100.05 … 100.35
    samples = [int.from_bytes(window[i : i + 2], "little", signed=True)
               for i in range(0, len(window), 2)]
    assert samples[:400] == [5] * 400  # the rest of the first piece
    assert set(samples[400:2000]) == {0}  # the gap
    assert samples[2000:] == [7] * 400  # the start of the second
    assert ear.audio_at(99.0, 160) == bytes(160)  # before anything played: silence
