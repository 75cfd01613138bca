"""Chord vocabulary kelly-chords-v1 (DESIGN §4): 64 classes and a symbol parser.

Classes
-------
``index = 5 * root + quality`` for the 12 roots (C, C#, ..., B; pitch class of
the root) and 5 qualities ``maj, min, 7, min7, dim`` (indices 0..59), then

===  =======  ===============================================================
60   ``aug``  augmented triad; one class because the chord is symmetric
              (C+ = E+ = G#+), so its root is ambiguous by construction
61   ``sus``  suspended chord (sus2, sus4, 7sus4); one class because sus2 and
              sus4 are inversions of each other (Csus2 = Gsus4)
62   ``N``    no chord (``N``, ``N.C.``, ``silence``, ``&pause``). Builders leave
              it out of chord sequences; it is never counted as OTHER
63   ``X``    OTHER: what cannot be parsed (and Harte's explicit unknown ``X``)
===  =======  ===============================================================

Nearest class for richer chords (same root, keep triad and seventh type, drop
extensions): maj7, 6, 6/9, add9, maj9, power chord (5) and single notes -> maj;
9, 11, 13, 7b9, 7#9, aug7 -> 7; m6, mMaj7, madd9 -> min; m9, m11, m13 -> min7;
dim7, hdim7 (m7b5, ø) -> dim. Slash chords map to the chord above the bass
(``C/E`` -> C:maj). Enharmonic spellings give the same class.

Accepted syntax: letter roots with ``#``/``b``/``♯``/``♭``; common quality
spellings (m, min, -, M7, maj7, ^7, Δ, 7, m7, -7, dim, o, °, aug, +, sus2,
sus4, 6, 9, 11, 13, add9, m7b5, h7, ø, ...); Harte syntax (``A:min7``,
``C:maj/3``, ``C:(1,b3,5)``); Roman numerals against a key (``vi``, ``V7``,
``bVII``, ``vii°``, ``V/V``, figured inversions ``V65``, ``I6``).
"""

from __future__ import annotations

import re
from functools import lru_cache

ROOT_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
QUALITIES = ("maj", "min", "7", "min7", "dim")
VOCAB: tuple[str, ...] = tuple(f"{r}:{q}" for r in ROOT_NAMES for q in QUALITIES) + ("aug", "sus", "N", "X")
AUG, SUS, NO_CHORD, OTHER = 60, 61, 62, 63
NUM_CLASSES = len(VOCAB)
assert NUM_CLASSES == 64

# Chord tones (pitch classes relative to the root) of each class, for rendering.
QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "min7": (0, 3, 7, 10), "dim": (0, 3, 6)}

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_NO_CHORD_MARKS = {"n", "n.c.", "n.c", "nc", "no chord", "silence", "&pause", "none", "rest"}

_ROOT_RE = re.compile(r"^([A-Ga-g])([#♯b♭]*)(.*)$", re.S)
_ROMAN_RE = re.compile(r"^([#♯b♭]*)(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?![a-np-z])(.*)$")
_ROMAN_DEGREES = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)

# Harte interval names -> semitones, for "C:(1,b3,5)" component lists.
_HARTE_DEGREES = {"1": 0, "2": 2, "3": 4, "4": 5, "5": 7, "6": 9, "7": 11, "9": 2, "11": 5, "13": 9}


def class_index(root: int, quality: str) -> int:
    """Index of ``root`` (pitch class) with one of :data:`QUALITIES`."""
    return 5 * (root % 12) + QUALITIES.index(quality)


def chord_tones(index: int) -> tuple[int, ...]:
    """Pitch classes of a class, for rendering; () for N and X."""
    if index < 60:
        root, quality = divmod(index, 5)
        return tuple((root + i) % 12 for i in QUALITY_INTERVALS[QUALITIES[quality]])
    return {AUG: (0, 4, 8), SUS: (0, 5, 7)}.get(index, ())


def is_minor_like(index: int) -> bool:
    return index < 60 and index % 5 in (1, 3)


def _pitch_class(letter: str, accidentals: str) -> int:
    return (_LETTERS[letter.upper()] + sum(_ACCIDENTALS[a] for a in accidentals)) % 12


def parse_key(key: str) -> tuple[int, bool]:
    """'C', 'Am', 'A:min', 'a' (lowercase = minor), 'Eb major', 'F# minor' -> (tonic pc, is_minor)."""
    m = _ROOT_RE.match(str(key).strip())
    rest = m.group(3).strip().lstrip(":").strip().lower() if m else None
    if rest in ("", "maj", "major"):
        return _pitch_class(m.group(1), m.group(2)), rest == "" and m.group(1).islower()
    if rest in ("m", "min", "minor", "-", "mi"):
        return _pitch_class(m.group(1), m.group(2)), True
    raise ValueError(f"cannot read key {key!r}")


def _strip_bass(text: str) -> str:
    """Drop a slash bass ('C/E', 'C:maj/3'); keep '6/9', which is a quality."""
    if "/" in text and not text.endswith("6/9"):
        head, _, _tail = text.partition("/")
        return head
    return text


def _quality_from_intervals(intervals: set[int]) -> str | int:
    has = intervals.__contains__
    if has(3) and has(6) and not has(7):
        return "dim"
    if has(4) and has(8) and not has(7):
        return AUG
    if has(3):
        return "min7" if has(10) else "min"
    if has(4):
        return "7" if has(10) else "maj"
    if has(5) or has(2):
        return SUS
    return "maj"  # root, or root + fifth (power chord)


def _harte_components(text: str) -> set[int] | None:
    intervals = {0}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("*"):
            continue  # an omitted interval
        m = re.fullmatch(r"([#b]*)(\d+)", part)
        if not m or m.group(2) not in _HARTE_DEGREES:
            return None
        shift = sum(_ACCIDENTALS[a] for a in m.group(1))
        intervals.add((_HARTE_DEGREES[m.group(2)] + shift) % 12)
    return intervals


# Quality spellings, tried in order (full match, case-sensitive: "M7" is not "m7").
_MIN = r"(?:m|min|mi|-)"
_QUALITY_PATTERNS: tuple[tuple[str, str | int], ...] = (
    (r"|maj|major|M|ma|1|5|6|69|6/9|maj6|M6|add[249]|add11|add13|6add9", "maj"),
    (r"(?:maj|ma|M|\^|Δ|j)(?:7|9|11|13)?(?:#11|b5|#5|add\d+)*", "maj"),
    (r"(?:hdim|h|ø|Ø)7?|" + _MIN + r"7?b5|half-?dim7?", "dim"),
    (r"(?:dim|o|°)7?|diminished7?", "dim"),
    (r"aug|\+|#5|\+5|augmented", AUG),
    (r"(?:aug|\+)7|7(?:#5|\+5|\+|aug)|9#5|\+9", "7"),
    (r"(?:7|9|11|13)?sus[24]?(?:add\d+)?|sus[24]?(?:7|9)|4|2|sus2sus4", SUS),
    (_MIN + r"(?:maj7|ma7|M7|\^7|Δ7?|j7|6|69|6/9|add[249]|add11|b6)?|minor|minmaj7|mmaj7", "min"),
    (_MIN + r"(?:7|9|11|13)(?:b9|#9|#11|b13|add\d+)*", "min7"),
    (r"(?:7|9|11|13|dom7?|dom9)(?:b9|#9|#11|b13|b5|#5|alt|add\d+|sus4)*|alt", "7"),
)
_QUALITY_RES = tuple((re.compile(p), q) for p, q in _QUALITY_PATTERNS)


def _quality(suffix: str) -> str | int | None:
    """A chord-quality spelling -> one of QUALITIES, AUG, SUS, or None when unknown."""
    s = suffix.replace(" ", "").lstrip(":")
    if "(" in s:  # Harte "maj(9)", "(1,b3,5)"; pop "7(b9)", "m(maj7)"
        head, _, tail = s.partition("(")
        inner = tail.rstrip(")")
        if not head:
            components = _harte_components(inner)
            return None if components is None else _quality_from_intervals(components)
        s = head + inner if inner in ("maj7", "ma7", "M7") and head in ("m", "min", "-") else head
    for pattern, quality in _QUALITY_RES:
        if pattern.fullmatch(s):
            return quality
    return None


def _from_root(root: int, quality: str | int) -> int:
    return quality if isinstance(quality, int) else class_index(root, quality)


def _parse_letter(text: str) -> int | None:
    m = _ROOT_RE.match(text)
    if not m:
        return None
    letter, accidentals, rest = m.groups()
    if ":" in rest and not rest.startswith(":"):
        return None
    quality = _quality(_strip_bass(rest))
    if quality is None:
        return None
    return _from_root(_pitch_class(letter, accidentals), quality)


def _parse_roman(text: str, key: str) -> int | None:
    tonic, minor = parse_key(key)
    primary, _, secondary = text.partition("/")
    if secondary:
        # Secondary function: "V/V" is V of the key of the key's V.
        target = _ROMAN_RE.match(secondary)
        if not target or target.group(3):
            return None
        acc, numeral, _ = target.groups()
        scale = _MINOR_SCALE if minor else _MAJOR_SCALE
        local = (tonic + scale[_ROMAN_DEGREES[numeral.lower()]] + sum(_ACCIDENTALS[a] for a in acc)) % 12
        return _parse_roman_in(primary, local, numeral.islower())
    return _parse_roman_in(primary, tonic, minor)


def _parse_roman_in(text: str, tonic: int, minor: bool) -> int | None:
    m = _ROMAN_RE.match(text)
    if not m:
        return None
    accidentals, numeral, suffix = m.groups()
    scale = _MINOR_SCALE if minor else _MAJOR_SCALE
    root = (tonic + scale[_ROMAN_DEGREES[numeral.lower()]] + sum(_ACCIDENTALS[a] for a in accidentals)) % 12
    lower = numeral.islower()
    s = suffix.strip()
    if s in ("", "6", "64", "53", "63"):  # triads and their figured inversions
        return class_index(root, "min" if lower else "maj")
    if s in ("7", "65", "43", "42", "2"):  # seventh chords and their inversions
        return class_index(root, "min7" if lower else "7")
    if re.fullmatch(r"(o|°|dim)(7|65|43|42)?|(ø|h|hdim)(7|65|43|42)?", s):
        return class_index(root, "dim")
    quality = _quality(s if not lower or s.startswith(("m", "-")) else "m" + s)
    if quality is None:
        return None
    return _from_root(root, quality)


@lru_cache(maxsize=65536)
def parse(symbol: str, key: str | None = None) -> int:
    """The class index of a chord symbol; :data:`NO_CHORD` for no-chord marks,
    :data:`OTHER` for anything that cannot be parsed. Roman numerals need ``key``
    (without one they are OTHER)."""
    text = str(symbol).strip()
    if text.lower() in _NO_CHORD_MARKS:
        return NO_CHORD
    if not text or text in ("X", "x"):
        return OTHER
    index = _parse_letter(text)
    if index is None and key is not None and _ROMAN_RE.match(text.partition("/")[0]):
        try:
            index = _parse_roman(text, key)
        except ValueError:
            index = None
    return OTHER if index is None else index


def parse_sequence(symbols, key: str | None = None) -> tuple[list[int], int]:
    """Parse symbols, leaving no-chord marks out. Returns (class ids, number of OTHER)."""
    ids = [parse(s, key) for s in symbols]
    ids = [i for i in ids if i != NO_CHORD]
    return ids, sum(1 for i in ids if i == OTHER)
