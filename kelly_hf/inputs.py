"""Input files: directories and the official archives, read without extracting.

A :class:`Source` names one input file, either on disk or a member of a zip /
tar / tar.gz archive (``"lmd_full.tar.gz::lmd_full/0/0a1b.mid"``). Nothing is
ever extracted to disk, so archive member names with ``..`` or absolute paths
are harmless; members larger than :data:`MAX_MEMBER_BYTES` (or compressed more
than :data:`MAX_ZIP_RATIO` times, a zip bomb) are refused with a clear error.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Iterable, Iterator

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: no real MIDI / MP3 / CSV of these corpora comes close
MAX_ZIP_RATIO = 1000


class InputError(Exception):
    """A problem with the input folder or an archive (names the path and the problem)."""


@dataclass(frozen=True, order=True)
class Source:
    """One input file: ``path`` on disk, or ``member`` of the archive at ``path``."""

    path: str
    member: str | None = None

    @property
    def id(self) -> str:
        """Stable display id: the path, or ``archive::member``."""
        return self.path if self.member is None else f"{self.path}::{self.member}"

    @property
    def name(self) -> str:
        """The file name (last path component)."""
        return os.path.basename(self.member if self.member is not None else self.path)

    def relative_to(self, root: str) -> str:
        """Path relative to ``root`` (archive members: the member path inside the archive)."""
        return self.member if self.member is not None else os.path.relpath(self.path, root)

    def read_bytes(self) -> bytes:
        if self.member is None:
            with open(self.path, "rb") as f:
                return f.read()
        if _is_zip(self.path):
            with zipfile.ZipFile(self.path) as zf:
                return _read_zip_member(zf, zf.getinfo(self.member), self.path)
        with tarfile.open(self.path) as tf:
            return _read_tar_member(tf, tf.getmember(self.member), self.path)


def _is_zip(path: str) -> bool:
    return path.lower().endswith(".zip")


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: str) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES or (
        info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO and info.file_size > 1 << 20
    ):
        raise InputError(f"{archive}::{info.filename}: refused, {info.file_size} bytes uncompressed "
                         f"from {info.compress_size} (oversized member or zip bomb)")
    with zf.open(info) as f:
        data = f.read(MAX_MEMBER_BYTES + 1)  # the header can lie: never read past the limit
    if len(data) > MAX_MEMBER_BYTES:
        raise InputError(f"{archive}::{info.filename}: refused, member larger than {MAX_MEMBER_BYTES} bytes")
    return data


def _read_tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo, archive: str) -> bytes:
    if info.size > MAX_MEMBER_BYTES:
        raise InputError(f"{archive}::{info.name}: refused, member of {info.size} bytes is oversized")
    f = tf.extractfile(info)
    if f is None:
        raise InputError(f"{archive}::{info.name}: not a regular file")
    return f.read()


def _matches(name: str, suffixes: tuple[str, ...]) -> bool:
    low = name.lower()
    base = os.path.basename(low)
    return low.endswith(suffixes) and not base.startswith("._")  # macOS resource forks in zips


def archive_members(path: str, suffixes: tuple[str, ...]) -> list[Source]:
    """Members of an archive whose names end with one of ``suffixes`` (sorted)."""
    try:
        if _is_zip(path):
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        else:
            with tarfile.open(path) as tf:
                names = [m.name for m in tf if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read archive ({exc})") from None
    return sorted(Source(path, n) for n in names if _matches(n, suffixes))


def find_files(root: str, suffixes: Iterable[str], unreadable: list) -> list[Source]:
    """All files under ``root`` (recursively) ending with ``suffixes``, plus matching
    members of archives found there; sorted, so the order never depends on the file
    system. An archive that cannot be read is appended to ``unreadable`` as a skip
    :class:`Problem` (one bad file never stops a build)."""
    suffixes = tuple(s.lower() for s in suffixes)
    found: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if _matches(fn, suffixes):
                found.append(Source(full))
            elif is_archive(fn):
                try:
                    found.extend(archive_members(full, suffixes))
                except InputError as exc:
                    unreadable.append(Problem("skip", "*", display(Source(full), root), f"unreadable archive: {exc}"))
    return sorted(found)


def unreadable_note(unreadable: list) -> str:
    """For a "found nothing" error: the archives that could not be read, if any."""
    if not unreadable:
        return ""
    return f"; {len(unreadable)} archive(s) could not be read: " + "; ".join(p.reason for p in unreadable[:3])


def read_all(sources: Iterable[Source]) -> Iterator[tuple[Source, bytes | Exception]]:
    """Yield ``(source, bytes)`` for each source, or ``(source, error)`` when it
    cannot be read. Files and zip members come in the given order; the members of
    one tar archive come in the archive's own order, read in a single pass of the
    (possibly compressed) stream instead of one pass per member, holding one
    member in memory at a time."""
    sources = list(sources)
    tar_wanted: dict[str, set[str]] = {}
    for s in sources:
        if s.member is not None and not _is_zip(s.path):
            tar_wanted.setdefault(s.path, set()).add(s.member)
    zips: dict[str, zipfile.ZipFile] = {}
    try:
        for s in sources:
            if s.member is not None and not _is_zip(s.path):
                if s.path in tar_wanted:
                    yield from _read_tar_members(s.path, tar_wanted.pop(s.path))
                continue
            try:
                if s.member is None:
                    yield s, s.read_bytes()
                else:
                    zf = zips.get(s.path) or zips.setdefault(s.path, zipfile.ZipFile(s.path))
                    yield s, _read_zip_member(zf, zf.getinfo(s.member), s.path)
            except (OSError, KeyError, InputError, zipfile.BadZipFile) as exc:
                yield s, exc
    finally:
        for zf in zips.values():
            zf.close()


def _read_tar_members(path: str, wanted: set[str]) -> Iterator[tuple[Source, bytes | Exception]]:
    wanted = set(wanted)
    try:
        with tarfile.open(path) as tf:
            for info in tf:
                if info.name in wanted:
                    wanted.discard(info.name)
                    try:
                        yield Source(path, info.name), _read_tar_member(tf, info, path)
                    except InputError as exc:
                        yield Source(path, info.name), exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        for name in sorted(wanted):
            yield Source(path, name), InputError(f"{path}: archive unreadable ({exc})")
        return
    for name in sorted(wanted):
        yield Source(path, name), InputError(f"{path}::{name}: member not found")


@dataclass(frozen=True)
class Problem:
    """A skip (no row) or note (rows written, worth reporting); ``split`` "*" = belongs to no split."""

    kind: str
    split: str
    source: str
    reason: str


def display(s: Source, root: str) -> str:
    """A source relative to data_dir, archive members as ``archive::member``."""
    rel = os.path.relpath(s.path, root)
    return rel if s.member is None else f"{rel}::{s.member}"


def place(s: Source, root: str) -> tuple[str, str]:
    """(container, posix path inside it): container "" is data_dir itself, else the archive."""
    if s.member is not None:
        return os.path.relpath(s.path, root), s.member.replace("\\", "/").lstrip("/")
    return "", os.path.relpath(s.path, root).replace(os.sep, "/")


def governing(s: Source, root: str, folders: dict[tuple[str, str], object]):
    """(key, relative path) of the deepest metadata folder holding ``s``, or (None, path)."""
    container, path = place(s, root)
    best = None
    for key in folders:
        c, folder = key
        if c == container and (folder == "" or path.startswith(folder + "/")):
            if best is None or len(folder) > len(best[1]):
                best = key
    if best is None:
        return None, path
    return best, path[len(best[1]) + 1:] if best[1] else path


def clean_path(text: str) -> str:
    return str(text).strip().replace("\\", "/").removeprefix("./")
