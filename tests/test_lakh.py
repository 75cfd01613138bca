"""The Lakh builder: layouts, archives, subsets, labels, leakage design, bad files, streaming, CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tarfile
from pathlib import Path

import datasets
import numpy as np
import pytest

import kelly_hf
from kelly_hf import emotion, lakh, loading, musical_emotion, splits
from kelly_hf.builder import DataDirError
from kelly_hf.cli import main as cli
from kelly_hf.midi import Pitched, read_notes, read_pitched
from kelly_hf.synthetic import lakh as synthetic_lakh


def _build(data_dir, tmp_path, config=None, cache="cache", num_proc=None, **kwargs):
    builder = loading.load_builder("lakh", config, data_dir=str(data_dir), cache_dir=str(tmp_path / cache), **kwargs)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset(), loading.skip_records(builder), builder


def _rows(ds) -> dict:
    return {r["path"]: r for split in ds.values() for r in split}


def _pop(fixtures):
    return sorted((fixtures / "multitrack_pop" / "miditok").glob("*.mid"))


def _lmd_full(root, files) -> dict:
    """Copy files into root/lmd_full/<h>/<md5>.mid (md5 of the bytes); {md5: original}."""
    out = {}
    for f in files:
        md5 = hashlib.md5(f.read_bytes()).hexdigest()
        dest = root / "lmd_full" / md5[0] / f"{md5}.mid"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
        out[md5] = f
    return out


def _expected(m_pitched) -> tuple[np.ndarray, float, np.ndarray]:
    """notes, split time and context mask computed independently from read_notes' pitched notes."""
    starts = np.sort(m_pitched["start"])
    t = starts[len(starts) // 2]
    target = m_pitched["pitch"][m_pitched["start"] >= t]
    hist = np.zeros(128)
    for p in target:
        hist[p] += 1
    return hist / hist.sum(), t, m_pitched["start"] < t


# -- row maths on real files ----------------------------------------------------------


def test_rows_of_real_files_match_an_independent_computation(tmp_path, fixtures):
    files = _pop(fixtures) + [fixtures / "lakh" / "lmd_full" / "d" / "d6caebd1964d9e4a3c5ea59525230e2a.mid"]
    md5s = _lmd_full(tmp_path / "data", files)
    ds, records, _ = _build(tmp_path / "data", tmp_path, "lmd_full")
    rows = {r["md5"]: r for split in ds.values() for r in split}
    assert set(rows) == set(md5s) and not records
    for md5, path in md5s.items():
        row, m = rows[md5], read_notes(path)
        assert row["path"] == f"lmd_full/{md5[0]}/{md5}.mid" and row["msd_id"] == ""
        assert splits.hash_split(md5) == next(s for s, d in ds.items() if md5 in d["md5"])
        notes, t, context = _expected(m.pitched)
        assert np.allclose(row["notes"], notes, atol=1e-6) and abs(sum(row["notes"]) - 1) < 1e-5
        assert row["notes_from_s"] == pytest.approx(t, abs=1e-4)
        assert row["num_notes"] == len(m.pitched) and row["num_tracks"] == m.num_tracks
        assert row["duration_s"] == pytest.approx(m.duration_s, rel=1e-6)
        assert row["tempo_bpm"] == pytest.approx(m.tempo_bpm, rel=1e-6)
        p = m.pitched[context]
        est = musical_emotion.estimate(p["pitch"], p["start"], t, variant="arrangement")
        assert row["emotion_source"] == "estimated"
        assert (row["valence"], row["arousal"]) == pytest.approx((est.valence, est.arousal), abs=1e-6)
        assert np.allclose(row["emotion"], emotion.encode(est.valence, est.arousal), atol=1e-6)
    drums = read_notes(files[0]).notes
    assert drums["is_drum"].any()  # the pop files have drums, and the counts above exclude them


def test_summarize_small_cases():
    def pitched(pitch, start, velocity=80):
        start = np.asarray(start, float)
        return Pitched(np.asarray(pitch, np.uint8), np.full(len(pitch), velocity, np.uint8), start, start + 0.5,
                       2, float(start.max(initial=0) + 1), 120.0, "symusic")

    assert lakh.summarize(pitched([], [])) is None
    one = lakh.summarize(pitched([60], [0.0]))  # no context notes: neutral estimate, the note is the target
    assert one["notes"][60] == 1 and (one["valence"], one["arousal"]) == (0.0, 0.5) and one["notes_from_s"] == 0
    row = lakh.summarize(pitched([60, 64, 67, 72, 72, 76], [0, 1, 2, 3, 3, 4]))
    assert row["notes_from_s"] == 3.0  # the median onset; ties at it are all target notes
    assert row["notes"][[72, 76]].tolist() == pytest.approx([2 / 3, 1 / 3]) and row["num_notes"] == 6
    labelled = lakh.summarize(pitched([60, 64], [0, 1]), label=(-0.5, 0.25))
    assert (labelled["emotion_source"], labelled["valence"], labelled["arousal"]) == ("label", -0.5, 0.25)


def test_input_and_target_come_from_disjoint_notes(fixtures):
    """The leakage design: the estimate sees only the first half, `notes` only the second."""
    p = read_pitched(fixtures / "multitrack_pop" / "miditok" / "Aicha.mid")
    base = lakh.summarize(p)
    context = p.start < base["notes_from_s"]
    rng = np.random.default_rng(0)

    def with_pitches(mask):
        pitch = p.pitch.copy()
        pitch[mask] = rng.integers(0, 128, int(mask.sum()))
        return lakh.summarize(Pitched(pitch, p.velocity, p.start, p.end, p.num_tracks, p.duration_s,
                                      p.tempo_bpm, p.parser))

    target_changed = with_pitches(~context)
    assert not np.array_equal(target_changed["notes"], base["notes"])
    assert np.array_equal(target_changed["emotion"], base["emotion"])
    assert (target_changed["valence"], target_changed["arousal"]) == (base["valence"], base["arousal"])
    context_changed = with_pitches(context)
    assert context_changed["valence"] != base["valence"]
    assert np.array_equal(context_changed["notes"], base["notes"])


# -- layouts -------------------------------------------------------------------------

MD5 = "d6caebd1964d9e4a3c5ea59525230e2a"
MSD = "TRAAAGR128F425B14B"


@pytest.mark.parametrize("path, layout, md5, msd", [
    (f"lmd_full/d/{MD5}.mid", "lmd_full", MD5, ""),
    (f"d/{MD5}.mid", "lmd_full", MD5, ""),
    (f"lmd_matched/A/A/A/{MSD}/{MD5}.mid", "lmd_matched", MD5, MSD),
    (f"A/A/A/{MSD}/{MD5}.mid", "lmd_matched", MD5, MSD),
    (f"x/lmd_aligned/A/A/A/{MSD}/{MD5}.mid", "lmd_aligned", MD5, MSD),
    ("clean_midi/ABBA/Dancing Queen.mid", "clean_midi", "", ""),
    ("ABBA/Dancing Queen.mid", "clean_midi", "", ""),
    ("lakh_midi/midi_files/song.mid", "seed", "", ""),
    ("song.mid", "seed", "", ""),
    (f"clean_midi/{MD5[0]}/{MD5}.mid", "clean_midi", "", ""),  # the named folder wins over the shape
])
def test_classify(path, layout, md5, msd):
    assert lakh.classify(tuple(path.split("/")))[:3] == (layout, md5, msd)


def _all_layouts(root, fixtures):
    """One data_dir holding every layout: 3 files each (pop fixtures)."""
    pop = _pop(fixtures)
    _lmd_full(root, pop[:3])
    for top, files in (("lmd_matched", pop[3:5]), ("lmd_aligned", pop[5:7])):
        for f in files:
            md5 = hashlib.md5(f.read_bytes()).hexdigest()
            for msd in (MSD, "TRAAAAW128F429D538"):  # one MIDI matched to two songs: two rows
                d = root / top / msd[2] / msd[3] / msd[4] / msd
                d.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, d / f"{md5}.mid")
    (root / "clean_midi" / "Some Artist").mkdir(parents=True)
    for f in pop[:2]:
        shutil.copy(f, root / "clean_midi" / "Some Artist" / f.name)
    (root / "lakh_midi" / "midi_files").mkdir(parents=True)
    shutil.copy(pop[6], root / "lakh_midi" / "midi_files" / "seed song.mid")


def test_every_layout_and_auto_precedence(tmp_path, fixtures):
    _all_layouts(tmp_path / "d", fixtures)
    ds, records, builder = _build(tmp_path / "d", tmp_path)
    assert builder.config.name == "auto" and {r["path"].split("/")[0] for r in _rows(ds).values()} == {"lmd_full"}
    others = [r for r in records if r["reason"].startswith("other layout")]
    assert len(others) == 4 + 4 + 2 + 1 and all(r["kind"] == "skip" and r["split"] == "*" for r in others)
    assert any("config lmd_matched reads it" in r["reason"] for r in others)

    matched = _rows(_build(tmp_path / "d", tmp_path, "lmd_matched", cache="m")[0])
    assert len(matched) == 4 and {r["msd_id"] for r in matched.values()} == {MSD, "TRAAAAW128F429D538"}
    by_md5 = {}
    for r in matched.values():
        by_md5.setdefault(r["md5"], []).append(r)
    assert all(len(v) == 2 and v[0]["notes"] == v[1]["notes"] for v in by_md5.values())
    aligned = _rows(_build(tmp_path / "d", tmp_path, "lmd_aligned", cache="a")[0])
    assert len(aligned) == 4 and all(p.startswith("lmd_aligned/") for p in aligned)

    clean = _rows(_build(tmp_path / "d", tmp_path, "clean_midi", cache="c")[0])
    pop = _pop(fixtures)
    assert {r["md5"] for r in clean.values()} == {hashlib.md5(f.read_bytes()).hexdigest() for f in pop[:2]}
    assert {p.split("/")[-1] for p in clean} == {f.name for f in pop[:2]}
    seed = _rows(_build(tmp_path / "d", tmp_path, "seed", cache="s")[0])
    assert list(seed) == ["lakh_midi/midi_files/seed song.mid"]


def test_missing_layout_and_missing_data_dir_are_clear_errors(tmp_path, fixtures):
    _lmd_full(tmp_path / "d", _pop(fixtures)[:1])
    with pytest.raises(DataDirError, match="no MIDI files in the clean_midi layout.*found: lmd_full"):
        _build(tmp_path / "d", tmp_path, "clean_midi")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataDirError, match="no MIDI files under"):
        _build(tmp_path / "empty", tmp_path)
    with pytest.raises(DataDirError, match="does not exist"):
        _build(tmp_path / "nope", tmp_path)


# -- archives ------------------------------------------------------------------------


def test_archive_read_in_place_gives_the_folder_rows(tmp_path, monkeypatch):
    folder = synthetic_lakh.write(tmp_path / "dir", n=60)
    archive = synthetic_lakh.write(tmp_path / "tar", n=60, archive=True)
    assert not (tmp_path / "tar" / "lakh" / "lmd_full").exists()
    opened = []
    real_open = tarfile.open
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    from_tar, records, _ = _build(archive, tmp_path, "lmd_full", cache="t", archive_passes=2)
    from_dir = _build(folder, tmp_path, "lmd_full", cache="d")[0]
    # one peek at the first member, then one pass per split and stripe: never one per file
    assert len(opened) == 1 + 3 * 2 and not records
    rows_tar = {r["md5"]: r for r in _rows(from_tar).values()}
    rows_dir = {r["md5"]: r for r in _rows(from_dir).values()}
    assert set(rows_tar) == set(rows_dir) and len(rows_dir) == 60
    for md5, row in rows_dir.items():
        other = rows_tar[md5]
        assert other["path"] == f"lmd_full.tar.gz::{row['path']}" and other["notes"] == row["notes"]
        assert other["emotion"] == row["emotion"] and other["emotion_source"] == "label"
    for split in splits.SPLITS:
        assert sorted(from_tar[split]["md5"]) == sorted(from_dir[split]["md5"])


def test_archive_with_max_files_and_extracted_copies(tmp_path):
    archive = synthetic_lakh.write(tmp_path / "tar", n=40, archive=True)
    some = _rows(_build(archive, tmp_path, cache="a", max_files=10)[0])
    assert len(some) == 10
    # the same files also extracted beside the archive: each is read once, from the folder
    folder = synthetic_lakh.write(tmp_path / "dir", n=40)
    shutil.copy(f"{archive}/lmd_full.tar.gz", f"{folder}/lmd_full.tar.gz")
    ds, records, _ = _build(folder, tmp_path, cache="b")
    assert len(_rows(ds)) == 40 and all("::" not in p for p in _rows(ds))
    dups = [r for r in records if r["reason"].startswith("duplicate file")]
    assert len(dups) == 40


def test_damaged_archives_are_reported_not_silent(tmp_path):
    good = (Path(synthetic_lakh.write(tmp_path / "src", n=40, archive=True)) / "lmd_full.tar.gz").read_bytes()
    for name, data in (("cut", good[: len(good) // 2]),
                       ("zeroed", good[: len(good) // 2] + bytes(200) + good[len(good) // 2 + 200:])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lmd_full.tar.gz").write_bytes(data)
        ds, records, _ = _build(tmp_path / name, tmp_path, "lmd_full", cache=f"c{name}")
        assert 0 < len(_rows(ds)) < 40, name  # the members before the damage are read
        skips = [r for r in records if r["kind"] == "skip"]
        assert {loading.reason_key(r["reason"]) for r in skips} == {"unreadable archive"}, name
        assert all(r["source"] == "lmd_full.tar.gz" for r in skips)


# -- subsets, config in the cache key, num_proc --------------------------------------------


def test_max_files_subsets_and_cache_key(tmp_path):
    data_dir = synthetic_lakh.write(tmp_path, n=300)
    all_rows = _rows(_build(data_dir, tmp_path, cache="all")[0])
    ds, _, builder = _build(data_dir, tmp_path, cache="c", max_files=60)
    some = _rows(ds)
    expected = sorted(all_rows.values(), key=lambda r: lakh.subset_rank(r["md5"], r["path"]))[:60]
    assert set(some) == {r["path"] for r in expected}
    assert all(len(ds[s]) for s in splits.SPLITS)  # a subset has every split
    again, _, other = _build(data_dir, tmp_path, cache="c", max_files=61)
    assert other.cache_dir != builder.cache_dir and len(_rows(again)) == 61
    hexes, _, third = _build(data_dir, tmp_path, cache="c", subsets=["0", "A"])
    picked = _rows(hexes)
    assert picked and {r["md5"][0] for r in picked.values()} == {"0", "a"}
    assert {p for p, r in all_rows.items() if r["md5"][0] in "0a"} == set(picked)
    assert len({builder.cache_dir, other.cache_dir, third.cache_dir}) == 3
    with pytest.raises(ValueError, match="subsets must be hex digits"):
        _build(data_dir, tmp_path, cache="c", subsets=["g"])
    with pytest.raises(ValueError, match="max_files"):
        _build(data_dir, tmp_path, cache="c", max_files=0)


def test_num_proc_gives_the_same_tables(tmp_path):
    data_dir = synthetic_lakh.write(tmp_path, n=80)
    one = _build(data_dir, tmp_path, cache="one")[0]
    two = _build(data_dir, tmp_path, cache="two", num_proc=2)[0]
    for split in splits.SPLITS:
        assert one[split].data.table.equals(two[split].data.table), split


# -- labels ----------------------------------------------------------------------------


def test_labels_win_by_name_or_md5_and_bad_labels_are_skipped(tmp_path, fixtures):
    md5s = _lmd_full(tmp_path / "d", _pop(fixtures)[:4])
    keys = sorted(md5s)
    labels = {keys[0]: {"valence": -0.5, "arousal": 0.25},           # by md5
              f"{keys[1]}.mid": {"valence": 0.75, "arousal": 0.9},   # by file name
              keys[2]: {"valence": 3, "arousal": 0.5}}               # out of range
    (tmp_path / "d" / "emotion_labels.json").write_text(json.dumps(labels))
    ds, records, _ = _build(tmp_path / "d", tmp_path)
    rows = {r["md5"]: r for r in _rows(ds).values()}
    first = rows[keys[0]]
    assert (first["emotion_source"], first["valence"], first["arousal"]) == ("label", -0.5, 0.25)
    assert rows[keys[1]]["emotion_source"] == "label" and rows[keys[1]]["valence"] == 0.75
    assert rows[keys[3]]["emotion_source"] == "estimated" and keys[2] not in rows
    (bad,) = [r for r in records if r["kind"] == "skip"]
    assert bad["reason"].startswith("label unusable") and "valence=3.0 is outside [-1.0, 1.0]" in bad["reason"]
    (tmp_path / "d" / "emotion_labels.json").write_text("[1, 2]")
    with pytest.raises(lakh.LabelsError, match="emotion_labels.json.*expected"):
        _build(tmp_path / "d", tmp_path, cache="x")


# -- bad input ---------------------------------------------------------------------------

ODD_SKIPS = {  # every other odd_midi file gives a row
    "jazz-soft/midi/test-empty-file.mid": "empty file",
    "jazz-soft/midi/test-not-a-midi-file.mid": "not a MIDI file",
    "nfroidure/sounds/MIDIBadHeaderChunk.mid": "not a MIDI file",
    "nfroidure/sounds/MIDIBadHeaderFormat.mid": "invalid MIDI header",
    "nfroidure/sounds/MIDIBadHeaderSMTPE.mid": "invalid MIDI header",
    "nfroidure/sounds/MIDIBadTrackHdr.mid": "no MIDI track",
    "jazz-soft/midi/test-empty.mid": "no pitched notes",
    "jazz-soft/midi/test-sysex-7e-09-01-gm1-enable.mid": "no pitched notes",
    "miditok/MIDIs_one_track/empty.mid": "no pitched notes",
}


def _smpte(data: bytes) -> bytes:
    out = bytearray(data)
    out[12:14] = bytes((256 - 25, 40))  # 25 fps, 40 ticks per frame
    return bytes(out)


def _rmid(data: bytes) -> bytes:
    pad = b"\x00" * (len(data) & 1)
    return b"RIFF" + struct.pack("<I", 12 + len(data) + len(pad)) + b"RMIDdata" + struct.pack("<I", len(data)) \
        + data + pad


@pytest.fixture(scope="module")
def odd_build(tmp_path_factory):
    from conftest import FIXTURES

    tmp = tmp_path_factory.mktemp("odd")
    odd = FIXTURES / "odd_midi"
    pop = (FIXTURES / "multitrack_pop" / "miditok" / "Shut Up.mid").read_bytes()
    scale = (odd / "jazz-soft" / "midi" / "test-c-major-scale.mid").read_bytes()
    drums = (FIXTURES / "groove" / "groove" / "drummer1" / "session1" / "29_latin-samba_116_fill_4-4.mid").read_bytes()
    inputs = {p.relative_to(odd).as_posix(): p.read_bytes() for p in sorted(odd.rglob("*.mid"))}
    inputs.update({"truncated pop": pop[: len(pop) * 6 // 10], "smpte scale": _smpte(scale),
                   "rmid pop": _rmid(pop), "drums only": drums})
    names = {}
    for name, data in inputs.items():
        md5 = hashlib.md5(name.encode()).hexdigest()
        (tmp / "d" / "lmd_full" / md5[0]).mkdir(parents=True, exist_ok=True)
        (tmp / "d" / "lmd_full" / md5[0] / f"{md5}.mid").write_bytes(data)
        names[f"lmd_full/{md5[0]}/{md5}.mid"] = name
    ds, records, _ = _build(tmp / "d", tmp, "lmd_full")
    return tmp / "d", names, _rows(ds), records, inputs


def test_every_bad_file_has_a_defined_outcome(odd_build):
    _, names, rows, records, inputs = odd_build
    skipped = {names[r["source"]]: loading.reason_key(r["reason"]) for r in records if r["kind"] == "skip"}
    written = {names[p]: r for p, r in rows.items()}
    assert set(skipped) | set(written) == set(names.values()) and not set(skipped) & set(written)
    assert skipped == {**ODD_SKIPS, "drums only": "no pitched notes"}
    # truncated: the notes before the cut, and a note saying so; data byte 168: clamped;
    # SMPTE: converted; RMID: unwrapped - each row as read_notes reads the file
    for name in ("truncated pop", "miditok/MIDIs_corrupted/ValueError_Control168.mid", "smpte scale", "rmid pop"):
        m = read_notes(inputs[name])
        assert written[name]["num_notes"] == len(m.pitched) > 0, name
        assert written[name]["duration_s"] == pytest.approx(m.duration_s, rel=1e-6), name
    assert read_notes(inputs["smpte scale"]).ticks_per_quarter == 0
    assert 0 < written["truncated pop"]["num_notes"] < written["rmid pop"]["num_notes"]
    damaged = {names[r["source"]] for r in records if r["kind"] == "note"}
    assert damaged == {"truncated pop", "jazz-soft/midi/test-corrupt-file-missing-byte.mid"}


def test_check_cli_counts_skips_by_reason(odd_build, tmp_path, capsys):
    data_dir = odd_build[0]
    assert cli(["check", "lakh", str(data_dir), "--config", "lmd_full", "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "skipped inputs (10):" in out
    for reason, n in (("no pitched notes", 4), ("not a MIDI file", 2), ("invalid MIDI header", 2),
                      ("empty file", 1), ("no MIDI track", 1)):
        assert f"{n:>6} x {reason}" in out
    assert "notes on written rows (2):" in out and "damaged MIDI" in out


# -- streaming -----------------------------------------------------------------------------


def test_streaming_splits_between_workers_and_ranks(tmp_path):
    import torch
    from datasets.distributed import split_dataset_by_node
    from torch.utils.data import DataLoader

    data_dir = synthetic_lakh.write(tmp_path, n=120)
    prepared = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=data_dir, split="train",
                                     cache_dir=str(tmp_path / "c"))
    stream = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=data_dir, split="train", streaming=True)
    assert isinstance(stream, datasets.IterableDataset) and stream.num_shards == 16
    first = next(iter(stream))
    assert isinstance(first["notes"][0], float) and len(first["emotion"]) == 64

    def worker(batch):
        info = torch.utils.data.get_worker_info()
        return {"worker": [info.id] * len(batch["path"])}

    tagged = stream.map(worker, batched=True).select_columns(["path", "worker"])
    seen = [(p, w) for b in DataLoader(tagged, batch_size=16, num_workers=2)
            for p, w in zip(b["path"], b["worker"].tolist())]
    paths = [p for p, _ in seen]
    assert len(paths) == len(set(paths)) and set(paths) == set(prepared["path"])
    assert {w for _, w in seen} == {0, 1}
    ranks = [[r["path"] for r in split_dataset_by_node(stream, rank=k, world_size=2)] for k in range(2)]
    assert ranks[0] and ranks[1] and not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == sorted(prepared["path"])


def test_streamed_rows_equal_prepared_rows(odd_build, tmp_path):
    """Every split streamed is the prepared split: same rows in the same order, every column and value
    (float32 columns as the same float32 values), for real files with estimated emotion, damaged and
    skipped ones among them, and for labelled files."""
    import pyarrow as pa

    labelled = synthetic_lakh.write(tmp_path / "labelled", n=60)
    sources = set()
    for data_dir in (odd_build[0], labelled):
        prepared = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"))
        streamed = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=str(data_dir), streaming=True)
        assert sum(map(len, prepared.values())) > 8
        for split, ds in prepared.items():
            assert streamed[split].features == ds.features
            rows = list(streamed[split])
            assert rows == list(ds)
            if rows:
                assert type(rows[0]["notes"]) is list and type(rows[0]["notes"][0]) is float
                tables = list(streamed[split].with_format("arrow").iter(batch_size=1000))
                assert pa.concat_tables(tables).equals(ds.with_format("arrow")[:])
            sources |= {r["emotion_source"] for r in rows}
    assert sources == {"estimated", "label"}


# -- the synthetic corpus -------------------------------------------------------------------


def test_synthetic_corpus_is_deterministic_and_follows_its_labels(tmp_path):
    a = synthetic_lakh.write(tmp_path / "a", n=60)
    b = synthetic_lakh.write(tmp_path / "b", n=60)
    files = sorted(p.relative_to(a).as_posix() for p in Path(a).rglob("*") if p.is_file())
    assert len(files) == 61 and all((Path(a) / f).read_bytes() == (Path(b) / f).read_bytes() for f in files)
    tar1 = synthetic_lakh.write(tmp_path / "t1", n=10, archive=True)
    tar2 = synthetic_lakh.write(tmp_path / "t2", n=10, archive=True)
    assert open(f"{tar1}/lmd_full.tar.gz", "rb").read() == open(f"{tar2}/lmd_full.tar.gz", "rb").read()
    rows = list(_rows(_build(a, tmp_path)[0]).values())
    assert {r["emotion_source"] for r in rows} == {"label"}
    notes = np.array([r["notes"] for r in rows])
    valence = np.array([r["valence"] for r in rows])
    assert notes[:, 42].max() == 0  # F#2 is the hi-hat: drums are excluded (and F# is in neither C scale)
    third = notes[:, 4::12].sum(1) - notes[:, 3::12].sum(1)   # share of E minus share of Eb: C major or minor
    heard = third != 0
    assert heard.mean() > 0.9 and np.all((third[heard] > 0) == (valence[heard] >= 0))
    mean_pitch = notes @ np.arange(128)
    assert np.corrcoef(mean_pitch, valence)[0, 1] > 0.5  # the melody's register follows valence
    first = read_notes(next(Path(a).rglob("*.mid")))
    assert first.notes["is_drum"].any() and first.num_tracks in (1, 5)
