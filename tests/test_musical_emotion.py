"""kelly-emotion-v2: the features, the variants, estimate_file, the fit, EMOPIA and the synthetic corpora."""

import csv
import glob
import importlib.util
import json
import os

import numpy as np
import pytest
from scipy.stats import spearmanr

from kelly_hf import chords, emopia, groove, harmony, lakh, maestro, synthetic
from kelly_hf import musical_emotion as me
from kelly_hf.midi import MidiError, read_notes, read_pitched
from kelly_hf.synthetic import maestro as synthetic_maestro

from conftest import FIXTURES, REPO

EMOPIA = FIXTURES / "emopia"


def _scale(tonic, minor, reps=8, step=0.25):
    steps = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    pitch = np.array([60 + tonic + s for s in steps] * reps + [60 + tonic] * reps)
    return pitch, np.arange(pitch.size) * step


def test_key_finding_on_scales():
    for tonic in (0, 2, 7, 9):
        for minor in (False, True):
            pitch, _ = _scale(tonic, minor)
            r = me.key_correlations(np.bincount(pitch % 12, minlength=12)[None])[0]
            assert int(np.argmax(r)) == tonic + 12 * minor and r.max() > 0.7
            mode = me.window_features(pitch, np.arange(pitch.size), [0.0], [pitch.size])[0, me.FEATURES.index("mode")]
            assert (mode < 0) == minor
    assert not me.key_correlations(np.zeros((1, 12))).any()


def test_major_loud_and_busy_reads_happier_and_more_aroused():
    pitch, start = _scale(0, False, step=0.125)
    happy = me.estimate(pitch, start, start[-1] + 0.125, velocity=np.full(pitch.size, 100))
    pitch, start = _scale(9, True, step=0.75)
    sad = me.estimate(pitch, start, start[-1] + 0.75, velocity=np.full(pitch.size, 45))
    assert happy.valence > 0.3 and sad.valence < -0.3
    assert happy.arousal > 0.8 > 0.2 > sad.arousal


def test_no_notes_is_neutral_variants_and_errors():
    assert me.estimate([], [], 10.0, velocity=[]) == me.Estimate(0.0, 0.5)
    pitch, start = _scale(4, False)
    for variant in me.VARIANTS:
        est = me.estimate(pitch, start, 20.0, velocity=np.full(pitch.size, 80), variant=variant)
        assert est == me.estimate(pitch, start, 20.0, velocity=np.full(pitch.size, 80), variant=variant)
        assert (est.valence == 0.0) == (me.VARIANTS[variant][0] is None)
        assert (est.arousal == 0.5) == (me.VARIANTS[variant][1] is None)
    with pytest.raises(ValueError, match="needs velocities"):
        me.estimate(pitch, start, 20.0)
    with pytest.raises(ValueError, match="unknown variant"):
        me.estimate(pitch, start, 20.0, variant="tempo")
    # the rhythm variant never looks at pitch
    drums, tonal = (me.estimate(p, start, 20.0, variant="rhythm") for p in (np.full(pitch.size, 38), pitch))
    assert (drums.valence, drums.arousal) == (tonal.valence, tonal.arousal)


def test_outputs_in_range_on_random_notes():
    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(1, 400))
        pitch = rng.integers(0, 128, n)
        start = np.sort(rng.uniform(0, rng.uniform(0.1, 120), n))
        velocity = rng.integers(1, 128, n)
        for variant in me.VARIANTS:
            est = me.estimate(pitch, start, float(start.max()) + 0.1, velocity=velocity, variant=variant)
            assert -1 <= est.valence <= 1 and 0 <= est.arousal <= 1
            assert np.isfinite([est.valence, est.arousal]).all()


def test_per_window_features_are_those_of_each_window_alone():
    """MAESTRO's vectorised windows give what one window over the same notes gives."""
    rng = np.random.default_rng(1)
    start = np.sort(rng.choice(np.arange(0, 60, 0.1), 400))      # chords: equal onsets, 100 ms apart otherwise
    pitch = rng.integers(36, 96, start.size)
    velocity = rng.integers(20, 120, start.size)
    duration = rng.uniform(0.05, 3.0, start.size)
    starts, ends = maestro.windows(float(start.max()) + 0.5, "segments")
    together = me.window_features(pitch, start, starts, ends, velocity, duration=duration)
    assert np.isfinite(together).all()
    for i, (a, b) in enumerate(zip(starts, ends)):
        inside = (start >= a) & ((start < b) if i < len(starts) - 1 else True)
        alone = me.window_features(pitch[inside], start[inside] - a, [0.0], [b - a], velocity[inside],
                                   duration=duration[inside])
        assert np.allclose(together[i], alone[0], rtol=1e-9, atol=1e-12), i
    without = me.window_features(pitch, start, starts, ends)
    assert np.isnan(without[:, [me.FEATURES.index("velocity"), me.FEATURES.index("duration")]]).all()


def test_triads_feature_on_known_chords():
    # C major, then A minor over A in the bass, then C E G A over C (C major: the bass-rooted triad)
    pitch = [60, 64, 67, 45, 60, 64, 69, 48, 64, 67, 69]
    start = [0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert me.triads(pitch, start).tolist() == [0, 12 + 9, 0]
    x = me.window_features(pitch, start, [0.0], [6.0])[0]
    assert x[me.FEATURES.index("triads")] == pytest.approx((2 - 1) / (2 + 1 + 1))
    assert x[me.FEATURES.index("note_rate")] == pytest.approx(np.log2(1 + 11 / 6))
    assert x[me.FEATURES.index("onset_rate")] == pytest.approx(np.log2(1 + 3 / 6))
    assert x[me.FEATURES.index("ioi")] == pytest.approx(1.0)          # log2 of the median IOI, 2 s


def test_candidate_features_on_known_notes():
    # onsets: C E G (C major over C), A C E (A minor over A), B F (a tritone), C# D (a minor second), then a
    # melody of single notes in the top line 74 72 71 72
    pitch = [60, 64, 67, 57, 60, 64, 59, 65, 61, 62, 74, 72, 71, 72]
    start = [0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 8.0, 8.5, 9.0, 9.5]
    x = dict(zip(me.FEATURES, me.window_features(pitch, start, [0.0], [10.0], duration=np.full(14, 0.25))[0]))
    assert x["register"] == pytest.approx(np.mean(pitch))
    pcs = np.bincount(np.array(pitch) % 12, minlength=12) / len(pitch)
    assert x["entropy"] == pytest.approx(-(pcs[pcs > 0] * np.log2(pcs[pcs > 0])).sum())
    assert x["dissonance"] == pytest.approx(2 / (3 + 3 + 1 + 1))          # tritone + minor second of 8 pairs
    # frames (2 s): major third over C, minor over A, none over B (B F), none over C# (C# D), minor over
    # B (D C B C: D is a minor third above B)
    assert x["thirds"] == pytest.approx((1 - 2) / (1 + 2 + 1))
    top = np.array([67, 64, 65, 62, 74, 72, 71, 72])
    assert x["top_step"] == pytest.approx(np.abs(np.diff(top)).mean())
    assert x["top_descent"] == pytest.approx(np.mean(np.diff(top) < 0))
    assert x["duration"] == pytest.approx(-2.0)
    assert x["mode_x_rate"] == pytest.approx(x["mode"] * x["note_rate"])
    assert me.window_features([60], [0.0], [0.0], [1.0])[0, me.FEATURES.index("top_descent")] == 0.5
    # every pitch class, equally often: the most entropy; a pitch transposed by octaves changes only the register
    chromatic = me.window_features(np.arange(60, 72), np.arange(12.0), [0.0], [12.0])[0]
    assert chromatic[me.FEATURES.index("entropy")] == pytest.approx(np.log2(12))
    up = me.window_features(np.array(pitch) + 12, start, [0.0], [10.0])[0]
    same = [f != "register" for f in me.FEATURES]
    assert np.allclose(up[same], me.window_features(pitch, start, [0.0], [10.0])[0][same], equal_nan=True)


def test_interval_classes_of_every_pitch_class_set():
    for bits in range(4096):
        pcs = [i for i in range(12) if bits >> i & 1]
        found = np.zeros(7, np.int64)
        for i, a in enumerate(pcs):
            for b in pcs[i + 1:]:
                found[min((b - a) % 12, (a - b) % 12)] += 1
        assert np.array_equal(me._INTERVAL_CLASSES[bits], found), bits


# -- estimate_file --------------------------------------------------------------------

def test_triad_table_of_every_pitch_class_set_and_bass():
    major = [{r, (r + 4) % 12, (r + 7) % 12} for r in range(12)]
    minor = [{r, (r + 3) % 12, (r + 7) % 12} for r in range(12)]
    for bits in range(4096):
        pcs = {i for i in range(12) if bits >> i & 1}
        held = [t for t, triad in enumerate(major + minor) if triad <= pcs]
        for bass in range(12):
            rooted = [t for t in held if t % 12 == bass]
            expected = rooted[0] if rooted else held[0] if held else -1
            assert me._TRIAD_TABLE[bits, bass] == expected, (bits, bass)



def test_estimate_file_on_paths_bytes_and_broken_files(fixtures):
    path = fixtures / "emopia" / "midis" / "Q1_0vLPYiPN7qY_0.mid"
    est = me.estimate_file(path)
    assert me.estimate_file(path.read_bytes()) == est == me.estimate_file(str(path))
    p = read_pitched(path)
    assert est == me.estimate(p.pitch, p.start, float(p.end.max()), velocity=p.velocity)
    assert me.estimate_file(path, variant="content") == me.estimate(p.pitch, p.start, float(p.end.max()),
                                                                     variant="content")
    broken = fixtures / "odd_midi" / "jazz-soft" / "midi" / "test-not-a-midi-file.mid"
    with pytest.raises(MidiError, match="not a MIDI file") as exc:
        me.estimate_file(broken)
    assert exc.value.source == str(broken) and str(broken) in str(exc.value)
    with pytest.raises(MidiError) as exc:
        me.estimate_file(broken.read_bytes(), name="upload.mid")
    assert exc.value.source == "upload.mid"
    with pytest.raises(MidiError, match="cannot open file"):
        me.estimate_file(fixtures / "no-such-file.mid")
    empty = fixtures / "odd_midi" / "jazz-soft" / "midi" / "test-empty.mid"
    assert me.estimate_file(empty) == me.Estimate(0.0, 0.5)


# -- the fit and the measurement ------------------------------------------------------


def _fit_script():
    spec = importlib.util.spec_from_file_location("fit_emotion", REPO / "scripts" / "fit_emotion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def emopia_clips():
    if not EMOPIA.is_dir():
        pytest.fail(f"the EMOPIA fixture is missing: expected {EMOPIA}")
    return emopia.load(EMOPIA)


def test_coefficients_in_the_code_are_what_the_fit_script_computes(emopia_clips):
    fit = _fit_script()
    heads, rows = fit.fit([c for c in emopia_clips if c.split != "test"], alternatives=False)
    assert set(heads) == set(me.HEADS) == {h for pair in me.VARIANTS.values() for h in pair if h}
    for name, head in heads.items():
        shipped = me.HEADS[name]
        assert (head.features, head.c) == (shipped.features, shipped.c), name
        for field in ("mean", "scale", "coef", "intercept"):
            assert np.allclose(getattr(head, field), getattr(shipped, field), rtol=1e-5, atol=1e-7), (name, field)
    assert [r[4] for r in rows] == list(me.HEADS) and all(0.7 < r[3] < 1 for r in rows)
    with pytest.raises(AssertionError, match="never sees the test split"):
        fit.fit(emopia_clips[-3:], alternatives=False)


def _test_split_accuracy(emopia_clips) -> tuple[float, float, float]:
    test = [c for c in emopia_clips if c.split == "test"]
    assert len(test) == 86 and not {c.song for c in test} & {c.song for c in emopia_clips if c.split != "test"}
    found = [me.estimate_file(EMOPIA / "midis" / f"{c.name}.mid") for c in test]
    return emopia.accuracy(test, [e.valence > 0 for e in found], [e.arousal > 0.5 for e in found])


def test_selection_rule_forward_path_and_one_standard_error():
    """The declared rule: the forward path adds the most useful feature first, and the chosen set is the
    smallest within one SE of the best, not the best."""
    fit = _fit_script()
    rng = np.random.default_rng(3)
    n = 600
    x = rng.normal(size=(n, len(me.FEATURES)))
    strong, weak = me.FEATURES.index("register"), me.FEATURES.index("entropy")
    y = 2.0 * x[:, strong] + 0.15 * x[:, weak] + rng.logistic(size=n) > 0
    songs = np.repeat(np.arange(n // 3), 3)
    pools = {"a": ("mode", "entropy", "register", "dissonance")}
    (path, pick), = fit.select_valence(x, y, songs, pools).values()
    assert [step[0] for step in path][:1] == [("register",)] and len(path) == 4
    assert all(len(step[0]) == i + 1 and 0 < step[3] < 0.05 for i, step in enumerate(path))
    best = int(np.argmax([step[2] for step in path]))
    assert pick == fit.one_standard_error(path) == 0 and path[0][2] >= path[best][2] - path[best][3]
    # a toy path: the best is the third set, the second is within its SE, the first is not
    toy = [(("a",), 1.0, 0.70, 0.01), (("a", "b"), 1.0, 0.755, 0.01), (("a", "b", "c"), 1.0, 0.76, 0.01)]
    assert fit.one_standard_error(toy) == 1


def test_accuracy_on_the_emopia_test_split(emopia_clips):
    """The figures of docs/BENCHMARKS.md (benchmarks/bench_emotion.py): v2 against the EMOPIA
    paper's logistic regression (.581 / .849 / .651) and the v1 rule (.570 / .849 / .709)."""
    four, arousal, valence = _test_split_accuracy(emopia_clips)
    assert (round(four, 3), round(arousal, 3), round(valence, 3)) == (0.581, 0.872, 0.686)
    assert four >= 0.581 and arousal > 0.849 and valence > 0.651      # the paper's logistic regression (4Q: equal)
    assert four > 0.570 and arousal > 0.849                           # v1 (its valence .709 is two clips more)


@pytest.mark.xfail(strict=True, reason="issue 12's target is not met: valence .686 < v1's .709, 4Q .581 = the "
                                       "paper's logistic regression (docs/EMOTION.md)")
def test_issue_target_above_v1_and_the_logistic_regression_on_all_three(emopia_clips):
    four, arousal, valence = _test_split_accuracy(emopia_clips)
    assert four > 0.581 and arousal > 0.849 and valence > 0.709


def test_v2_beats_v1_out_of_fold_on_train_and_val(emopia_clips):
    fit = _fit_script()
    seen = [c for c in emopia_clips if c.split != "test"]
    heads = {name: me.HEADS[name] for name in ("valence", "arousal/performance")}
    four, arousal, valence = emopia.accuracy(seen, *fit.cross_validated(seen, heads))
    assert four > 0.67 and arousal > 0.9 and valence > 0.75      # .678 / .904 / .754; v1 .577 / .830 / .706


# -- synthetic corpora: the emotion they were written with is what v2 reads back -----------


def test_synthetic_lakh_emotion_is_recovered(tmp_path):
    root = synthetic.write("lakh", tmp_path, n=60)
    with open(os.path.join(root, "emotion_labels.json"), encoding="utf-8") as f:
        labels = json.load(f)
    truth, found = [], []
    for path in sorted(glob.glob(os.path.join(root, "lmd_full", "*", "*.mid"))):
        row = lakh.summarize(read_pitched(path))       # the estimate Lakh's builder makes without labels
        truth.append(labels[os.path.basename(path)[:-4]])
        found.append((row["valence"], row["arousal"]))
    tv, ta = np.array([[t["valence"], t["arousal"]] for t in truth]).T
    v, a = np.array(found).T
    assert spearmanr(v, tv)[0] > 0.6 and np.mean((v > 0) == (tv > 0)) > 0.85
    assert spearmanr(a, ta)[0] > 0.9


def test_synthetic_maestro_emotion_is_recovered_per_window():
    truth, found = [], []
    for emotion_at, notes, _ in synthetic_maestro.pieces(10):
        start = np.array([n[0] for n in notes])
        pitch = np.clip(np.round([n[2] for n in notes]), 21, 108).astype(np.int64)
        starts, ends = maestro.windows(max(n[1] for n in notes), "segments")
        v, a = me.estimate_windows(pitch, start, starts, ends, "content")   # the builder's context
        truth += [emotion_at((s + e) / 2) for s, e in zip(starts, ends)]
        found += list(zip(v, a))
    (tv, ta), (v, a) = np.array(truth).T, np.array(found).T
    assert len(v) > 50
    assert spearmanr(v, tv)[0] > 0.6 and np.mean((v > 0) == (tv >= 0)) > 0.85
    assert spearmanr(a, ta)[0] > 0.85


def test_synthetic_groove_arousal_is_recovered(tmp_path):
    root = synthetic.write("groove", tmp_path, n=40)
    with open(os.path.join(root, "info.csv"), newline="", encoding="utf-8") as f:
        style = {r["midi_filename"]: r["style"] for r in csv.DictReader(f)}
    with open(os.path.join(root, "emotion_labels.csv"), newline="", encoding="utf-8") as f:
        labels = {r["midi_filename"]: (float(r["valence"]), float(r["arousal"])) for r in csv.DictReader(f)}
    truth, found = [], []
    for name, label in labels.items():
        m = read_notes(os.path.join(root, name))
        v, a = groove.estimate(np.sort(m.notes["start"]), 60 / m.tempo_bpm / 4, [0.0], [m.notes["end"].max()],
                               groove.style_parts(style[name])[0])
        truth.append(label)
        found.append((v[0], a[0]))
    (tv, ta), (v, a) = np.array(truth).T, np.array(found).T
    assert spearmanr(a, ta)[0] > 0.8
    assert spearmanr(v, tv)[0] > 0.6     # the style prior the generator chose the style by


def test_synthetic_harmony_valence_is_recovered(tmp_path):
    root = synthetic.write("harmony", tmp_path, n=300)
    with open(os.path.join(root, "chord_progressions.json"), encoding="utf-8") as f:
        items = json.load(f)["progressions"]
    found, truth = [], []
    for item in items:
        ids = [chords.parse(s) for s in item["chords"]]
        found.append(harmony.estimate_emotion(ids[: len(ids) // 2])[0])     # the heard half, as the builder
        truth.append(item["emotion"]["valence"])
    assert spearmanr(found, truth)[0] > 0.4
