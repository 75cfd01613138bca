"""Issue 8, archives: members named with ``..`` or absolute paths are never written
anywhere (nothing is extracted), and zip bombs / oversized members - also a zip
whose header lies about the size - are refused with a clear reason: the build
records a skip for that member and goes on.

"Nothing written outside" is checked two ways during each build: a Python audit
hook records every file opened for writing and every mkdir / rename / link /
symlink / remove, all of which must be under the test's tmp directory; and the
paths the hostile names would resolve to (from data_dir, the cwd, the cache and
the root) must not exist afterwards.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import tarfile
import tracemalloc
import uuid
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kelly_hf
from kelly_hf import inputs, loading

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"

# -- watching writes ----------------------------------------------------------------

_WATCH: dict = {"on": False, "events": []}
_WRITE_EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.link", "os.symlink", "os.remove", "os.rmdir",
                 "os.truncate", "shutil.copyfile", "shutil.move", "shutil.rmtree", "os.chmod", "os.utime"}


def _hook(event, args):
    if not _WATCH["on"]:
        return
    if event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            _WATCH["events"].append((event, os.fsdecode(path)))
    elif event in _WRITE_EVENTS:
        for a in args[:2]:
            if isinstance(a, (str, bytes, os.PathLike)):
                _WATCH["events"].append((event, os.fsdecode(a)))


sys.addaudithook(_hook)   # hooks cannot be removed: it only records while _WATCH["on"]


def _watched_build(tmp_path: Path, *args, **kwargs):
    """load_dataset with every write recorded; asserts they all land under tmp_path."""
    before = {p for p in tmp_path.rglob("*")}
    _WATCH["events"], _WATCH["on"] = [], True
    try:
        result = kelly_hf.load_dataset(*args, **kwargs)
    finally:
        _WATCH["on"] = False
    root = os.path.realpath(tmp_path)
    # the interpreter's own bytecode cache (first import of a module) is not the build writing
    outside = [(e, p) for e, p in _WATCH["events"]
               if not os.path.realpath(os.path.abspath(p)).startswith(root + os.sep) and "__pycache__" not in p]
    assert not outside, outside
    cache = Path(kwargs["cache_dir"]).resolve()
    new = [p for p in tmp_path.rglob("*") if p not in before and cache not in p.resolve().parents and p != cache]
    assert not new, new   # nothing appeared in data_dir either (no extraction next to the archive)
    return result


def _skips(name, config=None, **kwargs) -> list[dict]:
    return [r for r in loading.skip_records(loading.load_builder(name, config, **kwargs)) if r["kind"] == "skip"]


def _wav(seconds: float = 1.0, freq: float = 330.0, sr: int = 8000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(y.tobytes())
    return buf.getvalue()


def _hostile_names(tag: str) -> dict[str, str]:
    """song id -> member name that would escape an extraction directory."""
    return {
        "11": f"../../kelly_escape_{tag}/11.wav",
        "12": f"/kelly_escape_{tag}/abs/12.wav",
        "13": f"MEMD_audio/../../../kelly_escape_{tag}/13.wav",
        "14": f"..\\..\\kelly_escape_{tag}\\14.wav",
    }


def _targets(tag: str, tmp_path: Path) -> list[Path]:
    """Where an extracting reader would have written the hostile members."""
    places = [tmp_path / "data", tmp_path / "data" / "sub", Path.cwd(), tmp_path / "cache", Path("/")]
    out = []
    for base in places:
        for up in range(0, 6):
            out.append((base.joinpath(*[".."] * up) / f"kelly_escape_{tag}").resolve())
    return out


def _annotations(ids) -> bytes:
    return ("filename,valence,arousal\n" + "".join(f"{i}.wav,0.1,0.5\n" for i in ids)).encode()


def _write_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            zf.writestr(info, data)


def _write_tar(path: Path, members: dict[str, bytes], mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


# -- path traversal -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_deam_archive_members_with_dot_dot_and_absolute_names(tmp_path, kind):
    tag = uuid.uuid4().hex[:8]
    data = tmp_path / "data" / "sub"
    data.mkdir(parents=True)
    hostile = _hostile_names(tag)
    members = {"MEMD_audio/1.wav": _wav(freq=220), "MEMD_audio/2.wav": _wav(freq=440)}
    members.update({name: _wav(freq=100 + 50 * int(i)) for i, name in hostile.items()})
    archive = data / f"DEAM_audio.{kind}"
    if kind == "zip":
        _write_zip(archive, members)
    else:
        _write_tar(archive, members, "w:gz" if kind == "tar.gz" else "w")
    (data / "annotations.csv").write_bytes(_annotations(["1", "2", *hostile]))
    ds = _watched_build(tmp_path, "deam", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    for target in _targets(tag, tmp_path):
        assert not target.exists(), target
    # the hostile members were read from the archive like any other: their rows are there
    ids = {i for d in ds.values() for i in d["song_id"]}
    files = {f for d in ds.values() for f in d["audio_file"]}
    assert {"1", "2"} <= ids
    backslash = hostile.pop("14")                     # "..\\..\\x\\14.wav" is one file name on POSIX
    assert set(hostile) <= ids and set(hostile.values()) <= files
    assert "14" in ids or backslash in files or any("14" in f for f in files)


def test_lakh_tar_gz_members_with_dot_dot_and_absolute_names(tmp_path):
    if "lakh" not in loading.available():
        pytest.skip("lakh not installed")
    tag = uuid.uuid4().hex[:8]
    midi = (FIXTURES / "lakh/lmd_full/d/d6caebd1964d9e4a3c5ea59525230e2a.mid").read_bytes()
    pop = (FIXTURES / "pop909/POP909/008/008.mid").read_bytes()
    data = tmp_path / "data"
    data.mkdir()
    members = {
        "lmd_full/d/d6caebd1964d9e4a3c5ea59525230e2a.mid": midi,
        f"lmd_full/../../kelly_escape_{tag}/0/0123456789abcdef0123456789abcdef.mid": pop,
        f"/kelly_escape_{tag}/lmd_full/a/a123456789abcdef0123456789abcdef.mid": pop + b"\0",
    }
    _write_tar(data / "lmd_full.tar.gz", members)
    ds = _watched_build(tmp_path, "lakh", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    for target in _targets(tag, tmp_path):
        assert not target.exists(), target
    assert sum(len(d) for d in ds.values()) >= 1


def test_maestro_zip_members_with_dot_dot_and_absolute_names(tmp_path):
    tag = uuid.uuid4().hex[:8]
    piano = FIXTURES / "maestro/maestro-v3.0.0/2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.midi"
    data = tmp_path / "data"
    data.mkdir()
    _write_zip(data / "maestro-v3.0.0-midi.zip", {
        "maestro/good.midi": piano.read_bytes(),
        f"../../kelly_escape_{tag}/evil.midi": piano.read_bytes(),
        f"/kelly_escape_{tag}/abs.midi": piano.read_bytes(),
    })
    ds = _watched_build(tmp_path, "maestro", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    for target in _targets(tag, tmp_path):
        assert not target.exists(), target
    assert sum(len(d) for d in ds.values()) >= 1


def test_tar_links_and_devices_are_never_followed(tmp_path):
    """Symlink / hard link / FIFO members named like audio: not regular files, so not inputs
    (a symlink to /etc/passwd named 3.wav must not be read through)."""
    data = tmp_path / "data"
    data.mkdir()
    with tarfile.open(data / "DEAM_audio.tar", "w") as tf:
        for name, payload in (("MEMD_audio/1.wav", _wav()), ("MEMD_audio/2.wav", _wav(freq=500))):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
        for name, kind, target in (("MEMD_audio/3.wav", tarfile.SYMTYPE, "/etc/passwd"),
                                   ("MEMD_audio/4.wav", tarfile.LNKTYPE, "MEMD_audio/1.wav"),
                                   ("MEMD_audio/5.wav", tarfile.FIFOTYPE, "")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    (data / "annotations.csv").write_bytes(_annotations(["1", "2", "3", "4", "5"]))
    ds = _watched_build(tmp_path, "deam", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    assert {i for d in ds.values() for i in d["song_id"]} == {"1", "2"}
    reasons = {r["reason"] for r in _skips("deam", data_dir=str(data), cache_dir=str(tmp_path / "cache"))}
    assert sum("annotation without audio" in r for r in reasons) == 3


# -- oversized members and bombs ------------------------------------------------------


def _deam_zip_corpus(tmp_path: Path, extra: dict[str, bytes], ids) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    members = {"MEMD_audio/1.wav": _wav(freq=220), "MEMD_audio/2.wav": _wav(freq=440), **extra}
    _write_zip(data / "DEAM_audio.zip", members)
    (data / "annotations.csv").write_bytes(_annotations(["1", "2", *ids]))
    return data


def _refused(tmp_path, data, member_id: str) -> str:
    skips = _skips("deam", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    reasons = [r["reason"] for r in skips if member_id in r["source"]]
    assert reasons, skips
    return reasons[0]


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """First use of the audio front end imports librosa (tens of MB of Python objects):
    paid here, not inside a traced build."""
    from kelly_hf import audio

    audio.mel_features(np.zeros(4096, np.float32), audio.SR)
    audio.load(_wav(), name="warm-up")


def _traced_build(tmp_path, data):
    tracemalloc.start()
    try:
        ds = _watched_build(tmp_path, "deam", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert {i for d in ds.values() for i in d["song_id"]} == {"1", "2"}   # the good members: rows
    return peak


def test_oversized_member_is_refused_and_the_build_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_MEMBER_BYTES", 64 * 1024)
    data = _deam_zip_corpus(tmp_path, {"MEMD_audio/3.wav": _wav(seconds=8.0)}, ["3"])   # 128 kB
    _traced_build(tmp_path, data)
    reason = _refused(tmp_path, data, "3.wav")
    assert "refused" in reason and "MEMD_audio/3.wav" in reason, reason


def test_zip_bomb_is_refused_without_inflating_it(tmp_path):
    """A 200 MB member of zeros (compressed ~1000:1) under the default limits: refused by
    the compression-ratio check, and never inflated (traced peak far below 200 MB)."""
    data = tmp_path / "data"
    data.mkdir()
    with zipfile.ZipFile(data / "DEAM_audio.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("MEMD_audio/1.wav", _wav(freq=220))
        zf.writestr("MEMD_audio/2.wav", _wav(freq=440))
        with zf.open("MEMD_audio/3.wav", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(200):
                f.write(block)
    (data / "annotations.csv").write_bytes(_annotations(["1", "2", "3"]))
    assert (data / "DEAM_audio.zip").stat().st_size < 2 << 20
    peak = _traced_build(tmp_path, data)
    reason = _refused(tmp_path, data, "3.wav")
    assert "zip bomb" in reason or "refused" in reason, reason
    assert peak < 32 << 20, f"traced peak {peak >> 20} MB: the bomb was inflated"


def _lie_about_size(path: Path, member: str, claimed: int) -> None:
    """Rewrite the uncompressed size of ``member`` in its local header and central directory."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert raw[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", raw, local + 22, claimed)
    patched = 0
    central = raw.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46:central + 46 + name_len] == member.encode():
            struct.pack_into("<I", raw, central + 24, claimed)
            patched += 1
        central = raw.find(b"PK\x01\x02", central + 46 + name_len)
    assert patched == 1
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(member).file_size == claimed


@pytest.mark.parametrize("claimed", [1000, 10 << 20], ids=["header-says-1kB", "header-says-10MB"])
def test_zip_whose_header_lies_about_the_size(tmp_path, monkeypatch, claimed):
    """The real member inflates to 32 MB of zeros; the header claims 1 kB (under the limit:
    the pre-check passes, the read must still stop) or 10 MB (over the 1 MB limit set here)."""
    monkeypatch.setattr(inputs, "MAX_MEMBER_BYTES", 1 << 20)
    data = _deam_zip_corpus(tmp_path, {"MEMD_audio/3.wav": b"\0" * (32 << 20)}, ["3"])
    _lie_about_size(data / "DEAM_audio.zip", "MEMD_audio/3.wav", claimed)
    peak = _traced_build(tmp_path, data)
    reason = _refused(tmp_path, data, "3.wav")
    assert any(w in reason for w in ("refused", "CRC", "Bad", "unreadable", "zero-length")), reason
    assert peak < 12 << 20, f"traced peak {peak >> 20} MB: read past the limit"


def test_oversized_tar_member_is_refused_and_the_build_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_MEMBER_BYTES", 64 * 1024)
    data = tmp_path / "data"
    data.mkdir()
    _write_tar(data / "DEAM_audio.tar.gz", {"MEMD_audio/1.wav": _wav(freq=220), "MEMD_audio/2.wav": _wav(freq=440),
                                            "MEMD_audio/3.wav": _wav(seconds=8.0)})
    (data / "annotations.csv").write_bytes(_annotations(["1", "2", "3"]))
    _traced_build(tmp_path, data)
    reason = _refused(tmp_path, data, "3.wav")
    assert "refused" in reason or "oversized" in reason, reason


@pytest.mark.parametrize("name", loading.available())
def test_corrupt_archive_is_a_skip_not_a_crash(tmp_path, name):
    """A truncated zip and a truncated tar.gz beside the synthetic corpus: the build goes
    on with the good files (and records the archives as skipped where archives are inputs)."""
    from kelly_hf import synthetic

    data = Path(synthetic.write(name, tmp_path / "data", n={"harmony": 20, "deam": 6, "maestro": 4}.get(name, 12)))
    _write_zip(tmp_path / "z.zip", {"MEMD_audio/3.wav": _wav(), "x/0123456789abcdef0123456789abcdef.mid": b"MThd"})
    (data / "broken.zip").write_bytes((tmp_path / "z.zip").read_bytes()[:-30])
    _write_tar(tmp_path / "t.tar.gz", {"MEMD_audio/4.wav": _wav(seconds=4.0)})
    (data / "broken.tar.gz").write_bytes((tmp_path / "t.tar.gz").read_bytes()[:200])
    ds = _watched_build(tmp_path, name, data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    assert sum(len(d) for d in ds.values()) > 0
    if name != "harmony":   # harmony reads no archives
        builder = loading.load_builder(name, data_dir=str(data), cache_dir=str(tmp_path / "cache"))
        skipped = {r["source"]: r["reason"] for r in loading.skip_records(builder) if r["kind"] == "skip"}
        for archive in ("broken.zip", "broken.tar.gz"):
            assert "unreadable archive" in skipped.get(archive, ""), (archive, skipped)
