"""The DEAM builder on the real fixtures (official layout, zips, emoMusic files), the seed layout,
bad input, the synthetic writer and the check CLI."""

import csv
import math
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kelly_hf import audio, deam, emotion, loading, splits, synthetic
from kelly_hf.cli import main as cli

SONG_LEVEL = "annotations/annotations averaged per song/song_level"
DYNAMIC = "annotations/annotations averaged per song/dynamic (per second annotations)"
STATIC_1_2000 = f"{SONG_LEVEL}/static_annotations_averaged_songs_1_2000.csv"
STATIC_HEADER = "song_id, valence_mean, valence_std, arousal_mean, arousal_std"
# the bad-input tests decode a text file as MP3: the audioread fallback imports deprecated stdlib modules
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")


def _build(data_dir, tmp_path, name=None, num_proc=None, cache="cache", **config):
    return _built(data_dir, tmp_path, name, num_proc, cache, **config)[:2]


def _built(data_dir, tmp_path, name=None, num_proc=None, cache="cache", **config):
    builder = loading.load_builder("deam", name, data_dir=str(data_dir), cache_dir=str(tmp_path / cache), **config)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset(), loading.skip_records(builder), builder


def _rows(dd):
    return sorted((r for d in dd.values() for r in d), key=lambda r: deam.sort_key(r["song_id"]))


def _skips(records, kind="skip"):
    return loading.reason_counts(records, kind)


def official(tmp_path, fixtures, dynamic=False, name="data"):
    """The official extracted layout: the real song-level CSVs and MEMD_audio/3.mp3 (+ 2 Hz CSVs)."""
    d = tmp_path / name
    shutil.copytree(fixtures / "deam" / SONG_LEVEL, d / SONG_LEVEL)
    (d / "MEMD_audio").mkdir()
    shutil.copy(fixtures / "deam" / "MEMD_audio" / "3.mp3", d / "MEMD_audio" / "3.mp3")
    if dynamic:  # emoMusic's 2 Hz CSVs are in the DEAM format: put them where DEAM has its own
        (d / DYNAMIC).mkdir(parents=True)
        for dim in ("valence", "arousal"):
            shutil.copy(fixtures / "deam" / "emomusic_1000songs" / "annotations" / f"{dim}_cont_average.csv",
                        d / DYNAMIC / f"{dim}.csv")
    return d


def _zip(path, root, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            zf.write(root / m, m)


def _wide_row(path, song_id):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        row = next(r for r in reader if r[0] == song_id)
    return [float(h[len("sample_"):-2]) / 1000 for h in header[1:]], [float(x) for x in row[1:]]


# -- the official layout on the real files --------------------------------------------


def test_official_layout_real_song_level_csvs(tmp_path, fixtures):
    dd, records = _build(official(tmp_path, fixtures), tmp_path)
    rows = _rows(dd)
    assert len(rows) == 1
    row = rows[0]
    # static_annotations_averaged_songs_1_2000.csv: "3,3.5,1.75,3.3,1.62" on the 1..9 scale
    assert row["song_id"] == "3" and row["audio_file"] == "MEMD_audio/3.mp3"
    assert row["valence"] == pytest.approx((3.5 - 5) / 4) and row["arousal"] == pytest.approx((3.3 - 1) / 8)
    assert row["valence_std"] == pytest.approx(1.75 / 4) and row["arousal_std"] == pytest.approx(1.62 / 8)
    assert np.array_equal(np.float32(row["emotion"]), emotion.encode((3.5 - 5) / 4, (3.3 - 1) / 8))
    y, sr = audio.load(fixtures / "deam" / "MEMD_audio" / "3.mp3")
    assert np.array_equal(np.float32(row["mel"]), audio.mel_features(y, sr))
    assert row["duration_s"] == pytest.approx(y.size / sr) and 44.9 < row["duration_s"] < 45.1
    assert len(dd[splits.hash_split("3")]) == 1
    # 1744 + 58 rows in the two CSVs, one of them has audio
    assert _skips(records) == {"annotation without audio": 1801}
    assert not _skips(records, "note")


def test_second_song_level_file_is_read_by_column_name(tmp_path, fixtures):
    """static_annotations_averaged_songs_2000_2058.csv has 13 columns (and the "valence_ max_mean" typo)."""
    d = official(tmp_path, fixtures)
    shutil.copy(d / "MEMD_audio" / "3.mp3", d / "MEMD_audio" / "2001.mp3")
    rows = {r["song_id"]: r for r in _rows(_build(d, tmp_path)[0])}
    # "2001,3.2,0.98,5.0,1.41,2.2,0.98,6.6,0.8,8.6,0.49,3.4,1.02"
    r = rows["2001"]
    assert (r["valence"], r["arousal"]) == pytest.approx(((3.2 - 5) / 4, (6.6 - 1) / 8))
    assert (r["valence_std"], r["arousal_std"]) == pytest.approx((0.98 / 4, 0.8 / 8))
    assert rows["2001"]["mel"] == rows["3"]["mel"]


def test_zips_as_distributed_give_identical_rows(tmp_path, fixtures):
    extracted = official(tmp_path, fixtures, dynamic=True)
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    _zip(zipped / "DEAM_audio.zip", extracted, ["MEMD_audio/3.mp3"])
    _zip(zipped / "DEAM_Annotations.zip", extracted,
         [p.relative_to(extracted).as_posix() for p in sorted((extracted / "annotations").rglob("*.csv"))])
    for config in ("song", "frames"):
        one, rec_one = _build(extracted, tmp_path, config, cache=f"c1{config}")
        two, rec_two = _build(zipped, tmp_path, config, cache=f"c2{config}")
        assert sum(map(len, two.values())) == 1
        for split in one:
            assert one[split].data.table.equals(two[split].data.table), (config, split)
        assert _skips(rec_one) == _skips(rec_two)
    assert "DEAM_Annotations.zip::annotations/" in " ".join(r["source"] for r in rec_two)


def test_extracted_and_zipped_copies_side_by_side_are_read_once(tmp_path, fixtures):
    d = official(tmp_path, fixtures)
    _zip(d / "DEAM_audio.zip", d, ["MEMD_audio/3.mp3"])
    _zip(d / "DEAM_Annotations.zip", d, [p.relative_to(d).as_posix() for p in sorted((d / SONG_LEVEL).glob("*.csv"))])
    dd, records = _build(d, tmp_path)
    assert [r["song_id"] for r in _rows(dd)] == ["3"]
    assert _skips(records) == {"annotation without audio": 1801, "duplicate audio": 1, "duplicate annotation file": 2}
    assert {r["source"] for r in records if r["reason"].startswith("duplicate audio")} == {"DEAM_audio.zip::MEMD_audio/3.mp3"}


def test_frames_on_song_3_with_the_real_2hz_csvs(tmp_path, fixtures):
    d = official(tmp_path, fixtures, dynamic=True)
    dd, records = _build(d, tmp_path, "frames")
    rows = _rows(dd)
    assert [r["song_id"] for r in rows] == ["3"]
    row = rows[0]
    times, v = _wide_row(d / DYNAMIC / "valence.csv", "3")
    _, a = _wide_row(d / DYNAMIC / "arousal.csv", "3")
    assert times[0] == 15.0 and times[-1] == 45.0 and len(times) == 61
    # the clip is 45.01 s: the window [45.0, 45.5) is mostly past the end, so 60 labels remain
    y, sr = audio.load(d / "MEMD_audio" / "3.mp3")
    assert row["times_s"] == pytest.approx(times[:60])
    assert np.array_equal(np.float32(row["valence"]), np.float32(v[:60]))
    assert np.allclose(row["arousal"], (np.array(a[:60]) + 1) / 2, atol=1e-7)
    assert np.array_equal(np.float32(row["mel"]), audio.window_features(y, sr, np.array(times[:60]), 0.5))
    assert np.array_equal(np.float32(row["emotion"][7]), emotion.encode(v[7], (a[7] + 1) / 2))
    assert _skips(records) == {"annotation without audio": 743}
    # the song-level CSVs are there too: compared with the 2 Hz labels (the 2013 block disagrees, see below)
    assert _skips(records, "note") == {"labels past the end of the audio": 1, deam.DISAGREE: 1}
    # the song config of the same folder still reads the song-level CSVs
    assert [r["song_id"] for r in _rows(_build(d, tmp_path, "song", cache="c2")[0])] == ["3"]


def test_emomusic_files_column_order_and_precedence(tmp_path, fixtures):
    # the whole fixture folder: official song-level CSVs win over emoMusic's static_annotations.csv
    shutil.copytree(fixtures / "deam", tmp_path / "all")
    dd, records = _build(tmp_path / "all", tmp_path)
    row = _rows(dd)[0]
    assert row["valence"] == pytest.approx((3.5 - 5) / 4)
    ignored = [r for r in records if r["reason"].startswith("annotation file ignored")]
    assert [r["source"] for r in ignored] == ["emomusic_1000songs/annotations/static_annotations.csv"]
    # emoMusic alone: song_id,mean_arousal,std_arousal,mean_valence,std_valence -> "3,3.5,1.8409,3.3,1.7029"
    d = tmp_path / "emo"
    shutil.copytree(fixtures / "deam" / "emomusic_1000songs", d / "emomusic_1000songs")
    (d / "clips_45seconds").mkdir()
    shutil.copy(fixtures / "deam" / "MEMD_audio" / "3.mp3", d / "clips_45seconds" / "3.mp3")
    row = _rows(_build(d, tmp_path, cache="c2")[0])[0]
    assert (row["valence"], row["arousal"]) == pytest.approx(((3.3 - 5) / 4, (3.5 - 1) / 8))
    assert (row["valence_std"], row["arousal_std"]) == pytest.approx((1.7029 / 4, 1.8409 / 8))
    frames = _rows(_build(d, tmp_path, "frames", cache="c3")[0])[0]  # *_cont_average.csv read directly
    assert len(frames["times_s"]) == 60


# -- static vs dynamic annotations: the check and the labels value ------------------------

EMO = "emomusic_1000songs/annotations"


def _disagreements(records):
    return [r for r in records if r["kind"] == "note" and r["reason"].startswith(deam.DISAGREE)]


def _numbers(reason):
    return [float(x) for x in re.findall(r"correlates (\d\.\d{3}) .*? but (\d\.\d{3})", reason)[0]] + \
        [float(x) for x in re.findall(r"static arousal (\d\.\d{3}) .*? but (\d\.\d{3})", reason)[0]]


def test_check_fires_on_the_fixtures_official_layout(tmp_path, fixtures, caplog):
    """The real song-level CSVs against the real 2 Hz averages (emoMusic's, in DEAM's dynamic folder)."""
    d = official(tmp_path, fixtures, dynamic=True)
    checks = deam.check_annotations(str(d))
    # only the 2013 block has songs labelled both ways (the 2 Hz files hold songs 2..1000)
    assert [(c.block, c.songs, c.swapped) for c in checks] == [((1, 1000, "2013"), 744, True)]
    (vv, va), (av, aa) = checks[0].r
    assert (round(va, 3), round(vv, 3), round(av, 3), round(aa, 3)) == (0.956, 0.575, 0.950, 0.570)
    with caplog.at_level("WARNING", logger="kelly_hf"):
        dd, records = _build(d, tmp_path)
    [note] = _disagreements(records)
    assert note["source"] == STATIC_1_2000 and note["split"] == "*"
    assert "songs 1-1000 (2013 set, 744 songs labelled in both)" in note["reason"]
    assert _numbers(note["reason"]) == [0.956, 0.575, 0.950, 0.570]
    assert f"{DYNAMIC}/valence.csv" in note["reason"] and "labels='static'" in note["reason"]
    assert any(deam.DISAGREE in m and "songs 1-1000" in m for m in caplog.messages)   # the build log shows it
    # the default keeps today's rows: the static values of song 3
    assert (_rows(dd)[0]["valence"], _rows(dd)[0]["arousal"]) == pytest.approx(((3.5 - 5) / 4, (3.3 - 1) / 8))
    # the frames config compares too; on the whole fixture folder the same files meet
    assert len(_disagreements(_build(d, tmp_path, "frames", cache="c2")[1])) == 1
    shutil.copytree(fixtures / "deam", tmp_path / "all")
    [note] = _disagreements(_build(tmp_path / "all", tmp_path, cache="c3")[1])
    assert f"{EMO}/valence_cont_average.csv" in note["reason"] and _numbers(note["reason"])[0] == 0.956


def test_check_is_silent_on_consistent_trees(tmp_path, fixtures):
    # 1. emoMusic's own static_annotations.csv (read by name: mean_arousal comes first) and its 2 Hz files
    d = tmp_path / "emo"
    shutil.copytree(fixtures / "deam" / "emomusic_1000songs", d / "emomusic_1000songs")
    (d / "MEMD_audio").mkdir()
    shutil.copy(fixtures / "deam" / "MEMD_audio" / "3.mp3", d / "MEMD_audio" / "3.mp3")
    [check] = deam.check_annotations(str(d))
    assert check.songs == 744 and not check.swapped
    assert [round(x, 3) for row in check.r for x in row] == [0.950, 0.570, 0.575, 0.956]
    rows = {}
    for config, labels in (("song", "auto"), ("frames", "static")):
        dd, records = _build(d, tmp_path, config, cache=f"c-{config}-{labels}", labels=labels)
        assert not [r for r in records if r["kind"] == "note" and "annotations" in r["reason"]], (config, labels)
        rows[config] = _rows(dd)[0]
    # auto on a consistent tree: the static values
    assert (rows["song"]["valence"], rows["song"]["valence_std"]) == pytest.approx(((3.3 - 5) / 4, 1.7029 / 4))
    # 2. the official song-level file with the 2013 block's valence and arousal columns exchanged
    fixed = official(tmp_path, fixtures, dynamic=True, name="fixed")
    lines = (fixed / STATIC_1_2000).read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        i, vm, vs, am, as_ = line.split(",")
        out.append(",".join([i, am, as_, vm, vs] if int(i) <= 1000 else [i, vm, vs, am, as_]))
    (fixed / STATIC_1_2000).write_text("\n".join(out) + "\n")
    [check] = deam.check_annotations(str(fixed))
    assert not check.swapped and check.r[0][0] > 0.94 and check.r[1][1] > 0.95
    assert not _disagreements(_build(fixed, tmp_path, cache="c-fixed")[1])
    # 3. the synthetic corpus: see test_synthetic_writer_official_layout_and_learnable


def labels_tree(tmp_path, fixtures):
    """The official layout with both kinds of labels; audio for song 3 (2013 block), 4 (2013, its
    2 Hz rows removed), 1001 (2014) and 2001 (2015) - the last two have no 2 Hz labels."""
    d = official(tmp_path, fixtures, dynamic=True, name="labels")
    for song_id in ("4", "1001", "2001"):
        shutil.copy(d / "MEMD_audio" / "3.mp3", d / "MEMD_audio" / f"{song_id}.mp3")
    for dim in ("valence", "arousal"):
        path = d / DYNAMIC / f"{dim}.csv"
        path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("4,")))
    return d


def test_labels_static_dynamic_auto_on_the_fixtures(tmp_path, fixtures):
    d = labels_tree(tmp_path, fixtures)
    _, v = _wide_row(d / DYNAMIC / "valence.csv", "3")
    _, a = _wide_row(d / DYNAMIC / "arousal.csv", "3")
    dynamic_3 = (np.mean(v), (np.mean(a) + 1) / 2)          # DESIGN §2 on the 61 values of song 3
    static_3 = ((3.5 - 5) / 4, (3.3 - 1) / 8)
    built = {}
    for labels in ("static", "dynamic", "auto"):
        dd, records, builder = _built(d, tmp_path, cache="c", labels=labels)
        built[labels] = ({r["song_id"]: r for r in _rows(dd)}, records, builder.cache_dir)
        [note] = _disagreements(records)   # the same finding, whatever the labels
        assert "songs 1-1000" in note["reason"] and f"labels='{labels}'" in note["reason"]

    rows, records, _ = built["static"]
    assert sorted(rows, key=deam.sort_key) == ["3", "4", "1001", "2001"]
    assert (rows["3"]["valence"], rows["3"]["arousal"]) == pytest.approx(static_3)
    assert rows["3"]["valence_std"] == pytest.approx(1.75 / 4)

    rows, records, _ = built["dynamic"]
    assert list(rows) == ["3"]
    assert (rows["3"]["valence"], rows["3"]["arousal"]) == pytest.approx(dynamic_3)
    assert rows["3"]["valence_std"] is None and rows["3"]["arousal_std"] is None   # no raters' spread given
    assert np.array_equal(np.float32(rows["3"]["emotion"]), emotion.encode(*dynamic_3))
    assert _skips(records) == {"audio without annotation": 3, "annotation without audio": 742}
    assert {r["source"] for r in records if r["reason"].startswith("audio without")} == \
        {"MEMD_audio/4.mp3", "MEMD_audio/1001.mp3", "MEMD_audio/2001.mp3"}

    rows, records, _ = built["auto"]
    assert sorted(rows, key=deam.sort_key) == ["3", "1001", "2001"]
    assert (rows["3"]["valence"], rows["3"]["arousal"]) == pytest.approx(dynamic_3)            # swapped block
    assert rows["3"]["valence_std"] is None
    assert (rows["1001"]["valence"], rows["1001"]["arousal"]) == \
        pytest.approx(tuple(built["static"][0]["1001"][k] for k in ("valence", "arousal")))   # 2014: not compared
    assert rows["2001"]["valence"] == pytest.approx((3.2 - 5) / 4)                             # 2015: static
    [no_2hz] = [r for r in records if r["reason"].startswith("no dynamic labels in a swapped block")]
    assert no_2hz["source"] == f"{STATIC_1_2000} line 4" and "song 4 is in songs 1-1000" in no_2hz["reason"]
    assert _skips(records)["label unusable"] == 1   # 4.mp3: its static row is the one skipped
    # the value is part of the cache key: three builds, three caches; the same value reuses its cache
    assert len({b[2] for b in built.values()}) == 3
    assert _built(d, tmp_path, cache="c", labels="auto")[2].cache_dir == built["auto"][2]


def test_labels_errors(tmp_path, fixtures):
    d = official(tmp_path, fixtures)   # song-level CSVs only
    for labels in ("dynamic", "auto"):
        with pytest.raises(FileNotFoundError, match=rf"no dynamic \(2 Hz\) annotation CSVs under {re.escape(str(d))} "
                                                    rf"\(labels='{labels}' needs them\).*valence\.csv.*arousal\.csv"):
            _build(d, tmp_path, cache=f"c-{labels}", labels=labels)
    with pytest.raises(ValueError, match=r"labels must be one of 'static', 'dynamic', 'auto', not 'Dynamic'"):
        _build(d, tmp_path, labels="Dynamic")
    with pytest.raises(ValueError, match="labels='auto' is for the song config"):
        _build(d, tmp_path, "frames", labels="auto")
    # without dynamic labels the static build is today's: no comparison, no note
    assert not _disagreements(_build(d, tmp_path, cache="c-static")[1])


def test_block_rule():
    def dicts(n, swap):
        rng = np.random.default_rng(0)
        vs, as_ = rng.uniform(-0.9, 0.9, n), rng.uniform(0.1, 0.9, n)
        static = {str(i + 2): (deam.Label(float(a * 2 - 1) if swap else float(v), float((v + 1) / 2) if swap
                                          else float(a), None, None), "s") for i, (v, a) in enumerate(zip(vs, as_))}
        dynamic = {str(i + 2): (deam.Dynamic((15.0, 15.5), (float(v),) * 2, (float(a),) * 2), "d")
                   for i, (v, a) in enumerate(zip(vs, as_))}
        return static, dynamic
    assert deam.compare(*dicts(deam.MIN_COMPARED - 1, swap=True)) == []   # too few songs: not compared
    [swapped] = deam.compare(*dicts(deam.MIN_COMPARED, swap=True))
    [straight] = deam.compare(*dicts(deam.MIN_COMPARED, swap=False))
    assert swapped.swapped and not straight.swapped and straight.r[0][0] == pytest.approx(1.0)
    static, dynamic = dicts(30, swap=False)
    flat = {k: (deam.Label(0.0, x.arousal, None, None), w) for k, (x, w) in static.items()}
    [constant] = deam.compare(flat, dynamic)   # a constant column: NaN correlations, never "swapped"
    assert math.isnan(constant.r[0][0]) and not constant.swapped
    assert [deam.block_of(i) for i in ("1", "1000", "1001", "2000", "2001", "2058")] == \
        [(1, 1000, "2013")] * 2 + [(1001, 2000, "2014")] * 2 + [(2001, 2058, "2015")] * 2
    assert [deam.block_of(i) for i in ("0", "2059", "calm_01", "3a", "\u0663")] == [None] * 5


# -- the seed layout and audio formats --------------------------------------------------


def _tone(seconds, sr, channels=1, amp=0.3, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return y if channels == 1 else np.stack([y] * channels, axis=1)


SEED_AUDIO = {  # file -> (seconds, sample rate, channels, soundfile format)
    "calm.wav": (1.5, 22050, 1, "WAV"),
    "happy.wav": (1.5, 48000, 2, "WAV"),
    "tense.flac": (1.5, 16000, 1, "FLAC"),
    "sad.ogg": (1.3, 44100, 2, "OGG"),
    "loud.mp3": (1.0, 44100, 2, "MP3"),
}
SEED_LABELS = {"calm": (0.3, 0.2), "happy": (0.8, 0.7), "tense": (-0.6, 0.9), "sad": (-0.7, 0.1), "loud": (0.0, 1.0)}


def seed_layout(tmp_path, csv_place="annotations/annotations.csv"):
    d = tmp_path / "deam"
    (d / "audio").mkdir(parents=True)
    for name, (sec, sr, ch, fmt) in SEED_AUDIO.items():
        sf.write(d / "audio" / name, _tone(sec, sr, ch), sr, format=fmt)
    lines = ["filename,valence,arousal"] + [f"{n},{v},{a}" for n, (v, a) in
                                            zip(SEED_AUDIO, SEED_LABELS.values())]
    lines.append("extra.wav,5.7,4.2")  # a DEAM 1..9 value in a canonical column: skipped, with a hint
    (d / csv_place).parent.mkdir(parents=True, exist_ok=True)
    (d / csv_place).write_text("\n".join(lines) + "\n")
    sf.write(d / "audio" / "extra.wav", _tone(1.0, 22050), 22050)
    return d


@pytest.mark.parametrize("place", ["annotations/annotations.csv", "annotations.csv", "labels.csv"])
def test_seed_layout_any_format_rate_and_channels(tmp_path, place):
    dd, records = _build(seed_layout(tmp_path, place), tmp_path)
    rows = {r["song_id"]: r for d in dd.values() for r in d}
    assert set(rows) == set(SEED_LABELS)
    for song_id, (v, a) in SEED_LABELS.items():
        r = rows[song_id]
        assert (r["valence"], r["arousal"]) == pytest.approx((v, a))
        assert r["valence_std"] is None and r["arousal_std"] is None  # not given: null, not a default
        assert r["duration_s"] == pytest.approx(SEED_AUDIO[r["audio_file"].split("/")[-1]][0], abs=0.06)
    # same tone at the same level: the same mel whatever the rate / channels / lossless format
    assert np.allclose(rows["calm"]["mel"], rows["happy"]["mel"], atol=0.01)
    # 16 kHz audio has nothing above 8 kHz, so compare the bands below
    assert np.abs(np.subtract(rows["calm"]["mel"], rows["tense"]["mel"])[:100]).max() < 0.02
    out = [r for r in records if r["reason"].startswith("value out of range")]
    assert len(out) == 1 and "valence_mean" in out[0]["reason"] and "5.7" in out[0]["reason"]
    assert _skips(records) == {"value out of range": 1, "label unusable": 1}  # the row, and extra.wav


def test_missing_annotations_error_lists_every_place_looked(tmp_path):
    d = tmp_path / "only_audio"
    (d / "audio").mkdir(parents=True)
    sf.write(d / "audio" / "a.wav", _tone(1, 22050), 22050)
    with pytest.raises(FileNotFoundError) as err:
        _build(d, tmp_path)
    for place in ("static_annotations_averaged_songs_*.csv", "static_annotations.csv", "annotations/annotations.csv",
                  "'annotations.csv'", "labels.csv", str(d)):
        assert place in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"dynamic.*valence\.csv.*arousal\.csv.*_cont_average"):
        _build(d, tmp_path, "frames")
    (d / "labels.csv").write_text("filename,valence,arousal\na.wav,0.1,0.2\n")
    (d / "audio" / "a.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"no audio under .*MEMD_audio"):
        _build(d, tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist.*MEMD_audio"):
        _build(tmp_path / "nope", tmp_path)


def test_csv_without_the_needed_columns_is_a_clear_error(tmp_path):
    d = tmp_path / "d"
    (d / "audio").mkdir(parents=True)
    sf.write(d / "audio" / "a.wav", _tone(1, 22050), 22050)
    (d / "annotations.csv").write_text("name,happiness\na.wav,3\n")
    with pytest.raises(ValueError, match=r"annotations\.csv: needs a song id column .*valence_mean.*found "
                                          r"columns \['name', 'happiness'\]"):
        _build(d, tmp_path)
    (d / "valence.csv").write_text("song_id,t1,t2\na,0.1,0.2\n")
    (d / "arousal.csv").write_text("song_id,t1,t2\na,0.1,0.2\n")
    with pytest.raises(ValueError, match=r"valence\.csv: needs a song_id column and sample_<ms>ms columns"):
        _build(d, tmp_path, "frames")
    (d / "arousal.csv").unlink()
    with pytest.raises(ValueError, match=r"valence\.csv: found no arousal\.csv beside it"):
        _build(d, tmp_path, "frames")


# -- bad input ------------------------------------------------------------------------


def bad_layout(tmp_path, fixtures):
    d = tmp_path / "bad"
    audio_dir = d / "MEMD_audio"
    audio_dir.mkdir(parents=True)
    shutil.copy(fixtures / "deam" / "MEMD_audio" / "3.mp3", audio_dir / "3.mp3")
    (audio_dir / "4.mp3").write_text("this is not an mp3 file\n")          # unreadable
    (audio_dir / "5.mp3").write_bytes(b"")                                  # zero bytes
    sf.write(audio_dir / "6.wav", np.zeros((0, 1), np.float32), 22050)      # a header, no samples
    sf.write(audio_dir / "7.wav", np.zeros(17 * 22050, np.float32), 22050)  # silence: a valid row
    sf.write(audio_dir / "8.wav", _tone(0.05, 22050), 22050)                # shorter than one STFT window
    sf.write(audio_dir / "9.wav", _tone(1.0, 22050), 22050)                 # no annotation row
    sf.write(audio_dir / "10.wav", _tone(20.0, 8000), 8000)                 # non-numeric label
    sf.write(audio_dir / "11.wav", _tone(1.0, 22050), 22050)                # label out of the 1..9 scale
    sf.write(audio_dir / "12.flac", _tone(20.0, 22050), 22050)              # good, with gaps in its 2 Hz labels
    (d / SONG_LEVEL).mkdir(parents=True)
    rows = ["3,3.5,1.75,3.3,1.62", "4,5,1,5,1", "5,5,1,5,1", "6,5,1,5,1", "7,5,1,5,1", "8,5,1,5,1",
            "10,abc,1,5,1", "11,0.5,1,5,1", "12,7,,8,n/a", "12,6,1,6,1", "500,5,1,5,1", " ,5,1,5,1"]
    (d / STATIC_1_2000).write_text("\r\n".join([STATIC_HEADER] + rows) + "\r\n")
    (d / DYNAMIC).mkdir(parents=True)
    head = "song_id," + ",".join(f"sample_{ms}ms" for ms in range(15000, 20000, 500))
    ten = lambda x: ",".join([x] * 10)  # noqa: E731
    valence = [head, f"3,{ten('0.1')}", "7,0.2,0.2,0.2,NaN,NaN,NaN,NaN,NaN,NaN,NaN",
               "8,0.1,0.1", "10,0.1,0.1,oops,0.1", "11,0.1,1.5", "12,0.5,0.5,0.5,,,0.5,0.5", "13,0.1,0.1",
               "500,0.1", "15,NaN,,NaN", "16," + ten("0.1") + ",0.2"]
    arousal = [head, f"3,{ten('-0.2')}", "7,0.2,0.2,0.2", "8,0.1,0.1", "10,0.1,0.1,0.1,0.1",
               "11,0.1,0.1", "12,-0.5,-0.5,-0.5,,,,0.5,0.5,NaN", "14,0.3", "500,0.1", "15,NaN", "16,0.1"]
    (d / DYNAMIC / "valence.csv").write_text("\n".join(valence) + "\n")
    (d / DYNAMIC / "arousal.csv").write_text("\n".join(arousal) + "\n")
    return d


def test_bad_input_song_config(tmp_path, fixtures):
    dd, records = _build(bad_layout(tmp_path, fixtures), tmp_path)
    rows = {r["song_id"]: r for r in _rows(dd)}
    assert set(rows) == {"3", "7", "12"}
    assert np.array_equal(rows["7"]["mel"], np.full(128, -1.0, np.float32))  # silence is valid: all -1
    assert (rows["12"]["valence"], rows["12"]["arousal"]) == pytest.approx((0.5, 7 / 8))  # first row wins
    assert rows["12"]["valence_std"] is None and rows["12"]["arousal_std"] is None   # "", "n/a": null
    assert _skips(records) == {
        "unreadable audio": 2, "zero-length audio": 1, "audio too short": 1, "audio without annotation": 1,
        "annotation without audio": 1, "non-numeric value": 1, "value out of range": 1, "duplicate annotation": 1,
        "no song id": 1, "label unusable": 2,  # 10.wav and 11.wav: their rows were the skipped ones
    }
    by_source = {r["source"].split(" ")[0]: r["reason"] for r in records if r["kind"] == "skip"}
    assert "empty file (0 bytes)" in by_source["MEMD_audio/5.mp3"]
    assert "MEMD_audio/4.mp3" in by_source["MEMD_audio/4.mp3"]
    assert "valence 'abc' (song 10)" in " ".join(r["reason"] for r in records)


def test_bad_input_frames_config(tmp_path, fixtures):
    dd, records = _build(bad_layout(tmp_path, fixtures), tmp_path, "frames")
    rows = {r["song_id"]: r for r in _rows(dd)}
    assert set(rows) == {"3", "7", "12"}
    # song 7: NaN padding after three values; the silent clip still gives its frames (all -1)
    assert rows["7"]["times_s"] == pytest.approx([15.0, 15.5, 16.0])
    assert np.array_equal(rows["7"]["mel"], np.full((3, 128), -1.0, np.float32))
    # song 12: empty cells inside, ragged and NaN tails: only times with both values are kept
    assert rows["12"]["times_s"] == pytest.approx([15.0, 15.5, 16.0, 18.0])
    assert rows["12"]["valence"] == pytest.approx([0.5] * 4)
    assert rows["12"]["arousal"] == pytest.approx([0.25] * 3 + [0.75])
    assert rows["3"]["arousal"] == pytest.approx([0.4] * 10) and len(rows["3"]["mel"]) == 10
    assert _skips(records) == {
        "audio without annotation": 4,  # 4, 5, 6 (never decoded: no 2 Hz labels) and 9
        "annotation without audio": 1, "non-numeric value": 1, "value out of range": 1, "label unusable": 2,
        "dynamic annotation incomplete": 4,  # 13, 14 and the arousal rows of 10 and 16 (valence rows skipped)
        "audio shorter than the labelled windows": 1, "no dynamic values": 1, "more values than header columns": 1,
    }
    assert _skips(records, "note") == {"unpaired dynamic values": 1}
    reasons = {r["source"]: r["reason"] for r in records}
    assert reasons["MEMD_audio/10.wav"].endswith("was skipped (non-numeric value)")
    assert "song 10: its valence row was skipped (non-numeric value)" in reasons[f"{DYNAMIC}/arousal.csv line 5"]


# -- synthetic corpus, parallel build, CLI ---------------------------------------------


def test_synthetic_writer_official_layout_and_learnable(tmp_path):
    root = synthetic.write("deam", tmp_path / "a", n=40)
    again = synthetic.write("deam", tmp_path / "b", n=40)
    files = sorted(p.relative_to(root) for p in Path(root).rglob("*") if p.is_file())
    assert len([f for f in files if f.parts[0] == "MEMD_audio"]) == 40
    for f in files:
        assert (tmp_path / "a" / "deam" / f).read_bytes() == (tmp_path / "b" / "deam" / f).read_bytes(), f
    static = (tmp_path / "a" / "deam" / STATIC_1_2000).read_bytes()
    assert static.startswith((STATIC_HEADER + "\r\n").encode())
    late = (tmp_path / "a" / "deam" / SONG_LEVEL / "static_annotations_averaged_songs_2000_2058.csv").read_text()
    assert "valence_ max_mean" in late and late.splitlines()[1].startswith("2001,")
    assert again.endswith("deam")
    # its song-level labels are the means of its 2 Hz ones: compared (ids 2..40) and consistent, so silent
    assert [(c.block, c.songs, c.swapped) for c in deam.check_annotations(root)] == [((1, 1000, "2013"), 39, False)]
    dd, records = _build(root, tmp_path)
    assert not records
    rows = _rows(dd)
    assert len(rows) == 40 and rows[-1]["song_id"] == "2001"
    mel = np.array([r["mel"] for r in rows])
    v = np.array([r["valence"] for r in rows])
    a = np.array([r["arousal"] for r in rows])
    # the sound follows the emotion: level with arousal, spectral balance (high vs low bands) with valence
    assert np.corrcoef(mel.mean(1), a)[0, 1] > 0.6
    assert np.corrcoef(mel[:, 64:].mean(1) - mel[:, :40].mean(1), v)[0, 1] > 0.5
    frames = _rows(_build(root, tmp_path, "frames", cache="c2")[0])
    assert len(frames) == 40 and all(len(f["times_s"]) == len(f["mel"]) >= 9 for f in frames)


def test_parallel_build_gives_the_same_rows(tmp_path):
    root = synthetic.write("deam", tmp_path, n=12)
    one = _build(root, tmp_path, cache="c1")[0]
    two = _build(root, tmp_path, num_proc=2, cache="c2")[0]
    for split in one:
        assert one[split].data.table.equals(two[split].data.table), split


def test_check_cli(tmp_path, fixtures, capsys):
    d = official(tmp_path, fixtures)
    assert cli(["check", "deam", str(d), "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "deam / song" in out
    assert re.search(r"train +1\n +validation +0\n +test +0\n +total +1\n", out)
    assert "mel                list[128] of float32" in out and "valence_std        float32" in out
    assert "song_id            '3'" in out and "valence            -0.3750" in out
    assert "decoded emotion: valence -0.375, arousal 0.287" in out
    assert "skipped inputs (1801)" in out and "1801 x annotation without audio" in out
    assert cli(["check", "deam", str(tmp_path / "nope"), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert "read this first" not in out   # no 2 Hz labels there: nothing compared
    # with the 2 Hz labels beside them: the disagreement in full, above the skip counts
    d = official(tmp_path, fixtures, dynamic=True, name="both")
    assert cli(["check", "deam", str(d), "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    head = out.index("!! read this first: 1 note on the labels themselves")
    assert head < out.index("skipped inputs") < out.index("notes on written rows")
    block = out[head:out.index("skipped inputs")]
    assert STATIC_1_2000 in block and "static and dynamic annotations disagree: songs 1-1000" in block
    assert "0.956 with the dynamic arousal but 0.575 with the dynamic valence" in block
    assert "1 x static and dynamic annotations disagree" in out


def test_song_ids_and_cells():
    assert deam.song_id_of(" 3 ") == "3" and deam.song_id_of("3.0") == "3" and deam.song_id_of("2001") == "2001"
    assert deam.song_id_of("audio/calm_01.WAV") == "calm_01" and deam.song_id_of('"\t3.mp3"') == "3"
    assert deam.song_id_of("1e3") == "1e3" and deam.song_id_of("v1.2") == "v1.2"
    assert sorted(["10", "9", "b", "2001", "a"], key=deam.sort_key) == ["9", "10", "2001", "a", "b"]
    assert deam._norm(" valence_ max_mean") == "valence_max_mean" and deam._norm("\ufeffSong_ID") == "song_id"
    assert deam._number(" NaN ") is None and deam._number("") is None and deam._number("3") == 3.0
    with pytest.raises(ValueError):
        deam._number("abc")
    assert math.isclose(deam.MIN_SONG_S, 2048 / 22050)
