"""The MAESTRO builder on the real fixtures (v3 column JSON, v2 record JSON, CSV, the zip, the seed
layout), its vectors (known values, no leak from expression into context), bad input, the
synthetic writer and the check CLI."""

import csv
import json
import math
import re
import shutil
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest

from kelly_hf import emotion, loading, maestro, musical_emotion, splits, synthetic
from kelly_hf.cli import main as cli
from kelly_hf.midi import CONTROL_DTYPE, NOTE_DTYPE, read_notes

V3 = "maestro/maestro-v3.0.0"
NOCTURNE = "2009/MIDI-Unprocessed_02_R1_2009_03-06_ORIG_MID--AUDIO_02_R1_2009_02_R1_2009_03_WAV.midi"
DANTE = "2009/MIDI-Unprocessed_05_R1_2009_01-02_ORIG_MID--AUDIO_05_R1_2009_05_R1_2009_02_WAV.midi"
BERG = "2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.midi"
SPLIT = {NOCTURNE: "test", DANTE: "train", BERG: "train"}


def _build(data_dir, tmp_path, config=None, num_proc=None, cache="cache"):
    builder = loading.load_builder("maestro", config, data_dir=str(data_dir), cache_dir=str(tmp_path / cache))
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset(), loading.skip_records(builder)


def _rows(dd):
    return sorted((r for d in dd.values() for r in d), key=lambda r: (r["midi_filename"], r["segment_start"]))


def _counts(dd):
    return {split: len(d) for split, d in dd.items()}


def _mido_onsets_and_end(path):
    """Note onsets and the end of the last note, read with mido alone (independent of kelly_hf.midi)."""
    t, onsets, sounding, last_end = 0.0, [], {}, 0.0
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity:
            onsets.append(t)
            sounding[msg.note] = sounding.get(msg.note, 0) + 1
        elif msg.type in ("note_on", "note_off") and sounding.get(msg.note):
            sounding[msg.note] -= 1
            last_end = max(last_end, t)
    return np.array(onsets), last_end


def _expected_windows(path):
    """(windows, windows holding an onset) by the documented rule: 15 s every 7.5 s, the last aligned to the end."""
    onsets, length = _mido_onsets_and_end(path)
    n = 1 if length <= 15 else 1 + math.ceil((length - 15) / 7.5 - 1e-9)
    starts = [min(k * 7.5, length - 15) for k in range(n)]
    full = sum(any((onsets >= s) & (onsets < s + 15 if k < n - 1 else onsets >= s)) for k, s in enumerate(starts))
    return n, full


# -- the official layouts on the real files -------------------------------------------


def test_v3_column_json_real_performances(tmp_path, fixtures):
    root = fixtures / V3
    dd, records = _build(root, tmp_path)
    expected = {"train": 0, "validation": 0, "test": 0}
    for name, split in SPLIT.items():
        n, full = _expected_windows(root / name)
        expected[split] += full
        if name == BERG:   # a 16 s final chord: the last two windows hold no onset
            assert (n, full) == (93, 91)
    assert _counts(dd) == expected == {"train": 120 + 91, "validation": 0, "test": 46}
    assert loading.reason_counts(records) == {"listed in metadata but file missing": 1273}
    assert loading.reason_counts(records, "note") == {"empty windows dropped": 1}
    nocturne = [r for r in _rows(dd) if r["midi_filename"] == NOCTURNE]
    first = nocturne[0]
    assert first["composer"] == "Frédéric Chopin" and first["title"] == "Nocturne in B Major, Op. 9, No. 3"
    assert first["year"] == 2009 and first["split"] == "test" and first["emotion_source"] == "estimated"
    assert first["duration"] == pytest.approx(346.917388125)
    assert [r["segment_start"] for r in nocturne[:3]] == [0.0, 7.5, 15.0]
    assert nocturne[-1]["segment_end"] == pytest.approx(read_notes(root / NOCTURNE).notes["end"].max())
    assert all(r["segment_end"] - r["segment_start"] == pytest.approx(15.0) for r in nocturne)
    piece, _ = _build(root, tmp_path, "piece", cache="c2")
    assert _counts(piece) == {"train": 2, "validation": 0, "test": 1}
    assert {r["segment_start"] for r in _rows(piece)} == {0.0}


def test_v2_record_list_json(tmp_path, fixtures):
    dd, records = _build(fixtures / "maestro" / "maestro-v2.0.0", tmp_path)
    assert _counts(dd) == {"train": 91, "validation": 0, "test": 0}
    assert not loading.reason_counts(records)   # the .wav beside the MIDI is not an input
    row = _rows(dd)[0]
    assert (row["midi_filename"], row["composer"], row["title"], row["year"]) == (BERG, "Alban Berg", "Sonata Op. 1",
                                                                                 2018)
    assert row["duration"] == pytest.approx(698.661160312)


def test_v2_and_v3_side_by_side_build_each_performance_once(tmp_path, fixtures):
    dd, records = _build(fixtures / "maestro", tmp_path, "piece")
    assert _counts(dd) == {"train": 2, "validation": 0, "test": 1}
    assert loading.reason_counts(records) == {"listed in metadata but file missing": 1273, "duplicate performance": 1}
    duplicate = next(r for r in records if r["reason"].startswith("duplicate performance"))
    assert duplicate["source"] == f"maestro-v2.0.0/{BERG}"   # the newest release wins


def _v3_csv(tmp_path, fixtures, name="csv"):
    """The v3 folder with the metadata as the official CSV instead of the JSON."""
    d = tmp_path / name / "maestro-v3.0.0"
    for midi in SPLIT:
        (d / midi).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / V3 / midi, d / midi)
    table = json.loads((fixtures / V3 / "maestro-v3.0.0.json").read_text(encoding="utf-8"))
    columns = list(table)
    with open(d / "maestro-v3.0.0.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for i in sorted(table[columns[0]], key=int):
            w.writerow([table[c][i] for c in columns])
    return d


def test_csv_metadata_gives_the_json_rows(tmp_path, fixtures):
    one, rec_one = _build(fixtures / V3, tmp_path, cache="c1")
    two, rec_two = _build(_v3_csv(tmp_path, fixtures), tmp_path, cache="c2")
    for split in one:
        assert one[split].data.table.equals(two[split].data.table), split
    assert loading.reason_counts(rec_one) == loading.reason_counts(rec_two)


def test_official_zip_gives_the_folder_rows(tmp_path, fixtures):
    d = tmp_path / "zipped"
    d.mkdir()
    with zipfile.ZipFile(d / "maestro-v3.0.0-midi.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted((fixtures / V3).rglob("*")):
            if p.is_file():
                zf.write(p, f"maestro-v3.0.0/{p.relative_to(fixtures / V3).as_posix()}")
    for config in ("segments", "piece"):
        one, rec_one = _build(fixtures / V3, tmp_path, config, cache=f"c1{config}")
        two, rec_two = _build(d, tmp_path, config, cache=f"c2{config}")
        for split in one:
            assert one[split].data.table.equals(two[split].data.table), (config, split)
        assert loading.reason_counts(rec_one) == loading.reason_counts(rec_two)
    assert any(r["source"].startswith("maestro-v3.0.0-midi.zip::maestro-v3.0.0/maestro-v3.0.0.json row")
               for r in rec_two)


def test_folder_and_zip_json_and_csv_together_are_read_once(tmp_path, fixtures):
    d = _v3_csv(tmp_path, fixtures, "both").parent
    shutil.copy(fixtures / V3 / "maestro-v3.0.0.json", d / "maestro-v3.0.0")
    with zipfile.ZipFile(d / "maestro-v3.0.0-midi.zip", "w") as zf:
        for p in sorted((d / "maestro-v3.0.0").rglob("*")):
            zf.write(p, p.relative_to(d).as_posix())
    dd, records = _build(d, tmp_path, "piece")
    assert _counts(dd) == {"train": 2, "validation": 0, "test": 1}
    assert loading.reason_counts(records) == {"listed in metadata but file missing": 1273, "duplicate performance": 3}
    assert all("::" in r["source"] for r in records if r["reason"].startswith("duplicate"))


def test_seed_layout_hash_splits_and_null_metadata(tmp_path, fixtures):
    d = tmp_path / "data" / "maestro"
    d.mkdir(parents=True)
    for name in SPLIT:
        shutil.copy(fixtures / V3 / name, d / Path(name).name)
    dd, records = _build(d.parent, tmp_path)
    assert not loading.reason_counts(records) and loading.reason_counts(records, "note") == {"empty windows dropped": 1}
    rows = _rows(dd)
    ids = {f"maestro/{Path(n).name}" for n in SPLIT}
    assert {r["midi_filename"] for r in rows} == ids
    for r in rows:
        assert r["split"] == splits.hash_split(r["midi_filename"])
        assert r["composer"] is None and r["title"] is None and r["year"] is None
    expected = {s: 0 for s in splits.SPLITS}
    for name in SPLIT:
        expected[splits.hash_split(f"maestro/{Path(name).name}")] += _expected_windows(d / Path(name).name)[1]
    assert _counts(dd) == expected
    berg = next(r for r in rows if r["midi_filename"].endswith("wav--1.midi"))
    assert berg["duration"] == pytest.approx(read_notes(d / Path(BERG).name).notes["end"].max())


# -- the vectors -----------------------------------------------------------------------


def test_context_is_the_engine_prefix_of_the_estimated_emotion(tmp_path, fixtures):
    dd, _ = _build(fixtures / V3, tmp_path)
    for r in _rows(dd):
        # valence / arousal are stored as float32: the encoding of the stored values agrees to float32 precision
        assert np.allclose(r["context"], emotion.encode(r["valence"], r["arousal"])[:32], atol=1e-6, rtol=0)
        e = np.asarray(r["expression"])
        assert (e >= 0).all() and (e <= 1).all()
        # no expression value is a copy of a context value
        assert np.abs(e[:, None] - np.asarray(r["context"])[None, :]).min() > 1e-6


def test_context_ignores_how_it_is_played(fixtures):
    """Velocity, durations and pedals (the target) leave the context (the input) unchanged."""
    midi = read_notes(fixtures / V3 / NOCTURNE)
    notes = midi.pitched.copy()
    starts, ends = maestro.windows(float(notes["end"].max()), "segments")
    before = maestro.analyse(notes, midi.controls, starts, ends)
    rng = np.random.default_rng(0)
    played = notes.copy()
    played["velocity"] = rng.integers(1, 128, len(notes))
    played["end"] = played["start"] + rng.uniform(0.01, 3.0, len(notes))
    pedals = midi.controls.copy()
    pedals["value"] = 127 - pedals["value"]
    after = maestro.analyse(played, pedals, starts, ends)
    assert np.array_equal(before["valence"], after["valence"]) and np.array_equal(before["arousal"], after["arousal"])
    changed = np.abs(before["expression"] - after["expression"]).max(axis=0)
    assert (changed[[0, 1, 2, 9, 11, 12, 13]] > 0.05).all()


def _notes(start, velocity, duration, pitch=None):
    n = np.zeros(len(start), NOTE_DTYPE)
    n["start"], n["end"] = start, np.asarray(start) + duration
    n["velocity"] = velocity
    n["pitch"] = 60 if pitch is None else pitch
    return n


def test_expression_slots_on_a_known_performance():
    start = np.arange(15.0)                          # one note a second in [0, 15)
    velocity = np.linspace(40, 96, 15).round()       # a steady crescendo
    controls = np.array([(0.0, 0, 64, 127), (7.5, 0, 64, 0), (3.0, 0, 67, 100), (6.0, 0, 67, 0)], CONTROL_DTYPE)
    controls = controls[np.argsort(controls["time"], kind="stable")]
    e = maestro.analyse(_notes(start, velocity, 0.5), controls, np.array([0.0]), np.array([15.0]))["expression"][0]
    v = velocity
    slope = np.polyfit(start, v, 1)[0]
    assert e[0] == pytest.approx(v.mean() / 127)
    assert e[1] == pytest.approx(v.std() / 32)
    assert e[2] == pytest.approx((v[math.ceil(0.95 * 15) - 1] - v[0]) / 127)     # nearest rank: 15th and 1st
    assert e[3] == pytest.approx(0.5 + 0.5 * min(1, slope * 15 / 32))
    assert e[4] == 0.5                               # no chords
    assert e[5] == pytest.approx(np.mean(v >= v[7] + 16))
    assert e[6] == pytest.approx(np.abs(np.diff(v)).mean() / 32)
    assert e[7] == 0.0                               # every IOI is 1 s
    assert e[8] == pytest.approx(0.5 + 0.25 * math.log2((7 + 1) / (8 + 1)))   # onsets 0-7 | 8-14 around 7.5 s
    assert e[9] == pytest.approx(0.25) and e[10] == 0.0   # held half of each IOI: detached, never legato
    assert e[11] == pytest.approx(math.log2(0.5 / 0.05) / math.log2(40))
    assert (e[12], e[13]) == pytest.approx((0.5, 0.5))
    assert e[14] == pytest.approx(1 / 15 / 2)
    assert e[15] == pytest.approx(3 / 15)


def test_context_is_kelly_emotion_v2_content_variant(fixtures):
    midi = read_notes(fixtures / V3 / NOCTURNE)
    notes = midi.pitched
    starts, ends = maestro.windows(float(notes["end"].max()), "segments")
    found = maestro.analyse(notes, midi.controls, starts, ends)
    v, a = musical_emotion.estimate_windows(notes["pitch"], notes["start"], starts, ends, "content")
    assert np.array_equal(found["valence"], v) and np.array_equal(found["arousal"], a) and len(v) > 10
    c_major = _notes(np.arange(0, 14, 0.5), 64, 0.4, pitch=np.tile([60, 64, 67, 72], 7))
    a_minor = _notes(np.arange(0, 14, 0.5), 64, 0.4, pitch=np.tile([57, 60, 64, 69, 71, 57, 60], 4))
    busy = _notes(np.arange(0, 14, 0.125), 64, 0.1, pitch=np.tile([48, 60, 64, 67, 72, 76, 79, 84], 14))
    none = np.zeros(0, CONTROL_DTYPE)
    happy, sad, excited = (maestro.analyse(n, none, np.array([0.0]), np.array([15.0])) for n in (c_major, a_minor, busy))
    assert happy["valence"][0] > 0.3 and sad["valence"][0] < -0.3
    assert excited["arousal"][0] > happy["arousal"][0] + 0.3   # 8 notes a second over 3 octaves vs 2 in one


def test_windows_rule():
    assert [list(x) for x in maestro.windows(10.0, "segments")] == [[0.0], [10.0]]
    starts, ends = maestro.windows(30.0, "segments")
    assert list(starts) == [0.0, 7.5, 15.0] and list(ends) == [15.0, 22.5, 30.0]
    starts, ends = maestro.windows(31.0, "segments")
    assert list(starts) == [0.0, 7.5, 15.0, 16.0] and ends[-1] == 31.0
    assert [list(x) for x in maestro.windows(31.0, "piece")] == [[0.0], [31.0]]


# -- bad input -------------------------------------------------------------------------


def test_bad_input(tmp_path, fixtures):
    d = _v3_csv(tmp_path, fixtures, "bad")
    (d / "2009" / "broken.midi").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    shutil.copy(fixtures / V3 / NOCTURNE, d / "2009" / "unlisted.midi")
    (d / "2009" / "empty.midi").write_bytes(b"")
    with open(d / "maestro-v3.0.0.csv", "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["X", "Broken", "train", 2009, "2009/broken.midi", "", 1.0])
        w.writerow(["X", "Empty", "validation", 2009, "2009/empty.midi", "", 1.0])
        w.writerow(["X", "Bad split", "holdout", 2009, "2009/nothing.midi", "", 1.0])
    dd, records = _build(d, tmp_path, "piece")
    assert _counts(dd) == {"train": 2, "validation": 0, "test": 1}
    counts = loading.reason_counts(records)
    assert counts == {"listed in metadata but file missing": 1273, "unreadable MIDI": 2, "not in metadata": 1,
                      "unknown split": 1}
    by_source = {r["source"]: r for r in records}
    assert by_source["2009/broken.midi"]["split"] == "train"
    assert by_source["2009/empty.midi"]["reason"] == "unreadable MIDI: empty file"


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loading.load_builder("maestro", data_dir=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no MIDI files under .*maestro-v3.0.0-midi.zip"):
        _build(tmp_path / "empty", tmp_path)
    d = tmp_path / "nocols" / "maestro-v3.0.0"
    (d / "2009").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "shared" / "fixtures" / V3 / NOCTURNE, d / NOCTURNE)
    (d / "maestro-v3.0.0.csv").write_text("canonical_composer,midi_filename\nX,a.midi\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"maestro-v3.0.0.csv: needs the columns midi_filename and split.*'split'"):
        _build(d.parent, tmp_path, cache="c3")


# -- synthetic corpus, parallel build, CLI ---------------------------------------------


def test_synthetic_writer_official_layout_and_learnable(tmp_path):
    root = Path(synthetic.write("maestro", tmp_path / "a", n=12))
    synthetic.write("maestro", tmp_path / "b", n=12)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".midi"]) == 12
    for f in files:
        assert (root / f).read_bytes() == (tmp_path / "b" / "maestro" / f).read_bytes(), f
    table = json.loads((root / "maestro-v3.0.0" / "maestro-v3.0.0.json").read_text())
    assert list(table) == ["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                           "audio_filename", "duration"] and list(table["split"]) == [str(i) for i in range(12)]
    midi = mido.MidiFile(root / "maestro-v3.0.0" / table["midi_filename"]["0"])
    assert (midi.type, midi.ticks_per_beat, len(midi.tracks)) == (1, 384, 2)
    dd, records = _build(root, tmp_path)
    assert not loading.reason_counts(records)
    assert _counts(synthetic_piece := _build(root, tmp_path, "piece", cache="c2")[0]) == {
        "train": 8, "validation": 2, "test": 2}
    assert all(len(d) for d in synthetic_piece.values())
    rows = _rows(dd)
    e = np.array([r["expression"] for r in rows])
    a = np.array([r["arousal"] for r in rows])
    # the playing follows the (estimated) emotion: louder, less pedal, shorter notes as arousal rises
    assert np.corrcoef(a, e[:, 0])[0, 1] > 0.6
    assert np.corrcoef(a, e[:, 12])[0, 1] < -0.6 and np.corrcoef(a, e[:, 11])[0, 1] < -0.5


def test_parallel_build_gives_the_same_rows(tmp_path):
    root = synthetic.write("maestro", tmp_path, n=6)
    one = _build(root, tmp_path, cache="c1")[0]
    two = _build(root, tmp_path, num_proc=2, cache="c2")[0]
    for split in one:
        assert one[split].data.table.equals(two[split].data.table), split


def test_check_cli(tmp_path, fixtures, capsys):
    assert cli(["check", "maestro", str(fixtures / V3), "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "maestro / segments" in out
    assert re.search(r"train +211\n +validation +0\n +test +46\n +total +257\n", out)
    assert "context            list[32] of float32" in out and "expression         list[16] of float32" in out
    assert "1273 x listed in metadata but file missing" in out and "1 x empty windows dropped" in out
    assert cli(["check", "maestro", str(fixtures / V3), "--config", "piece", "--cache-dir",
                str(tmp_path / "cache")]) == 0
    assert re.search(r"train +2\n +validation +0\n +test +1\n", capsys.readouterr().out)
    assert cli(["check", "maestro", str(tmp_path / "nope"), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "does not exist" in capsys.readouterr().err
