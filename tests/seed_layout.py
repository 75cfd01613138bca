"""A ``datasets/`` folder in the seed layout (DESIGN §5) made of real files from ../shared/fixtures.

Used by the training tests and to reproduce issue 13 by hand::

    python tests/seed_layout.py /tmp/datasets [--many]

One real file per corpus by default; ``--many`` takes every suitable fixture
(Lakh 8 files, Groove 2 takes, Harmony 3 progressions; DEAM and MAESTRO have one).
Conversions, never invented values: DEAM's 1..9 song-level means become the
seed's canonical ``valence,arousal`` by DESIGN §2; the chord progressions are
read from real annotations by ``kelly_hf.harmony``'s readers.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
DEAM_SONG_LEVEL = ("deam/annotations/annotations averaged per song/song_level/"
                   "static_annotations_averaged_songs_1_2000.csv")
LAKH = ["lakh/lmd_full/d/d6caebd1964d9e4a3c5ea59525230e2a.mid"] + [
    f"multitrack_pop/miditok/{name}.mid" for name in (
        "Aicha", "All The Small Things", "Girls Just Want to Have Fun", "I Gotta Feeling", "In Too Deep",
        "Les Yeux Revolvers", "Shut Up")]
MAESTRO = "maestro/maestro-v3.0.0/2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.midi"
GROOVE = ["groove/groove/drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid",
          "groove/groove/drummer1/session2/1_latin-chacarera_157_beat_3-4.mid"]
CHORDS = ["chords/billboard/McGill-Billboard/0003/salami_chords.txt", "pop909/POP909/008/chord_midi.txt",
          "chords/guitarset/annotation/03_BN3-119-G_solo.jams"]


def _copy(rel: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / rel, dest)


def deam_label(song_id: str) -> tuple[float, float]:
    """Song ``song_id``'s DEAM static means (1..9) on the canonical scales: v = (x-5)/4, a = (x-1)/8."""
    with open(FIXTURES / DEAM_SONG_LEVEL, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, skipinitialspace=True):
            if row["song_id"].strip() == song_id:
                return (float(row["valence_mean"]) - 5) / 4, (float(row["arousal_mean"]) - 1) / 8
    raise KeyError(song_id)


def progressions(paths: list[str]) -> list[dict]:
    from kelly_hf import harmony

    items = []
    for rel in paths:
        for p in harmony.reader_for(rel)(str(FIXTURES / rel), rel):
            items.append({"name": p.name, "chords": list(p.symbols), "key": p.tonality})
    return items


def write(root, many: bool = False) -> Path:
    """Write the seed tree under ``root`` (created); returns it."""
    root = Path(root)
    valence, arousal = deam_label("3")
    _copy("deam/MEMD_audio/3.mp3", root / "deam" / "audio" / "3.mp3")
    (root / "deam" / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "deam" / "annotations" / "annotations.csv").write_text(
        f"filename,valence,arousal\n3.mp3,{valence!r},{arousal!r}\n", encoding="utf-8")
    for rel in LAKH[:len(LAKH) if many else 1]:
        _copy(rel, root / "lakh_midi" / "midi_files" / os.path.basename(rel))
    _copy(MAESTRO, root / "maestro" / os.path.basename(MAESTRO))
    for rel in GROOVE[:len(GROOVE) if many else 1]:
        _copy(rel, root / "groove" / os.path.basename(rel))
    (root / "harmony").mkdir(parents=True, exist_ok=True)
    (root / "harmony" / "chord_progressions.json").write_text(
        json.dumps({"progressions": progressions(CHORDS[:len(CHORDS) if many else 1])}, indent=1), encoding="utf-8")
    return root


if __name__ == "__main__":
    print(write(sys.argv[1], many="--many" in sys.argv))
