"""Lakh MIDI: layouts, ids, subsets, shards and the row maths of ``builders/lakh``.

Layouts (DESIGN §5), recognised per file from its path (a folder named like the
layout anywhere above it - ``data_dir`` itself and an archive's own name count -
wins over the shape of the path):

==============  ==============================================  =====================
layout          path                                            md5 / msd_id
==============  ==============================================  =====================
``lmd_full``    ``lmd_full/<h>/<md5>.mid`` (16 hex folders)     name / ""
``lmd_matched`` ``lmd_matched/A/B/C/<MSD id>/<md5>.mid``        name / the folder
``lmd_aligned`` ``lmd_aligned/A/B/C/<MSD id>/<md5>.mid``        name / the folder
``clean_midi``  ``clean_midi/<Artist>/<Title>.mid``             bytes / ""
``seed``        ``midi_files/*.mid``, or files right in data_dir  bytes / ""
==============  ==============================================  =====================

"name": the file name is the md5 (as Lakh names them; not re-hashed, which would
cost ~70 us a file); "bytes": the md5 of the file's bytes. The config ``auto``
reads the first layout present in the order above (lmd_full holds the other
corpora's songs, so reading two would duplicate them); files of other layouts
are skipped with their layout named.

Splits, subsets, shards
-----------------------
* split: ``kelly_hf.splits.hash_split(md5)``, so copies of one MIDI file (Lakh
  has many: one md5 under several MSD ids) always share a split.
* bucket: the md5's first hex digit (lmd_full: its folder), for layouts named by
  path the first hex digit of ``sha1(relative path)``. ``subsets=["0", "1"]``
  keeps those buckets; ``max_files=N`` the N files with the smallest
  ``sha1("kelly-lakh-subset:" + key)`` (key: the md5 name, else the relative
  path) - a hash independent of the split hash, so a subset has every split.
* shards (the list-valued gen_kwarg that ``num_proc``, DataLoader workers and
  ``split_dataset_by_node`` divide): loose files and zip members (random access)
  form one shard per bucket, 16 in all; a tar / tar.gz (a stream: reading one
  member means decompressing everything before it) is read in
  ``archive_passes`` stripes, each one pass over the archive parsing only its
  buckets' members. So one archive costs ``archive_passes`` decompressions per
  split, never one per file; with ``max_files`` it is listed once beforehand.

Row maths (:func:`summarize`)
-----------------------------
Pitched notes only (channel 10 = drums excluded), split at the median onset
``t``: notes starting before ``t`` are the *context*, the others the *target*.

* ``notes``: counts of target notes per MIDI pitch / their number (each note
  counts once, whatever its length: what a melody model samples is which note
  comes next, not how long a pad holds).
* estimated emotion: kelly-emotion-v2 (:func:`kelly_hf.musical_emotion.estimate`,
  ``arrangement`` variant) over the context notes, the window ``[0, t)``: valence
  from their key, mode and triads, arousal from their onset rate and IOIs (no
  velocity: a sequencer's, not a player's; no note rate: it grows with the
  number of instruments; no MIDI tempo: uncalibrated).

The target ``notes`` is an output of the melody model and its input ``emotion``
would otherwise be computed from the same pitches (the key profile is the pitch
histogram folded to 12 classes, the triads its pitch-class sets): the model would learn
to invert our estimator. Computing them from disjoint halves makes the input a
fact about the first half and the target the second half's pitches; what links
them is the piece staying in its key, which is the musical fact the model
should learn. A labelled file (``emotion_labels.json``) keeps the same
``notes``, so the column means one thing in every row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Iterator

import datasets
import numpy as np

from kelly_hf import emotion, musical_emotion, splits
from kelly_hf.builder import DataDirError
from kelly_hf.inputs import InputError, Problem, Source, _read_tar_member, archive_members, is_archive, read_all
from kelly_hf.midi import MidiError, Pitched, read_pitched

LAYOUTS = ("lmd_full", "lmd_matched", "lmd_aligned", "clean_midi", "seed")
CONFIGS = ("auto",) + LAYOUTS
NAMED_BY_MD5 = ("lmd_full", "lmd_matched", "lmd_aligned")
MIDI_SUFFIXES = (".mid", ".midi", ".kar")
LABELS_FILE = "emotion_labels.json"
NUM_BUCKETS = 16
SUBSET_SALT = "kelly-lakh-subset:"
LOOKED_FOR = ("MIDI files (.mid/.midi/.kar) in a Lakh layout - lmd_full/<h>/<md5>.mid, "
              "lmd_matched|lmd_aligned/A/B/C/<MSD id>/<md5>.mid, clean_midi/<Artist>/<Title>.mid, "
              "midi_files/*.mid - as folders or the official .tar.gz archives, optionally with emotion_labels.json")

_ANCHORS = {"lmd_full": "lmd_full", "lmd_matched": "lmd_matched", "lmd_aligned": "lmd_aligned",
            "clean_midi": "clean_midi", "midi_files": "seed"}
_MD5 = re.compile(r"[0-9a-f]{32}")
_MSD = re.compile(r"TR[A-Z0-9]{16}")
_HEX = "0123456789abcdef"


# -- layouts and ids ------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One MIDI input file and what its path says."""

    source: Source
    path: str       # relative to data_dir; archive members as "archive::member"
    layout: str
    md5: str        # from the file name; "" = the md5 of the bytes, known once read
    msd_id: str
    bucket: int
    identity: tuple  # (msd_id, md5) or ("", path inside the layout): two files with one identity are one file


def is_midi(name: str) -> bool:
    low = name.lower()
    return low.endswith(MIDI_SUFFIXES) and not os.path.basename(low).startswith("._")


def classify(parts: tuple[str, ...]) -> tuple[str, str, str, tuple[str, ...]]:
    """``(layout, md5 from the name or "", msd_id or "", path inside the layout)`` of a MIDI
    file from its path components (the folders above it first; see the module docstring)."""
    anchor = max((i for i, p in enumerate(parts[:-1]) if p.lower() in _ANCHORS), default=None)
    inner = parts if anchor is None else parts[anchor + 1:]
    stem = os.path.splitext(parts[-1])[0]
    md5 = stem if _MD5.fullmatch(stem) else ""
    if anchor is not None:
        layout = _ANCHORS[parts[anchor].lower()]
    elif len(inner) >= 2 and md5 and inner[-2] == md5[0]:
        layout = "lmd_full"
    elif len(inner) >= 5 and md5 and _MSD.fullmatch(inner[-2]) and tuple(inner[-5:-2]) == tuple(inner[-2][2:5]):
        layout = "lmd_matched"
    else:
        layout = "clean_midi" if len(inner) >= 2 else "seed"
    if layout not in NAMED_BY_MD5:
        md5 = ""
    matched = layout in ("lmd_matched", "lmd_aligned") and len(inner) >= 2 and _MSD.fullmatch(inner[-2])
    msd = inner[-2] if matched else ""
    return layout, md5, msd, tuple(inner)


def bucket_of(md5: str, path: str) -> int:
    key = md5 or hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()
    return int(key[0], 16)


def subset_rank(md5: str, path: str) -> bytes:
    return hashlib.sha1((SUBSET_SALT + (md5 or path)).encode("utf-8", "surrogateescape")).digest()


def make_item(source: Source, path: str, parents: tuple[str, ...], inside: str) -> Item:
    """``inside``: the path under ``parents`` (loose: relative to data_dir; member: its name)."""
    layout, md5, msd, inner = classify(parents + tuple(p for p in inside.replace("\\", "/").split("/") if p))
    identity = (msd, md5) if md5 else ("", "/".join(inner))
    return Item(source, path, layout, md5, msd, bucket_of(md5, "/".join(inner)), identity)


# -- labels ---------------------------------------------------------------------


class LabelsError(ValueError):
    """An emotion_labels.json that cannot be used at all (names the file and the shape expected)."""


LABELS_SHAPE = ('{"<file name, stem, md5 or relative path>": {"valence": v, "arousal": a}, ...} '
                'or a list of {"file"|"md5"|"path": ..., "valence": v, "arousal": a}; '
                'canonical scales: valence in [-1, 1], arousal in [0, 1]')


def read_labels(paths: list[str], root: str) -> tuple[dict, list[Problem]]:
    """``{key: (valence, arousal) or "why the label is unusable"}`` from the labels files."""
    labels, where, problems = {}, {}, []
    for path in paths:
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LabelsError(f"{path}: not readable as JSON ({exc}); expected {LABELS_SHAPE}") from None
        if isinstance(doc, dict) and set(doc) == {"labels"}:
            doc = doc["labels"]
        if isinstance(doc, dict):
            entries = list(doc.items())
        elif isinstance(doc, list) and all(isinstance(e, dict) for e in doc):
            entries = []
            for e in doc:
                key = next((e[k] for k in ("file", "filename", "md5", "path") if isinstance(e.get(k), str)), None)
                if key is None:
                    raise LabelsError(f"{path}: a list entry without a file/md5/path key ({str(e)[:80]}); "
                                      f"expected {LABELS_SHAPE}")
                entries.append((key, e))
        else:
            raise LabelsError(f"{path}: top level is {type(doc).__name__}; expected {LABELS_SHAPE}")
        for key, value in entries:
            label = _label(value, f"{rel}: {key}")
            if key in labels and labels[key] != label:
                problems.append(Problem("note", "*", rel, f"duplicate label: {key} is also labelled in "
                                                          f"{where[key]} (that label is used)"))
                continue
            labels.setdefault(key, label)
            where.setdefault(key, rel)
    return labels, problems


def _label(value, where: str):
    if not isinstance(value, dict) or "valence" not in value or "arousal" not in value:
        return f"{where}: expected an object with valence and arousal, got {str(value)[:60]}"
    v, a = value["valence"], value["arousal"]
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (v, a)):
        return f"{where}: valence and arousal must be numbers, got {v!r}, {a!r}"
    try:
        return emotion.validate(v, a, where)
    except ValueError as exc:
        return str(exc)


def label_for(labels: dict, item: Item, md5: str):
    """The label of a file by relative path, file name, stem or md5 (the first present), else None."""
    if not labels:
        return None
    name = item.source.name
    inner = item.identity[1] if not item.identity[0] and not item.md5 else None
    for key in (item.path, inner, name, os.path.splitext(name)[0], md5):
        if key and key in labels:
            return labels[key]
    return None


# -- planning: what to read, in which shards -----------------------------------------


@dataclass(frozen=True)
class Shard:
    """One unit of work: explicit files (loose or zip members), or one pass over a tar archive."""

    items: tuple[Item, ...] = ()
    tar: str | None = None              # absolute path of the tar archive
    tar_path: str = ""                  # relative to data_dir
    buckets: frozenset = frozenset()    # the tar pass parses members of these buckets
    wanted: frozenset | None = None     # ... and of these names only (max_files), None = all
    reports: bool = False               # this pass reports the archive's other-layout members


@dataclass(frozen=True)
class Context:
    """What every shard needs (not sharded)."""

    root: str
    layout: str
    labels: dict = field(default_factory=dict)
    seen: frozenset = frozenset()       # identities read from loose files / zips (archive copies skipped)


@dataclass
class Plan:
    context: Context
    shards: dict                        # split -> list[Shard]
    problems: list


def check_options(max_files, subsets, archive_passes) -> tuple[int | None, frozenset, int]:
    if max_files is not None and (isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1):
        raise ValueError(f"lakh: max_files must be a positive integer or None, not {max_files!r}")
    if isinstance(subsets, str):
        subsets = [subsets]
    buckets = frozenset(range(NUM_BUCKETS))
    if subsets is not None:
        bad = [s for s in subsets if not (isinstance(s, str) and len(s) == 1 and s.lower() in _HEX)]
        if bad or not subsets:
            raise ValueError(f"lakh: subsets must be hex digits naming lmd_full's folders, e.g. ['0', 'a'], "
                             f"not {subsets!r}")
        buckets = frozenset(int(s, 16) for s in subsets)
    if isinstance(archive_passes, bool) or not isinstance(archive_passes, int) or archive_passes < 1:
        raise ValueError(f"lakh: archive_passes must be a positive integer, not {archive_passes!r}")
    return max_files, buckets, archive_passes


def plan(root: str, config: str, *, max_files=None, subsets=None, archive_passes: int = 2) -> Plan:
    """Find the inputs under ``root`` and divide the chosen ones into shards per split.

    Raises :class:`DataDirError` when there is nothing to read (naming what was
    looked for), :class:`LabelsError` for an unusable labels file and
    ``ValueError`` for bad options.
    """
    if config not in CONFIGS:
        raise ValueError(f"lakh: unknown config {config!r} (have {', '.join(CONFIGS)})")
    max_files, buckets, passes = check_options(max_files, subsets, archive_passes)
    items, tars, label_files, problems = _scan(root)
    present = {it.layout for it in items} | {t[3] for t in tars}
    layout = next((lay for lay in LAYOUTS if lay in present), None) if config == "auto" else config
    if layout is None:
        raise DataDirError(f"lakh: no MIDI files under {root}; looked for (recursively) {LOOKED_FOR}")
    if layout not in present:
        found = ", ".join(sorted(present)) or "no MIDI files at all"
        raise DataDirError(f"lakh/{config}: no MIDI files in the {config} layout under {root} (found: {found}); "
                           f"looked for {LOOKED_FOR}")

    chosen, seen = [], {}
    for it in items:
        if it.layout != layout:
            problems.append(Problem("skip", "*", it.path, _other_layout(it.layout, layout)))
        elif it.identity in seen:
            problems.append(Problem("skip", _split_hint(it), it.path,
                                    f"duplicate file: same file as {seen[it.identity]}, which is read"))
        else:
            seen[it.identity] = it.path
            chosen.append(it)
    tar_inputs = []
    for full, rel, parents, found_layout in tars:
        if found_layout != layout:
            problems.append(Problem("skip", "*", rel, f"archive not read: {_other_layout(found_layout, layout)}"))
        else:
            tar_inputs.append((full, rel, parents))
    has_files = bool(chosen)
    chosen = [it for it in chosen if it.bucket in buckets]
    wanted: dict[str, frozenset] = {}
    if max_files is not None:
        chosen, wanted = _subset(chosen, tar_inputs, max_files, layout, buckets, seen, problems)

    per_split = {s: [[] for _ in range(NUM_BUCKETS)] for s in splits.SPLITS}
    for it in chosen:
        for s in ([splits.hash_split(it.md5)] if it.md5 else splits.SPLITS):  # md5 from bytes: decided once read
            per_split[s][it.bucket].append(it)
    stripes = sorted(buckets)
    k = min(passes, len(stripes))
    shards = {}
    for s in splits.SPLITS:
        out = [Shard(items=tuple(per_split[s][b])) for b in stripes] if has_files else []
        for full, rel, _ in tar_inputs:
            if full in wanted and not wanted[full]:
                continue
            out += [Shard(tar=full, tar_path=rel, buckets=frozenset(stripes[j::k]), wanted=wanted.get(full),
                          reports=j == 0 and s == splits.SPLITS[0]) for j in range(k)]
        shards[s] = out or [Shard()]

    labels, label_problems = read_labels(label_files, root)
    context = Context(root=root, layout=layout, labels=labels, seen=frozenset(seen) if tar_inputs else frozenset())
    return Plan(context, shards, problems + label_problems)


def _scan(root: str):
    """MIDI items (loose files, zip members), tar archives ``(path, rel, parents, layout of the first
    MIDI member)``, labels files, and problems, all under ``root``."""
    base = (os.path.basename(os.path.normpath(root)),)
    items, tars, label_files, problems = [], [], [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            parents = base + tuple(rel.split("/")[:-1]) + (_archive_stem(fn),)  # for archive members
            if is_midi(fn):
                items.append(make_item(Source(full), rel, base, rel))
            elif fn == LABELS_FILE:
                label_files.append(full)
            elif fn.lower().endswith(".zip"):  # random access: its members are files like the others
                try:
                    members = archive_members(full, MIDI_SUFFIXES)
                except InputError as exc:
                    problems.append(Problem("skip", "*", rel, f"unreadable archive: {exc}"))
                    continue
                items += [make_item(m, f"{rel}::{m.member}", parents, m.member) for m in members if is_midi(m.member)]
            elif is_archive(fn):
                first = _first_midi_member(full)
                if isinstance(first, Exception):
                    problems.append(Problem("skip", "*", rel, f"unreadable archive: {first}"))
                elif first is not None:
                    tars.append((full, rel, parents, make_item(Source(full, first), "", parents, first).layout))
    return items, tars, label_files, problems


def _subset(chosen, tar_inputs, max_files, layout, buckets, seen, problems):
    """The ``max_files`` items of smallest subset rank among files and tar members (listed once)."""
    listed = []
    for full, rel, parents in tar_inputs:
        names = _tar_names(full)
        if isinstance(names, Exception):
            problems.append(Problem("skip", "*", rel, f"unreadable archive: {names}"))
            continue
        for name in names:
            it = make_item(Source(full, name), f"{rel}::{name}", parents, name)
            if it.layout == layout and it.bucket in buckets and it.identity not in seen:
                listed.append(it)
    ranked = sorted(chosen + listed, key=lambda it: subset_rank(it.md5, it.identity[1]))[:max_files]
    tar_paths = {t[0] for t in tar_inputs}
    wanted = {full: frozenset(it.source.member for it in ranked if it.source.path == full) for full in tar_paths}
    return sorted((it for it in ranked if it.source.path not in tar_paths), key=lambda it: it.path), wanted


def _archive_stem(name: str) -> str:
    low = name.lower()
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _first_midi_member(path: str):
    """The name of the first MIDI member of a tar archive (reads only up to it), None, or the error."""
    try:
        with tarfile.open(path) as tf:
            while (info := tf.next()) is not None:
                if info.isfile() and is_midi(info.name):
                    return info.name
    except _TAR_ERRORS as exc:
        return InputError(f"{path}: cannot read archive ({exc})")
    return None


def _tar_names(path: str):
    """The MIDI member names of a tar archive (one pass, headers not kept), or the error."""
    names = []
    try:
        with tarfile.open(path) as tf:
            while (info := tf.next()) is not None:
                tf.members.clear()
                if info.isfile() and is_midi(info.name):
                    names.append(info.name)
            if not _ends_cleanly(tf):
                return InputError(f"{path}: an invalid tar header ends it early")
    except _TAR_ERRORS as exc:
        return InputError(f"{path}: cannot read archive ({exc})")
    return names


# tarfile stops silently at an invalid header after the first member (as if the archive
# ended there), and a gzip stream is only CRC-checked at its end: both checked by draining.
_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


def _ends_cleanly(tf: tarfile.TarFile) -> bool:
    """After the last member: only the zero blocks of the end marker remain (reading them
    to the end of the stream also checks a gzip stream's CRC, raising on damage)."""
    while chunk := tf.fileobj.read(1 << 20):
        if chunk.strip(b"\0"):
            return False
    return True


def _other_layout(found: str, layout: str) -> str:
    return f"other layout: a {found} file, this build reads {layout} (config {found} reads it)"


def _split_hint(it: Item) -> str:
    return splits.hash_split(it.md5) if it.md5 else "*"


# -- reading ----------------------------------------------------------------------


def _tar_pass(shard: Shard, ctx: Context, split: str) -> Iterator[tuple[Item, bytes | Exception] | Problem]:
    """One pass over a tar archive: the members this shard and split parse, in archive order."""
    parents = (os.path.basename(os.path.normpath(ctx.root)),) + tuple(shard.tar_path.split("/")[:-1]) \
        + (_archive_stem(os.path.basename(shard.tar)),)
    try:
        with tarfile.open(shard.tar) as tf:
            while (info := tf.next()) is not None:
                tf.members.clear()  # tarfile keeps every header it has read: memory would grow with the archive
                if not info.isfile() or not is_midi(info.name):
                    continue
                it = make_item(Source(shard.tar, info.name), f"{shard.tar_path}::{info.name}", parents, info.name)
                if it.layout != ctx.layout:
                    if shard.reports:
                        yield Problem("skip", "*", it.path, _other_layout(it.layout, ctx.layout))
                    continue
                if it.bucket not in shard.buckets or shard.wanted is not None and info.name not in shard.wanted:
                    continue
                if it.md5 and splits.hash_split(it.md5) != split:
                    continue
                if it.identity in ctx.seen:
                    if not it.md5 and split != splits.SPLITS[0]:
                        continue
                    yield Problem("skip", _split_hint(it), it.path, "duplicate file: the same file is read "
                                                                    "outside the archive")
                    continue
                try:
                    yield it, _read_tar_member(tf, info, shard.tar)
                except InputError as exc:
                    yield it, exc
            if not _ends_cleanly(tf):
                yield Problem("skip", "*", shard.tar_path, "unreadable archive: an invalid tar header ends it early "
                                                           "(members after the damage not read)")
    except _TAR_ERRORS as exc:
        yield Problem("skip", "*", shard.tar_path, f"unreadable archive: {exc} (members after the damage not read)")


def _read_shard(shard: Shard, ctx: Context, split: str):
    if shard.tar is not None:
        yield from _tar_pass(shard, ctx, split)
        return
    by_source = {it.source: it for it in shard.items}
    for source, data in read_all(it.source for it in shard.items):
        yield by_source[source], data


def rows(shards: list[Shard], split: str, ctx: Context) -> Iterator[tuple[str, dict] | Problem]:
    """``(key, row)`` for every file of ``split`` in ``shards``, or a :class:`Problem`."""
    for shard in shards:
        for got in _read_shard(shard, ctx, split):
            if isinstance(got, Problem):
                yield got
                continue
            it, data = got
            md5 = it.md5 or (hashlib.md5(data).hexdigest() if isinstance(data, bytes) else "")
            file_split = splits.hash_split(md5) if md5 else "*"
            if md5 and file_split != split:
                continue
            if isinstance(data, Exception):
                if split == splits.SPLITS[0] or it.md5:  # report once
                    yield Problem("skip", file_split, it.path, f"unreadable file: {data}")
                continue
            yield from file_row(it, data, md5, split, ctx)


def file_row(it: Item, data: bytes, md5: str, split: str, ctx: Context, parser: str | None = None):
    """``(key, row)`` of one file, or its Problems (``parser`` as in :func:`kelly_hf.midi.read_pitched`)."""
    label = label_for(ctx.labels, it, md5)
    if isinstance(label, str):
        yield Problem("skip", split, it.path, f"label unusable: {label}")
        return
    try:
        p = read_pitched(data, name=it.path, parser=parser)
    except MidiError as exc:
        category = midi_problem(exc.reason, len(data))
        yield Problem("skip", split, it.path, category if exc.reason == category else f"{category}: {exc.reason}")
        return
    if p.errors:
        detail = "; ".join(p.errors)[:200]
        yield Problem("note", split, it.path, f"damaged MIDI, notes before the damage kept: {detail}")
    result = summarize(p, label)
    if result is None:
        yield Problem("skip", split, it.path, f"no pitched notes: {p.num_tracks} track(s) with no notes "
                                              f"outside the drum channel")
        return
    result.update(md5=md5, msd_id=it.msd_id, path=it.path)
    yield it.path, result


def midi_problem(reason: str, size: int) -> str:
    """The counted category of a MidiError reason."""
    if size == 0 or reason == "empty file":
        return "empty file"
    if reason.startswith(("not a MIDI file", "RIFF file that is not RMID", "RMID file without")):
        return "not a MIDI file"
    if reason.startswith("no MTrk"):
        return "no MIDI track"
    if reason.startswith(("truncated header", "bad header length", "unsupported SMF format", "invalid SMPTE",
                          "SMPTE ticks per frame", "ticks per quarter")):
        return "invalid MIDI header"
    return "undecodable MIDI"


# -- the row ----------------------------------------------------------------------


def features() -> datasets.Features:
    f32 = datasets.Value("float32")
    return datasets.Features({
        "md5": datasets.Value("string"),
        "msd_id": datasets.Value("string"),
        "path": datasets.Value("string"),
        "emotion": datasets.List(f32, length=emotion.DIM),
        "notes": datasets.List(f32, length=128),
        "emotion_source": datasets.Value("string"),
        "valence": f32,
        "arousal": f32,
        "num_notes": datasets.Value("int32"),
        "num_tracks": datasets.Value("int32"),
        "duration_s": f32,
        "tempo_bpm": f32,
        "notes_from_s": f32,
    })


def summarize(p: Pitched, label: tuple[float, float] | None = None) -> dict | None:
    """The row's musical columns (see the module docstring), None when there are no pitched notes."""
    n = len(p.pitch)
    if not n:
        return None
    split_at = float(np.partition(p.start, n // 2)[n // 2])  # the median onset; the note there is a target note
    context = p.start < split_at
    counts = np.bincount(p.pitch[~context], minlength=128)
    if label is None:
        est = musical_emotion.estimate(p.pitch[context], p.start[context], split_at, variant="arrangement")
        valence, arousal, source = est.valence, est.arousal, "estimated"
    else:
        (valence, arousal), source = label, "label"
    return {
        "emotion": emotion.encode(valence, arousal),
        "notes": (counts / counts.sum()).astype(np.float32),
        "emotion_source": source,
        "valence": valence,
        "arousal": arousal,
        "num_notes": n,
        "num_tracks": p.num_tracks,
        "duration_s": p.duration_s,
        "tempo_bpm": p.tempo_bpm,
        "notes_from_s": split_at,
    }
