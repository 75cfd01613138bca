"""Issue 8, bounded memory (CI scale): a build's peak RSS does not grow with the size
of the corpus - four times the MIDI files, four times the audio files, four times
the chord rows each leave the peak within a small bound of the single-size build -
and one file's share stays within a bound of its size.

Each build runs in a fresh subprocess (``scripts/bench_memory.py --child``), whose
peak RSS over its post-import baseline is the measure. The full-size run (a 50 MB
MIDI file, 10-minute audio, a 1,000,000-row chord JSONL) is
``scripts/bench_memory.py``; its figures are in docs/RELIABILITY.md. Streaming
Lakh staying flat over 10,000 files is covered by the Lakh tests/benchmarks
(``benchmarks/bench_lakh_stream.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kelly_hf import loading

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import bench_memory as bm  # noqa: E402

MB = 1 << 20
# Allowed extra peak for 4x the corpus (allocator noise, Arrow writer batches): far
# below what one more file costs, so growth per file would show.
CORPUS_GROWTH_MB = 24


def _pair(tmp_path, builder, config, make_one, make_four):
    one = bm.measure(builder, config, make_one(tmp_path / "one"))
    four = bm.measure(builder, config, make_four(tmp_path / "four"))
    print(f"\n{builder}/{config}: one {one}\nfour {four}")
    return one, four


def test_midi_build_peak_does_not_grow_with_the_corpus(tmp_path):
    one, four = _pair(tmp_path, "maestro", "segments",
                      lambda r: bm.midi_corpus(r, "maestro", [1 * MB]),
                      lambda r: bm.midi_corpus(r, "maestro", [1 * MB] * 4))
    assert four["rows"] >= 4 * one["rows"] - 4 and one["rows"] > 50
    assert four["growth_mb"] - one["growth_mb"] < CORPUS_GROWTH_MB, (one, four)
    assert one["growth_mb"] < 64 + 50 * one["input_mb"], one   # one 1 MB file: bounded by its size


def test_audio_build_peak_does_not_grow_with_the_corpus(tmp_path):
    one, four = _pair(tmp_path, "deam", "song",
                      lambda r: bm.audio_corpus(r, [30.0]),
                      lambda r: bm.audio_corpus(r, [30.0] * 4))
    assert one["rows"] == 1 and four["rows"] == 4
    # one 30 s file decoded (44.1 kHz stereo float32, mono, the 22.05 kHz resample) is ~20 MB:
    # memory kept per file would add ~60 MB for the three more
    assert four["growth_mb"] - one["growth_mb"] < CORPUS_GROWTH_MB, (one, four)
    assert one["growth_mb"] < 96, one


def test_chord_rows_peak_does_not_grow_with_the_row_count(tmp_path):
    one, four = _pair(tmp_path, "harmony", None,
                      lambda r: bm.chords_corpus(r, 3_000, distinct=100),
                      lambda r: bm.chords_corpus(r, 12_000, distinct=100))
    assert one["rows"] == 3_000 and four["rows"] == 12_000
    assert four["growth_mb"] - one["growth_mb"] < 12, (one, four)


@pytest.mark.skipif("lakh" not in loading.available(), reason="lakh not installed")
def test_lakh_big_file_is_bounded_by_its_size(tmp_path):
    """The Lakh builder over one generated 2 MB MIDI file: peak growth within a bound of
    the file's size (the many-file streaming case is the Lakh engineer's benchmark)."""
    r = bm.measure("lakh", None, bm.midi_corpus(tmp_path, "lakh", [2 * MB]))
    assert r["rows"] == 1, r
    assert r["growth_mb"] < 64 + 50 * r["input_mb"], r
