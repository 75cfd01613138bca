import numpy as np

from kelly_hf import musical_emotion as me


def _scale(tonic, minor, reps=8):
    steps = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    pitch = np.array([60 + tonic + s for s in steps] * reps + [60 + tonic] * reps)
    start = np.arange(pitch.size) * 0.25
    return pitch, start, start + 0.25


def test_key_finding_on_scales():
    for tonic in (0, 2, 7, 9):
        for minor in (False, True):
            pitch, start, end = _scale(tonic, minor)
            t, m, score = me.key_of(me.pitch_class_profile(pitch, end - start))
            assert (t, m) == (tonic, minor)
            assert (score < 0) == minor


def test_major_and_fast_reads_happier_and_more_aroused():
    pitch, start, end = _scale(0, False)
    happy = me.estimate(pitch, np.full(pitch.size, 100), start, end, tempo_bpm=150, duration_s=end[-1])
    pitch, start, end = _scale(9, True)
    sad = me.estimate(pitch, np.full(pitch.size, 50), start * 3, end * 3, tempo_bpm=70, duration_s=end[-1] * 3)
    assert happy.valence > 0.3 > -0.3 > sad.valence
    assert happy.arousal > sad.arousal
    assert -1 <= sad.valence <= 1 and 0 <= sad.arousal <= 1


def test_no_notes_is_neutral_and_deterministic():
    assert me.estimate([], [], [], [], 120, 10) == me.Estimate(0.0, 0.5, -1, False, 0.0)
    pitch, start, end = _scale(4, False)
    a = me.estimate(pitch, np.full(pitch.size, 80), start, end, 120, end[-1])
    assert a == me.estimate(pitch, np.full(pitch.size, 80), start, end, 120, end[-1])
