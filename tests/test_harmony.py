"""The harmony builder on every input shape, its bad inputs, and the check CLI."""

import json
import shutil

import numpy as np
import pytest

import kelly_hf
from kelly_hf import chords, emotion, harmony, loading, musical_emotion
from kelly_hf.cli import main as cli

PROGRESSIONS = [
    {"name": "happy", "chords": ["C", "G", "Am", "F", "C", "G"], "emotion": {"valence": 0.8, "arousal": 0.6}, "key": "C"},
    {"name": "sad", "chords": ["Am", "Dm", "E7", "Am"], "emotion": {"valence": -0.7, "arousal": 0.3}},
    {"name": "roman", "chords": ["I", "vi", "IV", "V7"], "key": "G"},
    {"name": "plain", "chords": ["Dm7", "G7", "Cmaj7", "Cmaj7"]},
]


def _load(data_dir, tmp_path, **kw):
    return kelly_hf.load_dataset("harmony", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), **kw)


def _rows(dd):
    return sorted((r for split in dd.values() for r in split), key=lambda r: r["name"])


def _write(tmp_path, name, content):
    d = tmp_path / "data"
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return d


@pytest.mark.parametrize("shape", ["progressions", "chord_progressions", "bare_list", "jsonl", "bare_chord_lists"])
def test_json_shapes_give_the_same_rows(tmp_path, shape):
    if shape == "jsonl":
        d = _write(tmp_path, "corpus.jsonl", "\n".join(json.dumps(p) for p in PROGRESSIONS) + "\n")
    elif shape == "bare_list":
        d = _write(tmp_path, "chord_progressions.json", PROGRESSIONS)
    elif shape == "bare_chord_lists":
        d = _write(tmp_path, "chord_progressions.json", [p["chords"] for p in PROGRESSIONS[:2]])
    else:
        d = _write(tmp_path, "chord_progressions.json", {shape: PROGRESSIONS})
    rows = _rows(_load(d, tmp_path))
    if shape == "bare_chord_lists":
        assert len(rows) == 2 and all(r["emotion_source"] == "estimated" for r in rows)
        return
    assert [r["name"] for r in rows] == ["happy", "plain", "roman", "sad"]
    happy, plain, roman, sad = rows
    assert happy["emotion_source"] == "label" and happy["valence"] == pytest.approx(0.8)
    assert plain["emotion_source"] == "estimated"
    assert [chords.VOCAB[i] for i in roman["chord_ids"]] == ["G:maj", "E:min", "C:maj", "D:7"]
    assert happy["key"] == "C" and happy["num_heard"] == 3
    # the target is the chords after the heard half: G Am... -> heard C G Am, target F C G
    target = np.zeros(64)
    for s in ["F", "C", "G"]:
        target[chords.parse(s)] += 1 / 3
    assert np.allclose(happy["chords"], target)
    assert emotion.decode(happy["context"][:64])[:2] == pytest.approx((0.8, 0.6), abs=1e-5)


def test_context_does_not_depend_on_the_target(tmp_path):
    """Same heard chords and label, different continuations: identical context, different targets."""
    a = {"name": "a", "chords": ["C", "Am", "F", "G"], "emotion": {"valence": 0.1, "arousal": 0.5}}
    b = {"name": "b", "chords": ["C", "Am", "Bdim", "E7"], "emotion": {"valence": 0.1, "arousal": 0.5}}
    c = {"name": "c", "chords": ["C", "Am", "Bdim", "E7"]}
    d = {"name": "d", "chords": ["C", "Am", "F", "F"]}
    rows = {r["name"]: r for r in _rows(_load(_write(tmp_path, "p.json", [a, b, c, d]), tmp_path))}
    assert rows["a"]["context"] == rows["b"]["context"] and rows["a"]["chords"] != rows["b"]["chords"]
    assert rows["c"]["context"] == rows["d"]["context"]  # estimated emotion: from the heard chords only


def test_real_annotation_formats(tmp_path, fixtures):
    d = tmp_path / "data"
    shutil.copytree(fixtures / "chords", d / "chords")
    shutil.copytree(fixtures / "pop909", d / "pop909")
    (d / "lab").mkdir()
    (d / "lab" / "song.lab").write_text("0.0 1.0 N\n1.0 2.5 C:maj\n2.5 4.0 A:min7\n4.0 5.0 F:maj/3\n5.0 6.0 G:7\n")
    dd = _load(d, tmp_path)
    rows = _rows(dd)
    names = [r["name"] for r in rows]
    assert len(rows) == 4, names
    by_source = {r["name"]: r for r in rows}
    billboard = by_source["James Brown - I Don't mind"]
    assert billboard["key"] == "C" and len(billboard["chord_ids"]) > 40
    assert chords.VOCAB[billboard["chord_ids"][0]] == "A:min"
    pop = by_source["POP909 008"]
    assert pop["key"] == "Eb:maj" and chords.VOCAB[pop["chord_ids"][0]] == "D#:maj"  # 'N' left out
    jams = by_source["03_BN3-119-G_solo"]
    assert [chords.VOCAB[i] for i in jams["chord_ids"]] == ["G:maj"] and jams["num_heard"] == 0
    assert np.allclose(jams["context"][64:], -1.0)  # nothing heard renders silence
    lab = by_source["song"]
    assert [chords.VOCAB[i] for i in lab["chord_ids"]] == ["C:maj", "A:min7", "F:maj", "G:7"]


def test_two_builds_give_identical_rows(tmp_path, fixtures):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS})
    shutil.copytree(fixtures / "chords", d / "chords")
    one = kelly_hf.load_dataset("harmony", data_dir=str(d), cache_dir=str(tmp_path / "c1"))
    two = kelly_hf.load_dataset("builders/harmony", data_dir=str(d), cache_dir=str(tmp_path / "c2"))
    for split in one:
        assert one[split].data.table.equals(two[split].data.table)


def test_bad_inputs_are_skipped_with_reasons(tmp_path):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS + [
        {"name": "empty", "chords": []},
        {"name": "only_n", "chords": ["N", "N.C."]},
        {"name": "junk", "chords": ["C", "H7", "xyz", "G"]},
        {"name": "loud", "chords": ["C", "G"], "emotion": {"valence": 3.0, "arousal": 0.5}},
        {"name": "half", "chords": ["C", "G"], "emotion": {"valence": 0.3}},
        "not a progression",
    ]})
    (d / "broken.json").write_text('{"progressions": [ {"chords": ["C", "G"] ,, ]}')
    (d / "lines.jsonl").write_text('{"chords": ["C", "F"]}\n{oops\n{"chords": ["Dm", "G"]}\n')
    builder = loading.load_builder("harmony", data_dir=str(d), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    records = loading.skip_records(builder)
    skips = {(r["source"], r["reason"]) for r in records if r["kind"] == "skip"}
    reasons = " | ".join(r for _, r in skips)
    assert "empty progression" in reasons
    assert any("broken.json line 1 column" in r and "malformed JSON" in r for _, r in skips)
    assert any("lines.jsonl line 2" in r for _, r in skips)
    assert any("(loud)" in r and "valence=3.0" in r for _, r in skips)
    assert any("(half)" in r and "both valence and arousal" in r for _, r in skips)
    assert any("item 9" in r for _, r in skips)  # the string item
    notes = [r for r in records if r["kind"] == "note"]
    assert len(notes) == 1 and "H7" in notes[0]["reason"] and "2 (" in notes[0]["reason"]
    rows = _rows(builder.as_dataset())
    junk = next(r for r in rows if r["name"] == "junk")
    assert [chords.VOCAB[i] for i in junk["chord_ids"]] == ["C:maj", "X", "X", "G:maj"]
    assert {r["name"] for r in rows} >= {"happy", "sad", "roman", "plain", "junk"}
    assert sum(1 for r in rows if r["name"] == "") == 2  # the two good JSONL lines


def test_missing_data_dir_errors_name_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*chord_progressions.json"):
        _load(tmp_path / "nope", tmp_path)
    with pytest.raises(FileNotFoundError, match="no data_dir given"):
        kelly_hf.load_dataset("harmony")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no chord inputs under .*empty"):
        _load(tmp_path / "empty", tmp_path)


def test_cache_reused_and_rebuilt_on_changes(tmp_path):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS})
    first = _load(d, tmp_path)
    assert sum(len(s) for s in first.values()) == 4
    files_before = first["train"].cache_files
    again = _load(d, tmp_path)
    assert again["train"].cache_files == files_before  # reused
    (d / "more.jsonl").write_text(json.dumps({"name": "extra", "chords": ["E", "A"]}) + "\n")
    added = _load(d, tmp_path)
    assert "extra" in [r["name"] for r in _rows(added)]
    (d / "more.jsonl").write_text(json.dumps({"name": "edited", "chords": ["E", "A"]}) + "\n")
    edited = _load(d, tmp_path)
    assert "edited" in [r["name"] for r in _rows(edited)] and "extra" not in [r["name"] for r in _rows(edited)]
    (d / "more.jsonl").unlink()
    assert sum(len(s) for s in _load(d, tmp_path).values()) == 4


def test_split_argument_and_streaming(tmp_path):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS})
    full = _load(d, tmp_path)
    for split in full:
        one = _load(d, tmp_path, split=split)
        assert len(one) == len(full[split])
    streamed = _load(d, tmp_path, streaming=True)
    assert sorted(r["name"] for s in streamed.values() for r in s) == sorted(r["name"] for r in _rows(full))


def test_check_cli_exit_codes(tmp_path, capsys):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS + [{"name": "e", "chords": []}]})
    assert cli(["check", "harmony", str(d), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "examples per split" in out and "context            list[128] of float32" in out
    assert "decoded emotion" in out and "1 x empty progression" in out
    bad = _write(tmp_path / "b", "chord_progressions.json", {"progressions": [{"chords": []}]})
    assert cli(["check", "harmony", str(bad), "--cache-dir", str(tmp_path / "c")]) == 1
    assert cli(["check", "harmony", str(tmp_path / "missing")]) == 2
    with pytest.raises(SystemExit) as exc:
        cli(["check", "--help"])
    assert exc.value.code == 0 and "skipped inputs by reason" in capsys.readouterr().out.replace("\n", " ").replace("  ", " ")


def test_estimated_emotion_rule():
    major = [chords.parse(s) for s in ["C", "F", "G", "C"]]
    minor = [chords.parse(s) for s in ["Am", "Dm", "Bdim", "Am"]]
    c_minor = [chords.parse(s) for s in ["Cm", "Fm", "Gm", "Cm"]]
    assert harmony.estimate_emotion(major)[0] > 0.4 and harmony.estimate_emotion(minor)[0] < -0.4
    assert harmony.estimate_emotion(c_minor)[0] < -0.4     # the same roots as `major`, minor triads
    assert harmony.estimate_emotion([]) == (0.0, 0.5) == harmony.estimate_emotion([chords.OTHER] * 3)
    # kelly-emotion-v2's chords variant over the voicings, one 2 s frame each; arousal is neutral
    pitch = [p for i in minor for p in harmony.voicing(i)]
    start = [k * musical_emotion.FRAME_S for k, i in enumerate(minor) for _ in harmony.voicing(i)]
    est = musical_emotion.estimate(pitch, start, 4 * musical_emotion.FRAME_S, variant="chords")
    assert harmony.estimate_emotion(minor) == (est.valence, 0.5) and est.arousal == 0.5


def test_render_is_deterministic_and_mel_reflects_chords():
    a = harmony.heard_mel((chords.parse("C"), chords.parse("G")))
    b = harmony.heard_mel.__wrapped__((chords.parse("C"), chords.parse("G")))
    assert a.tobytes() == b.tobytes()
    other = harmony.heard_mel((chords.parse("F#m"), chords.parse("C#")))
    assert not np.allclose(a, other)


def test_streamed_rows_equal_prepared_rows(tmp_path):
    d = _write(tmp_path, "chord_progressions.json", {"progressions": PROGRESSIONS})
    prepared = _load(d, tmp_path)
    streamed = _load(d, tmp_path, streaming=True)
    for split in prepared:
        assert list(streamed[split]) == list(prepared[split])
