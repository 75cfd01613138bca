"""Harmony examples: chord-progression readers, rendering, estimated emotion (DESIGN §4).

One row per progression, split in time like the engine meets it: the engine has
*heard* the first ``n // 2`` chords and predicts what comes next.

* ``context`` (128) = ``[emotion(64), mel[0:64]]``: ``mel`` is kelly-mel-v1 of a
  deterministic rendering of the heard chords (at most the last
  :data:`MAX_RENDERED` of them, :data:`CHORD_SECONDS` each): every chord tone
  as a decaying additive tone (3 harmonics) in the octave from middle C, plus
  the root an octave below. Nothing heard (a one-chord progression) renders silence.
* ``chords`` (64) = distribution over kelly-chords-v1 of the chords that come
  *after* the heard ones: the target. No column of ``context`` is computed from
  these chords, so inputs never leak the target.
* emotion: the item's label when it has one, else :func:`estimate_emotion` of
  the heard chords (kelly-emotion-v2, ``chords`` variant).

Readers turn every input shape into :class:`Progression` items: JSON
(``{"progressions": [...]}``, ``{"chord_progressions": [...]}``, a bare list;
items as dicts or bare chord lists), JSON Lines, McGill Billboard
``salami_chords.txt``, POP909 ``chord_midi.txt`` (+ ``key_audio.txt``), JAMS
chord annotations and Harte ``.lab`` files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np

from kelly_hf import audio, chords, emotion, musical_emotion

MAX_RENDERED = 8
CHORD_SECONDS = 0.5
TONE_LEVEL = 0.12  # per partial; a 4-note chord stays well below full scale


class ProgressionError(ValueError):
    """A bad item or file (the message names it)."""


@dataclass(frozen=True)
class Progression:
    id: str                 # split id: the item's name, else a hash of its chords
    key: str                # example key, unique per source item
    name: str
    symbols: tuple[str, ...]
    tonality: str           # musical key, "" when unknown
    valence: float | None
    arousal: float | None


# --- readers ------------------------------------------------------------------

def _content_id(symbols) -> str:
    return "chords:" + hashlib.sha1("|".join(symbols).encode()).hexdigest()[:16]


def _item(obj, where: str, key: str, default_tonality: str = "") -> Progression:
    if isinstance(obj, list):
        obj = {"chords": obj}
    if not isinstance(obj, dict):
        raise ProgressionError(f"{where}: expected a chord list or an object, got {type(obj).__name__}")
    symbols = obj.get("chords", obj.get("progression", obj.get("sequence")))
    if isinstance(symbols, str):
        symbols = symbols.replace(",", " ").replace("|", " ").split()
    if not isinstance(symbols, list) or not all(isinstance(s, (str, int, float)) for s in symbols):
        raise ProgressionError(f"{where}: 'chords' must be a list of chord symbols")
    symbols = tuple(str(s) for s in symbols)
    name = str(obj.get("name", obj.get("title", obj.get("id", ""))) or "")
    try:
        (name + "".join(symbols)).encode("utf-8")
    except UnicodeEncodeError:
        raise ProgressionError(f"{where}: name or chords are not valid Unicode (a lone surrogate)") from None
    labels = obj.get("emotion") if isinstance(obj.get("emotion"), dict) else obj
    v, a = labels.get("valence"), labels.get("arousal")
    if (v is None) != (a is None):
        raise ProgressionError(f"{where}{f' ({name})' if name else ''}: emotion needs both valence and arousal")
    if v is not None:
        try:
            v, a = emotion.validate(float(v), float(a), f"{where}{f' ({name})' if name else ''}")
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProgressionError(str(exc) if where in str(exc) else f"{where}: emotion label unusable: {exc}") from None
    tonality = str(obj.get("key", default_tonality) or "")
    return Progression(name or _content_id(symbols), key, name, symbols, tonality, v, a)


def _json_items(data, where: str):
    if isinstance(data, dict):
        for field in ("progressions", "chord_progressions", "items", "data"):
            if isinstance(data.get(field), list):
                return data[field]
        if "chords" in data:
            return [data]
        raise ProgressionError(f"{where}: no 'progressions' or 'chord_progressions' list in the object")
    if isinstance(data, list):
        # A bare list of chord symbols is a single progression.
        return [data] if data and all(isinstance(x, str) for x in data) else data
    raise ProgressionError(f"{where}: expected a list or an object at the top level")


def _json_error(path: str, exc: json.JSONDecodeError, line_offset: int = 0) -> ProgressionError:
    return ProgressionError(f"malformed JSON: {path} line {exc.lineno + line_offset} column {exc.colno}: {exc.msg}")


def read_json(path: str, rel: str) -> Iterator[Progression | ProgressionError]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise _json_error(rel, exc) from None
    except UnicodeDecodeError as exc:
        raise ProgressionError(f"not UTF-8 text: {rel}: {exc}") from None
    if isinstance(data, dict) and "annotations" in data and "file_metadata" in data:
        yield from read_jams_data(data, rel)
        return
    for i, obj in enumerate(_json_items(data, rel)):
        try:
            yield _item(obj, f"{rel} item {i}", f"{rel}#{i}")
        except ProgressionError as exc:  # one bad item never costs the others
            yield exc


def read_jsonl(path: str, rel: str) -> Iterator[Progression | ProgressionError]:
    """One progression per line, read lazily; a bad line is an error for that line only."""
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield _item(json.loads(line), f"{rel} line {lineno}", f"{rel}#{lineno}")
            except json.JSONDecodeError as exc:
                yield _json_error(rel, exc, lineno - 1)
            except ProgressionError as exc:
                yield exc


_BILLBOARD_BAR = re.compile(r"\|([^|]*)(?=\|)")


def read_billboard(path: str, rel: str) -> Iterator[Progression]:
    """McGill Billboard ``salami_chords.txt``: '# tonic: A' header, '| A:min | C:maj |' bars."""
    header, symbols = {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                field, _, value = line[1:].partition(":")
                header[field.strip().lower()] = value.strip()
                continue
            for bar in _BILLBOARD_BAR.findall(line):
                # A bar may hold several chords ("| A:min D:maj |"); '.' repeats the previous one.
                for token in bar.split():
                    if token == "." and symbols:
                        symbols.append(symbols[-1])
                    elif token not in (".", "*"):
                        symbols.append(token)
    title = header.get("title", "")
    name = f"{header.get('artist', '')} - {title}".strip(" -")
    yield Progression(f"billboard:{rel}", rel, name, tuple(symbols), header.get("tonic", ""), None, None)


def _read_timed_labels(path: str) -> list[str]:
    """'start end label' lines (Harte .lab, POP909 chord_midi.txt); blank lines ignored."""
    symbols = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 3:
                raise ProgressionError(f"{path} line {lineno}: expected 'start end label'")
            symbols.append(parts[2])
    return symbols


def read_lab(path: str, rel: str) -> Iterator[Progression]:
    yield Progression(f"lab:{rel}", rel, os.path.splitext(os.path.basename(rel))[0],
                      tuple(_read_timed_labels(path)), "", None, None)


def read_pop909(path: str, rel: str) -> Iterator[Progression]:
    """POP909 ``<song>/chord_midi.txt``; the key comes from ``key_audio.txt`` beside it."""
    tonality = ""
    key_file = os.path.join(os.path.dirname(path), "key_audio.txt")
    if os.path.exists(key_file):
        labels = _read_timed_labels(key_file)
        tonality = labels[0] if labels else ""
    song = os.path.basename(os.path.dirname(path))
    yield Progression(f"pop909:{song}", rel, f"POP909 {song}", tuple(_read_timed_labels(path)), tonality, None, None)


def _observations(annotation) -> list[dict]:
    data = annotation.get("data", [])
    if isinstance(data, dict):  # JAMS dense form: dict of lists
        return [dict(zip(data, values)) for values in zip(*data.values())]
    return data


def read_jams_data(data: dict, rel: str) -> Iterator[Progression]:
    """JAMS: the first annotation in a chord namespace (its values are Harte labels)."""
    chord_anns = [a for a in data.get("annotations", []) if str(a.get("namespace", "")).startswith("chord")]
    if not chord_anns:
        raise ProgressionError(f"no chord annotation: {rel} has no annotation in a 'chord' namespace")
    symbols = [str(o["value"]) for o in sorted(_observations(chord_anns[0]), key=lambda o: o["time"])]
    key_anns = [a for a in data["annotations"] if a.get("namespace") == "key_mode"]
    tonality = ""
    if key_anns and _observations(key_anns[0]):
        tonality = str(_observations(key_anns[0])[0]["value"])
    title = (data.get("file_metadata") or {}).get("title") or os.path.basename(rel)
    yield Progression(f"jams:{rel}", rel, title, tuple(symbols), tonality, None, None)


def reader_for(path: str):
    """The reader of an input file, or None when the file is not a chord input."""
    name = os.path.basename(path).lower()
    if name == "salami_chords.txt":
        return read_billboard
    if name == "chord_midi.txt":
        return read_pop909
    if name.endswith((".jsonl", ".ndjson")):
        return read_jsonl
    if name.endswith((".json", ".jams")):
        return read_json
    if name.endswith(".lab"):
        return read_lab
    return None


def find_inputs(data_dir: str) -> list[str]:
    """Every chord input under data_dir, sorted (relative paths)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(data_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if reader_for(full) is not None:
                found.append(os.path.relpath(full, data_dir))
    return found


# --- features -----------------------------------------------------------------

def _tonality_for_roman(tonality: str) -> str | None:
    """Keys like 'G:major', 'Eb:maj', 'A', 'Am' -> a key the Roman-numeral parser accepts."""
    if not tonality:
        return None
    try:
        chords.parse_key(tonality.replace("major", "maj").replace("minor", "min"))
    except ValueError:
        return None
    return tonality.replace("major", "maj").replace("minor", "min")


def parse_progression(p: Progression) -> tuple[list[int], list[str]]:
    """Class ids (no-chord marks left out) and the symbols that fell in OTHER."""
    key = _tonality_for_roman(p.tonality)
    ids, unknown = [], []
    for s in p.symbols:
        i = chords.parse(s, key)
        if i == chords.NO_CHORD:
            continue
        if i == chords.OTHER:
            unknown.append(s)
        ids.append(i)
    return ids, unknown


def voicing(index: int) -> list[int]:
    """MIDI pitches of a chord class: its tones in C4..B4 and the root an octave below ([] for N, X)."""
    tones = chords.chord_tones(index)
    return [60 + pc for pc in tones] + [48 + tones[0]] if tones else []


@lru_cache(maxsize=None)
def _chord_wave(index: int) -> np.ndarray:
    n = int(CHORD_SECONDS * audio.SR)
    pitches = voicing(index)
    if not pitches:
        return np.zeros(n, dtype=np.float32)
    t = np.arange(n, dtype=np.float64) / audio.SR
    envelope = np.exp(-2.0 * t) * np.minimum(1.0, t / 0.01)
    segment = np.zeros(n)
    for midi in pitches:
        f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        for h, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
            segment += weight * np.sin(2 * math.pi * h * f0 * t)
    return (TONE_LEVEL * segment * envelope).astype(np.float32)


def render(ids) -> np.ndarray:
    """Deterministic audio of chord classes at audio.SR (see the module docstring)."""
    return np.concatenate([_chord_wave(i) for i in ids]) if len(ids) else np.zeros(0, np.float32)


@lru_cache(maxsize=200_000)
def heard_mel(heard: tuple[int, ...]) -> np.ndarray:
    """kelly-mel-v1 of the rendered heard chords (the last MAX_RENDERED); silence (-1) when none."""
    if not heard:
        return np.full(audio.N_MELS, -1.0, np.float32)
    return audio.mel_features(render(heard[-MAX_RENDERED:]), audio.SR)


def estimate_emotion(ids: list[int]) -> tuple[float, float]:
    """The emotion estimate of heard chords (used when an item has no label): kelly-emotion-v2's
    ``chords`` variant (``kelly_hf.musical_emotion``) over each chord's :func:`voicing` struck in a
    frame of its own. Valence from the chords' key, mode and triads; arousal the neutral 0.5 (pitch
    classes alone tell nothing measurable about arousal: docs/EMOTION.md). Nothing heard (or only
    OTHER) gives the neutral (0, 0.5)."""
    pitches = [voicing(i) for i in ids]
    pitch = [p for chord in pitches for p in chord]
    start = [i * musical_emotion.FRAME_S for i, chord in enumerate(pitches) for _ in chord]
    est = musical_emotion.estimate(pitch, start, len(ids) * musical_emotion.FRAME_S, variant="chords")
    return est.valence, est.arousal


def distribution(ids: list[int]) -> np.ndarray:
    out = np.zeros(chords.NUM_CLASSES, dtype=np.float64)
    np.add.at(out, ids, 1.0)
    return (out / out.sum()).astype(np.float32)


def example(p: Progression, ids: list[int]) -> dict:
    """The row of a parsed progression (ids non-empty)."""
    heard, target = ids[: len(ids) // 2], ids[len(ids) // 2:]
    if p.valence is not None:
        v, a, source = p.valence, p.arousal, "label"
    else:
        (v, a), source = estimate_emotion(heard), "estimated"
    mel = heard_mel(tuple(heard[-MAX_RENDERED:]))
    context = np.concatenate([emotion.encode(v, a), mel[:64]]).astype(np.float32)
    return {
        "name": p.name,
        "key": p.tonality,
        "chord_ids": ids,
        "num_heard": len(heard),
        "context": context,
        "chords": distribution(target),
        "valence": float(v),
        "arousal": float(a),
        "emotion_source": source,
    }
