"""DEAM end to end: kelly-mel-v1 versus librosa, and the whole builder path extrapolated to DEAM.

1. **Front end versus librosa** on the same 45 s MP3s, in one run:
   ``librosa.load(sr=22050)`` + ``librosa.feature.melspectrogram`` + ``power_to_db``
   against ``kelly_hf.audio`` (CPU seconds, each path in fresh processes: the
   protocol of ``bench_audio.py``, whose ``run`` this reuses). Prints the ratio.
2. **The builder** (list sources, read the CSVs, decode, mel, row, Arrow) over a
   generated official layout (``MEMD_audio/<id>.mp3`` + the song-level CSV), wall
   clock with ``num_proc=2`` (and 1), extrapolated linearly to DEAM's 1,802 clips /
   ~81,000 audio-seconds. Fixed costs (worker start-up, one pool per split) are
   included, so the extrapolation errs on the slow side.

The MP3s are DEAM-like: 45 s, 44.1 kHz, made from the DEAM fixture (rotated in
time, half of them stereo with a 10 ms delayed channel) and written by libsndfile;
without an MP3 encoder the fixture itself is used for every song.

    python benchmarks/bench_deam.py [--songs 200] [--variants 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_audio  # noqa: E402  (its fresh-process timing protocol)

from kelly_hf import loading  # noqa: E402

FIXTURE = bench_audio.FIXTURE
DEAM_CLIPS, DEAM_AUDIO_SECONDS = 1802, 81_000
SONG_LEVEL = Path("annotations", "annotations averaged per song", "song_level")


def make_variants(workdir: Path, n: int) -> list[Path]:
    """``n`` distinct 45 s MP3s from the fixture (or the fixture itself without an MP3 encoder)."""
    if "MP3" not in sf.available_formats():
        return [FIXTURE]
    y, sr = sf.read(FIXTURE, dtype="float32")
    out = []
    for k in range(n):
        z = np.roll(y, k * sr * 45 // max(n, 1))
        if k % 2:
            right = np.concatenate([np.zeros(sr // 100, np.float32), z[: -(sr // 100)]])
            z = np.stack([z, right], axis=1)
        path = workdir / f"variant_{k}.mp3"
        sf.write(path, z, sr, format="MP3", subtype="MPEG_LAYER_III")
        out.append(path)
    return out


def official_layout(root: Path, variants: list[Path], songs: int) -> float:
    """MEMD_audio/<id>.mp3 for ids 2.. (variants reused) + the song-level CSV; returns the audio-seconds."""
    (root / "MEMD_audio").mkdir(parents=True)
    (root / SONG_LEVEL).mkdir(parents=True)
    lines, seconds = ["song_id, valence_mean, valence_std, arousal_mean, arousal_std"], 0.0
    for i in range(songs):
        src = variants[i % len(variants)]
        shutil.copyfile(src, root / "MEMD_audio" / f"{i + 2}.mp3")
        seconds += sf.info(src).duration
        lines.append(f"{i + 2},{1 + i % 9},1.2,{1 + (i * 7) % 9},1.4")
    (root / SONG_LEVEL / "static_annotations_averaged_songs_1_2000.csv").write_text("\r\n".join(lines) + "\r\n")
    return seconds


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the builder's worker pools)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_builder(data_dir: Path, cache: Path, num_proc, config="song") -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, rows) of one uncached build."""
    t0, c0 = time.perf_counter(), _cpu()
    builder = loading.load_builder("deam", config, data_dir=str(data_dir), cache_dir=str(cache))
    builder.download_and_prepare(num_proc=num_proc)
    return time.perf_counter() - t0, _cpu() - c0, sum(s.num_examples for s in builder.info.splits.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=200, help="clips in the generated corpus")
    parser.add_argument("--variants", type=int, default=8, help="distinct MP3s among them")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the librosa comparison")
    args = parser.parse_args(argv)

    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    workdir = Path(tempfile.mkdtemp(prefix="bench_deam_"))
    try:
        variants = make_variants(workdir, args.variants)
        print(f"{len(variants)} distinct MP3s: {sf.info(variants[0]).duration:.1f} s, 44.1 kHz, mono and stereo")

        audio_s, cpu, max_diff = bench_audio.run(variants, args.rounds, None)
        rate = {k: audio_s / v for k, v in cpu.items()}
        print(f"\n1. front end, {audio_s:.0f} audio-seconds per path (CPU seconds, fresh processes)")
        for label in cpu:
            print(f"  {label:9s} {cpu[label]:6.2f} CPU-s  {rate[label]:6.0f} audio-s per CPU-s")
        print(f"  ratio kelly_hf / librosa: {rate['kelly_hf'] / rate['librosa']:.2f}x  "
              f"(max |feature difference| {max_diff:.1e})")

        data = workdir / "deam"
        total_s = official_layout(data, variants, args.songs)
        print(f"\n2. builder, config 'song', {args.songs} clips, {total_s:.0f} audio-seconds "
              f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        for num_proc in (None, 2):
            wall, cpu_s, rows = time_builder(data, workdir / f"cache_{num_proc}", num_proc)
            assert rows == args.songs, rows
            deam_wall = DEAM_AUDIO_SECONDS * wall / total_s
            print(f"  num_proc={num_proc or 1}: {wall:6.2f} s wall ({args.songs / wall:5.1f} clips/s, "
                  f"{total_s / wall:5.0f} audio-s/s), {cpu_s:6.2f} CPU-s ({total_s / cpu_s:5.0f} audio-s per CPU-s)")
            print(f"    -> all of DEAM ({DEAM_CLIPS} clips, {DEAM_AUDIO_SECONDS} audio-s): {deam_wall:4.0f} s at this "
                  f"wall rate{'' if deam_wall < 120 else ' (OVER 2 minutes)'}; "
                  f"{DEAM_AUDIO_SECONDS * cpu_s / total_s / 2:4.0f} s of work per core on 2 idle cores")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
