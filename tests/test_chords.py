import pytest

from kelly_hf import chords, harmony
from kelly_hf.chords import AUG, NO_CHORD, OTHER, SUS, VOCAB, parse


def c(name):
    return VOCAB.index(name)


SPELLINGS = [
    # plain letters and qualities
    ("C", "C:maj"), ("Cmaj", "C:maj"), ("CM", "C:maj"), ("Cm", "C:min"), ("Cmin", "C:min"), ("C-", "C:min"),
    ("C7", "C:7"), ("Cm7", "C:min7"), ("C-7", "C:min7"), ("Cmin7", "C:min7"), ("Cdim", "C:dim"), ("Co", "C:dim"),
    ("C°", "C:dim"), ("Cdim7", "C:dim"), ("Co7", "C:dim"), ("Cm7b5", "C:dim"), ("Ch7", "C:dim"), ("Cø", "C:dim"),
    ("Cø7", "C:dim"), ("Caug", "aug"), ("C+", "aug"), ("Csus2", "sus"), ("Csus4", "sus"), ("Csus", "sus"),
    ("G7sus4", "sus"),
    # nearest class for richer chords
    ("CM7", "C:maj"), ("Cmaj7", "C:maj"), ("C^7", "C:maj"), ("CΔ7", "C:maj"), ("C6", "C:maj"), ("C69", "C:maj"),
    ("Cadd9", "C:maj"), ("Cmaj9", "C:maj"), ("C5", "C:maj"), ("C9", "C:7"), ("C11", "C:7"), ("C13", "C:7"),
    ("C7b9", "C:7"), ("E7#9", "E:7"), ("C7(b9)", "C:7"), ("C+7", "C:7"), ("Cm6", "C:min"), ("CmM7", "C:min"),
    ("Cm(maj7)", "C:min"), ("Cm9", "C:min7"), ("Cm11", "C:min7"), ("Cmadd9", "C:min"),
    # enharmonics
    ("C#m7", "C#:min7"), ("Dbm7", "C#:min7"), ("C♯m7", "C#:min7"), ("D♭m7", "C#:min7"), ("Fb", "E:maj"),
    ("E#", "F:maj"), ("Cb", "B:maj"), ("B#7", "C:7"), ("Gbdim", "F#:dim"), ("Bbm", "A#:min"),
    # slash chords
    ("C/E", "C:maj"), ("Am7/G", "A:min7"), ("F/C", "F:maj"), ("D/F#", "D:maj"),
    # Harte
    ("C#:min7", "C#:min7"), ("A:min", "A:min"), ("Bb:maj", "A#:maj"), ("G:maj7/1", "G:maj"), ("C:maj/3", "C:maj"),
    ("D:hdim7", "D:dim"), ("E:dim7", "E:dim"), ("F:sus4", "sus"), ("A:min(9)", "A:min"), ("G:7(b9)", "G:7"),
    ("C:(1,b3,5)", "C:min"), ("C:(1,3,5,b7)", "C:7"), ("C:(1,5)", "C:maj"), ("Eb:minmaj7", "D#:min"),
    ("A:maj6", "A:maj"), ("B:min6", "B:min"), ("F:maj9", "F:maj"), ("C:aug", "aug"),
]


@pytest.mark.parametrize("symbol,expected", SPELLINGS)
def test_spellings(symbol, expected):
    assert VOCAB[parse(symbol)] == expected


ROMAN = [
    ("vi", "C", "A:min"), ("I", "C", "C:maj"), ("IV", "G", "C:maj"), ("V7", "C", "G:7"), ("ii7", "C", "D:min7"),
    ("vii°", "C", "B:dim"), ("viio7", "C", "B:dim"), ("bVII", "C", "A#:maj"), ("bIII", "C", "D#:maj"),
    ("V/V", "C", "D:maj"), ("V7/vi", "C", "E:7"), ("i", "Am", "A:min"), ("III", "A:min", "C:maj"),
    ("VI", "a", "F:maj"), ("iv", "Em", "A:min"), ("V65", "G", "D:7"), ("I6", "F", "F:maj"), ("IV", "Eb", "G#:maj"),
    ("ii", "F#", "G#:min"), ("V", "Bb major", "F:maj"),
]


@pytest.mark.parametrize("symbol,key,expected", ROMAN)
def test_roman_numerals_resolve_against_key(symbol, key, expected):
    assert VOCAB[parse(symbol, key=key)] == expected


def test_roman_contract_examples():
    assert parse("vi", key="C") == parse("Am")
    assert parse("C#m7") == parse("Dbm7") == parse("C#:min7")


@pytest.mark.parametrize("mark", ["N", "N.C.", "NC", "silence", "&pause", "n.c."])
def test_no_chord_marks_are_not_other(mark):
    assert parse(mark) == NO_CHORD


@pytest.mark.parametrize("junk", ["", "xyz", "H7", "C:foo", "Cfoo", "123", "?", "C:(1,q)", "X", "vi", "Zm7", "C##m9z"])
def test_junk_is_other(junk):
    assert parse(junk) == OTHER  # "vi" has no key here


def test_vocabulary_layout():
    assert len(VOCAB) == 64 and len(set(VOCAB)) == 64
    assert VOCAB[OTHER] == "X" and VOCAB[NO_CHORD] == "N" and VOCAB[AUG] == "aug" and VOCAB[SUS] == "sus"
    assert chords.chord_tones(c("A:min7")) == (9, 0, 4, 7)
    assert chords.chord_tones(OTHER) == ()


def test_parse_sequence_leaves_no_chord_out_and_counts_other():
    ids, n_other = chords.parse_sequence(["N", "C", "junk", "silence", "G7"])
    assert [VOCAB[i] for i in ids] == ["C:maj", "X", "G:7"] and n_other == 1


def _fixture_progressions(fixtures):
    root = fixtures / "chords"
    yield from harmony.read_billboard(str(root / "billboard/McGill-Billboard/0003/salami_chords.txt"), "bb")
    yield from harmony.read_json(str(root / "guitarset/annotation/03_BN3-119-G_solo.jams"), "jams")
    yield from harmony.read_pop909(str(fixtures / "pop909/POP909/008/chord_midi.txt"), "pop909")


def test_real_annotations_fall_in_other_less_than_2_percent(fixtures):
    total = other = 0
    for p in _fixture_progressions(fixtures):
        ids, unknown = harmony.parse_progression(p)
        assert ids, p.key
        total += len(ids)
        other += len(unknown)
    assert total > 100
    assert other / total < 0.02, (other, total)
