"""Groove MIDI: find the takes in any layout, read info.csv, cut bars, make rows.

The builder (``builders/groove``) only wires this module into ``datasets``.

**Inputs**, found recursively under ``data_dir`` and inside ``.zip`` / ``.tar``
archives there (``groove-v1.0.0-midionly.zip``), never extracted:

* takes: ``*.mid`` / ``*.midi``;
* ``info.csv`` (official; needed columns ``midi_filename`` and ``split``, read
  when present ``id``, ``drummer``, ``session``, ``style``, ``bpm``,
  ``beat_type``, ``time_signature``, ``duration``). It governs the MIDI files in
  its folder and below (same archive for a member); ``midi_filename`` is the path
  relative to it. A row whose file is absent is a skip record ("listed in
  info.csv but file missing"), a file under it without a row too ("not in
  info.csv"); the same id twice (folder and zip) is built once, on disk first;
* MIDI files under no info.csv are the **seed layout** (``groove/*.mid``): the
  metadata comes from the official file-name pattern
  ``<n>_<style>_<bpm>_<beat|fill>_<num>-<den>.mid`` (style ``funk-groove1`` =
  ``funk/groove1``) where it matches, ``drummer`` / ``session`` from
  ``drummerX/sessionY`` folders; the id is the path without its suffix and the
  split the hash split of the id (``kelly_hf.splits``);
* optional emotion labels, ``emotion_labels.csv`` (``midi_filename,valence,arousal``)
  or ``emotion_labels.json`` (``{midi_filename: {"valence": v, "arousal": a}}`` or a
  list of such records), canonical scales (v in [-1, 1], a in [0, 1]), keyed by
  ``midi_filename`` as in info.csv (the id or the bare file name also match). A
  label wins over the estimate (``emotion_source = "label"``); with a labels
  file, a take without a usable label is estimated and noted.

**Grid and bars.** Every note is a drum hit (an *onset*). The metrical grid is
16th notes from the take's MIDI tempo (``60 / bpm / 4`` s, anchored at time 0)
and its time signature (info.csv, else the file name, else the MIDI's). ``full``
(default) is one row per take over ``[0, L]`` (``L`` as the policy says,
below); ``2bar`` / ``4bar`` are windows of 2 / 4 bars with a hop of one bar (as
TFDS ``groove/2bar``), starting at every bar that leaves a whole window. How
bars are cut is the **bar policy** (:data:`BAR_POLICIES`, the builder's
``bar_policy``):

* ``kelly`` (default): a bar is ``numerator * 4 / denominator`` quarter notes
  at the MIDI tempo (3-4: 12, 4-4: 16, 5-4: 20, 5-8: 10, 6-8: 12 steps). The
  take lasts ``L`` = the end of its last note (:func:`end_of_notes`): a hi-hat
  pedal controller sent after it is no music (info.csv's ``duration`` is
  sometimes such a controller's time). The take has ``floor(L / bar + 0.5)``
  bars (a final bar at least half played counts); a window without an onset is
  dropped (noted).
* ``tfds``: TFDS's rule exactly (``tensorflow_datasets/audio/groove.py``): a
  bar is ``60 / bpm * numerator`` s with ``bpm`` the integer of info.csv (else
  the file name, else the MIDI tempo rounded) - quarter-note beats whatever the
  denominator (a 6-8 bar is 6 quarter notes); ``L`` is pretty_midi's
  ``get_end_time()`` (:func:`end_of_events`: trailing controllers count); the
  take has ``round(L / bar)`` bars (Python's round, half to even) and every
  window is a row, empty or not. More than :data:`TFDS_MAX_WINDOWS` windows, or
  a bpm outside 1 to 60,000,000, is a skip record (a damaged file, not a take).

Either way a final part of a bar beyond the counted bars is the short tail:
dropped, and noted when it holds onsets; a take shorter than one window is a
skip record. A time signature is usable when its numerator is at least 1 and
its denominator 1 to 32; a take without one (a MIDI's ``0/4``) is a skip record
in ``2bar`` / ``4bar``.

``groove`` (32, each in [-1, 1]) - the target of the groove model. An onset's
*offset* is ``t / step - round(t / step)`` in [-0.5, 0.5] (fraction of a 16th;
negative = early), its *position* ``round(t / step)``. Histograms have 6 equal
bins and hold fractions p, mapped ``2p - 1``:

=====  ==================  ====================================================================
slot   name                definition -> [-1, 1]
=====  ==================  ====================================================================
0      timing_mean         2 x mean offset (laid back > 0, pushed < 0)
1      timing_spread       4 x std of offsets - 1 (the std of values in [-0.5, 0.5] is at most 0.5)
2-7    timing_hist         offsets in [-0.5, 0.5) in 6 bins of 1/6 step
8      velocity_mean       2 x mean velocity / 127 - 1
9      velocity_spread     2 x std of velocity / 63.5 - 1 (63.5: the largest std of values in 0..127)
10-15  velocity_hist       velocity // (128 / 6): bins 0-21, 22-42, 43-63, 64-85, 86-106, 107-127
16     swing               2 x clip(mean offset on odd 16ths - mean offset on even 16ths, -0.5, 0.5); 0
                           without both
17-25  timing by drum      2 x mean offset of kick, snare, closed hi-hat, open hi-hat, low tom, mid tom,
                           high tom, crash, ride (the 9-class Roland reduction of Magenta / TFDS
                           GrooVAE: 36 | 38 37 40 | 42 22 44 | 46 26 | 43 58 | 47 45 | 50 48 |
                           49 52 55 57 | 51 53 59); 0 for a drum not played
26     accent              clip((mean velocity on quarter-note positions - elsewhere) / 64, -1, 1); 0
                           without both
27     syncopation         2 x fraction of onsets on odd 16th positions - 1
28-31  drum shares         2 x share of onsets - 1 for kick, snare, hi-hats (closed + open), cymbals
                           (crash + ride); toms and other pitches are the rest
=====  ==================  ====================================================================

``emotion`` (64) = ``emotion.encode(valence, arousal)``, from the labels file or
**estimated**, never from timing offsets or velocity (those are the target; an
input made from them would leak it):

* ``arousal``: kelly-emotion-v2's ``rhythm`` variant (``kelly_hf.musical_emotion``)
  over the window's onsets snapped to the 16th grid (onsets per second, median
  IOI), fitted on EMOPIA's human labels;
* ``valence`` = :data:`STYLE_VALENCE` of the primary style (0 when unknown): a
  documented prior, not a measurement. A take has no pitch content, and onsets
  alone do not tell valence (a rhythm-only valence model reaches 0.59 on EMOPIA
  in cross-validation, where always answering "high" gets 0.52: docs/EMOTION.md).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
from typing import Iterator

import datasets
import numpy as np

from kelly_hf import emotion, musical_emotion, splits
from kelly_hf.builder import DataDirError
from kelly_hf.inputs import (InputError, Problem, Source, clean_path, display, find_files, governing, place, read_all,
                             unreadable_note)
from kelly_hf.midi import Midi, MidiError, read_notes
from kelly_hf.windows import MAX_WINDOWS, occupied, window_mean, window_pairs, window_std

PRIMARY_STYLES = ("afrobeat", "afrocuban", "blues", "country", "dance", "funk", "gospel", "highlife", "hiphop",
                  "jazz", "latin", "middleeastern", "neworleans", "pop", "punk", "reggae", "rock", "soul")
TIME_SIGNATURES = ("3-4", "4-4", "5-4", "5-8", "6-8")
BEAT_TYPES = ("beat", "fill")
DRUMS = ("kick", "snare", "closed_hh", "open_hh", "low_tom", "mid_tom", "high_tom", "crash", "ride")
ROLAND_PITCHES = ((36,), (38, 37, 40), (42, 22, 44), (46, 26), (43, 58), (47, 45), (50, 48), (49, 52, 55, 57),
                  (51, 53, 59))
# Prior valence of each primary style (canonical scale): bright dance idioms high, blues / punk low.
STYLE_VALENCE = {"afrobeat": 0.6, "afrocuban": 0.5, "blues": -0.4, "country": 0.3, "dance": 0.6, "funk": 0.6,
                 "gospel": 0.5, "highlife": 0.7, "hiphop": 0.0, "jazz": 0.2, "latin": 0.6, "middleeastern": -0.1,
                 "neworleans": 0.6, "pop": 0.5, "punk": -0.3, "reggae": 0.5, "rock": 0.0, "soul": 0.3}
CONFIG_BARS = {"full": None, "2bar": 2, "4bar": 4}
BAR_POLICIES = ("kelly", "tfds")
#: most windows of one take under ``tfds`` (every window is a row there, so a damaged file's far
#: event would ask for millions of empty ones; Groove's longest take has a few hundred bars)
TFDS_MAX_WINDOWS = 10_000
GROOVE = (("timing_mean", "timing_spread") + tuple(f"timing_hist_{i}" for i in range(6))
          + ("velocity_mean", "velocity_spread") + tuple(f"velocity_hist_{i}" for i in range(6))
          + ("swing",) + tuple(f"timing_{d}" for d in DRUMS)
          + ("accent", "syncopation", "share_kick", "share_snare", "share_hihat", "share_cymbal"))
MIDI_SUFFIXES = (".mid", ".midi")
LABEL_FILES = ("emotion_labels.csv", "emotion_labels.json")
FILE_NAME = re.compile(r"(\d+)_([A-Za-z0-9-]+)_(\d+)_(beat|fill)_(\d+)-(\d+)\.midi?", re.IGNORECASE)
LOOKED_FOR = ("Groove MIDI takes (groove/info.csv + drummer*/session*/*.mid, groove-v1.0.0-midionly.zip, "
              "or the seed layout groove/*.mid)")

_CLASS_OF = np.full(128, -1, dtype=np.int64)
for _c, _pitches in enumerate(ROLAND_PITCHES):
    _CLASS_OF[list(_pitches)] = _c


class InfoError(ValueError):
    """An info.csv or labels file that cannot be used at all (names the file and what was looked for)."""


@dataclasses.dataclass(frozen=True)
class Take:
    id: str
    midi_filename: str
    split: str
    source: Source
    where: str
    drummer: str | None = None
    session: str | None = None
    style: str | None = None
    bpm: int | None = None
    beat_type: str | None = None
    time_signature: str | None = None     # "4-4" as written
    duration: float | None = None
    label: tuple[float, float] | None = None
    labels_given: bool = False


# -- metadata -----------------------------------------------------------------------


def style_parts(style: str | None) -> tuple[str | None, str | None]:
    """"funk/groove1" -> ("funk", "groove1"); "rock" -> ("rock", "")."""
    if not style:
        return None, None
    primary, _, secondary = style.partition("/")
    return primary, secondary


def meter(text: str | None) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d+)\s*[-/]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) == 0 or int(m.group(2)) not in (1, 2, 4, 8, 16, 32):
        return None
    return int(m.group(1)), int(m.group(2))


def from_file_name(name: str) -> dict:
    """Metadata from ``<n>_<style>_<bpm>_<beat|fill>_<num>-<den>.mid`` ({} when it does not match)."""
    m = FILE_NAME.fullmatch(name)
    if not m:
        return {}
    style = m.group(2).lower()
    primary, _, secondary = style.partition("-")
    return {"style": f"{primary}/{secondary}" if secondary else primary, "bpm": int(m.group(3)),
            "beat_type": m.group(4).lower(), "time_signature": f"{m.group(5)}-{m.group(6)}"}


def _int(value) -> int | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return int(round(x)) if math.isfinite(x) else None


def _float(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _text(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _read_text(source: Source, where: str) -> str:
    try:
        return source.read_bytes().decode("utf-8-sig", errors="replace")
    except (OSError, KeyError, InputError) as exc:
        raise InfoError(f"{where}: cannot read ({exc})") from None


def read_info(source: Source, where: str) -> tuple[dict[str, tuple[int, dict]], list[Problem]]:
    """``{midi_filename: (line, record)}`` of an info.csv, and problems with its rows."""
    reader = csv.DictReader(io.StringIO(_read_text(source, where), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "midi_filename" not in header or "split" not in header:
        raise InfoError(f"{where}: needs the columns midi_filename and split (optional id, drummer, session, "
                        f"style, bpm, beat_type, time_signature, duration); found {header}")
    rows, problems = {}, []
    for record in reader:
        record = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
        at = f"{where} line {reader.line_num}"
        name = clean_path(record.get("midi_filename") or "")
        if not name:
            problems.append(Problem("skip", "*", at, "info.csv row without midi_filename"))
            continue
        try:
            split = splits.normalize_split(str(record.get("split") or ""))
        except ValueError as exc:
            problems.append(Problem("skip", "*", at, f"unknown split: {exc} ({name})"))
            continue
        if name in rows:
            problems.append(Problem("skip", split, at, f"duplicate info.csv row: {name} is also line "
                                                       f"{rows[name][0]} (that row is used)"))
            continue
        rows[name] = (reader.line_num, {**record, "split": split})
    return rows, problems


def read_labels(sources: list[Source], root: str) -> tuple[dict[str, tuple[tuple[float, float], str]], list[Problem]]:
    """``{key: ((valence, arousal), where)}`` from the labels files; bad entries are problems."""
    labels, problems = {}, []
    for source in sources:
        where = display(source, root)
        text = _read_text(source, where)
        if source.name.lower().endswith(".json"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise InfoError(f"{where}: not valid JSON ({exc})") from None
            if isinstance(data, dict):
                entries = [(str(k), v, f"{where} [{k!r}]") for k, v in data.items()]
            elif isinstance(data, list):
                entries = [(str(r.get("midi_filename", "")) if isinstance(r, dict) else "", r, f"{where} [{i}]")
                           for i, r in enumerate(data)]
            else:
                raise InfoError(f"{where}: expected {{midi_filename: {{valence, arousal}}}} or a list of records")
        else:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            header = [h.strip().lower() for h in reader.fieldnames or []]
            if not {"midi_filename", "valence", "arousal"} <= set(header):
                raise InfoError(f"{where}: needs the columns midi_filename, valence, arousal; found {header}")
            entries = []
            for r in reader:
                r = {str(k).strip().lower(): v for k, v in r.items() if k is not None}
                entries.append((r.get("midi_filename") or "", r, f"{where} line {reader.line_num}"))
        for key, value, at in entries:
            key = clean_path(key)
            try:
                if not key:
                    raise ValueError("no midi_filename")
                if not isinstance(value, dict):
                    raise ValueError(f"expected an object with valence and arousal, got {value!r}")
                v, a = emotion.validate(float(value.get("valence")), float(value.get("arousal")), key)
            except (TypeError, ValueError) as exc:
                problems.append(Problem("skip", "*", at, f"emotion label unusable: {exc}"))
                continue
            if key in labels:
                problems.append(Problem("skip", "*", at, f"duplicate emotion label: {key} is also labelled in "
                                                         f"{labels[key][1]} (that one is used)"))
                continue
            labels[key] = ((v, a), at)
    return labels, problems


def _seed_take(rel: str, s: Source, root: str) -> Take:
    parts = rel.split("/")
    meta = from_file_name(s.name)
    drummer = next((p for p in parts[:-1] if re.fullmatch(r"drummer\d+", p, re.IGNORECASE)), None)
    session = next((p for p in parts[:-1] if re.fullmatch(r"(eval_)?session\d*", p, re.IGNORECASE)), None)
    take_id = os.path.splitext(rel)[0]
    return Take(take_id, rel, splits.hash_split(take_id), s, display(s, root), drummer=drummer,
                session=f"{drummer}/{session}" if drummer and session else session, **meta)


def catalog(root: str) -> tuple[dict[str, list[Take]], list[Problem]]:
    """``({split: takes}, problems)``; raises DataDirError / InfoError."""
    problems: list[Problem] = []
    found = find_files(root, MIDI_SUFFIXES + (".csv", ".json"), problems)
    midis = [s for s in found if s.name.lower().endswith(MIDI_SUFFIXES)]
    if not midis:
        raise DataDirError(f"groove: no MIDI files under {root}; looked for (recursively, also inside "
                           f".zip/.tar archives) {LOOKED_FOR}" + unreadable_note(problems))
    infos = {}
    # on disk before archives: decides which copy of a take is used
    for s in sorted((s for s in found if s.name.lower() == "info.csv"), key=lambda s: (s.member is not None, s)):
        container, path = place(s, root)
        where = display(s, root)
        rows, row_problems = read_info(s, where)
        infos[(container, path.rpartition("/")[0])] = (where, rows)
        problems += row_problems
    labels, label_problems = read_labels([s for s in found if s.name.lower() in LABEL_FILES], root)
    problems += label_problems

    governed = {folder: {} for folder in infos}
    seed = []
    for s in midis:
        folder, rel = governing(s, root, infos)
        if folder is None:
            seed.append((rel, s))
        else:
            governed[folder][rel] = s

    takes: dict[str, Take] = {}
    for folder, (where, rows) in infos.items():
        files = governed[folder]
        for name, (line, r) in rows.items():
            s = files.get(name)
            if s is None:
                continue
            take_id = _text(r.get("id")) or os.path.splitext(name)[0]
            if take_id in takes:
                problems.append(Problem("skip", r["split"], display(s, root), f"duplicate take: {take_id} is also "
                                                                              f"{takes[take_id].where} (used)"))
                continue
            takes[take_id] = Take(take_id, name, r["split"], s, display(s, root), drummer=_text(r.get("drummer")),
                                  session=_text(r.get("session")), style=_text(r.get("style")),
                                  bpm=_int(r.get("bpm")), beat_type=_text(r.get("beat_type")),
                                  time_signature=_text(r.get("time_signature")), duration=_float(r.get("duration")))
        for rel, s in files.items():
            if rel not in rows:
                problems.append(Problem("skip", "*", display(s, root), f"not in info.csv: {where} has no row "
                                                                       f"for {rel}"))
    claimed = {t.midi_filename for t in takes.values()}
    for folder, (where, rows) in infos.items():
        for name, (line, r) in rows.items():
            if name not in governed[folder] and name not in claimed:
                claimed.add(name)   # reported once (a folder and its zip list the same rows)
                problems.append(Problem("skip", r["split"], f"{where} line {line}",
                                        f"listed in info.csv but file missing: {name}"))
    for rel, s in seed:
        take = _seed_take(rel, s, root)
        if take.id in takes:
            problems.append(Problem("skip", take.split, take.where, f"duplicate take: {take.id} is also "
                                                                    f"{takes[take.id].where} (used)"))
        else:
            takes[take.id] = take

    used = set()
    by_split = {name: [] for name in splits.SPLITS}
    for take in sorted(takes.values(), key=lambda t: t.id):
        key = next((k for k in (take.midi_filename, take.id, take.source.name) if k in labels), None)
        if key is not None:
            used.add(key)
        label = labels[key][0] if key is not None else None
        by_split[take.split].append(dataclasses.replace(take, label=label, labels_given=bool(labels)))
    for key, (_, at) in labels.items():
        if key not in used:
            problems.append(Problem("skip", "*", at, f"emotion label for a file not in the corpus: {key}"))
    return by_split, problems


# -- features -----------------------------------------------------------------------


def bar_seconds(bpm: float, numerator: int, denominator: int) -> float:
    return numerator * (4.0 / denominator) * 60.0 / bpm


def config_name(window: str, bar_policy: str = "kelly") -> str:
    """The name of a config from its knobs: ``"2bar"``, ``"2bar-tfds"``."""
    check_config(window, bar_policy)
    return window if bar_policy == "kelly" else f"{window}-{bar_policy}"


def check_config(window: str, bar_policy: str) -> None:
    if window not in CONFIG_BARS:
        raise ValueError(f"groove: unknown window {window!r}; expected one of {', '.join(CONFIG_BARS)}")
    if bar_policy not in BAR_POLICIES:
        raise ValueError(f"groove: unknown bar_policy {bar_policy!r}; expected one of {', '.join(BAR_POLICIES)}")


def end_of_notes(midi: Midi) -> float:
    """The ``kelly`` length of a take: the end of its last note (controllers after it do not count)."""
    return float(midi.notes["end"].max())


def end_of_events(midi: Midi) -> float:
    """The ``tfds`` length: pretty_midi's ``PrettyMIDI.get_end_time()`` (the last note end, control
    change, tempo or time signature change) from what :func:`read_notes` keeps. Controllers count on
    the channels that have notes (pretty_midi files a channel's controllers under an instrument only
    once it plays a note). Not kept, so not counted: pitch bends, key signatures, lyrics and text
    events (the Groove fixtures have none after time 0)."""
    played = np.isin(midi.controls["channel"], midi.notes["channel"])
    times = [midi.notes["end"], midi.controls["time"][played], midi.tempos[:, 0],
             np.array([t for t, _, _ in midi.time_signatures], dtype=np.float64)]
    return float(max(float(t.max()) for t in times if len(t)))


def bar_grid(bar_policy: str, length: float, midi_bpm: float, listed_bpm: int,
             sig: tuple[int, int]) -> tuple[float, int]:
    """(bar seconds, number of bars) of a take of ``length`` s under the policy."""
    if bar_policy == "tfds":   # TFDS: 60 / bpm * beats_per_bar; int(round(total_duration / bar_duration))
        bar = 60 / listed_bpm * sig[0]
        return bar, int(round(length / bar))
    bar = bar_seconds(midi_bpm, *sig)
    return bar, math.floor(length / bar + 0.5)


def groove_vectors(start, velocity, pitch, step: float, starts, ends, close_last: bool = True):
    """(groove (K, 32), onsets per window) of the hits ``start`` (sorted) in the windows."""
    k = len(starts)
    win, idx, count = window_pairs(start, starts, ends, close_last)
    grid = start[idx] / step
    pos = np.round(grid).astype(np.int64)
    off = np.clip(grid - pos, -0.5, 0.5)
    vel = velocity[idx].astype(np.float64)
    drum = _CLASS_OF[pitch[idx]]
    n = np.maximum(count, 1)[:, None]

    def hist(bins):
        return np.bincount(win * 6 + bins, minlength=k * 6).reshape(k, 6) / n

    def mean_or_zero(mask, values):
        return window_mean(win[mask], values[mask], k, 0.0)

    odd = pos % 2 == 1
    has_odd, has_even = np.bincount(win[odd], minlength=k) > 0, np.bincount(win[~odd], minlength=k) > 0
    swing = np.where(has_odd & has_even, mean_or_zero(odd, off) - mean_or_zero(~odd, off), 0.0)
    beat = pos % 4 == 0
    has_beat, has_off = np.bincount(win[beat], minlength=k) > 0, np.bincount(win[~beat], minlength=k) > 0
    accent = np.where(has_beat & has_off, mean_or_zero(beat, vel) - mean_or_zero(~beat, vel), 0.0)
    per_drum = np.bincount(win * 9 + np.maximum(drum, 0), weights=np.where(drum >= 0, off, 0.0),
                           minlength=k * 9).reshape(k, 9)
    drum_count = np.bincount(win[drum >= 0] * 9 + drum[drum >= 0], minlength=k * 9).reshape(k, 9)
    shares = drum_count / n
    out = np.concatenate([
        (2 * window_mean(win, off, k, 0.0))[:, None],
        (4 * window_std(win, off, k) - 1)[:, None],
        2 * hist(np.minimum(((off + 0.5) * 6).astype(np.int64), 5)) - 1,
        (2 * window_mean(win, vel, k, 0.0) / 127.0 - 1)[:, None],
        (2 * window_std(win, vel, k) / 63.5 - 1)[:, None],
        2 * hist(np.minimum(velocity[idx].astype(np.int64) * 6 // 128, 5)) - 1,
        (2 * np.clip(swing, -0.5, 0.5))[:, None],
        2 * np.clip(per_drum / np.maximum(drum_count, 1), -0.5, 0.5),
        np.clip(accent / 64.0, -1, 1)[:, None],
        (2 * window_mean(win, odd.astype(np.float64), k, 0.0) - 1)[:, None],
        2 * shares[:, [0, 1]] - 1,
        (2 * shares[:, 2:4].sum(1) - 1)[:, None],
        (2 * shares[:, 7:9].sum(1) - 1)[:, None],
    ], axis=1)
    return np.clip(out, -1, 1), count


def estimate(start, step: float, starts, ends, primary: str | None,
             close_last: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The documented emotion estimate per window (see the module docstring): (valence, arousal)."""
    on_grid = np.round(np.asarray(start, np.float64) / step) * step   # the timing offsets are the target
    _, arousal = musical_emotion.estimate_windows(None, on_grid, starts, ends, "rhythm", close_last=close_last)
    return np.full(len(arousal), STYLE_VALENCE.get(primary or "", 0.0)), arousal


def features() -> datasets.Features:
    return datasets.Features({
        "id": datasets.Value("string"),
        "drummer": datasets.Value("string"),
        "session": datasets.Value("string"),
        "style": datasets.Value("string"),
        "style_primary": datasets.ClassLabel(names=list(PRIMARY_STYLES)),
        "style_secondary": datasets.Value("string"),
        "bpm": datasets.Value("int32"),
        "beat_type": datasets.ClassLabel(names=list(BEAT_TYPES)),
        "time_signature": datasets.ClassLabel(names=list(TIME_SIGNATURES)),
        "midi_filename": datasets.Value("string"),
        "duration": datasets.Value("float32"),
        "split": datasets.Value("string"),
        "segment_start": datasets.Value("float32"),
        "segment_end": datasets.Value("float32"),
        "start_bar": datasets.Value("int32"),
        "num_onsets": datasets.Value("int32"),
        "groove": datasets.List(datasets.Value("float32"), length=len(GROOVE)),
        "emotion": datasets.List(datasets.Value("float32"), length=emotion.DIM),
        "valence": datasets.Value("float32"),
        "arousal": datasets.Value("float32"),
        "emotion_source": datasets.Value("string"),
    })


def take_rows(t: Take, data: bytes, config: str, bar_policy: str = "kelly") -> Iterator[tuple[str, dict] | Problem]:
    """Rows of one take's MIDI bytes, or Problems; ``config`` a key of :data:`CONFIG_BARS`."""
    check_config(config, bar_policy)
    try:
        midi = read_notes(data, name=t.where)
    except MidiError as exc:
        yield Problem("skip", t.split, t.where, f"unreadable MIDI: {exc.reason}")
        return
    notes = midi.notes[np.argsort(midi.notes["start"], kind="stable")]
    if not len(notes):
        yield Problem("skip", t.split, t.where, "no notes: the file holds no drum hit")
        return
    bpm = float(midi.tempo_bpm)
    midi_sig = "{}-{}".format(*midi.time_signature)
    sig = meter(t.time_signature) or meter(midi_sig)
    step = 60.0 / bpm / 4.0
    listed_bpm = t.bpm if t.bpm is not None else int(round(bpm))
    length = end_of_events(midi) if bar_policy == "tfds" else end_of_notes(midi)
    start = notes["start"]
    bars = CONFIG_BARS[config]
    if bars is None:
        starts, ends, first_bar, n_windows = np.array([0.0]), np.array([length]), np.array([0]), 1
    elif sig is None:   # e.g. numerator 0 in the MIDI: a bar of 0 s
        yield Problem("skip", t.split, t.where, f"no usable time signature to cut bars: the MIDI's is {midi_sig}")
        return
    elif bar_policy == "tfds" and not 1 <= listed_bpm <= 60_000_000:   # the fastest tempo a MIDI file can set
        yield Problem("skip", t.split, t.where, f"no usable bpm to cut bars: {listed_bpm}")
        return
    else:
        bar, n_bars = bar_grid(bar_policy, length, bpm, listed_bpm, sig)
        if n_bars < bars:
            yield Problem("skip", t.split, t.where, f"shorter than {bars} bars: {length:.2f} s is {length / bar:.2f} "
                                                    f"bars of {bar:.3f} s")
            return
        n_windows = n_bars - bars + 1
        limit = TFDS_MAX_WINDOWS if bar_policy == "tfds" else MAX_WINDOWS
        if n_windows > limit:
            yield Problem("skip", t.split, t.where, f"time span too long: {'events' if bar_policy == 'tfds' else 'notes'}"
                                                    f" until {length:.4g} s would be {n_windows} windows of {bars} bars")
            return
        if bar_policy == "tfds":   # every window is a row, as in TFDS
            first_bar = np.arange(n_windows)
        else:   # only the windows that can hold an onset: the cost follows the notes, not the time span
            first_bar = occupied(start, bar, bars * bar, n_windows)
        starts, ends = first_bar * bar, (first_bar + bars) * bar
        tail = int((start >= n_bars * bar).sum())
        if tail:
            yield Problem("note", t.split, t.where, f"short tail dropped: {tail} onsets in the last "
                                                    f"{length - n_bars * bar:.3f} s (less than half a bar)")
    groove, count = groove_vectors(start, notes["velocity"], notes["pitch"].astype(np.int64), step, starts, ends,
                                   close_last=bars is None)
    keep = count > 0 if bar_policy == "kelly" else np.ones(len(count), dtype=bool)
    if int(keep.sum()) < n_windows:
        yield Problem("note", t.split, t.where, f"empty windows dropped: {n_windows - int(keep.sum())} of "
                                                f"{n_windows} windows hold no onset")
    primary, secondary = style_parts(t.style)
    if t.label is not None:
        valence, arousal, source = np.full(len(starts), t.label[0]), np.full(len(starts), t.label[1]), "label"
    else:
        valence, arousal = estimate(start, step, starts, ends, primary, close_last=bars is None)
        source = "estimated"
        if t.labels_given:
            yield Problem("note", t.split, t.where, "no emotion label: the emotion is estimated")
    ts = t.time_signature if t.time_signature is not None else (f"{sig[0]}-{sig[1]}" if sig else midi_sig)
    base = {"id": t.id, "drummer": t.drummer, "session": t.session, "style": t.style,
            "style_primary": primary if primary in PRIMARY_STYLES else None, "style_secondary": secondary,
            "bpm": listed_bpm,
            "beat_type": t.beat_type if t.beat_type in BEAT_TYPES else None,
            "time_signature": ts if ts in TIME_SIGNATURES else None, "midi_filename": t.midi_filename,
            "duration": t.duration if t.duration is not None else length, "split": t.split,
            "emotion_source": source}
    unknown = [f"{name} {value!r}" for name, value, known in (
        ("style", primary, base["style_primary"]), ("beat_type", t.beat_type, base["beat_type"]),
        ("time_signature", ts, base["time_signature"])) if value is not None and known is None]
    if unknown:
        yield Problem("note", t.split, t.where, f"outside the official vocabulary, left null: {', '.join(unknown)}")
    for i in np.flatnonzero(keep):
        v, a = float(valence[i]), float(arousal[i])
        key = t.id if bars is None else f"{t.id}:{int(first_bar[i]):03d}"
        yield key, {**base, "segment_start": float(starts[i]), "segment_end": float(ends[i]),
                    "start_bar": int(first_bar[i]),
                    "num_onsets": int(count[i]), "groove": groove[i].astype(np.float32),
                    "emotion": emotion.encode(v, a), "valence": v, "arousal": a}


def rows(takes: list[Take], config: str, bar_policy: str = "kelly") -> Iterator[tuple[str, dict] | Problem]:
    """Read each take and yield ``(key, row)`` or a :class:`Problem`."""
    by_source = {t.source: t for t in takes}
    for source, data in read_all([t.source for t in takes]):
        t = by_source[source]
        if isinstance(data, Exception):
            yield Problem("skip", t.split, t.where, f"unreadable file: {data}")
            continue
        yield from take_rows(t, data, config, bar_policy)
