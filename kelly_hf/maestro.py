"""MAESTRO: find the performances in any layout, read the metadata, window them, make rows.

The builder (``builders/maestro``) only wires this module into ``datasets``.

**Inputs**, found recursively under ``data_dir`` and inside ``.zip`` / ``.tar``
archives there (``maestro-v3.0.0-midi.zip``), never extracted:

* performances: ``*.midi`` / ``*.mid``;
* metadata: ``maestro-vX.Y.Z.json`` (v1/v2: a list of records; v3: pandas'
  column-oriented ``{column: {row_index: value}}``) or ``maestro-vX.Y.Z.csv``.
  Needed columns ``midi_filename`` and ``split``; read when present
  ``canonical_composer``, ``canonical_title``, ``year``, ``duration``.

A metadata file governs the MIDI files in its folder and below (in the same
archive, for a member): ``midi_filename`` (``2018/MIDI-...midi``) is the path
relative to that folder. When a folder holds both the JSON and the CSV of one
release (as the official zip does) the JSON is read; metadata of another
release in the same folder is reported as ignored. A listed file that is absent
is a skip record ("listed in metadata but file missing"), a MIDI file under a
metadata folder without a row is one too ("not in metadata"). The same
``midi_filename`` found twice (v2 and v3 folders side by side, or a folder and
the zip) is built once: files on disk before archive members, then the newest
release. MIDI files under no metadata folder are the **seed layout**
(``maestro/*.midi``): ``midi_filename`` is their path under ``data_dir``, the
split is the hash split of that path (``kelly_hf.splits``), ``composer``,
``title`` and ``year`` are null and ``duration`` is the length of the notes.

**Windows.** ``segments`` (default): windows of :data:`WINDOW_S` = 15 s every
:data:`HOP_S` = 7.5 s from time 0; the performance length ``L`` is the end of
its last note; the last window is aligned to end at ``L`` so no note is left
out (``1 + ceil((L - 15) / 7.5)`` windows; a performance shorter than 15 s is
one window ``[0, L]``). A window without a note onset is dropped (noted).
``piece``: one window ``[0, L]``. A note belongs to the window holding its
onset (half-open ``[start, end)``, the last window closed).

**Onsets.** Notes whose onsets follow each other within :data:`CLUSTER_S` =
30 ms form one *onset* (a chord, a spread chord). An onset's IOI is the time to
the next onset; IOIs longer than :data:`MAX_IOI_S` = 2 s are pauses and are not
used. A note's ``ioi_next`` is the time from its own start to the next onset.

``expression`` (16, each in [0, 1]) - the target of the dynamics model.
Velocity statistics are over the notes of the window, percentiles and medians
nearest-rank:

====  ==================  =====================================================================
slot  name                definition -> [0, 1]
====  ==================  =====================================================================
0     velocity_mean       mean velocity / 127
1     velocity_spread     std of velocity / 32, clipped
2     velocity_range      (95th - 5th percentile of velocity) / 127
3     velocity_trend      0.5 + 0.5 clip(D / 32, -1, 1); D = least-squares slope of velocity over
                          onset time x window length (crescendo > 0.5, decrescendo < 0.5)
4     voicing             0.5 + 0.5 clip(m / 32, -1, 1); m = mean over chords (onsets of >= 2 notes)
                          of (velocity of the highest note - mean velocity of the others); 0.5 without chords
5     accent_rate         fraction of notes at least 16 above the window's median velocity
6     micro_dynamics      mean |change of an onset's mean velocity from the previous onset| / 32, clipped
7     timing_variability  std of log2(IOI) / 2, clipped (rubato, uneven rhythm); 0 with < 2 IOIs
8     tempo_trend         0.5 + 0.25 clip(log2((n2 + 1) / (n1 + 1)), -2, 2); n1, n2 = onsets in the first
                          and second half of the window (accelerando > 0.5, ritardando < 0.5)
9     articulation        median(duration / ioi_next) / 2, clipped (1 = legato edge -> 0.5); 0.5 if none
10    legato              fraction of notes held past the next onset (duration > ioi_next); 0.5 if none
11    note_length         clip(log2(median duration / 50 ms) / log2(40), 0, 1) (50 ms -> 0, 2 s -> 1)
12    sustain_pedal       fraction of the window with CC64 >= 64
13    sustain_depth       mean CC64 value / 127 over the window (half-pedalling shows here)
14    pedal_changes       CC64 presses (crossings to >= 64) per second / 2, clipped
15    soft_pedal          fraction of the window with CC67 (una corda) >= 64
====  ==================  =====================================================================

Durations are key-down times (note on to note off), the pedal is separate.
Notes used for ``ioi_next`` ratios: those with a next onset within 2 s.
Before a pedal's first event it is up (0).

``context`` (32) = ``emotion.encode(valence, arousal)[0:32]``, exactly the
engine's dynamics input, from an emotion **estimated** from what was played,
never how (no velocity, pedal or duration: those are the target, and an input
computed from them would leak it): kelly-emotion-v2's ``content`` variant
(``kelly_hf.musical_emotion``) per window: valence from the key, mode and triads
of the pitches, arousal from the notes per second and the pitch spread.

``emotion_source`` is ``"estimated"`` on every row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Iterator

import datasets
import numpy as np

from kelly_hf import emotion, musical_emotion, splits
from kelly_hf.builder import DataDirError
from kelly_hf.inputs import (InputError, Problem, Source, clean_path, display, find_files, governing, place, read_all,
                             unreadable_note)
from kelly_hf.midi import MidiError, read_notes
from kelly_hf.windows import MAX_WINDOWS, occupied, onsets, window_mean, window_pairs, window_quantile, window_std

WINDOW_S = 15.0
HOP_S = 7.5
CLUSTER_S = 0.03
MAX_IOI_S = 2.0
EXPRESSION = ("velocity_mean", "velocity_spread", "velocity_range", "velocity_trend", "voicing", "accent_rate",
              "micro_dynamics", "timing_variability", "tempo_trend", "articulation", "legato", "note_length",
              "sustain_pedal", "sustain_depth", "pedal_changes", "soft_pedal")
CONTEXT_DIM = 32
MIDI_SUFFIXES = (".midi", ".mid")
METADATA_NAME = re.compile(r"maestro(?:-v(\d+)(?:\.(\d+))?(?:\.(\d+))?)?\.(json|csv)", re.IGNORECASE)
LOOKED_FOR = ("MAESTRO performances (maestro-vX.0.0/<year>/*.midi with maestro-vX.0.0.json or .csv, "
              "maestro-v3.0.0-midi.zip, or the seed layout maestro/*.midi)")


class MetadataError(ValueError):
    """A metadata file that cannot be used at all (names the file and what was looked for)."""


@dataclass(frozen=True)
class Performance:
    midi_filename: str
    split: str
    source: Source
    where: str                      # display path: relative to data_dir, archive members as archive::member
    composer: str | None = None
    title: str | None = None
    year: int | None = None
    duration: float | None = None


# -- metadata -----------------------------------------------------------------------


def _version(name: str) -> tuple[int, int, int]:
    m = METADATA_NAME.fullmatch(name)
    return tuple(int(g) if g else 0 for g in m.groups()[:3]) if m else (0, 0, 0)


def read_metadata(source: Source, where: str) -> list[dict]:
    """The records of a metadata JSON (record list or column-oriented) or CSV, keys lower-cased."""
    try:
        raw = source.read_bytes()
    except (OSError, KeyError, InputError) as exc:
        raise MetadataError(f"{where}: cannot read ({exc})") from None
    text = raw.decode("utf-8-sig", errors="replace")
    if source.name.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MetadataError(f"{where}: not valid JSON ({exc})") from None
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
            records = data
        elif isinstance(data, dict) and data and all(isinstance(c, dict) for c in data.values()):
            # pandas orient="columns": {column: {"0": value, ...}}; rows in index order
            index = sorted({i for c in data.values() for i in c},
                           key=lambda i: (0, int(i), "") if str(i).isdigit() else (1, 0, str(i)))
            records = [{col: values.get(i) for col, values in data.items()} for i in index]
        elif isinstance(data, dict) and data and all(isinstance(c, list) for c in data.values()):
            n = max(len(c) for c in data.values())
            records = [{col: (values[i] if i < len(values) else None) for col, values in data.items()}
                       for i in range(n)]
        else:
            raise MetadataError(f"{where}: expected a list of records or a column-oriented object "
                                f"{{column: {{row: value}}}}")
    else:
        records = list(csv.DictReader(io.StringIO(text, newline="")))
    records = [{str(k).strip().lower(): v for k, v in r.items() if k is not None} for r in records]
    columns = set().union(*records) if records else set()
    missing = [c for c in ("midi_filename", "split") if c not in columns]
    if missing:
        raise MetadataError(f"{where}: needs the columns midi_filename and split (optional canonical_composer, "
                            f"canonical_title, year, duration); missing {missing}, found {sorted(columns)}")
    return records


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclass
class _Metadata:
    source: Source
    where: str
    folder: tuple[str, str]
    rows: dict          # midi_filename -> (row number, record)
    problems: list


def _load_metadata(sources: list[Source], root: str) -> tuple[list[_Metadata], list[Problem]]:
    """One metadata file per folder (JSON before CSV, newest release first), in preference order."""
    by_folder: dict[tuple[str, str], list[Source]] = {}
    for s in sources:
        container, path = place(s, root)
        by_folder.setdefault((container, path.rpartition("/")[0]), []).append(s)
    chosen, problems = [], []
    for folder, found in sorted(by_folder.items()):
        found.sort(key=lambda s: (tuple(-v for v in _version(s.name)), not s.name.lower().endswith(".json"), s.name))
        first = found[0]
        for other in found[1:]:
            if _version(other.name) != _version(first.name):
                problems.append(Problem("skip", "*", display(other, root),
                                        f"metadata file ignored: {first.name} is read for this folder"))
        where = display(first, root)
        rows, row_problems = {}, []
        for i, record in enumerate(read_metadata(first, where)):
            name = clean_path(record.get("midi_filename") or "")
            at = f"{where} row {i}"
            if not name:
                row_problems.append(Problem("skip", "*", at, "metadata row without midi_filename"))
                continue
            try:
                split = splits.normalize_split(str(record.get("split") or ""))
            except ValueError as exc:
                row_problems.append(Problem("skip", "*", at, f"unknown split: {exc} ({name})"))
                continue
            if name in rows:
                row_problems.append(Problem("skip", split, at, f"duplicate metadata row: {name} is also "
                                                               f"row {rows[name][0]} (that row is used)"))
                continue
            rows[name] = (i, {**record, "split": split})
        chosen.append(_Metadata(first, where, folder, rows, row_problems))
    # preference for a performance found twice: on disk before archives, then the newest release
    chosen.sort(key=lambda m: (m.source.member is not None, tuple(-v for v in _version(m.source.name)), m.where))
    return chosen, problems


def catalog(root: str) -> tuple[dict[str, list[Performance]], list[Problem]]:
    """``({split: performances}, problems)``; raises DataDirError / MetadataError."""
    unreadable: list[Problem] = []
    found = find_files(root, MIDI_SUFFIXES + (".json", ".csv"), unreadable)
    midis = [s for s in found if s.name.lower().endswith(MIDI_SUFFIXES)]
    if not midis:
        raise DataDirError(f"maestro: no MIDI files under {root}; looked for (recursively, also inside "
                           f".zip/.tar archives) {LOOKED_FOR}" + unreadable_note(unreadable))
    metadata, problems = _load_metadata([s for s in found if METADATA_NAME.fullmatch(s.name)], root)
    problems = unreadable + problems
    by_folder = {m.folder: m for m in metadata}
    governed: dict[tuple[str, str], dict[str, Source]] = {m.folder: {} for m in metadata}
    seed: list[tuple[str, Source]] = []
    for s in midis:
        folder, rel = governing(s, root, by_folder)
        if folder is None:
            seed.append((rel, s))
        else:
            governed[folder][rel] = s

    claimed: dict[str, Performance] = {}
    for m in metadata:
        problems += m.problems
        files = governed[m.folder]
        for name, (_, record) in m.rows.items():
            s = files.get(name)
            if s is None:
                continue
            where = display(s, root)
            if name in claimed:
                problems.append(Problem("skip", record["split"], where, f"duplicate performance: {name} is "
                                                                        f"also {claimed[name].where} (used)"))
                continue
            year = _number(record.get("year"))
            claimed[name] = Performance(
                name, record["split"], s, where,
                composer=_text(record.get("canonical_composer", record.get("composer"))),
                title=_text(record.get("canonical_title", record.get("title"))),
                year=int(year) if year is not None else None,
                duration=_number(record.get("duration")))
        for rel, s in files.items():
            if rel not in m.rows:
                problems.append(Problem("skip", "*", display(s, root), f"not in metadata: {m.where} has no row "
                                                                       f"for {rel}"))
    missing = set()   # reported once, from the preferred metadata (a folder and its zip list the same rows)
    for m in metadata:
        for name, (i, record) in m.rows.items():
            if name not in claimed and name not in governed[m.folder] and name not in missing:
                missing.add(name)
                problems.append(Problem("skip", record["split"], f"{m.where} row {i}",
                                        f"listed in metadata but file missing: {name}"))
    for rel, s in seed:
        if rel in claimed:
            problems.append(Problem("skip", claimed[rel].split, display(s, root),
                                    f"duplicate performance: {rel} is also {claimed[rel].where} (used)"))
        else:
            claimed[rel] = Performance(rel, splits.hash_split(rel), s, display(s, root))
    by_split = {name: [] for name in splits.SPLITS}
    for p in sorted(claimed.values(), key=lambda p: p.midi_filename):
        by_split[p.split].append(p)
    return by_split, problems


# -- features -----------------------------------------------------------------------


def window_count(length: float, config: str) -> int:
    """How many windows the config cuts a performance of ``length`` seconds into."""
    if config == "piece" or length <= WINDOW_S:
        return 1
    return 1 + math.ceil((length - WINDOW_S) / HOP_S - 1e-9)


def windows(length: float, config: str, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the config's windows ``index`` (all of them by default) over a
    performance of ``length`` seconds."""
    if config == "piece" or length <= WINDOW_S:
        return np.array([0.0]), np.array([max(length, 0.0)])
    index = np.arange(window_count(length, config)) if index is None else index
    starts = np.minimum(index * HOP_S, length - WINDOW_S)
    return starts, starts + WINDOW_S


def _pedal(controls: np.ndarray, number: int, starts, ends):
    """Per window: fraction of time at >= 64, mean value / 127, presses (crossings to >= 64) per second."""
    c = controls[controls["number"] == number]
    t = np.concatenate([[0.0], c["time"]])
    v = np.concatenate([[0.0], c["value"].astype(np.float64)])
    span = np.maximum(ends - starts, 1e-9)

    def integral(x):  # of the step function x (x[i] holds from t[i] to t[i+1])
        acc = np.concatenate([[0.0], np.cumsum(x[:-1] * np.diff(t))])
        def at(T):
            i = np.searchsorted(t, T, "right") - 1
            return acc[i] + x[i] * (T - t[i])
        return (at(ends) - at(starts)) / span

    down = v >= 64
    presses = t[1:][down[1:] & ~down[:-1]]
    n_press = np.searchsorted(presses, ends, "left") - np.searchsorted(presses, starts, "left")
    return integral(down.astype(np.float64)), integral(v / 127.0), n_press / span


def analyse(notes: np.ndarray, controls: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict:
    """Expression (K, 16), valence / arousal (K,) and note counts of the windows (see the module docstring)."""
    notes = notes[np.argsort(notes["start"], kind="stable")]
    start, end = notes["start"], notes["end"]
    vel = notes["velocity"].astype(np.float64)
    pitch = notes["pitch"].astype(np.int64)
    dur = np.maximum(end - start, 0.0)
    k = len(starts)
    span = np.maximum(ends - starts, 1e-9)

    # onsets (clusters) and their IOIs
    cid = onsets(start, CLUSTER_S)
    n_on = int(cid[-1]) + 1 if len(cid) else 0
    first_note = np.flatnonzero(np.r_[True, np.diff(cid) > 0]) if len(cid) else np.zeros(0, np.int64)
    on_time = start[first_note]
    next_on = np.r_[on_time[1:], np.inf]
    ioi = next_on - on_time
    ioi_ok = ioi <= MAX_IOI_S
    on_count = np.bincount(cid, minlength=n_on)
    on_vel = np.bincount(cid, weights=vel, minlength=n_on) / np.maximum(on_count, 1)
    top = np.lexsort((pitch, cid))               # last note of each onset group = highest pitch
    top_vel = vel[top[np.cumsum(on_count) - 1]] if n_on else np.zeros(0)
    others = (np.bincount(cid, weights=vel, minlength=n_on) - top_vel) / np.maximum(on_count - 1, 1)
    voicing = np.where(on_count >= 2, top_vel - others, np.nan)
    jump = np.r_[np.nan, np.abs(np.diff(on_vel))]
    ioi_next = next_on[cid] - start
    ratio = np.where(ioi_next <= MAX_IOI_S, dur / np.maximum(ioi_next, 1e-6), np.nan)

    # note-level statistics per window
    win, idx, count = window_pairs(start, starts, ends)
    v = vel[idx]
    hist = np.bincount(win * 128 + v.astype(np.int64), minlength=k * 128).reshape(k, 128).cumsum(1)

    def percentile(q):
        rank = np.maximum(np.ceil(q * count), 1)
        return (hist < rank[:, None]).sum(1).astype(np.float64)

    mean_v = window_mean(win, v, k, 0.0)
    median_v = percentile(0.5)
    t = start[idx] - starts[win]
    st, sv = np.bincount(win, t, k), np.bincount(win, v, k)
    stt, stv = np.bincount(win, t * t, k), np.bincount(win, t * v, k)
    denom = count * stt - st * st
    slope = np.where(denom > 1e-12, (count * stv - st * sv) / np.where(denom > 1e-12, denom, 1.0), 0.0)
    r = ratio[idx]
    has_ratio = np.bincount(win, np.isfinite(r).astype(np.float64), k) > 0
    legato = np.where(has_ratio, window_mean(win[np.isfinite(r)], (r[np.isfinite(r)] > 1.0).astype(float), k, 0.5),
                      0.5)

    # onset-level statistics per window
    owin, oidx, ocount = window_pairs(on_time, starts, ends)
    vo = voicing[oidx]
    ok = np.isfinite(vo)
    voice = window_mean(owin[ok], vo[ok], k, 0.0)
    jo = jump[oidx]
    ok = np.isfinite(jo)
    micro = window_mean(owin[ok], jo[ok], k, 0.0)
    use = ioi_ok[oidx]
    log_ioi = np.log2(np.maximum(ioi[oidx][use], 1e-6))
    n_ioi = np.bincount(owin[use], minlength=k)
    ioi_std = np.where(n_ioi >= 2, window_std(owin[use], log_ioi, k), 0.0)
    half = on_time[oidx] >= (starts + span / 2)[owin]
    n2 = np.bincount(owin, half.astype(np.float64), k)
    n1 = ocount - n2

    sustain, depth, presses = _pedal(controls, 64, starts, ends)
    soft, _, _ = _pedal(controls, 67, starts, ends)

    expression = np.stack([
        mean_v / 127.0,
        np.clip(window_std(win, v, k) / 32.0, 0, 1),
        (percentile(0.95) - percentile(0.05)) / 127.0,
        0.5 + 0.5 * np.clip(slope * span / 32.0, -1, 1),
        0.5 + 0.5 * np.clip(voice / 32.0, -1, 1),
        window_mean(win, (v >= median_v[win] + 16).astype(np.float64), k, 0.0),
        np.clip(micro / 32.0, 0, 1),
        np.clip(ioi_std / 2.0, 0, 1),
        0.5 + 0.25 * np.clip(np.log2((n2 + 1.0) / (n1 + 1.0)), -2, 2),
        np.clip(window_quantile(win, r, k, 0.5, 1.0) / 2.0, 0, 1),
        legato,
        np.clip(np.log2(np.maximum(window_quantile(win, dur[idx], k, 0.5, 0.05), 1e-6) / 0.05) / np.log2(40), 0, 1),
        np.clip(sustain, 0, 1),
        np.clip(depth, 0, 1),
        np.clip(presses / 2.0, 0, 1),
        np.clip(soft, 0, 1),
    ], axis=1)

    # context: what was played, never how (no velocity, pedal or duration)
    valence, arousal = musical_emotion.estimate_windows(pitch, start, starts, ends, "content")
    return {"expression": expression, "valence": valence, "arousal": arousal, "num_notes": count}


# -- rows ---------------------------------------------------------------------------


def features() -> datasets.Features:
    return datasets.Features({
        "midi_filename": datasets.Value("string"),
        "composer": datasets.Value("string"),
        "title": datasets.Value("string"),
        "year": datasets.Value("int32"),
        "split": datasets.Value("string"),
        "duration": datasets.Value("float32"),
        "segment_start": datasets.Value("float32"),
        "segment_end": datasets.Value("float32"),
        "num_notes": datasets.Value("int32"),
        "context": datasets.List(datasets.Value("float32"), length=CONTEXT_DIM),
        "expression": datasets.List(datasets.Value("float32"), length=len(EXPRESSION)),
        "valence": datasets.Value("float32"),
        "arousal": datasets.Value("float32"),
        "emotion_source": datasets.Value("string"),
    })


def performance_rows(p: Performance, data: bytes, config: str) -> Iterator[tuple[str, dict] | Problem]:
    """Rows of one performance's MIDI bytes, or a Problem."""
    try:
        midi = read_notes(data, name=p.where)
    except MidiError as exc:
        yield Problem("skip", p.split, p.where, f"unreadable MIDI: {exc.reason}")
        return
    notes = midi.pitched
    if not len(notes):
        yield Problem("skip", p.split, p.where, "no notes: the file holds no pitched note")
        return
    length = float(notes["end"].max())
    n = window_count(length, config)
    if n > MAX_WINDOWS:
        yield Problem("skip", p.split, p.where, f"time span too long: notes until {length:.4g} s would be {n} windows")
        return
    # only the windows that can hold an onset (the last one is aligned to the end: always a candidate)
    index = np.union1d(occupied(notes["start"], HOP_S, WINDOW_S, n), [n - 1])
    starts, ends = windows(length, config, index)
    found = analyse(notes, midi.controls, starts, ends)
    keep = found["num_notes"] > 0
    if int(keep.sum()) < n:
        yield Problem("note", p.split, p.where, f"empty windows dropped: {n - int(keep.sum())} of {n} "
                                                f"windows hold no note onset")
    base = {"midi_filename": p.midi_filename, "composer": p.composer, "title": p.title, "year": p.year,
            "split": p.split, "duration": p.duration if p.duration is not None else length,
            "emotion_source": "estimated"}
    for i in np.flatnonzero(keep):
        v, a = float(found["valence"][i]), float(found["arousal"][i])
        key = p.midi_filename if config == "piece" else f"{p.midi_filename}#{int(index[i]):04d}"
        yield key, {**base, "segment_start": float(starts[i]), "segment_end": float(ends[i]),
                    "num_notes": int(found["num_notes"][i]), "context": emotion.encode(v, a)[:CONTEXT_DIM],
                    "expression": found["expression"][i].astype(np.float32), "valence": v, "arousal": a}


def rows(performances: list[Performance], config: str) -> Iterator[tuple[str, dict] | Problem]:
    """Read each performance and yield ``(key, row)`` or a :class:`Problem`."""
    by_source = {p.source: p for p in performances}
    for source, data in read_all([p.source for p in performances]):
        p = by_source[source]
        if isinstance(data, Exception):
            yield Problem("skip", p.split, p.where, f"unreadable file: {data}")
            continue
        yield from performance_rows(p, data, config)
