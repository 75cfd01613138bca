"""kelly_hf.midi: the odd/broken fixture table, real corpora, note semantics, parser parity."""

from __future__ import annotations

import io
import json
import random
import struct
import time
from pathlib import Path

import mido
from mido.midifiles.meta import encode_variable_int
import numpy as np
import pytest

from kelly_hf.midi import CONTROL_DTYPE, NOTE_DTYPE, Midi, MidiError, read_notes, read_pitched

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
ODD = FIXTURES / "odd_midi"
ALL_MIDI = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".mid", ".midi"))

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
HALF_BEATS = [i * 0.5 for i in range(8)]  # one note per beat at 120 bpm

# Every file under odd_midi: a MidiError reason (substring), or facts about the Midi.
# "parser" says which path reads it: symusic, or the walker when symusic cannot be verified.
ODD_OUTCOMES: dict[str, str | dict] = {
    "jazz-soft/midi/test-2-tracks-type-0.mid": dict(  # format 0 with two tracks: read as format 1
        parser="symusic", notes=16, tracks=2, duration=4.5, channels={0, 1}),
    "jazz-soft/midi/test-2-tracks-type-1.mid": dict(
        parser="symusic", notes=16, tracks=2, duration=4.5, channels={0, 1},
        starts=[t for s in HALF_BEATS for t in (s + 0.5, s + 0.5)]),
    "jazz-soft/midi/test-2-tracks-type-2.mid": dict(  # format 2: the second scale follows the first
        parser="symusic", notes=16, tracks=2, duration=9.0,
        pitches=SCALE + [61, 63, 65, 66, 68, 70, 72, 73],
        starts=[s + 0.5 for s in HALF_BEATS] + [s + 5.0 for s in HALF_BEATS]),
    "jazz-soft/midi/test-c-major-scale.mid": dict(
        parser="symusic", notes=8, tracks=1, duration=4.0, pitches=SCALE, starts=HALF_BEATS, velocities={127}),
    "jazz-soft/midi/test-corrupt-file-extra-byte.mid": dict(  # a stray byte after the last chunk
        parser="symusic", notes=8, duration=4.0, pitches=SCALE),
    "jazz-soft/midi/test-corrupt-file-missing-byte.mid": dict(  # End-of-Track cut short: notes all there
        parser="walker", notes=8, duration=4.0, pitches=SCALE, starts=HALF_BEATS),
    "jazz-soft/midi/test-empty-file.mid": "empty file",
    "jazz-soft/midi/test-empty.mid": dict(parser="symusic", notes=0, tracks=1, duration=0.0),
    "jazz-soft/midi/test-illegal-message-all.mid": dict(  # F1..FE skipped, the scale after them kept
        parser="walker", notes=8, duration=4.0, pitches=SCALE, starts=HALF_BEATS),
    "jazz-soft/midi/test-karaoke-kar.mid": dict(
        parser="symusic", notes=29, tracks=3, duration=10.6, programs={11}, tempo=90.0),
    "jazz-soft/midi/test-multichannel-chords-0.mid": dict(
        parser="symusic", notes=24, tracks=1, channels={0, 1, 2}, first_chord=[60, 64, 67]),
    "jazz-soft/midi/test-non-midi-track.mid": dict(  # the "Junk" chunk is skipped
        parser="symusic", notes=8, tracks=1, pitches=SCALE),
    "jazz-soft/midi/test-not-a-midi-file.mid": "not a MIDI file (no MThd header)",
    "jazz-soft/midi/test-note-on-velocity.mid": dict(
        parser="symusic", notes=9, duration=4.5, pitches=[60] * 9,
        velocities={1, 16, 32, 48, 64, 80, 96, 112, 127}),
    "jazz-soft/midi/test-running-status-metaevent.mid": dict(  # running status carried across the meta
        parser="symusic", notes=8, pitches=SCALE, starts=HALF_BEATS),
    "jazz-soft/midi/test-running-status-sysex.mid": dict(  # ... and across the sysex (symusic cannot)
        parser="walker", notes=8, pitches=SCALE, starts=HALF_BEATS),
    "jazz-soft/midi/test-smpte-offset.mid": dict(  # the FF 54 offset does not move time
        parser="symusic", notes=8, pitches=SCALE, starts=HALF_BEATS),
    "jazz-soft/midi/test-sysex-7e-09-01-gm1-enable.mid": dict(parser="symusic", notes=0, duration=0.5),
    "jazz-soft/midi/test-track-length.mid": dict(  # End-of-Track after the silence sets the duration
        parser="symusic", notes=1, starts=[0.0], ends=[0.5], duration=1.5),
    "jazz-soft/midi/test-vlq-4-byte.mid": dict(  # 4-byte delta times (80 80 80 60 = 96)
        parser="symusic", notes=8, pitches=SCALE, starts=HALF_BEATS),
    "miditok/MIDIs_corrupted/RunTimeError_unexpected_EOF.mid": dict(
        parser="symusic", notes=6085, tracks=16, drums=2944, time_signature=(4, 4), tempo=120.0),
    "miditok/MIDIs_corrupted/ValueError_Control168.mid": dict(  # data byte 168 clamped to 127, nothing lost
        parser="symusic", notes=6432, tracks=14, drums=1386, tempo=152.0, clamped_control=(2, 0, 127)),
    "miditok/MIDIs_one_track/empty.mid": dict(
        parser="symusic", notes=0, tracks=1, controls=3, time_signature=(2, 2)),
    "nfroidure/sounds/MIDIBadFormat1.mid": dict(
        parser="symusic", notes=4, tracks=4, channels={0, 1, 2}, programs={5, 46, 70}),
    "nfroidure/sounds/MIDIBadHeaderChunk.mid": "not a MIDI file (no MThd header)",
    "nfroidure/sounds/MIDIBadHeaderFormat.mid": "unsupported SMF format 3",
    "nfroidure/sounds/MIDIBadHeaderLength.mid": dict(  # MThd length 22: resynced at the MTrk
        parser="symusic", notes=4, tracks=1, pitches=[48, 60, 67, 76]),
    "nfroidure/sounds/MIDIBadHeaderSMTPE.mid": "invalid SMPTE frame rate -16",
    "nfroidure/sounds/MIDIBadHeaderTracksNum.mid": dict(  # says 2 tracks, has 1
        parser="symusic", notes=4, tracks=1, pitches=[48, 60, 67, 76]),
    "nfroidure/sounds/MIDIBadTrackHdr.mid": "no MTrk track chunk",  # "mTrk" is just an unknown chunk
    "nfroidure/sounds/MIDIBadTrackLength.mid": dict(  # length 16 MB past the end: clamped
        parser="symusic", notes=4, tracks=1, pitches=[48, 60, 67, 76], duration=2.0),
    "nfroidure/sounds/MIDIOkFormat0.mid": dict(
        parser="symusic", notes=4, tracks=1, duration=2.0, pitches=[48, 60, 67, 76], starts=[0.0, 0.0, 0.5, 1.0],
        channels={0, 1, 2}, programs={5, 46, 70}, time_signature=(4, 4)),
    "nfroidure/sounds/MIDIOkFormat1-lyrics.mid": dict(parser="symusic", notes=6, tracks=1, channels={1}),
    "nfroidure/sounds/MIDIOkFormat2.mid": dict(  # nine sequences, one note each: a scale
        parser="symusic", notes=8, tracks=9, pitches=[48, 50, 52, 53, 55, 57, 59, 60],
        starts=[i * 95 / 192 for i in range(8)], duration=8 * 95 / 192),
}


def test_every_odd_file_has_an_expected_outcome():
    on_disk = {p.relative_to(ODD).as_posix() for p in ODD.rglob("*") if p.is_file()}
    assert on_disk == set(ODD_OUTCOMES)


@pytest.mark.parametrize("name", sorted(ODD_OUTCOMES))
def test_odd_file_outcome(name):
    expected, path = ODD_OUTCOMES[name], ODD / name
    if isinstance(expected, str):
        with pytest.raises(MidiError) as info:
            read_notes(path)
        assert expected in info.value.reason
        assert info.value.source == str(path) and str(path) in str(info.value)
        return
    m = read_notes(path)
    notes = m.notes
    checks = {
        "parser": m.parser,
        "notes": len(notes),
        "tracks": m.num_tracks,
        "channels": set(notes["channel"].tolist()),
        "programs": set(notes["program"].tolist()),
        "velocities": set(notes["velocity"].tolist()),
        "pitches": notes["pitch"].tolist(),
        "drums": int(notes["is_drum"].sum()),
        "controls": len(m.controls),
        "time_signature": m.time_signature,
        "first_chord": sorted(notes["pitch"][notes["start"] == 0].tolist()),
    }
    for key, want in expected.items():
        if key in ("duration", "tempo"):
            got = m.duration_s if key == "duration" else m.tempo_bpm
            assert got == pytest.approx(want, abs=1e-4 if key == "duration" else 1e-3), key  # tempo: whole µs
        elif key in ("starts", "ends"):
            assert notes["start" if key == "starts" else "end"] == pytest.approx(want, abs=1e-9), key
        elif key == "clamped_control":
            c = m.controls
            assert ((c["channel"] == want[0]) & (c["number"] == want[1]) & (c["value"] == want[2])).any()
        else:
            assert checks[key] == want, key


# --------------------------------------------------------------------------- real corpora

POP = {  # file: notes, tracks, drum notes, bpm, ticks per quarter
    "Aicha.mid": (6760, 14, 3414, 89, 384),
    "All The Small Things.mid": (5879, 9, 1495, 150, 240),
    "Girls Just Want to Have Fun.mid": (5362, 13, 1105, 122, 120),
    "I Gotta Feeling.mid": (4945, 7, 921, 130, 480),
    "In Too Deep.mid": (5474, 14, 1700, 116, 480),
    "Les Yeux Revolvers.mid": (2746, 11, 189, 80, 480),
    "Shut Up.mid": (8317, 11, 1494, 112, 120),
}


@pytest.mark.parametrize("name", sorted(POP))
def test_multitrack_pop(name):
    m = read_notes(FIXTURES / "multitrack_pop" / "miditok" / name)
    n_notes, n_tracks, n_drums, bpm, tpq = POP[name]
    assert (len(m.notes), m.num_tracks, m.ticks_per_quarter, m.parser) == (n_notes, n_tracks, tpq, "symusic")
    assert int(m.notes["is_drum"].sum()) == n_drums
    assert np.array_equal(m.notes["is_drum"], m.notes["channel"] == 9)
    assert len(m.pitched) == n_notes - n_drums and not m.pitched["is_drum"].any()
    assert m.tempo_bpm == pytest.approx(bpm, abs=0.01)
    assert m.time_signature == (4, 4)
    assert len(set(m.notes["channel"].tolist())) >= 6
    assert m.duration_s >= m.notes["end"].max() > 120


def test_lakh_type_0_file():
    m = read_notes(FIXTURES / "lakh" / "lmd_full" / "d" / "d6caebd1964d9e4a3c5ea59525230e2a.mid")
    assert (len(m.notes), m.num_tracks, m.ticks_per_quarter) == (2852, 1, 192)
    assert int(m.notes["is_drum"].sum()) == 618
    assert len(set(m.notes["channel"].tolist())) == 9  # one track, nine channels
    assert set(m.notes["track"].tolist()) == {0}
    assert m.tempo_bpm == pytest.approx(106, abs=0.01) and len(m.tempos) == 65


MAESTRO = sorted((FIXTURES / "maestro").rglob("*.midi"))


@pytest.mark.parametrize("path", MAESTRO, ids=lambda p: p.parent.parent.name + "/" + p.name[:40])
def test_maestro(path):
    meta = json.loads((FIXTURES / "maestro" / "maestro-v3.0.0" / "maestro-v3.0.0.json").read_text())
    rel = path.relative_to(path.parents[1]).as_posix()
    (row,) = [k for k, v in meta["midi_filename"].items() if v == rel]
    m = read_notes(path)
    assert (m.num_tracks, m.ticks_per_quarter, m.parser) == (2, 384, "symusic")
    assert not m.notes["is_drum"].any() and set(m.notes["program"].tolist()) == {0}
    # the metadata duration is where the last note ends; pedal events run a little longer
    assert m.notes["end"].max() == pytest.approx(meta["duration"][row], abs=0.01)
    assert m.duration_s >= m.notes["end"].max()
    assert {64, 67} <= set(m.controls["number"].tolist())  # sustain and soft pedal
    assert np.all(np.diff(m.controls["time"]) >= 0)
    sustain = m.controls[m.controls["number"] == 64]
    assert len(sustain) > 100 and sustain["value"].max() >= 64 and sustain["value"].min() < 64


def test_maestro_note_counts():
    assert sorted(len(read_notes(p).notes) for p in MAESTRO) == [2367, 4197, 4197, 12418]


GROOVE = sorted((FIXTURES / "groove").rglob("*.mid"))


@pytest.mark.parametrize("path", GROOVE, ids=lambda p: p.name)
def test_groove(path):
    _, _, bpm, _, meter = path.stem.split("_")
    m = read_notes(path)
    assert len(m.notes) > 0 and m.notes["is_drum"].all()
    assert m.tempo_bpm == pytest.approx(int(bpm), abs=0.01)
    assert m.time_signature == tuple(int(x) for x in meter.split("-"))


def test_groove_3_4_and_sizes():
    sizes = {p.name: len(read_notes(p).notes) for p in GROOVE}
    assert sizes["1_latin-chacarera_157_beat_3-4.mid"] == 1337
    assert sizes["29_latin-samba_116_fill_4-4.mid"] == 8


def test_pop909():
    folder = FIXTURES / "pop909" / "POP909" / "008"
    m = read_notes(folder / "008.mid")
    assert (len(m.notes), m.num_tracks, m.ticks_per_quarter) == (1661, 4, 480)
    assert np.bincount(m.notes["track"]).tolist() == [0, 416, 184, 1061]  # tempo, MELODY, BRIDGE, PIANO
    assert not m.notes["is_drum"].any()
    beats = np.loadtxt(folder / "beat_midi.txt")[:, 0]  # annotated independently of our reader
    assert m.tempo_bpm == pytest.approx(60 / np.median(np.diff(beats)), abs=0.01)
    assert m.notes["start"].min() == pytest.approx(beats[0], abs=0.01)


def test_arrays_are_typed_and_sorted():
    m = read_notes(FIXTURES / "multitrack_pop" / "miditok" / "Aicha.mid")
    assert isinstance(m, Midi)
    assert m.notes.dtype == NOTE_DTYPE and m.controls.dtype == CONTROL_DTYPE
    n = m.notes
    order = np.lexsort((n["track"], n["channel"], n["end"], n["pitch"], n["start"]))
    assert np.array_equal(order, np.arange(len(n)))
    assert np.all(n["end"] >= n["start"]) and np.all(n["start"] >= 0)
    assert np.all(np.diff(m.controls["time"]) >= 0)
    assert m.tempos.ndim == 2 and m.tempos.shape[1] == 2 and len(m.tempos) >= 1


# --------------------------------------------------------------------------- semantics (tiny files)

M, Meta = mido.Message, mido.MetaMessage


def smf(*tracks, tpq=480, fmt=1) -> bytes:
    f = mido.MidiFile(type=fmt, ticks_per_beat=tpq)
    f.tracks.extend(mido.MidiTrack(t) for t in tracks)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


EACH = pytest.mark.parametrize("parser", ["symusic", "walker", "mido"])


def rows(m: Midi, *fields: str) -> list[tuple]:
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in m.notes[list(fields)].tolist()]


@EACH
def test_velocity_zero_ends_a_note_and_time_follows_the_tempo_map(parser):
    data = smf(
        [Meta("set_tempo", tempo=500_000, time=0), Meta("set_tempo", tempo=1_000_000, time=960)],
        [M("note_on", note=60, velocity=100, time=0), M("note_on", note=60, velocity=0, time=480),
         M("note_on", note=64, velocity=90, time=0), M("note_off", note=64, time=960)],
    )
    m = read_notes(data, parser=parser)
    # tick 480 = 0.5 s; 960 = 1.0 s; then 1 s per beat: tick 1440 = 2.0 s
    assert rows(m, "pitch", "velocity", "start", "end") == [(60, 100, 0.0, 0.5), (64, 90, 0.5, 2.0)]
    assert m.tempos.tolist() == [[0.0, 120.0], [1.0, 60.0]] and m.tempo_bpm == 120.0
    assert m.duration_s == pytest.approx(2.0)


@EACH
def test_overlapping_notes_of_one_key_pair_first_in_first_out(parser):
    data = smf([
        M("note_off", note=62, time=0),  # nothing sounding: ignored
        M("note_on", note=60, velocity=10, time=0),
        M("note_on", note=60, velocity=20, time=240),
        M("note_on", note=60, velocity=30, channel=1, time=0),  # another channel: its own key
        M("note_off", note=60, time=240),
        M("note_off", note=60, time=240),
        M("note_on", note=67, velocity=50, time=0), M("note_off", note=67, time=0),  # zero length: kept
        M("note_off", note=60, channel=1, time=240),
    ])
    m = read_notes(data, parser=parser)
    assert rows(m, "pitch", "velocity", "channel", "start", "end") == [
        (60, 10, 0, 0.0, 0.5),
        (60, 20, 0, 0.25, 0.75),
        (60, 30, 1, 0.25, 1.0),
        (67, 50, 0, 0.75, 0.75),
    ]


@EACH
def test_unterminated_notes_end_at_their_own_tracks_end(parser):
    data = smf(
        [Meta("set_tempo", tempo=500_000, time=0), Meta("end_of_track", time=1920)],
        [M("note_on", note=60, velocity=80, time=0),  # never ended
         M("note_on", note=64, velocity=80, time=0), M("note_off", note=64, time=240),
         M("note_on", note=67, velocity=80, time=240),  # never ended either, another key
         Meta("end_of_track", time=480)],
    )
    m = read_notes(data, parser=parser)
    assert rows(m, "pitch", "start", "end") == [(60, 0.0, 1.0), (64, 0.0, 0.25), (67, 0.5, 1.0)]
    assert m.duration_s == pytest.approx(2.0)  # the first track ends later


def test_two_unterminated_notes_of_one_key():
    data = smf([M("note_on", note=60, velocity=80, time=0), M("note_on", note=60, velocity=70, time=240),
                Meta("end_of_track", time=720)])
    with pytest.raises(MidiError, match="several notes of one key"):
        read_notes(data, parser="symusic")
    m = read_notes(data)
    assert m.parser == "walker"
    assert rows(m, "pitch", "velocity", "start", "end") == [(60, 80, 0.0, 1.0), (60, 70, 0.25, 1.0)]


@EACH
def test_programs_per_channel_and_track_and_drums(parser):
    data = smf(
        [M("program_change", program=5, time=0),
         M("note_on", note=60, velocity=80, time=0),
         M("note_on", note=62, velocity=80, time=240),
         M("program_change", program=7, time=240),  # while 60 and 62 sound: they keep program 5
         M("note_on", note=64, velocity=80, time=0),
         M("note_on", note=36, velocity=99, channel=9, time=0),
         M("note_on", note=48, velocity=80, channel=1, time=0),  # channel 1 never got a program
         M("note_off", note=60, time=240), M("note_off", note=62, time=0), M("note_off", note=64, time=0),
         M("note_off", note=36, channel=9, time=0), M("note_off", note=48, channel=1, time=0)],
        [M("note_on", note=72, velocity=80, time=0), M("note_off", note=72, time=480)],  # other track, channel 0
    )
    m = read_notes(data, parser=parser)
    assert rows(m, "pitch", "channel", "program", "is_drum", "track") == [
        (60, 0, 5, False, 0), (72, 0, 0, False, 1), (62, 0, 5, False, 0),
        (36, 9, 0, True, 0), (48, 1, 0, False, 0), (64, 0, 7, False, 0),
    ]
    assert sorted(m.pitched["pitch"].tolist()) == [48, 60, 62, 64, 72]


@EACH
def test_controls_keep_their_channel(parser):
    data = smf(
        [M("program_change", program=3, channel=2, time=0),
         M("control_change", control=7, value=100, channel=2, time=0),  # before any note of program 3
         M("note_on", note=60, velocity=80, channel=2, time=0),
         M("control_change", control=64, value=127, channel=2, time=120),
         M("note_off", note=60, channel=2, time=120),
         M("control_change", control=64, value=0, channel=2, time=240)],
        [M("control_change", control=67, value=127, channel=0, time=240),  # a track of controls only
         M("control_change", control=67, value=0, channel=0, time=240)],
    )
    m = read_notes(data, parser=parser)
    assert m.controls.tolist() == [
        (0.0, 2, 7, 100), (0.125, 2, 64, 127), (0.25, 0, 67, 127), (0.5, 2, 64, 0), (0.5, 0, 67, 0)
    ]


@EACH
@pytest.mark.parametrize("rate, ticks_per_frame, fps", [(25, 40, 25.0), (30, 100, 30.0), (29, 80, 30000 / 1001)])
def test_smpte_division_is_converted(parser, rate, ticks_per_frame, fps):
    data = bytearray(smf([Meta("set_tempo", tempo=1_000_000, time=0),  # must not move SMPTE time
                          M("note_on", note=60, velocity=80, time=500), M("note_off", note=60, time=1000)]))
    data[12:14] = bytes((256 - rate, ticks_per_frame))
    m = read_notes(bytes(data), parser=parser)
    ticks_per_second = fps * ticks_per_frame
    assert rows(m, "start", "end") == [(round(500 / ticks_per_second, 9), round(1500 / ticks_per_second, 9))]
    assert m.ticks_per_quarter == 0 and m.tempo_bpm == 60.0


def test_rmid_wrapper_is_unwrapped():
    raw = (FIXTURES / "multitrack_pop" / "miditok" / "Aicha.mid").read_bytes()
    pad = b"\x00" * (len(raw) & 1)
    riff = b"RIFF" + struct.pack("<I", 12 + len(raw) + len(pad)) + b"RMID"
    riff += b"data" + struct.pack("<I", len(raw)) + raw + pad
    wrapped, plain = read_notes(riff), read_notes(raw)
    assert np.array_equal(wrapped.notes, plain.notes) and np.array_equal(wrapped.controls, plain.controls)
    with pytest.raises(MidiError, match="not RMID"):
        read_notes(b"RIFF\x04\x00\x00\x00WAVE")


def test_bytes_and_path_give_the_same_result_and_errors_name_the_source(tmp_path):
    for path in (FIXTURES / "lakh" / "lmd_full" / "d" / "d6caebd1964d9e4a3c5ea59525230e2a.mid",
                 ODD / "jazz-soft" / "midi" / "test-running-status-sysex.mid"):
        a, b = read_notes(path), read_notes(path.read_bytes())
        assert a.parser == b.parser
        assert np.array_equal(a.notes, b.notes) and np.array_equal(a.controls, b.controls)
        assert np.array_equal(a.tempos, b.tempos) and a.duration_s == b.duration_s
    with pytest.raises(MidiError) as info:
        read_notes(b"hello", name="archive.zip:x.mid")
    assert (info.value.source, info.value.reason) == ("archive.zip:x.mid", "not a MIDI file (no MThd header)")
    assert str(info.value) == "archive.zip:x.mid: not a MIDI file (no MThd header)"
    with pytest.raises(MidiError, match="cannot open"):
        read_notes(tmp_path / "missing.mid")


@pytest.mark.parametrize("parser", [None, "walker", "mido"])
def test_same_bytes_give_identical_arrays(parser):
    data = (FIXTURES / "multitrack_pop" / "miditok" / "Les Yeux Revolvers.mid").read_bytes()
    a, b = read_notes(data, parser=parser), read_notes(bytes(bytearray(data)), parser=parser)
    assert a.notes.tobytes() == b.notes.tobytes() and a.controls.tobytes() == b.controls.tobytes()
    assert a.tempos.tobytes() == b.tempos.tobytes() and a.time_signatures == b.time_signatures


# --------------------------------------------------------------------------- symusic == walker == mido


def _same_as_mido(data: bytes) -> Midi | None:
    """read_notes(parser="walker") gives exactly what the mido path gives (or the same error):
    the mido path's result, or None."""
    try:
        ref = read_notes(data, parser="mido")
    except MidiError as e:
        with pytest.raises(MidiError) as info:
            read_notes(data, parser="walker")
        assert info.value.reason == e.reason
        return None
    m = read_notes(data, parser="walker")
    assert m.notes.tobytes() == ref.notes.tobytes() and m.controls.tobytes() == ref.controls.tobytes()
    assert m.tempos.tobytes() == ref.tempos.tobytes() and m.time_signatures == ref.time_signatures
    assert (m.num_tracks, m.ticks_per_quarter, m.duration_s, m.tempo_bpm, m.time_signature, m.errors) == (
        ref.num_tracks, ref.ticks_per_quarter, ref.duration_s, ref.tempo_bpm, ref.time_signature, ref.errors)
    return ref


@pytest.mark.parametrize("path", ALL_MIDI, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_symusic_walker_and_mido_agree(path):
    slow = _same_as_mido(path.read_bytes())  # the walker is the mido path, bit for bit
    try:
        fast = read_notes(path, parser="symusic")
    except MidiError:
        return  # symusic cannot be verified on it: only the walker reads it
    assert slow is not None
    assert len(fast.notes) == len(slow.notes)
    for field in ("pitch", "velocity", "channel", "program", "is_drum", "track"):
        assert np.array_equal(fast.notes[field], slow.notes[field]), field
    for field in ("start", "end"):
        assert np.abs(fast.notes[field] - slow.notes[field]).max(initial=0) <= 1e-6, field
    assert np.array_equal(fast.controls, slow.controls)
    assert np.array_equal(fast.tempos, slow.tempos) and fast.time_signatures == slow.time_signatures
    assert (fast.num_tracks, fast.duration_s) == (slow.num_tracks, slow.duration_s)


def test_real_files_take_the_fast_path():
    real = [p for p in ALL_MIDI if ODD not in p.parents]
    assert len(real) >= 20 and {read_notes(p).parser for p in real} == {"symusic"}


# --------------------------------------------------------------------------- hostile input


def _chunked(header: bytes, *bodies: bytes, lengths=None) -> bytes:
    lengths = lengths or [len(b) for b in bodies]
    return header + b"".join(b"MTrk" + struct.pack(">I", n) + b for n, b in zip(lengths, bodies))


NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
EOT = b"\x00\xff\x2f\x00"


def test_declared_sizes_never_allocate():
    header = b"MThd" + struct.pack(">IHHH", 6, 1, 65535, 96)
    start = time.process_time()   # CPU: the work done, whatever the load
    m = read_notes(_chunked(header, NOTE + EOT, lengths=[0xFFFFFFFF]))
    assert (len(m.notes), m.num_tracks) == (1, 1)
    with pytest.raises(MidiError, match="no MTrk"):
        read_notes(header + b"MTrk")
    assert time.process_time() - start < 1


@pytest.mark.parametrize("meta", [b"\xff\x51\x00", b"\xff\x51\x02\x07\xa1", b"\xff\x58\x01\x03",
                                  b"\xff\x58\x04\x03\x40\x18\x08"], ids=["tempo0", "tempo2", "sig1", "sig2**64"])
def test_malformed_tempo_and_time_signature_events_are_ignored(meta):
    data = _chunked(b"MThd" + struct.pack(">IHHH", 6, 1, 1, 96), b"\x00" + meta + NOTE + EOT)
    m = read_notes(data)  # symusic would read past these events: the walker ignores them
    assert (m.parser, m.tempos.tolist(), m.time_signatures, len(m.notes)) == ("walker", [[0.0, 120.0]], [], 1)
    assert m.notes["end"][0] == pytest.approx(0.5)
    with pytest.raises(MidiError, match="too short"):
        read_notes(data, parser="symusic")


def test_header_length_past_the_end_of_file():
    data = (ODD / "nfroidure" / "sounds" / "MIDIOkFormat0.mid").read_bytes()
    m = read_notes(data[:4] + struct.pack(">I", 0xFFFFFFF0) + data[8:])
    assert (len(m.notes), m.num_tracks) == (4, 1)


def test_huge_delta_times_cost_nothing_and_do_not_wrap():
    big = b"\xff\xff\xff\x7f"  # the largest delta, 2**28 - 1 ticks
    body = NOTE[:4] + (big + b"\xff\x01\x00") * 20 + b"\x00\x80\x3c\x00" + EOT
    data = _chunked(b"MThd" + struct.pack(">IHHH", 6, 1, 1, 96), body)
    start = time.process_time()   # CPU: the work done, whatever the load
    m = read_notes(data)
    assert time.process_time() - start < 1
    assert m.parser == "walker"  # more ticks than symusic's 32 bits hold
    assert m.notes["end"][0] == pytest.approx(20 * (2**28 - 1) / 192)
    with pytest.raises(MidiError, match="overflow"):
        read_notes(data, parser="symusic")


def test_truncated_file_keeps_what_precedes_the_cut():
    raw = (FIXTURES / "multitrack_pop" / "miditok" / "Shut Up.mid").read_bytes()
    full, cut = read_notes(raw), read_notes(raw[: len(raw) * 6 // 10])
    assert cut.parser == "walker" and 0 < len(cut.notes) < len(full.notes)
    whole_tracks = np.unique(cut.notes["track"])[:-1]  # the last one is cut short
    assert np.array_equal(cut.notes[np.isin(cut.notes["track"], whole_tracks)],
                          full.notes[np.isin(full.notes["track"], whole_tracks)])


def test_random_damage_gives_notes_or_midierror():
    rng = random.Random(7)
    sources = [p.read_bytes() for p in (ODD / "nfroidure" / "sounds").glob("MIDIOk*.mid")]
    sources += [p.read_bytes() for p in GROOVE[:3]]
    for _ in range(300):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            if rng.random() < 0.6:
                data[at] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[at : at + rng.randint(1, 3)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        try:
            m = read_notes(bytes(data))
        except MidiError as e:
            assert e.reason
            continue
        assert m.notes.dtype == NOTE_DTYPE and np.all(m.notes["end"] >= m.notes["start"])
        assert np.all(m.notes["start"] >= 0) and m.duration_s >= m.notes["end"].max(initial=0)


# --------------------------------------------------------------------------- read_pitched == read_notes(...).pitched


def _same_pitched(data_or_path, **kwargs):
    """read_pitched gives exactly read_notes' pitched notes (as a multiset: its order is free), or the same error."""
    try:
        m = read_notes(data_or_path, **kwargs)
    except MidiError as e:
        with pytest.raises(MidiError) as info:
            read_pitched(data_or_path, **kwargs)
        assert info.value.reason == e.reason
        return None
    p, want = read_pitched(data_or_path, **kwargs), m.pitched
    got = np.sort(np.rec.fromarrays([p.start, p.end, p.pitch, p.velocity]), order=["f0", "f1", "f2", "f3"])
    ref = np.sort(np.rec.fromarrays([want["start"], want["end"], want["pitch"], want["velocity"]]),
                  order=["f0", "f1", "f2", "f3"])
    assert got.tobytes() == ref.tobytes()  # bit for bit: the same ticks through the same tempo map
    assert (p.num_tracks, p.duration_s, p.tempo_bpm, p.errors) == (m.num_tracks, m.duration_s, m.tempo_bpm, m.errors)
    assert p.pitch.dtype == np.uint8 and p.start.dtype == np.float64
    return p, m


@pytest.mark.parametrize("path", ALL_MIDI, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_read_pitched_equals_read_notes_on_every_fixture(path):
    result = _same_pitched(path)  # the walker against read_notes (symusic on every real file), bit for bit
    _same_pitched(path, parser="mido")
    assert result is None or result[0].parser == "walker"


def test_read_pitched_semantics():
    # unterminated notes end at their own track's end; a note starting at End-of-Track has length 0
    data = smf(
        [Meta("set_tempo", tempo=500_000, time=0), Meta("end_of_track", time=1920)],
        [M("note_on", note=60, velocity=80, time=0), M("note_on", note=36, velocity=90, channel=9, time=0),
         M("note_on", note=64, velocity=80, time=0), M("note_off", note=64, time=240),
         M("note_on", note=67, velocity=80, time=720), Meta("end_of_track", time=0)],
    )
    p, _ = _same_pitched(data)
    assert p.parser == "walker" and sorted(zip(p.pitch.tolist(), p.end.tolist())) == [(60, 1.0), (64, 0.25), (67, 1.0)]
    # two notes of one key left sounding, format 2 (sequences one after another), long delta times
    two = smf([M("note_on", note=60, velocity=80, time=0), M("note_on", note=60, velocity=70, time=240),
               Meta("end_of_track", time=720)])
    assert sorted(_same_pitched(two)[0].end.tolist()) == [1.0, 1.0]
    fmt2 = (ODD / "nfroidure" / "sounds" / "MIDIOkFormat2.mid").read_bytes()
    assert _same_pitched(fmt2)[0].start.max() == pytest.approx(7 * 95 / 192)
    big = b"\xff\xff\xff\x7f"
    body = NOTE[:4] + (big + b"\xff\x01\x00") * 3 + b"\x00\x80\x3c\x00" + EOT
    assert _same_pitched(_chunked(b"MThd" + struct.pack(">IHHH", 6, 1, 1, 96), body))[0].end[0] == 3 * (2**28 - 1) / 192


def test_read_pitched_equals_read_notes_on_damaged_files():
    rng = random.Random(11)
    sources = [p.read_bytes() for p in (ODD / "nfroidure" / "sounds").glob("MIDIOk*.mid")]
    sources += [p.read_bytes() for p in GROOVE[:2]]
    sources.append((ODD / "jazz-soft" / "midi" / "test-karaoke-kar.mid").read_bytes())
    for _ in range(200):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[at] = rng.randrange(256)
            else:
                del data[at : at + rng.randint(1, 3)]
        _same_pitched(bytes(data))


# -- issue 14: symusic's tick and event checks decided by the walker, exactly ------------


def _vlq(n: int) -> bytes:
    return bytes(encode_variable_int(n))


HEADER = b"MThd" + struct.pack(">IHHH", 6, 1, 1, 96)
BIG = b"\xff\xff\xff\x7f"  # the largest delta time, 2**28 - 1 ticks


def test_walker_equals_the_mido_path_on_damaged_files():
    rng = random.Random(14)
    sources = [p.read_bytes() for p in sorted(ODD.rglob("*.mid")) if p.stat().st_size > 30]
    sources += [p.read_bytes() for p in GROOVE[:3]]
    sources.append((FIXTURES / "multitrack_pop" / "miditok" / "Les Yeux Revolvers.mid").read_bytes())
    seen_errors = 0
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(14, len(data))
            op = rng.random()
            if op < 0.5:
                data[at] = rng.choice([rng.randrange(256), 0xF0, 0xF7, 0xFF, 0x2F, 0x51, 0x58, 0xF1, 0xF8, 0x80])
            elif op < 0.75:
                del data[at : at + rng.randint(1, 3)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        m = _same_as_mido(bytes(data))
        seen_errors += bool(m and m.errors)
    assert seen_errors > 20  # the damage reached the tolerant walking, not only the header


def _random_events(rng: random.Random) -> bytes:
    """A track of random events as a hostile writer makes them: running status anywhere, sysex and
    escapes, system messages, short and odd metas, data bytes above 127, cuts, delta times of 1-4 bytes."""
    out = []
    for _ in range(rng.randrange(60)):
        out.append(_vlq(rng.choice([0, rng.randrange(128), rng.randrange(1 << 14), rng.randrange(1 << 28)])))
        kind = rng.randrange(8)
        if kind < 3:
            out.append(bytes([rng.choice([0x80, 0x90, 0xB0, 0xC0, 0xE0, 0xD0, 0xA0]) | rng.randrange(16)]
                             + [rng.choice([rng.randrange(128), rng.randrange(256)]) for _ in range(2)]))
        elif kind < 5:  # running status: data bytes only
            out.append(bytes(rng.randrange(128) for _ in range(rng.randint(1, 2))))
        elif kind == 5:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
            out.append(bytes([0xFF, rng.choice([0x01, 0x05, 0x51, 0x58, 0x2F, 0x7F])]) + _vlq(len(payload)) + payload)
        elif kind == 6:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
            out.append(bytes([rng.choice([0xF0, 0xF7])]) + _vlq(len(payload)) + payload)
        else:
            out.append(bytes([rng.randrange(0xF1, 0xFF)]) + bytes(rng.randrange(128) for _ in range(2)))
    body = b"".join(out)
    if rng.random() < 0.3:
        body = body[: rng.randrange(len(body) + 1)]
    return body + (EOT if rng.random() < 0.8 else b"")


def test_walker_equals_the_mido_path_on_random_event_streams():
    rng = random.Random(1414)
    for _ in range(1000):
        tracks = [_random_events(rng) for _ in range(rng.randint(1, 3))]
        header = b"MThd" + struct.pack(">IHHH", 6, rng.choice([0, 1, 2]), len(tracks), rng.choice([96, 480, 0xE728]))
        data = _chunked(header, *tracks)
        _same_as_mido(data)
        _same_pitched(data)  # whichever path reads it, read_pitched agrees with read_notes


def test_walker_runs_as_plain_python_too():
    """The numba kernel is plain Python: uncompiled it gives the same table and notes."""
    from kelly_hf import midi

    path = ODD / "jazz-soft" / "midi" / "test-karaoke-kar.mid"
    smf = midi._Smf.parse(path.read_bytes())
    compiled = midi._walk_info(smf).copy()
    counts = [int(compiled[:, c].sum()) for c in (midi._NOTE_ONS, midi._CONTROLS, midi._TEMPOS, midi._SIGS)]
    info, notes = np.zeros_like(compiled), np.zeros((7, counts[0]), np.int64)
    n = midi._walk(smf.data, smf.bounds, info, notes, np.zeros((5, counts[1]), np.int64),
                   np.zeros((counts[2], 3), np.int64), np.zeros((counts[3], 4), np.int64), True)
    assert np.array_equal(info, compiled) and n == 29
    reference = read_notes(path, parser="mido").notes
    assert sorted(notes[0, :n].tolist()) == sorted(reference["pitch"].tolist())


def test_tick_totals_are_exact():
    """The walker's End-of-Track tick is the sum of the track's delta times, whatever bytes they hold."""
    from kelly_hf.midi import _END, _Smf, _walk_info

    rng = random.Random(0)
    for _ in range(300):
        total, body = 0, b""
        for _ in range(rng.randrange(30)):
            delta = rng.choice([rng.randrange(128), rng.randrange(1 << 14), rng.randrange(1 << 21), rng.randrange(1 << 28)])
            total += delta
            body += _vlq(delta) + rng.choice([bytes([0x90 | rng.randrange(16), rng.randrange(128), 100]),
                                              b"\xff\x05\x07" + "don’t".encode(), b"\xff\x01\x01\x80"])
        end = rng.randrange(1 << 28)
        assert _walk_info(_Smf.parse(_chunked(HEADER, body + _vlq(end) + b"\xff\x2f\x00")))[0, _END] == total + end


def test_the_tick_limit_is_decided_exactly():
    """One tick below symusic's limit reads on the symusic path, the limit itself on the walker."""
    from kelly_hf.midi import _TICK_LIMIT as limit

    for total, parser in ((limit - 1, "symusic"), (limit, "walker")):
        full, rest = divmod(total, 2**28 - 1)
        body = NOTE[:4] + (BIG + b"\xff\x01\x00") * full + _vlq(rest) + b"\x80\x3c\x00" + EOT
        data = _chunked(HEADER, body)
        assert read_notes(data).parser == parser
        assert _same_pitched(data)[0].duration_s == pytest.approx(total / 192)


def test_utf8_lyrics_stay_on_the_fast_path():
    """Issue 14: lyrics with typographic punctuation (3-byte UTF-8 before an ASCII byte) looked
    like huge delta times to the old byte bound, which sent 14 % of a GM pop corpus to mido."""
    lyric = "don’t stop “the” night —".encode("utf-8").decode("latin-1")
    melody = []
    for i in range(400):
        melody += [Meta("lyrics", text=lyric, time=0), M("note_on", note=60 + i % 12, velocity=90, time=0),
                   M("note_on", note=60 + i % 12, velocity=0, time=120)]
    data = smf([Meta("set_tempo", tempo=600_000, time=0)], melody)
    assert read_notes(data).parser == "symusic"
    assert len(_same_as_mido(data).notes) == 400
    _same_pitched(data)


OTHERWISE = {  # tracks symusic reads otherwise than the walker (or may)
    "End-of-Track in the middle": NOTE + EOT + NOTE + EOT,
    "running status after a sysex": b"\x00\x90\x3c\x40\x00\xf0\x01\xf7\x10\x3c\x00" + EOT,
    "an escape event": b"\x00\xf7\x02\xf8\xf7" + NOTE + EOT,
    "a system message": b"\x00\xf8" + NOTE + EOT,
    "a tempo with a two-byte length": b"\x00\xff\x51\x80\x03\x07\xa1\x20" + NOTE + EOT,
}


@pytest.mark.parametrize("case", sorted(OTHERWISE))
def test_what_symusic_reads_otherwise_takes_the_walker(case):
    data = _chunked(HEADER, OTHERWISE[case])
    m = _same_as_mido(data)
    assert read_notes(data).parser == "walker", case
    assert np.array_equal(read_notes(data).notes, m.notes)


def test_tempos_at_one_tick_keep_their_file_order():
    """At equal ticks the later tempo (in file order) wins. symusic sorts tempo events
    without keeping that order once there are many (found by fuzzing): when tempos at one
    tick disagree, the tempo map comes from the walker."""
    tracks = [[Meta("set_tempo", tempo=500_000, time=0), Meta("set_tempo", tempo=400_000 + k, time=0)]
              for k in range(30)]
    data = smf(*tracks, [M("note_on", note=60, velocity=80, time=0), M("note_off", note=60, time=480)])
    m = _same_as_mido(data)
    assert m.notes["end"].tolist() == [pytest.approx(0.400029)]
    assert read_notes(data).parser == "symusic" and read_notes(data).notes["end"][0] == m.notes["end"][0]
    _same_pitched(data)


def _status_per_note_file(tracks: int, notes: int) -> bytes:
    """``tracks`` tracks of ``notes`` notes each, every note-on with its status byte."""
    body = b"".join(bytes([24, 0x90, 36 + i % 60, 80, 96, 36 + i % 60, 0]) for i in range(notes)) + b"\x00\xff\x2f\x00"
    chunk = b"MTrk" + struct.pack(">I", len(body)) + body
    return b"MThd" + struct.pack(">IHHH", 6, 1, tracks, 480) + chunk * tracks


def test_a_track_of_150k_notes_stays_on_the_fast_path():
    """P1: the old bound counted 2**14 ticks for every status byte, so a track of more
    than ~131,000 such notes (18M real ticks) left symusic for the ~80x slower path."""
    data = _status_per_note_file(1, 150_000)
    fast = read_notes(data)
    assert fast.parser == "symusic"
    slow = read_notes(data, parser="mido")
    assert np.array_equal(fast.notes, slow.notes)
    _same_pitched(data)


def test_the_tick_limit_holds_per_track_not_for_their_sum():
    """20 tracks of 5 * (2**28 - 1) ticks each: each track is far below the limit, their sum is not."""
    from kelly_hf.midi import _TICK_LIMIT

    body = NOTE[:4] + (BIG + b"\xff\x01\x00") * 5 + b"\x00\x80\x3c\x00" + EOT
    data = _chunked(b"MThd" + struct.pack(">IHHH", 6, 1, 20, 96), *[body] * 20)
    assert 20 * 5 * (2**28 - 1) > _TICK_LIMIT > 5 * (2**28 - 1)
    assert read_notes(data).parser == "symusic"
    assert len(_same_pitched(data)[0].pitch) == 20
