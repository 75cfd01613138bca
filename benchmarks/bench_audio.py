"""Throughput of kelly-mel-v1 on MP3 versus the librosa reference path.

Reference: ``librosa.load(path, sr=22050)`` + ``librosa.feature.melspectrogram``
+ ``librosa.power_to_db`` (fixed reference) + mean over frames.
Ours: ``kelly_hf.audio.load_resampled`` + ``mel_features``.

Both run on the same MP3s and are timed with ``time.process_time`` (CPU
seconds of all threads). Each (path, round) runs in a fresh process, the paths
alternating: OpenBLAS worker threads keep spinning for a while after a
multi-threaded product (librosa's), and in a shared process that CPU time
would be charged to whatever runs next. The MP3s are the DEAM
fixture plus longer files made from it (tiled; one mono, one stereo) written as
MP3 by libsndfile. Prints audio-seconds per CPU-second for each path, the
ratio, and what that means for DEAM (81k audio-seconds on 2 cores).

    python benchmarks/bench_audio.py [--rounds 3] [--tile 4] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from kelly_hf import audio

FIXTURE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "deam" / "MEMD_audio" / "3.mp3"
DEAM_AUDIO_SECONDS = 81_000


def make_mp3s(workdir: Path, tile: int) -> list[Path]:
    files = [FIXTURE]
    if "MP3" not in sf.available_formats():
        return files * 3   # no MP3 encoder: time the fixture repeatedly
    y, sr = sf.read(FIXTURE, dtype="float32")
    long = np.tile(y, tile)
    mono = workdir / f"tiled_x{tile}_mono.mp3"
    sf.write(mono, long, sr, format="MP3")
    # stereo: the second channel delayed by 10 ms, so the downmix is real work
    right = np.concatenate([np.zeros(sr // 100, np.float32), long[: -(sr // 100)]])
    stereo = workdir / f"tiled_x{tile}_stereo.mp3"
    sf.write(stereo, np.stack([long, right], axis=1), sr, format="MP3")
    return files + [mono, stereo]


def reference(path: Path) -> np.ndarray:
    y, _ = librosa.load(path, sr=audio.SR)
    mel = librosa.feature.melspectrogram(y=y, sr=audio.SR, n_fft=audio.N_FFT,
                                         hop_length=audio.HOP, n_mels=audio.N_MELS)
    db = librosa.power_to_db(mel, ref=audio.REF_POWER, top_db=None)
    return np.clip(np.maximum(db, audio.FLOOR_DB) / 40 + 1, -1, 1).mean(axis=1)


def ours(path: Path) -> np.ndarray:
    return audio.mel_features(audio.load_resampled(path), audio.SR)


PATHS = {"librosa": reference, "kelly_hf": ours}


def child(label, files, blas_threads):
    """One timed pass over ``files`` in a fresh process: (CPU seconds, features)."""
    limit = contextlib.nullcontext()
    if blas_threads:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(blas_threads)
    fn = PATHS[label]
    with limit:
        fn(files[0])   # warm-up: imports, filterbank cache, FFT plans
        t0 = time.process_time()
        feats = [fn(f) for f in files]
        return time.process_time() - t0, feats


def run(files, rounds, blas_threads):
    cpu = dict.fromkeys(PATHS, 0.0)
    feats = {}
    ctx = multiprocessing.get_context("spawn")
    for _ in range(rounds):
        for label in PATHS:
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                seconds, feats[label] = pool.submit(child, label, files, blas_threads).result()
            cpu[label] += seconds
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(feats["librosa"], feats["kelly_hf"]))
    return sum(sf.info(f).duration for f in files) * rounds, cpu, max_diff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tile", type=int, default=4, help="length of the generated files, in fixture lengths")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS threads (as one builder worker per core would)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench_audio_"))
    try:
        files = make_mp3s(workdir, args.tile)
        for f in files:
            info = sf.info(f)
            print(f"{f.name}: {info.duration:.1f} s, {info.channels} ch, {info.samplerate} Hz")
        audio_s, cpu, max_diff = run(files, args.rounds, args.blas_threads)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{audio_s:.0f} audio-seconds per path ({args.rounds} rounds), "
          f"BLAS threads: {args.blas_threads or 'default'}")
    rate = {k: audio_s / v for k, v in cpu.items()}
    for label in cpu:
        print(f"  {label:9s} {cpu[label]:7.2f} CPU-s  {rate[label]:7.0f} audio-s per CPU-s  "
              f"(DEAM {DEAM_AUDIO_SECONDS} s on 2 cores: {DEAM_AUDIO_SECONDS / rate[label] / 2:5.0f} s)")
    print(f"  ratio kelly_hf / librosa: {rate['kelly_hf'] / rate['librosa']:.2f}x")
    print(f"  max |feature difference|: {max_diff:.2e}")


if __name__ == "__main__":
    main()
