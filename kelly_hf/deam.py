"""DEAM: find the inputs in any layout, read the annotation CSVs, pair them with audio, make rows.

The builder (``builders/deam``) only wires this module into ``datasets``.

**Inputs**, found recursively under ``data_dir`` and inside ``.zip`` / ``.tar``
archives there (``DEAM_audio.zip``, ``DEAM_Annotations.zip``), without extracting:

* audio: ``*.mp3 / *.wav / *.flac / *.ogg``; the file name without its suffix is
  the song id (``MEMD_audio/3.mp3`` -> ``"3"``, ``audio/calm_01.wav`` -> ``"calm_01"``);
* song-level labels, one kind is read (the first present, in this order; files of
  the other kinds are reported as ignored):

  1. official DEAM ``static_annotations_averaged_songs_*.csv`` (1..9 scale),
  2. emoMusic ``static_annotations.csv`` (1..9 scale, other column order),
  3. the seed's ``annotations.csv`` / ``labels.csv`` (``filename,valence,arousal``).

  Columns are read by name after normalising the header (case, and every space,
  so ``" valence_mean"`` and the official typo ``"valence_ max_mean"`` match).
  The scale follows the column names: ``valence_mean`` / ``mean_valence`` and
  ``arousal_mean`` / ``mean_arousal`` are DEAM's 1..9 scale (``v = (x-5)/4``,
  ``a = (x-1)/8``, std ``/4`` and ``/8``); plain ``valence`` / ``arousal`` are the
  canonical scales (v in [-1, 1], a in [0, 1]) and a value outside them skips the row;
* 2 Hz dynamic labels: ``valence.csv`` + ``arousal.csv`` in one folder (official,
  ``dynamic (per second annotations)/``), else emoMusic's
  ``valence_cont_average.csv`` + ``arousal_cont_average.csv``. Wide rows
  ``song_id, sample_15000ms, sample_15500ms, ...`` on the [-1, 1] scale
  (``v = x``, ``a = (x+1)/2``); empty or NaN cells and short (ragged) rows are
  padding. A time is kept when both valence and arousal have a value there.

**Pairing.** A song gives a row when it has audio and usable labels. A label row
without audio, audio without a label row (or whose row was skipped: "label
unusable"), a duplicate (the same song twice: the first is used, files on disk
before archive members), an unreadable value, undecodable or too short audio are
skip records with the reason; a missing std is null. No audio or no annotation
file is a :class:`~kelly_hf.builder.DataDirError` listing every place looked, a
CSV without the needed columns an :class:`AnnotationFileError` naming the file
and the columns looked for.

**Labels of the song config** (``labels``): ``"static"`` (default) the song-level
CSVs; ``"dynamic"`` the mean of each song's 2 Hz labels (canonical scales, so
``v = mean(x)``, ``a = (mean(x) + 1) / 2``), std null: the 2 Hz files hold the raters'
mean only, not their spread; ``"auto"`` the song-level values, except in an id block
where the check below finds valence and arousal swapped: there the 2 Hz means (std
null), and a static row without 2 Hz labels there is a skip record.

**Static vs dynamic check.** When the tree holds both kinds, each of DEAM's id blocks
(:data:`ID_BLOCKS`: the 2013 songs 1-1000, 2014 1001-2000, 2015 2001-2058) with at
least :data:`MIN_COMPARED` songs labelled in both is compared: ``r(s, d)`` is the
Pearson correlation over those songs of the static dimension ``s`` with the mean of
the 2 Hz dimension ``d``. The block is *swapped* when ``r(static valence, dynamic
arousal) > r(static valence, dynamic valence)`` and ``r(static arousal, dynamic
valence) > r(static arousal, dynamic arousal)``; each swapped block is a note whose
reason starts with :data:`DISAGREE` and names the id range and the four correlations.
The check runs in every config and value of ``labels`` (a file read only for the
check reports nothing else); songs with non-numeric ids or ids outside the blocks are
not compared.

**Frames.** The dynamic label at ``sample_<T>ms`` pairs with the audio window
``[T, T + 500 ms)`` (the DEAM features' convention: a frame time is the start of
its 500 ms window); its ``mel`` is the mean of the kelly-mel frames centred in
it. A label whose window is less than half covered by the audio is dropped (noted).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Iterator

import datasets
import numpy as np

from kelly_hf import audio, emotion, splits
from kelly_hf.builder import DataDirError
from kelly_hf.inputs import InputError, Source, find_files, read_all

AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")
WINDOW_S = 0.5                        # one 2 Hz annotation window
MIN_SONG_S = audio.N_FFT / audio.SR   # one full STFT window (~92.9 ms)

# Song-level label files by kind, in order of precedence (basename patterns).
STATIC_KINDS = {
    "official DEAM song-level CSVs": ("static_annotations_averaged_songs_*.csv",),
    "emoMusic static_annotations.csv": ("static_annotations.csv",),
    "annotations.csv / labels.csv": ("annotations.csv", "labels.csv"),
}
# Dynamic label files by kind: (valence file, arousal file) in one folder.
DYNAMIC_KINDS = {
    "official DEAM dynamic CSVs": ("valence.csv", "arousal.csv"),
    "emoMusic *_cont_average.csv": ("valence_cont_average.csv", "arousal_cont_average.csv"),
}
STATIC_LOOKED_FOR = (
    "'annotations/annotations averaged per song/song_level/static_annotations_averaged_songs_*.csv' "
    "(official DEAM, also inside DEAM_Annotations.zip), 'static_annotations.csv' (emoMusic), "
    "'annotations/annotations.csv', 'annotations.csv' or 'labels.csv' (filename,valence,arousal)")
DYNAMIC_LOOKED_FOR = (
    "'annotations/annotations averaged per song/dynamic (per second annotations)/valence.csv' and "
    "'arousal.csv' (official DEAM, also inside DEAM_Annotations.zip), or 'valence_cont_average.csv' and "
    "'arousal_cont_average.csv' (emoMusic)")
AUDIO_LOOKED_FOR = "'MEMD_audio/<song_id>.mp3' or 'audio/*.wav' (any .mp3/.wav/.flac/.ogg), or DEAM_audio.zip"

LABELS = ("static", "dynamic", "auto")    # values of the song config's ``labels``
# DEAM's song-id blocks (first id, last id, MediaEval set): annotated at different times
ID_BLOCKS = ((1, 1000, "2013"), (1001, 2000, "2014"), (2001, 2058, "2015"))
MIN_COMPARED = 20    # fewer songs labelled both ways in a block: its correlations say too little
DISAGREE = "static and dynamic annotations disagree"

# Header names after normalisation (lower case, spaces removed); first match wins.
ID_COLUMNS = ("song_id", "songid", "filename", "file_name", "file")
DEAM_SCALE = {"valence": ("valence_mean", "mean_valence"), "arousal": ("arousal_mean", "mean_arousal"),
              "valence_std": ("valence_std", "std_valence"), "arousal_std": ("arousal_std", "std_arousal")}
CANONICAL_SCALE = {"valence": ("valence",), "arousal": ("arousal",),
                   "valence_std": ("valence_std",), "arousal_std": ("arousal_std",)}
_SAMPLE = re.compile(r"sample_(\d+(?:\.\d+)?)ms")
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


class AnnotationFileError(ValueError):
    """An annotation CSV that cannot be used at all (names the file and what was looked for)."""


@dataclass(frozen=True)
class Problem:
    """A skip (no row) or note (row written, worth reporting); ``split`` "*" = belongs to no split."""

    kind: str
    split: str
    source: str
    reason: str
    song_id: str | None = None   # set when a song's label row was rejected


@dataclass(frozen=True)
class Label:
    """Song-level emotion, canonical scales; std None when the file has none."""

    valence: float
    arousal: float
    valence_std: float | None
    arousal_std: float | None


@dataclass(frozen=True)
class Dynamic:
    """2 Hz labels, canonical scales; times in seconds (window starts)."""

    times_s: tuple[float, ...]
    valence: tuple[float, ...]
    arousal: tuple[float, ...]


@dataclass(frozen=True)
class Song:
    song_id: str
    audio: Source
    audio_file: str        # path relative to data_dir (archive members: the path inside the archive)
    label: Label | Dynamic


@dataclass
class Inputs:
    root: str
    audio: list[Source] = field(default_factory=list)
    csvs: list[Source] = field(default_factory=list)
    problems: list = field(default_factory=list)   # archives that cannot be read


# -- finding ------------------------------------------------------------------------


def find_inputs(root: str) -> Inputs:
    """Every audio file and CSV under ``root`` (and inside archives there), in one walk."""
    inputs = Inputs(root)
    found = find_files(root, AUDIO_SUFFIXES + (".csv",), inputs.problems)
    for s in sorted(found, key=_preference):
        (inputs.csvs if s.name.lower().endswith(".csv") else inputs.audio).append(s)
    return inputs


def _preference(s: Source):
    """Files on disk before archive members, then by path: decides which duplicate wins."""
    return (s.member is not None, s.path, s.member or "")


def display(s: Source, root: str) -> str:
    """A source relative to data_dir, archive members as ``archive::member``."""
    rel = os.path.relpath(s.path, root)
    return rel if s.member is None else f"{rel}::{s.member}"


def song_id_of(name: str) -> str:
    """Song id from an id cell or a file name: basename without audio suffix; "3.0" -> "3"."""
    text = name.strip().strip('"').strip()
    base = re.split(r"[\\/]", text)[-1]
    stem, ext = os.path.splitext(base)
    if ext.lower() in AUDIO_SUFFIXES:
        base = stem
    try:
        number = float(base)
    except ValueError:
        return base
    return str(int(number)) if math.isfinite(number) and number == int(number) and "e" not in base.lower() else base


def _split_of(song_id: str) -> str:
    return splits.hash_split(song_id)


# -- CSV reading --------------------------------------------------------------------


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", header.lower().lstrip("\ufeff"))


def _read_csv(source: Source, root: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(normalised header, iterator of (line number, cells)) of a CSV (BOM, CRLF, ragged rows)."""
    try:
        raw = source.read_bytes()
    except (OSError, KeyError, InputError) as exc:
        raise AnnotationFileError(f"{display(source, root)}: cannot read ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")   # every byte is a character: never fails
    where = display(source, root)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise AnnotationFileError(f"{where} line {reader.line_num}: not a readable CSV ({exc})") from None
    if header is None:
        raise AnnotationFileError(f"{where}: empty file, expected a CSV header")

    def rows():
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    yield reader.line_num, cells
        except csv.Error as exc:   # e.g. an unterminated quote: a cell over the csv module's size limit
            raise AnnotationFileError(f"{where} line {reader.line_num}: not a readable CSV ({exc})") from None
    return [_norm(h) for h in header], rows()


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def _number(cell: str) -> float | None:
    """float, None for an empty / NaN cell; ValueError for text."""
    text = cell.strip()
    if text.lower() in _MISSING:
        return None
    value = float(text)
    return None if math.isnan(value) else value


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def read_static(inputs: Inputs) -> tuple[dict[str, tuple[Label, str]], list[Problem]]:
    """Song-level labels ``{song_id: (label, "file line N")}`` from the first kind of file present."""
    files, problems = _choose(inputs, STATIC_KINDS, lambda s, pats: any(fnmatchcase(s.name.lower(), p) for p in pats))
    if not files:
        raise DataDirError(f"deam: no song-level annotation CSV under {inputs.root}; looked for (recursively, "
                           f"also inside .zip/.tar archives) {STATIC_LOOKED_FOR}")
    labels: dict[str, tuple[Label, str]] = {}
    for source in files:
        rel = display(source, inputs.root)
        header, rows = _read_csv(source, inputs.root)
        id_col = _column(header, ID_COLUMNS)
        scale = DEAM_SCALE if _column(header, DEAM_SCALE["valence"]) is not None else CANONICAL_SCALE
        cols = {k: _column(header, names) for k, names in scale.items()}
        if id_col is None or cols["valence"] is None or cols["arousal"] is None:
            raise AnnotationFileError(
                f"{rel}: needs a song id column ({' or '.join(ID_COLUMNS)}) and valence / arousal columns "
                f"(valence_mean + arousal_mean or mean_valence + mean_arousal on DEAM's 1..9 scale, or valence + "
                f"arousal on the canonical scales); found columns {header}")
        for line, cells in rows:
            where = f"{rel} line {line}"
            song_id = song_id_of(_cell(cells, id_col))
            if not song_id:
                problems.append(Problem("skip", "*", where, "no song id: the id cell is empty"))
                continue
            result = _static_label(cells, cols, scale is DEAM_SCALE, song_id, where)
            if isinstance(result, Problem):
                problems.append(result)
            elif song_id in labels:
                problems.append(Problem("skip", _split_of(song_id), where,
                                        f"duplicate annotation: song {song_id} is already labelled in "
                                        f"{labels[song_id][1]} (that row is used)"))
            else:
                label, notes = result
                labels[song_id] = (label, where)
                problems.extend(notes)
    return labels, problems


def _static_label(cells, cols, deam_scale: bool, song_id: str, where: str):
    split = _split_of(song_id)
    values = {}
    for key in ("valence", "arousal"):
        text = _cell(cells, cols[key])
        try:
            values[key] = _number(text)
        except ValueError:
            return Problem("skip", split, where, f"non-numeric value: {key} {text.strip()!r} (song {song_id})", song_id)
        if values[key] is None:
            return Problem("skip", split, where, f"missing value: no {key} for song {song_id}", song_id)
    try:
        if deam_scale:
            v, a = emotion.from_deam_static(values["valence"], values["arousal"])
        else:
            v, a = emotion.validate(values["valence"], values["arousal"], f"song {song_id}")
    except ValueError as exc:
        hint = "" if deam_scale else "; DEAM's 1..9 values belong in columns valence_mean, arousal_mean"
        return Problem("skip", split, where, f"value out of range: song {song_id}: {exc}{hint}", song_id)
    notes, stds = [], {}
    for key in ("valence_std", "arousal_std"):
        text = _cell(cells, cols[key])
        try:
            x = _number(text)
        except ValueError:
            x = None
            notes.append(Problem("note", split, where, f"std not usable: {key} {text.strip()!r} left null"))
        if x is not None and not x >= 0:
            notes.append(Problem("note", split, where, f"std not usable: {key} {x} < 0 left null"))
            x = None
        stds[key] = x
    if deam_scale:
        vs, as_ = emotion.std_from_deam_static(*(math.nan if stds[k] is None else stds[k]
                                                 for k in ("valence_std", "arousal_std")))
        stds = {"valence_std": None if math.isnan(vs) else vs, "arousal_std": None if math.isnan(as_) else as_}
    return Label(v, a, stds["valence_std"], stds["arousal_std"]), notes


def read_dynamic(inputs: Inputs, needed_by: str = "") -> tuple[dict[str, tuple[Dynamic, str]], list[Problem]]:
    """2 Hz labels ``{song_id: (dynamic, "file line N")}`` from the first kind of file pair present
    (``needed_by``: what needs them, for the error when there are none)."""
    valence_files, problems = _choose(inputs, {k: (v[0],) for k, v in DYNAMIC_KINDS.items()},
                                      lambda s, names: s.name.lower() in names)
    if not valence_files:
        raise DataDirError(f"deam: no dynamic (2 Hz) annotation CSVs under {inputs.root}"
                           f"{f' ({needed_by} needs them)' if needed_by else ''}; looked for (recursively, "
                           f"also inside .zip/.tar archives) {DYNAMIC_LOOKED_FOR}")
    arousal_name = next(a for v, a in DYNAMIC_KINDS.values() if v == valence_files[0].name.lower())
    out: dict[str, tuple[Dynamic, str]] = {}
    for v_source in valence_files:
        a_source = _sibling(inputs, v_source, arousal_name)
        if a_source is None:
            raise AnnotationFileError(f"{display(v_source, inputs.root)}: found no {arousal_name} beside it; "
                                      f"the dynamic labels are read as a pair: {DYNAMIC_LOOKED_FOR}")
        v_rows, v_problems = _read_wide(v_source, inputs.root)
        a_rows, a_problems = _read_wide(a_source, inputs.root)
        problems += v_problems + a_problems
        rejected = {p.song_id: p.reason.split(":", 1)[0] for p in reversed(v_problems + a_problems) if p.song_id}
        for song_id in sorted(set(v_rows) | set(a_rows), key=sort_key):
            if song_id not in v_rows or song_id not in a_rows:
                where = (v_rows.get(song_id) or a_rows[song_id])[2]
                missing = "valence" if song_id not in v_rows else "arousal"
                why = f"its {missing} row was skipped ({rejected[song_id]})" if song_id in rejected \
                    else f"it has no {missing} row"
                problems.append(Problem("skip", _split_of(song_id), where,
                                        f"dynamic annotation incomplete: song {song_id}: {why}", song_id))
                continue
            if song_id in out:
                problems.append(Problem("skip", _split_of(song_id), v_rows[song_id][2],
                                        f"duplicate annotation: song {song_id} already has dynamic labels "
                                        f"in {out[song_id][1]} (those are used)"))
                continue
            result = _dynamic(song_id, v_rows[song_id], a_rows[song_id])
            if isinstance(result, Problem):
                problems.append(result)
            else:
                out[song_id] = (result[0], v_rows[song_id][2])
                problems.extend(result[1])
    return out, problems


def _read_wide(source: Source, root: str):
    """{song_id: (times_s, values with NaN for padding, "file line N")} of one wide dynamic CSV."""
    rel = display(source, root)
    header, rows = _read_csv(source, root)
    id_col = _column(header, ID_COLUMNS)
    times = [(i, _SAMPLE.fullmatch(h)) for i, h in enumerate(header)]
    times = [(i, float(m.group(1)) / 1000.0) for i, m in times if m]
    if id_col is None or not times:
        raise AnnotationFileError(f"{rel}: needs a song_id column and sample_<ms>ms columns "
                                  f"(song_id, sample_15000ms, sample_15500ms, ...); found columns {header[:6]}"
                                  f"{' ...' if len(header) > 6 else ''}")
    index = [i for i, _ in times]
    t = np.array([s for _, s in times])
    out, problems = {}, []
    for line, cells in rows:
        where = f"{rel} line {line}"
        song_id = song_id_of(_cell(cells, id_col))
        if not song_id:
            problems.append(Problem("skip", "*", where, "no song id: the id cell is empty"))
            continue
        extra = [c for c in cells[len(header):] if c.strip().lower() not in _MISSING]
        if extra:
            problems.append(Problem("skip", _split_of(song_id), where,
                                    f"more values than header columns: {len(extra)} extra (song {song_id})", song_id))
            continue
        values, bad = _wide_values(cells, index, header)
        if bad:
            problems.append(Problem("skip", _split_of(song_id), where,
                                    f"non-numeric value: {bad[0]} {bad[1]!r} (song {song_id})", song_id))
            continue
        if song_id in out:
            problems.append(Problem("skip", _split_of(song_id), where, f"duplicate annotation: song {song_id} "
                                                                      f"also in {out[song_id][2]} (that row is used)"))
            continue
        out[song_id] = (t, values, where)
    return out, problems


def _wide_values(cells: list[str], index: list[int], header: list[str]):
    """(values with NaN for padding, None) or (None, (column, bad cell)) of one wide row."""
    cells = [cells[i] if i < len(cells) else "" for i in index]
    try:   # fast path: numbers, "NaN" and empty cells (the real files hold nothing else)
        return np.array([float(c) if c.strip() else math.nan for c in cells]), None
    except ValueError:
        pass
    values = np.full(len(cells), np.nan)
    for j, c in enumerate(cells):
        try:
            x = _number(c)
        except ValueError:
            return None, (header[index[j]], c.strip())
        values[j] = math.nan if x is None else x
    return values, None


def _dynamic(song_id: str, v_row, a_row):
    (t, v, where), (t_a, a, _) = v_row, a_row
    split = _split_of(song_id)
    # the two files may have different headers (ragged tails): align on time
    a_at = dict(zip(t_a.tolist(), a.tolist()))
    a = np.array([a_at.get(x, np.nan) for x in t.tolist()])
    both = np.isfinite(v) & np.isfinite(a)
    notes = []
    one = int((np.isfinite(v) != np.isfinite(a)).sum())
    if one:
        notes.append(Problem("note", split, where, f"unpaired dynamic values: {one} times have only one of "
                                                   f"valence / arousal (song {song_id}); dropped"))
    if not both.any():
        return Problem("skip", split, where, f"no dynamic values: song {song_id} has only empty / NaN cells", song_id)
    outside = both & ((np.abs(v) > 1) | (np.abs(a) > 1))
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        return Problem("skip", split, where, f"value out of range: at {t[k]:g} s valence {v[k]:g}, arousal {a[k]:g} "
                                             f"outside the dynamic scale [-1, 1] (song {song_id})", song_id)
    canon = [emotion.from_deam_dynamic(x, y) for x, y in zip(v[both], a[both])]
    return Dynamic(tuple(t[both].tolist()), tuple(c[0] for c in canon), tuple(c[1] for c in canon)), notes


def _choose(inputs: Inputs, kinds: dict, matches) -> tuple[list[Source], list[Problem]]:
    """Files of the first kind present (same-name copies after the first skipped); other kinds ignored."""
    by_kind = {k: [s for s in inputs.csvs if matches(s, pats)] for k, pats in kinds.items()}
    chosen = next((k for k, files in by_kind.items() if files), None)
    problems, files, first = [], [], {}
    for kind, found in by_kind.items():
        for s in found:
            rel = display(s, inputs.root)
            if kind != chosen:
                problems.append(Problem("skip", "*", rel, f"annotation file ignored: the {chosen} take precedence"))
            elif s.name.lower() in first:
                problems.append(Problem("skip", "*", rel, f"duplicate annotation file: same name as "
                                                          f"{first[s.name.lower()]}, which is read"))
            else:
                first[s.name.lower()] = rel
                files.append(s)
    return files, problems


def _sibling(inputs: Inputs, source: Source, name: str) -> Source | None:
    """The CSV called ``name`` in the same folder (of the same archive) as ``source``."""
    def place(s: Source):
        return (s.path, os.path.dirname(s.member)) if s.member is not None else (None, os.path.dirname(s.path))
    return next((s for s in inputs.csvs if s.name.lower() == name and place(s) == place(source)), None)


# -- static vs dynamic ----------------------------------------------------------------


@dataclass(frozen=True)
class BlockCheck:
    """One id block (an :data:`ID_BLOCKS` entry) compared: ``r[i][j]`` = correlation of static
    dimension i with the 2 Hz mean of dimension j (0 valence, 1 arousal) over ``songs`` songs."""

    block: tuple[int, int, str]
    songs: int
    r: tuple[tuple[float, float], tuple[float, float]]

    @property
    def swapped(self) -> bool:
        (vv, va), (av, aa) = self.r
        return va > vv and av > aa   # False when a correlation is NaN (a constant column)

    @property
    def ids(self) -> str:
        return f"songs {self.block[0]}-{self.block[1]}"


def block_of(song_id: str) -> tuple[int, int, str] | None:
    """The :data:`ID_BLOCKS` entry holding a numeric song id, else None."""
    if not (song_id.isascii() and song_id.isdigit()) or len(song_id) > 9:
        return None
    n = int(song_id)
    return next((b for b in ID_BLOCKS if b[0] <= n <= b[1]), None)


def dynamic_mean(dyn: Dynamic) -> Label:
    """Song-level label from the 2 Hz labels (already canonical): their means, std null."""
    return Label(float(np.mean(dyn.valence)), float(np.mean(dyn.arousal)), None, None)


def compare(static: dict, dynamic: dict) -> list[BlockCheck]:
    """Each id block with at least MIN_COMPARED songs in both ``{song_id: (Label, where)}``
    and ``{song_id: (Dynamic, where)}``, with its correlations."""
    by_block: dict[tuple, list[str]] = {}
    for song_id in static.keys() & dynamic.keys():
        block = block_of(song_id)
        if block is not None:
            by_block.setdefault(block, []).append(song_id)
    checks = []
    for block in ID_BLOCKS:
        ids = sorted(by_block.get(block, ()), key=sort_key)
        if len(ids) < MIN_COMPARED:
            continue
        s = np.array([(static[i][0].valence, static[i][0].arousal) for i in ids])
        means = [dynamic_mean(dynamic[i][0]) for i in ids]
        d = np.array([(m.valence, m.arousal) for m in means])
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.corrcoef(s.T, d.T)[:2, 2:]
        checks.append(BlockCheck(block, len(ids), tuple(tuple(float(x) for x in row) for row in r)))
    return checks


def check_annotations(root: str) -> list[BlockCheck]:
    """The static vs dynamic comparison of a DEAM tree (raises when either kind is missing)."""
    inputs = find_inputs(root)
    return compare(read_static(inputs)[0], read_dynamic(inputs)[0])


def _file_of(where: str) -> str:
    return where.rsplit(" line ", 1)[0]


def disagreement(check: BlockCheck, static: dict, dynamic: dict, outcome: str) -> Problem:
    """The note of a swapped block: id range, correlations, the files, what the build did."""
    ids = [i for i in static.keys() & dynamic.keys() if block_of(i) == check.block]
    static_files = sorted({_file_of(static[i][1]) for i in ids})
    valence_files = sorted({_file_of(dynamic[i][1]) for i in ids})
    (vv, va), (av, aa) = check.r
    return Problem("note", "*", ", ".join(static_files),
                   f"{DISAGREE}: {check.ids} ({check.block[2]} set, {check.songs} songs labelled in both): static "
                   f"valence correlates {va:.3f} with the dynamic arousal but {vv:.3f} with the dynamic valence, "
                   f"static arousal {av:.3f} with the dynamic valence but {aa:.3f} with the dynamic arousal, so "
                   f"valence and arousal look swapped in one of the two files (2 Hz labels: "
                   f"{', '.join(valence_files)} and its arousal file); {outcome}")


# What the rows have in a swapped block, by config / labels value (the end of the note).
OUTCOME = {"frames": "the frames config has the 2 Hz labels",
           "dynamic": "labels='dynamic': the rows have the 2 Hz means",
           "auto": "labels='auto': the rows of these songs have the 2 Hz means",
           "static": "the rows keep the static values (labels='static'; 'auto' takes the 2 Hz means here)"}


def _for_the_check(read, inputs: Inputs) -> tuple[dict, list[Problem]]:
    """Labels read only to compare: none when the files are absent, a note when unusable;
    the rows' own problems belong to the config that reads them for its labels."""
    try:
        return read(inputs)[0], []
    except DataDirError:
        return {}, []
    except AnnotationFileError as exc:
        return {}, [Problem("note", "*", inputs.root, f"static and dynamic annotations not compared: {exc}")]


def auto_labels(static: dict, dynamic: dict, swapped: list[BlockCheck]) -> tuple[dict, list[Problem]]:
    """labels="auto": the static labels, the 2 Hz means in the swapped blocks."""
    blocks = {c.block: c for c in swapped}
    labels = {i: v for i, v in static.items() if block_of(i) not in blocks}
    labels.update({i: (dynamic_mean(d), where) for i, (d, where) in dynamic.items() if block_of(i) in blocks})
    problems = [Problem("skip", _split_of(i), where,
                        f"no dynamic labels in a swapped block: song {i} is in {blocks[block_of(i)].ids}, where "
                        f"labels='auto' takes the 2 Hz means, and has no 2 Hz labels", i)
                for i, (_, where) in static.items() if block_of(i) in blocks and i not in dynamic]
    return labels, problems


# -- pairing ------------------------------------------------------------------------


def sort_key(song_id: str):
    """Numeric ids (ASCII digits) in numeric order - by length, then as text, which is the
    same without int() and its 4,300-digit limit - then the others."""
    numeric = song_id.isascii() and song_id.isdigit()
    digits = song_id.lstrip("0") or "0"
    return (0, len(digits), digits, song_id) if numeric else (1, 0, song_id, song_id)


def pair(inputs: Inputs, labels: dict, rejected: dict[str, str], what: str) -> tuple[list[Song], list[Problem]]:
    """Songs with audio and labels, and a skip record for every audio file or label row left over
    (``rejected``: song id -> why its label row was skipped)."""
    problems, by_id = [], {}
    for s in inputs.audio:
        song_id = song_id_of(s.name)
        if song_id in by_id:
            problems.append(Problem("skip", _split_of(song_id), display(s, inputs.root),
                                    f"duplicate audio: song {song_id} is also {display(by_id[song_id], inputs.root)}, "
                                    f"which is used"))
        else:
            by_id[song_id] = s
    songs = []
    for song_id in sorted(set(by_id) | set(labels), key=sort_key):
        if song_id not in by_id:
            problems.append(Problem("skip", _split_of(song_id), labels[song_id][1],
                                    f"annotation without audio: no audio file for song {song_id} "
                                    f"({song_id}.mp3/.wav/.flac/.ogg)"))
        elif song_id not in labels and song_id in rejected:
            problems.append(Problem("skip", _split_of(song_id), display(by_id[song_id], inputs.root),
                                    f"label unusable: the annotation row of song {song_id} was skipped "
                                    f"({rejected[song_id]})"))
        elif song_id not in labels:
            problems.append(Problem("skip", _split_of(song_id), display(by_id[song_id], inputs.root),
                                    f"audio without annotation: song {song_id} has no row in the {what}"))
        else:
            songs.append(Song(song_id, by_id[song_id], by_id[song_id].relative_to(inputs.root), labels[song_id][0]))
    return songs, problems


def catalog(root: str, config: str, labels: str = "static") -> tuple[dict[str, list[Song]], list[Problem]]:
    """``({split: songs}, problems)`` for config ``"song"`` (with ``labels`` one of
    :data:`LABELS`) or ``"frames"``.

    Raises :class:`~kelly_hf.builder.DataDirError` (no audio / no label files,
    naming what was looked for), :class:`AnnotationFileError` or ``ValueError``
    (an unknown ``labels``).
    """
    if labels not in LABELS:
        raise ValueError(f"deam: labels must be one of {', '.join(map(repr, LABELS))}, not {labels!r}")
    if config == "frames" and labels != "static":
        raise ValueError(f"deam: labels={labels!r} is for the song config; frames always has the 2 Hz labels")
    inputs = find_inputs(root)
    mode = "frames" if config == "frames" else labels
    # the labels the rows use are read with their problems; a kind read only to compare, without
    if mode in ("frames", "dynamic"):
        dynamic, problems = read_dynamic(inputs, "" if mode == "frames" else f"labels={labels!r}")
        static, notes = _for_the_check(read_static, inputs)
    elif mode == "auto":
        static, problems = read_static(inputs)
        dynamic, dynamic_problems = read_dynamic(inputs, f"labels={labels!r}")
        notes = []
    else:
        static, problems = read_static(inputs)
        dynamic, notes = _for_the_check(read_dynamic, inputs)
    swapped = [c for c in compare(static, dynamic) if c.swapped] if static and dynamic else []
    notes += [disagreement(c, static, dynamic, OUTCOME[mode]) for c in swapped]
    what = {"frames": "dynamic (2 Hz) annotation CSVs", "dynamic": "dynamic (2 Hz) annotation CSVs",
            "auto": "song-level or dynamic annotation CSVs", "static": "song-level annotation CSVs"}[mode]
    if mode == "frames":
        labels_of = dynamic
    elif mode == "dynamic":
        labels_of = {i: (dynamic_mean(d), where) for i, (d, where) in dynamic.items()}
    elif mode == "auto":
        labels_of, more = auto_labels(static, dynamic, swapped)
        # the 2 Hz rows' problems matter where they are the labels: the swapped blocks (and rows without an id)
        used = {c.block for c in swapped}
        problems += [p for p in dynamic_problems if p.song_id is None or block_of(p.song_id) in used] + more
    else:
        labels_of = static
    if not inputs.audio:
        raise DataDirError(f"deam: no audio under {root}; looked for (recursively, also inside "
                           f".zip/.tar archives) {AUDIO_LOOKED_FOR}")
    # song id -> why its label row was skipped (the first reason reported for it)
    rejected = {p.song_id: p.reason.split(":", 1)[0] for p in reversed(problems) if p.song_id is not None}
    songs, more = pair(inputs, labels_of, rejected, what)
    by_split = {s: [] for s in splits.SPLITS}
    for song in songs:
        by_split[_split_of(song.song_id)].append(song)
    unreadable = [Problem(p.kind, p.split, p.source, p.reason) for p in inputs.problems]
    return by_split, notes + unreadable + problems + more


# -- rows ---------------------------------------------------------------------------


def song_features() -> datasets.Features:
    return datasets.Features({
        "song_id": datasets.Value("string"),
        "audio_file": datasets.Value("string"),
        "duration_s": datasets.Value("float32"),
        "mel": datasets.List(datasets.Value("float32"), length=audio.N_MELS),
        "emotion": datasets.List(datasets.Value("float32"), length=emotion.DIM),
        "valence": datasets.Value("float32"),
        "arousal": datasets.Value("float32"),
        "valence_std": datasets.Value("float32"),
        "arousal_std": datasets.Value("float32"),
    })


def frames_features() -> datasets.Features:
    return datasets.Features({
        "song_id": datasets.Value("string"),
        "audio_file": datasets.Value("string"),
        "duration_s": datasets.Value("float32"),
        "times_s": datasets.List(datasets.Value("float32")),
        "mel": datasets.List(datasets.List(datasets.Value("float32"), length=audio.N_MELS)),
        "emotion": datasets.List(datasets.List(datasets.Value("float32"), length=emotion.DIM)),
        "valence": datasets.List(datasets.Value("float32")),
        "arousal": datasets.List(datasets.Value("float32")),
    })


def song_row(song: Song, y: np.ndarray, sr: int, where: str) -> dict | Problem:
    """The ``song`` config's row: mel over the whole clip, the song-level label."""
    duration = y.size / sr
    if duration < MIN_SONG_S:
        return Problem("skip", _split_of(song.song_id), where,
                       f"audio too short: {duration * 1000:.1f} ms, less than one STFT window "
                       f"({MIN_SONG_S * 1000:.1f} ms) (song {song.song_id})")
    label = song.label
    return {
        "song_id": song.song_id, "audio_file": song.audio_file, "duration_s": duration,
        "mel": audio.mel_features(y, sr), "emotion": emotion.encode(label.valence, label.arousal),
        "valence": label.valence, "arousal": label.arousal,
        "valence_std": label.valence_std, "arousal_std": label.arousal_std,
    }


def frames_row(song: Song, y: np.ndarray, sr: int, where: str) -> tuple[dict | Problem, list[Problem]]:
    """The ``frames`` config's row: one mel per labelled 500 ms window, and notes."""
    duration = y.size / sr
    dyn: Dynamic = song.label
    times = np.asarray(dyn.times_s)
    keep = times + WINDOW_S / 2 <= duration   # at least half of the window is audio
    split = _split_of(song.song_id)
    if not keep.any():
        return Problem("skip", split, where,
                       f"audio shorter than the labelled windows: {duration:.2f} s of audio, first label at "
                       f"{times[0]:g} s (song {song.song_id})"), []
    notes = []
    if not keep.all():
        notes.append(Problem("note", split, where,
                             f"labels past the end of the audio: {int((~keep).sum())} of {times.size} dropped "
                             f"({duration:.2f} s of audio, song {song.song_id})"))
    v = np.asarray(dyn.valence)[keep]
    a = np.asarray(dyn.arousal)[keep]
    return {
        "song_id": song.song_id, "audio_file": song.audio_file, "duration_s": duration,
        "times_s": times[keep].astype(np.float32),
        "mel": audio.window_features(y, sr, times[keep], WINDOW_S),
        "emotion": np.stack([emotion.encode(x, z) for x, z in zip(v, a)]),
        "valence": v.astype(np.float32), "arousal": a.astype(np.float32),
    }, notes


def rows(songs: list[Song], config: str, root: str) -> Iterator[tuple[str, dict] | Problem]:
    """Decode each song's audio and yield ``(key, row)`` or a :class:`Problem`."""
    by_source = {s.audio: s for s in songs}
    for source, data in read_all([s.audio for s in songs]):
        song = by_source[source]
        split, where = _split_of(song.song_id), display(source, root)
        if isinstance(data, Exception):
            yield Problem("skip", split, where, f"unreadable audio: {data}")
            continue
        if not data:
            yield Problem("skip", split, where, "unreadable audio: empty file (0 bytes)")
            continue
        try:
            y, sr = audio.load(data, name=where)
        except audio.AudioError as exc:
            reason = "zero-length audio" if "zero-length" in str(exc) else "unreadable audio"
            yield Problem("skip", split, where, f"{reason}: {exc}")
            continue
        finally:
            del data   # while the next file is read, hold no copy of this one
        if config == "frames":
            result, notes = frames_row(song, y, sr, where)
            yield from notes
        else:
            result = song_row(song, y, sr, where)
        del y      # nor its decoded signal (a 10-minute song is ~100 MB)
        yield result if isinstance(result, Problem) else (song.song_id, result)
