"""The Groove builder on the real fixtures (the full official info.csv, real takes in 4-4 and 3-4,
mirdata's subset, the zip, the seed layout), every meter, both bar policies (window counts
recomputed per take with mido), its vectors (known values, no leak from groove into emotion),
emotion labels, bad input, the synthetic writer and the check CLI."""

import collections
import csv
import dataclasses
import io
import json
import math
import re
import shutil
import sys
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest

from kelly_hf import emotion, groove, loading, musical_emotion, splits, synthetic
from kelly_hf.cli import main as cli
from kelly_hf.midi import read_notes

FUNK = "drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid"
CHACARERA = "drummer1/session2/1_latin-chacarera_157_beat_3-4.mid"
PRESENT = [FUNK, CHACARERA, "drummer1/session1/133_funk-fast_125_fill_4-4.mid",
           "drummer1/session1/29_latin-samba_116_fill_4-4.mid", "drummer2/session2/4_rock_130_beat_4-4.mid",
           "drummer8/session2/16_funk_95_beat_4-4.mid"]


def _build(data_dir, tmp_path, config=None, num_proc=None, cache="cache", **knobs):
    builder = loading.load_builder("groove", config, data_dir=str(data_dir), cache_dir=str(tmp_path / cache),
                                   **knobs)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset(), loading.skip_records(builder)


def _rows(dd):
    return sorted((r for d in dd.values() for r in d), key=lambda r: (r["id"], r["start_bar"]))


def _counts(dd):
    return {split: len(d) for split, d in dd.items()}


def _info(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _expected(info_rows, present, bars, bar_policy="kelly"):
    """Rows per split from info.csv alone, its duration as the length, hop one bar. kelly: bar =
    num * 4/den * 60/bpm, floor(duration / bar + 0.5) bars; tfds: bar = 60/bpm * num, round()."""
    out = {s: 0 for s in splits.SPLITS}
    for r in info_rows:
        if r["midi_filename"] not in present:
            continue
        if bars is None:
            out[r["split"]] += 1
            continue
        num, den = (int(x) for x in r["time_signature"].split("-"))
        if bar_policy == "tfds":
            n = round(float(r["duration"]) / (60 / int(r["bpm"]) * num))
        else:
            n = math.floor(float(r["duration"]) / (num * (4 / den) * 60 / int(r["bpm"])) + 0.5)
        out[r["split"]] += max(0, n - bars + 1)
    return out


def _events(data: bytes):
    """(seconds, message) of every event of a MIDI file, by mido's own tempo map."""
    t = 0.0
    for msg in mido.MidiFile(file=io.BytesIO(data)):
        t += msg.time
        yield t, msg


# what pretty_midi's get_end_time() takes the maximum of (besides note ends): TFDS's take length
PRETTY_MIDI_END = {"control_change", "pitchwheel", "set_tempo", "time_signature", "key_signature", "lyrics", "text"}


def _expected_windows(data: bytes, bpm: int, meter: str, bars: int, bar_policy: str) -> int:
    """Windows of one take by the policy's rule, from the raw events. kelly: the notes' end, real
    bars at the MIDI tempo, windows without a hit dropped; tfds: the last event pretty_midi counts,
    bars of 60 / bpm * numerator (info.csv bpm), round() (half to even), every window kept."""
    events = list(_events(data))
    note_end = [t for t, m in events if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
    num, den = (int(x) for x in meter.split("-"))
    if bar_policy == "tfds":
        length = max(note_end + [t for t, m in events if m.type in PRETTY_MIDI_END])
        return max(0, round(length / (60 / bpm * num)) - bars + 1)
    tempo = next(m.tempo for _, m in events if m.type == "set_tempo")
    bar = num * 4 / den * 60 / mido.tempo2bpm(tempo)
    hits = [t for t, m in events if m.type == "note_on" and m.velocity > 0]
    n_bars = math.floor(max(note_end) / bar + 0.5)
    return sum(any(i * bar <= t < (i + bars) * bar for t in hits) for i in range(n_bars - bars + 1))


# -- the official layout on the real files --------------------------------------------


@pytest.mark.parametrize("config,bars,exact", [
    ("full", None, {"train": 1, "validation": 2, "test": 3}),
    ("2bar", 2, {"train": 6, "validation": 128, "test": 70}),
    ("4bar", 4, {"train": 4, "validation": 126, "test": 66}),
])
def test_official_info_csv_and_real_takes(tmp_path, fixtures, config, bars, exact):
    root = fixtures / "groove" / "groove"
    info = _info(root / "info.csv")
    assert len(info) == 1150
    present = {r["midi_filename"] for r in info if (root / r["midi_filename"]).is_file()}
    assert present == set(PRESENT)
    dd, records = _build(root, tmp_path, config)
    assert _counts(dd) == _expected(info, present, bars) == exact
    skips = {"listed in info.csv but file missing": 1150 - 6}
    if bars:   # the two fills are shorter than a window (133: 1.654 s = 0.86 bars; 29: 0.66 bars)
        skips[f"shorter than {bars} bars"] = 2
    assert loading.reason_counts(records) == skips
    # 16_funk: 141.596 s at 95 bpm = 56.05 bars: the last 0.12 s hold two hits
    assert loading.reason_counts(records, "note") == ({"short tail dropped": 1} if bars else {})
    soul = "drummer1/eval_session/10_soul-groove10_102_beat_4-4.mid"
    missing = next(r for r in records if r["reason"].endswith(soul))
    assert missing["source"] == "info.csv line 3" and missing["split"] == "test"


# windows per take: the trailing controllers of 133 (3.0 s, its last hit ends at 1.654 s) give
# it 2 quarter-note bars at 125 bpm under tfds; every other take has the same count in both
BY_POLICY = {
    ("2bar", "kelly"): [15, 128, 0, 0, 6, 55], ("2bar", "tfds"): [15, 128, 1, 0, 6, 55],
    ("4bar", "kelly"): [13, 126, 0, 0, 4, 53], ("4bar", "tfds"): [13, 126, 0, 0, 4, 53],
}


@pytest.mark.parametrize("window,bar_policy", list(BY_POLICY))
def test_windows_per_take_follow_the_bar_policy(tmp_path, fixtures, window, bar_policy):
    root = fixtures / "groove" / "groove"
    info = {r["midi_filename"]: r for r in _info(root / "info.csv")}
    bars = groove.CONFIG_BARS[window]
    dd, _ = _build(root, tmp_path, groove.config_name(window, bar_policy))
    rows = _rows(dd)
    built = collections.Counter(r["midi_filename"] for r in rows)
    expected = [_expected_windows((root / name).read_bytes(), int(info[name]["bpm"]), info[name]["time_signature"],
                                  bars, bar_policy) for name in PRESENT]
    assert [built[name] for name in PRESENT] == expected == BY_POLICY[window, bar_policy]
    if bar_policy == "tfds":   # windows 0..n-1 of 60 / bpm * numerator s, as TFDS cuts them
        for name in PRESENT:
            mine = [r for r in rows if r["midi_filename"] == name]
            bar = 60 / int(info[name]["bpm"]) * int(info[name]["time_signature"].split("-")[0])
            assert [r["start_bar"] for r in mine] == list(range(len(mine)))
            assert [r["segment_start"] for r in mine] == pytest.approx([i * bar for i in range(len(mine))], rel=1e-6)
            assert [r["segment_end"] for r in mine] == pytest.approx([(i + bars) * bar for i in range(len(mine))],
                                                                     rel=1e-6)


def test_bar_policy_as_a_keyword_is_the_named_config(tmp_path, fixtures):
    root = fixtures / "groove" / "groove"
    named, _ = _build(root, tmp_path, "2bar-tfds", cache="c1")
    keyword, _ = _build(root, tmp_path, "2bar", cache="c2", bar_policy="tfds")
    for split in named:
        assert named[split].data.table.equals(keyword[split].data.table), split
    with pytest.raises(ValueError, match=r"unknown bar_policy 'TFDS'; expected one of kelly, tfds"):
        _build(root, tmp_path, "2bar", cache="c3", bar_policy="TFDS")


def _with_pedal_after(data: bytes, seconds: float) -> bytes:
    """The take with hi-hat pedal controllers (CC 4, as the TD-11 sends) until ``seconds`` after its
    last note: what 243 takes of the full release hold."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    track = midi.tracks[0]
    tempo = next(m.tempo for m in track if m.type == "set_tempo")
    end = track.pop()
    assert end.type == "end_of_track"
    step = int(mido.second2tick(seconds / 4, midi.ticks_per_beat, tempo))
    track.extend(mido.Message("control_change", channel=9, control=4, value=v, time=step) for v in (90, 40, 90, 0))
    track.append(end.copy(time=0))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def test_kelly_length_is_the_last_note_tfds_counts_trailing_controllers(fixtures):
    data = (fixtures / "groove" / "groove" / FUNK).read_bytes()
    pedal = _with_pedal_after(data, 30.0)
    take = groove.Take("t", FUNK, "test", None, FUNK, style="funk/groove1", bpm=138, time_signature="4-4")
    for window, bars in (("full", None), ("2bar", 2), ("4bar", 4)):
        plain = list(groove.take_rows(take, data, window))
        assert [k for k, _ in plain] == [k for k, _ in groove.take_rows(take, pedal, window)]
        for (_, a), (_, b) in zip(plain, groove.take_rows(take, pedal, window)):
            assert a["segment_end"] == b["segment_end"] and np.array_equal(a["groove"], b["groove"])
        tfds_plain = [r for _, r in groove.take_rows(take, data, window, "tfds")]
        tfds_pedal = [r for _, r in groove.take_rows(take, pedal, window, "tfds")]
        if bars is None:   # full: one row over [0, L], L the last event under tfds
            assert tfds_pedal[0]["segment_end"] == pytest.approx(27.872308 + 30, abs=1e-3)
            continue
        bar = 60 / 138 * 4
        assert len(tfds_plain) == round(27.872308 / bar) - bars + 1 == len(plain)
        assert len(tfds_pedal) == round((27.872308 + 30) / bar) - bars + 1 == _expected_windows(
            pedal, 138, "4-4", bars, "tfds")
        assert _expected_windows(pedal, 138, "4-4", bars, "kelly") == len(plain)
        # the windows that start after the last hit (27.770 s) are rows too, empty; the others are unchanged
        after = [r["num_onsets"] for r in tfds_pedal if r["segment_start"] > 27.8]
        assert len(after) == len(tfds_pedal) - math.ceil(27.8 / bar) and set(after) == {0}
        assert all(r["num_onsets"] > 0 for r in tfds_pedal if r["segment_start"] < 27.7)
        for a, b in zip(tfds_plain, tfds_pedal):
            assert a["start_bar"] == b["start_bar"] and np.array_equal(a["groove"], b["groove"])


def test_tfds_guards_against_damaged_files(fixtures):
    data = (fixtures / "groove" / "groove" / FUNK).read_bytes()
    take = groove.Take("t", FUNK, "test", None, FUNK, bpm=138, time_signature="4-4")
    far = _with_pedal_after(data, 1e5)   # a controller a day later: 57,500 windows of empty rows under tfds
    problems = [p.reason for p in groove.take_rows(take, far, "2bar", "tfds")]
    assert len(problems) == 1 and problems[0].startswith("time span too long: events until 1e+05 s")
    assert len([r for r in groove.take_rows(take, far, "2bar") if isinstance(r, tuple)]) == 15   # kelly: the notes
    zero = dataclasses.replace(take, bpm=0)
    assert [p.reason for p in groove.take_rows(zero, data, "2bar", "tfds")] == ["no usable bpm to cut bars: 0"]
    with pytest.raises(ValueError, match="unknown window '8bar'"):
        list(groove.take_rows(take, data, "8bar"))


def test_tfds_counts_script_beside_the_tfds_table(tmp_path, fixtures, capsys):
    """The script that compares a build of the full release with TFDS's table, run on the fixtures
    (6 of the 1150 takes: far from the table). Its info.csv column is the rule over all 1150 rows
    with info.csv's duration as the length (the figures the card quotes)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from groove_tfds_counts import main
    assert main([str(fixtures / "groove" / "groove"), "--cache-dir", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    assert re.search(r"2bar-tfds +train +18,163 +6 +-18,157 +16,999\n", out)
    assert re.search(r"2bar-tfds +validation +2,252 +129 +-2,123 +2,180\n", out)
    assert re.search(r"4bar-tfds +test +2,033 +66 +-1,967 +1,901\n", out)
    info = _info(fixtures / "groove" / "groove" / "info.csv")
    every = {r["midi_filename"] for r in info}
    assert _expected(info, every, 2, "tfds") == {"train": 16999, "validation": 2180, "test": 2064}
    assert _expected(info, every, 4, "tfds") == {"train": 16184, "validation": 2066, "test": 1901}
    assert out.rstrip().endswith("NOT equal to the TFDS table")


def test_official_columns_and_vocabularies(tmp_path, fixtures):
    dd, _ = _build(fixtures / "groove" / "groove", tmp_path)
    features = dd["train"].features
    rows = {r["id"]: r for r in _rows(dd)}
    chac = rows["drummer1/session2/1"]
    assert chac["drummer"] == "drummer1" and chac["session"] == "drummer1/session2"
    assert chac["style"] == "latin/chacarera" and features["style_primary"].int2str(chac["style_primary"]) == "latin"
    assert chac["style_secondary"] == "chacarera" and chac["bpm"] == 157 and chac["split"] == "validation"
    assert features["time_signature"].int2str(chac["time_signature"]) == "3-4"
    assert features["beat_type"].int2str(chac["beat_type"]) == "beat"
    assert chac["duration"] == pytest.approx(147.945217) and chac["midi_filename"] == CHACARERA
    assert chac["segment_end"] == pytest.approx(147.945217, abs=1e-3) and chac["num_onsets"] == 1337
    rock = rows["drummer2/session2/4"]
    assert rock["style_secondary"] == "" and features["beat_type"].names == ["beat", "fill"]
    assert features["style_primary"].num_classes == 18 and features["time_signature"].names == list(
        groove.TIME_SIGNATURES)
    for r in rows.values():
        assert r["emotion_source"] == "estimated"
        assert np.allclose(r["emotion"], emotion.encode(r["valence"], r["arousal"]), atol=1e-6, rtol=0)


def test_three_four_bars(tmp_path, fixtures):
    dd, _ = _build(fixtures / "groove" / "groove", tmp_path, "2bar")
    chac = [r for r in _rows(dd) if r["id"] == "drummer1/session2/1"]
    bar = 3 * 60 / 157.0
    assert len(chac) == 128 and [r["start_bar"] for r in chac] == list(range(128))
    assert chac[5]["segment_start"] == pytest.approx(5 * bar, rel=1e-5)
    assert chac[5]["segment_end"] - chac[5]["segment_start"] == pytest.approx(2 * bar, rel=1e-5)


def test_mirdata_subset_and_both_folders(tmp_path, fixtures):
    dd, records = _build(fixtures / "groove" / "mirdata_subset", tmp_path, cache="c1")
    assert _counts(dd) == {"train": 0, "validation": 0, "test": 1}
    assert loading.reason_counts(records) == {"listed in info.csv but file missing": 2}
    dd, records = _build(fixtures / "groove", tmp_path, cache="c2")
    assert _counts(dd) == {"train": 1, "validation": 2, "test": 3}
    # mirdata's rows are the official ones: each missing file is reported once
    assert loading.reason_counts(records) == {"listed in info.csv but file missing": 1144, "duplicate take": 1}


def test_official_zip_gives_the_folder_rows(tmp_path, fixtures):
    root = fixtures / "groove" / "groove"
    d = tmp_path / "zipped"
    d.mkdir()
    with zipfile.ZipFile(d / "groove-v1.0.0-midionly.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, f"groove/{p.relative_to(root).as_posix()}")
    for config in ("full", "2bar"):
        one, rec_one = _build(root, tmp_path, config, cache=f"c1{config}")
        two, rec_two = _build(d, tmp_path, config, cache=f"c2{config}")
        for split in one:
            assert one[split].data.table.equals(two[split].data.table), (config, split)
        assert loading.reason_counts(rec_one) == loading.reason_counts(rec_two)
    assert any(r["source"].startswith("groove-v1.0.0-midionly.zip::groove/info.csv line") for r in rec_two)


def test_seed_layout_metadata_from_file_names(tmp_path, fixtures):
    d = tmp_path / "data" / "groove"
    d.mkdir(parents=True)
    for name in PRESENT:
        shutil.copy(fixtures / "groove" / "groove" / name, d / Path(name).name)
    shutil.copy(fixtures / "groove" / "groove" / PRESENT[4], d / "my take.mid")
    dd, records = _build(d.parent, tmp_path)
    assert not loading.reason_counts(records) and not loading.reason_counts(records, "note")
    rows = {r["id"]: r for r in _rows(dd)}
    assert len(rows) == 7
    for take_id, r in rows.items():
        assert r["split"] == splits.hash_split(take_id) and r["drummer"] is None
    features = dd["train"].features
    funk = rows["groove/1_funk-groove1_138_beat_4-4"]
    assert funk["style"] == "funk/groove1" and funk["style_secondary"] == "groove1" and funk["bpm"] == 138
    assert features["style_primary"].int2str(funk["style_primary"]) == "funk"
    assert funk["duration"] == pytest.approx(27.872308, abs=1e-4)
    plain = rows["groove/my take"]
    assert plain["style"] is None and plain["style_primary"] is None and plain["beat_type"] is None
    assert plain["bpm"] == 130 and features["time_signature"].int2str(plain["time_signature"]) == "4-4"
    assert _counts(dd) == {s: sum(splits.hash_split(i) == s for i in rows) for s in splits.SPLITS}


def test_every_official_meter(tmp_path):
    root = Path(synthetic.write("groove", tmp_path / "data", n=10))
    info = _info(root / "info.csv")
    assert {r["time_signature"] for r in info} == set(groove.TIME_SIGNATURES)
    present = {r["midi_filename"] for r in info}
    for config, bars, policy in (("full", None, "kelly"), ("2bar", 2, "kelly"), ("4bar", 4, "kelly"),
                                 ("2bar", 2, "tfds"), ("4bar", 4, "tfds")):
        dd, records = _build(root, tmp_path, config, cache=f"c{config}{policy}", bar_policy=policy)
        # no controller after the last note here: info.csv's duration is the length of both policies
        assert _counts(dd) == _expected(info, present, bars, policy), (config, policy)
        if bars:
            for r in _rows(dd):
                row = next(i for i in info if i["id"] == r["id"])
                num, den = (int(x) for x in row["time_signature"].split("-"))
                # a 6-8 bar: 3 quarter notes (kelly), 6 (tfds: quarter-note beats whatever the denominator)
                bar = 60 / int(row["bpm"]) * (num if policy == "tfds" else num * 4 / den)
                assert r["segment_end"] - r["segment_start"] == pytest.approx(bars * bar, rel=1e-4)
                assert r["segment_start"] == pytest.approx(r["start_bar"] * bar, rel=1e-4)


# -- the vectors -----------------------------------------------------------------------


def test_groove_slots_on_a_known_bar():
    step = 60 / 120 / 4
    pos = np.arange(16)
    even = pos % 2 == 0
    start = (pos + np.where(even, 0.0, 0.25)) * step          # odd 16ths a quarter step late
    pitch = np.where(even, 42, 38)                            # closed hi-hat on 8ths, snare between
    velocity = np.where(even, 80, 40)
    g, count = groove.groove_vectors(start, velocity, pitch, step, np.array([0.0]), np.array([2.0]))
    g = g[0]
    assert count[0] == 16 and g.shape == (32,)
    assert g[0] == pytest.approx(0.25) and g[1] == pytest.approx(-0.5)
    assert list(g[2:8]) == [-1, -1, -1, 0, 0, -1]
    assert g[8] == pytest.approx(2 * 60 / 127 - 1) and g[9] == pytest.approx(2 * 20 / 63.5 - 1)
    assert list(g[10:16]) == [-1, 0, -1, 0, -1, -1]
    assert g[16] == pytest.approx(0.5)                        # swing 0.25 of a step
    assert g[17] == 0 and g[18] == pytest.approx(0.5) and g[19] == 0 and not g[20:26].any()
    assert g[26] == pytest.approx((80 - (4 * 80 + 8 * 40) / 12) / 64)
    assert g[27] == 0 and list(g[28:32]) == [-1, 0, 0, -1]


def test_emotion_estimate_ignores_velocity_and_timing(fixtures):
    data = (fixtures / "groove" / "groove" / FUNK).read_bytes()
    midi = mido.MidiFile(file=io.BytesIO(data))
    rng = np.random.default_rng(0)
    for msg in midi.tracks[0]:
        if msg.type == "note_on" and msg.velocity:
            msg.velocity = int(rng.integers(1, 128))
    out = io.BytesIO()
    midi.save(file=out)
    take = groove.Take("t", FUNK, "test", None, FUNK, style="funk/groove1", bpm=138, time_signature="4-4")
    parsed = read_notes(data)
    step, bar = 60 / parsed.tempo_bpm / 4, groove.bar_seconds(parsed.tempo_bpm, 4, 4)
    start = np.sort(parsed.notes["start"])
    on_grid = np.round(start / step) * step
    for config in ("full", "2bar"):
        one = [r for _, r in groove.take_rows(take, data, config)]
        two = [r for _, r in groove.take_rows(take, out.getvalue(), config)]
        assert [r["emotion"].tolist() for r in one] == [r["emotion"].tolist() for r in two]
        assert all(np.abs(a["groove"][8:16] - b["groove"][8:16]).max() > 0.05 for a, b in zip(one, two))
        for r in one:   # the documented rule: the style's prior, kelly-emotion-v2's rhythm variant on the grid
            window = ([0.0], [parsed.notes["end"].max()]) if config == "full" else \
                ([r["start_bar"] * bar], [(r["start_bar"] + 2) * bar])
            _, a = musical_emotion.estimate_windows(None, on_grid, *window, "rhythm", close_last=config == "full")
            assert (r["valence"], r["arousal"]) == pytest.approx((groove.STYLE_VALENCE["funk"], a[0]), abs=1e-6)
    # timing: every hit moved elsewhere in its 16th (the target's offsets) leaves the estimate unchanged
    moved = np.sort(np.round(start / step) * step + rng.uniform(-0.45, 0.45, len(start)) * step)
    starts, ends = np.arange(0, 8) * bar, np.arange(2, 10) * bar
    before = groove.estimate(start, step, starts, ends, "funk", close_last=False)
    after = groove.estimate(moved, step, starts, ends, "funk", close_last=False)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert len(np.unique(before[1])) > 1      # the windows differ: the arousal is not a constant


def test_file_name_pattern():
    assert groove.from_file_name("1_funk-groove1_138_beat_4-4.mid") == {
        "style": "funk/groove1", "bpm": 138, "beat_type": "beat", "time_signature": "4-4"}
    assert groove.from_file_name("29_latin-samba_116_fill_4-4.mid")["style"] == "latin/samba"
    assert groove.from_file_name("16_funk_95_beat_6-8.midi")["style"] == "funk"
    assert groove.from_file_name("take.mid") == {}
    assert groove.style_parts("rock") == ("rock", "") and groove.style_parts(None) == (None, None)
    assert groove.bar_seconds(120, 6, 8) == pytest.approx(1.5) and groove.bar_seconds(120, 5, 4) == pytest.approx(2.5)


# -- labels and bad input --------------------------------------------------------------


def _copy(fixtures, tmp_path, name="data"):
    d = tmp_path / name
    shutil.copytree(fixtures / "groove" / "groove", d)
    for p in d.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return d


def test_emotion_labels_file(tmp_path, fixtures):
    d = _copy(fixtures, tmp_path)
    (d / "emotion_labels.json").write_text(json.dumps({
        FUNK: {"valence": 0.5, "arousal": 0.8},
        CHACARERA: {"valence": 3, "arousal": 0.5},
        "drummer9/session1/nothing.mid": {"valence": 0.1, "arousal": 0.1},
    }))
    dd, records = _build(d, tmp_path)
    rows = {r["midi_filename"]: r for r in _rows(dd)}
    funk = rows[FUNK]
    assert funk["emotion_source"] == "label" and (funk["valence"], funk["arousal"]) == pytest.approx((0.5, 0.8))
    assert np.allclose(funk["emotion"], emotion.encode(0.5, 0.8))
    assert rows[CHACARERA]["emotion_source"] == "estimated"
    assert loading.reason_counts(records) == {"listed in info.csv but file missing": 1144, "emotion label unusable": 1,
                                              "emotion label for a file not in the corpus": 1}
    assert loading.reason_counts(records, "note") == {"no emotion label": 5}


def test_bad_input(tmp_path, fixtures):
    d = _copy(fixtures, tmp_path)
    (d / "drummer2" / "session2" / "4_rock_130_beat_4-4.mid").write_bytes(b"not midi at all")
    shutil.copy(d / FUNK, d / "drummer1" / "session1" / "extra.mid")
    dd, records = _build(d, tmp_path)
    assert _counts(dd) == {"train": 0, "validation": 2, "test": 3}
    assert loading.reason_counts(records) == {"listed in info.csv but file missing": 1144, "unreadable MIDI": 1,
                                              "not in info.csv": 1}
    bad = next(r for r in records if r["reason"].startswith("unreadable MIDI"))
    assert bad["split"] == "train" and "no MThd header" in bad["reason"]


def test_clear_errors(tmp_path, fixtures):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no MIDI files under .*groove-v1.0.0-midionly.zip"):
        _build(tmp_path / "empty", tmp_path)
    d = _copy(fixtures, tmp_path, "nocols")
    (d / "info.csv").write_text("drummer,midi_filename\ndrummer1,x.mid\n")
    with pytest.raises(ValueError, match=r"info.csv: needs the columns midi_filename and split"):
        _build(d, tmp_path, cache="c2")


# -- synthetic corpus, parallel build, CLI ---------------------------------------------


def test_synthetic_writer_official_layout_and_learnable(tmp_path):
    root = Path(synthetic.write("groove", tmp_path / "a", n=40))
    synthetic.write("groove", tmp_path / "b", n=40)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".mid"]) == 40
    for f in files:
        assert (root / f).read_bytes() == (tmp_path / "b" / "groove" / f).read_bytes(), f
    assert (root / "info.csv").read_text().splitlines()[0] == (
        "drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split")
    midi = mido.MidiFile(root / _info(root / "info.csv")[0]["midi_filename"])
    assert (midi.type, midi.ticks_per_beat) == (0, 480)
    dd, records = _build(root, tmp_path)
    assert not records and _counts(dd) == {"train": 30, "validation": 5, "test": 5}
    rows = _rows(dd)
    assert {r["emotion_source"] for r in rows} == {"label"}
    g = np.array([r["groove"] for r in rows])
    v = np.array([r["valence"] for r in rows])
    a = np.array([r["arousal"] for r in rows])
    beats = np.array([r["beat_type"] == 0 for r in rows])
    assert np.corrcoef(v[beats], g[beats, 16])[0, 1] > 0.8        # swing follows valence
    assert np.corrcoef(a, g[:, 8])[0, 1] > 0.8                    # loudness follows arousal


def test_parallel_build_gives_the_same_rows(tmp_path):
    root = synthetic.write("groove", tmp_path, n=24)
    one = _build(root, tmp_path, "2bar", cache="c1")[0]
    two = _build(root, tmp_path, "2bar", num_proc=2, cache="c2")[0]
    for split in one:
        assert one[split].data.table.equals(two[split].data.table), split


def test_check_cli(tmp_path, fixtures, capsys):
    root = str(fixtures / "groove" / "groove")
    assert cli(["check", "groove", root, "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "groove / full" in out
    assert re.search(r"train +1\n +validation +2\n +test +3\n +total +6\n", out)
    assert "groove             list[32] of float32" in out and "style_primary      ClassLabel" in out
    assert "1144 x listed in info.csv but file missing" in out
    assert cli(["check", "groove", root, "--config", "4bar", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"train +4\n +validation +126\n +test +66\n", out) and "2 x shorter than 4 bars" in out
    assert cli(["check", "groove", str(tmp_path / "nope"), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "does not exist" in capsys.readouterr().err
