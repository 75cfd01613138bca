#!/usr/bin/env python
"""The long fuzz run of issue 8: >= 100,000 mutated inputs on worker processes.

    python scripts/fuzz_long.py                      # 100,000 inputs, 2 workers, seed 0
    python scripts/fuzz_long.py --inputs 2000 --out /tmp/fuzz.json
    python scripts/fuzz_long.py --replay midi:1234   # one input again, with its traceback

Modes (share of the inputs, ``--mix``):

* ``midi``: a fixture MIDI file mutated (bit flips, truncation, chunk-length
  and VLQ corruption, huge delta times, absurd tempos, 65535 tracks declared,
  many real tracks, odd events...) -> ``kelly_hf.midi.read_notes``: a checked
  ``Midi`` or ``MidiError``;
* ``midi-builders``: the same mutants -> the MAESTRO (segments, piece) and
  Groove (full, 2bar, 4bar) row functions: rows or skip records;
* ``harmony``: a chord input (JSON, JSONL, .lab, POP909, Billboard, JAMS)
  mutated (structured JSON edits, encodings, BOMs, nesting, cells...) -> the
  harmony builder's generator over all splits: rows or skip records;
* ``deam``: a DEAM annotation CSV (official song-level, 2015 13-column,
  emoMusic, seed, dynamic pair) mutated (missing / swapped columns, wrong types,
  NaN, huge numbers, BOMs, latin-1 / UTF-16 / UTF-32...) -> the DEAM builder
  (split generators and generators, real audio): rows, skip records or the
  documented AnnotationFileError / DataDirError.

Input ``i`` of a mode is drawn from ``random.Random(f"{seed}:{mode}:{i}")``, so
a run is reproducible input by input whatever the scheduling. Each input is
timed (limit 1 s of CPU, 10 s wall) and its peak RSS growth measured (kernel high-water mark,
reset per input; bound 64 MB + 64 x input size); workers run with their
address space capped at +1.5 GB so a runaway allocation fails instead of
taking the machine, and a 30 s alarm turns a hang into a recorded outcome. A
batch that does not come back within ``--batch-timeout`` is reported as a hang
and the pool is restarted. Failing inputs are saved under ``--save`` for replay.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability_fuzz as rf  # noqa: E402

MODES = ("midi", "midi-builders", "harmony", "deam")
DEFAULT_MIX = "midi:0.55,midi-builders:0.1,harmony:0.2,deam:0.15"
HANG_S = 30

_state: dict = {}


class Hang(BaseException):
    """Raised by the per-input alarm (a BaseException, so no runner swallows it)."""


def _alarm(signum, frame):
    raise Hang()


def _init(workdir: str, save: str | None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    signal.signal(signal.SIGALRM, _alarm)
    _state["workdir"] = tempfile.mkdtemp(prefix=f"w{os.getpid()}-", dir=workdir)
    _state["save"] = save
    _state["midi"] = rf.midi_seeds()
    _state["midi_bytes"] = [d for _, d in _state["midi"]]
    _state["harmony_seeds"] = rf.harmony_seeds()
    _state["deam_seeds"] = rf.deam_seeds()
    _state["harmony"] = rf.HarmonyRunner(_state["workdir"])
    _state["deam"] = rf.DeamRunner(_state["workdir"])
    import kelly_hf.groove  # noqa: F401 - imported before the cap
    import kelly_hf.maestro  # noqa: F401
    rf.warm_up()
    name, data = _state["harmony_seeds"][0]
    _state["harmony"](name, data)
    _state["deam"](*_state["deam_seeds"][0])
    rf.limit_address_space(3 << 29)


def make_input(mode: str, seed: int, index: int):
    """(description, runner args) of input ``index`` of ``mode``: deterministic."""
    rng = random.Random(f"{seed}:{mode}:{index}")
    if mode in ("midi", "midi-builders"):
        name, data = rng.choice(_state["midi"])
        mutant, ops = rf.mutate_midi(data, rng, _state["midi_bytes"])
        return {"seed": name, "ops": ops}, (mutant,)
    if mode == "harmony":
        name, data = rng.choice(_state["harmony_seeds"])
        kind = "json" if name.endswith((".json", ".jsonl", ".jams")) else "csv"
        mutant, ops = rf.mutate_text(data, rng, kind)
        return {"seed": name, "ops": ops}, (name, mutant)
    config, rel, data = rng.choice(_state["deam_seeds"])
    mutant, ops = rf.mutate_text(data, rng, "csv")
    return {"seed": rel, "ops": ops, "config": config}, (config, rel, mutant)


def run_input(mode: str, seed: int, index: int) -> dict:
    try:
        desc, args = make_input(mode, seed, index)
    except Exception as exc:  # noqa: BLE001 - a bug of this harness, not of the code under test
        return {"mode": mode, "index": index, "status": "harness", "detail": f"mutator: {exc!r}"[:200],
                "seconds": 0.0, "wall": 0.0, "peak_kb": 0, "size": 0, "seed": "", "ops": []}
    runner = {"midi": rf.run_midi, "midi-builders": rf.run_midi_builders,
              "harmony": _state["harmony"], "deam": _state["deam"]}[mode]
    t0 = time.perf_counter()
    signal.alarm(HANG_S)
    try:
        outcome = runner(*args)
    except Hang:
        outcome = rf.Outcome("hang", f"no result after {HANG_S} s", wall=time.perf_counter() - t0)
    except MemoryError as exc:  # outside a runner's own handler (e.g. while measuring)
        outcome = rf.Outcome("memory", f"MemoryError outside the code under test: {exc}")
    finally:
        signal.alarm(0)
    hwm = rf._status().get("VmHWM", 0)   # this input's absolute peak (the mark was reset at its start)
    _state["max_hwm_kb"] = max(_state.get("max_hwm_kb", 0), hwm)
    result = {"mode": mode, "index": index, "status": outcome.status, "detail": outcome.detail,
              "seconds": outcome.seconds, "wall": outcome.wall, "peak_kb": outcome.peak_kb, "size": len(args[-1]), **desc}
    if outcome.status != "ok" and _state.get("save"):
        os.makedirs(_state["save"], exist_ok=True)
        stem = os.path.join(_state["save"], f"{mode}-{index}")
        with open(stem + ".bin", "wb") as f:
            f.write(args[-1])
        with open(stem + ".json", "w") as f:
            json.dump({**result, "trace": outcome.trace}, f, indent=1)
    return result


def run_batch(batch) -> list[dict]:
    seed, items = batch
    out = [run_input(mode, seed, index) for mode, index in items]
    # ru_maxrss is no use here: resetting VmHWM per input resets it too
    out.append({"worker": os.getpid(), "maxrss_kb": _state.get("max_hwm_kb", 0)})
    return out


def plan(n: int, mix: dict[str, float]) -> list[tuple[str, int]]:
    total = sum(mix.values())
    counts = {m: int(round(n * w / total)) for m, w in mix.items()}
    counts[max(counts, key=counts.get)] += n - sum(counts.values())
    items = [(m, i) for m, c in counts.items() for i in range(c)]
    random.Random(0).shuffle(items)  # modes interleaved: both workers busy with a mix
    return items


def summarize(results: list[dict], workers: dict, elapsed: float, args, hangs: list) -> dict:
    by_mode = collections.defaultdict(collections.Counter)
    details = collections.defaultdict(collections.Counter)
    for r in results:
        by_mode[r["mode"]][r["status"]] += 1
        details[r["mode"]][f"{r['status']}: {re.sub(r'(?<![A-Za-z0-9.])[0-9][0-9.]*(?:e[+-]?[0-9]+)?(?![A-Za-z])', 'N', r['detail'])}"] += 1
    slowest = max(results, key=lambda r: r["seconds"]) if results else None
    biggest = max(results, key=lambda r: r["peak_kb"]) if results else None
    per_mode = {}
    for mode in by_mode:
        rs = [r for r in results if r["mode"] == mode]
        secs = sorted(r["seconds"] for r in rs)
        walls = sorted(r.get("wall", 0.0) for r in rs)
        per_mode[mode] = {
            "inputs": len(rs), "outcomes": dict(by_mode[mode]),
            "classes": dict(details[mode].most_common()),
            "seconds_median": secs[len(secs) // 2], "seconds_p99": secs[int(len(secs) * 0.99)],
            "seconds_max": secs[-1], "wall_max": walls[-1], "peak_kb_max": max(r["peak_kb"] for r in rs),
        }
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"), "inputs": len(results), "seed": args.seed,
        "workers": args.workers, "elapsed_s": round(elapsed, 1), "time_limit_s": rf.TIME_LIMIT_S,
        "memory_bound": f"{rf.MEMORY_BASE_KB // 1024} MB + {rf.MEMORY_PER_BYTE} x input size",
        "outcomes": dict(sum((by_mode[m] for m in by_mode), collections.Counter())),
        "modes": per_mode, "slowest": slowest, "max_memory": biggest,
        "worker_maxrss_kb": workers, "batch_hangs": hangs,
        "failures": [r for r in results if r["status"] not in ("ok",)][:200],
    }


def merge(parts: list[dict]) -> dict:
    """One summary of several runs (different seeds: different inputs)."""
    out = {"date": parts[-1]["date"], "inputs": sum(p["inputs"] for p in parts),
           "seed": "+".join(str(p["seed"]) for p in parts), "workers": parts[0]["workers"],
           "elapsed_s": round(sum(p["elapsed_s"] for p in parts), 1), "time_limit_s": parts[0]["time_limit_s"],
           "memory_bound": parts[0]["memory_bound"], "outcomes": collections.Counter(), "modes": {},
           "worker_maxrss_kb": {}, "batch_hangs": [], "failures": []}
    for p in parts:
        out["outcomes"].update(p["outcomes"])
        out["worker_maxrss_kb"].update(p["worker_maxrss_kb"])
        out["batch_hangs"] += p["batch_hangs"]
        out["failures"] += p["failures"]
        for mode, m in p["modes"].items():
            t = out["modes"].setdefault(mode, {"inputs": 0, "outcomes": collections.Counter(),
                                               "classes": collections.Counter(), "seconds_median": 0.0,
                                               "seconds_p99": 0.0, "seconds_max": 0.0, "wall_max": 0.0,
                                               "peak_kb_max": 0})
            t["inputs"] += m["inputs"]
            t["outcomes"].update(m["outcomes"])
            t["classes"].update(m["classes"])
            for k in ("seconds_median", "seconds_p99", "seconds_max", "wall_max", "peak_kb_max"):
                t[k] = max(t[k], m.get(k, 0))   # medians / p99: the larger of the runs'
    for t in out["modes"].values():
        t["classes"] = dict(t["classes"].most_common())
    out["outcomes"] = dict(out["outcomes"])
    out["slowest"] = max((p["slowest"] for p in parts if p["slowest"]), key=lambda r: r["seconds"], default=None)
    out["max_memory"] = max((p["max_memory"] for p in parts if p["max_memory"]), key=lambda r: r["peak_kb"],
                            default=None)
    return out


def print_summary(s: dict) -> None:
    print(f"\n== fuzz summary: {s['inputs']} inputs in {s['elapsed_s']} s on {s['workers']} workers (seed {s['seed']})")
    print("outcomes:", s["outcomes"])
    for mode, m in s["modes"].items():
        print(f"\n[{mode}] {m['inputs']} inputs: {m['outcomes']}; median {m['seconds_median'] * 1000:.1f} ms, "
              f"p99 {m['seconds_p99'] * 1000:.1f} ms, max {m['seconds_max'] * 1000:.0f} ms CPU "
              f"({m['wall_max'] * 1000:.0f} ms max wall); "
              f"max peak RSS growth {m['peak_kb_max'] / 1024:.1f} MB")
        for cls, n in list(m["classes"].items())[:25]:
            print(f"   {n:7d}  {cls}")
    if s["slowest"]:
        r = s["slowest"]
        print(f"\nslowest: {r['mode']}:{r['index']} {r['seconds']:.3f} s CPU ({r['seed']} {r['ops']}, {r['size']} B) "
              f"-> {r['status']}: {r['detail']}")
    if s["max_memory"]:
        r = s["max_memory"]
        print(f"max memory: {r['mode']}:{r['index']} {r['peak_kb'] / 1024:.1f} MB ({r['seed']} {r['ops']}, "
              f"{r['size']} B) -> {r['status']}: {r['detail']}")
    print("worker max RSS (MB):", {k: round(v / 1024) for k, v in s["worker_maxrss_kb"].items()})
    if s["batch_hangs"]:
        print("HUNG BATCHES:", s["batch_hangs"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mix", default=DEFAULT_MIX, help=f"mode:weight,... (default {DEFAULT_MIX})")
    p.add_argument("--batch", type=int, default=250, help="inputs per task sent to a worker")
    p.add_argument("--batch-timeout", type=float, default=900.0)
    p.add_argument("--out", help="write the summary JSON here")
    p.add_argument("--save", help="save failing inputs (bytes + JSON) in this folder")
    p.add_argument("--replay", help="MODE:INDEX - run one input in this process and print its outcome")
    p.add_argument("--merge", nargs="+", metavar="SUMMARY", help="combine summaries (e.g. a partial run and its "
                   "continuation with another --seed) and print the total")
    p.add_argument("--recheck", metavar="DIR", help="replay, one by one in this process, every input saved in DIR "
                   "(by --save) whose outcome was not ok / known, and print what it gives when run alone")
    args = p.parse_args(argv)

    if args.merge:
        summary = merge([json.loads(Path(f).read_text()) for f in args.merge])
        print_summary(summary)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(summary, f, indent=1, default=str)
        return 0
    workdir = tempfile.mkdtemp(prefix="kelly-fuzz-")
    if args.recheck:
        _init(workdir, None)
        rows = collections.Counter()
        for path in sorted(Path(args.recheck).glob("*.json")):
            saved = json.loads(path.read_text())
            if saved["status"] in ("ok", "known"):
                continue
            mode, index = saved["mode"], saved["index"]
            desc, run_args = make_input(mode, saved.get("seed_value", args.seed), index)
            signal.alarm(HANG_S * 4)
            try:
                outcome = {"midi": rf.run_midi, "midi-builders": rf.run_midi_builders,
                           "harmony": _state["harmony"], "deam": _state["deam"]}[mode](*run_args)
            finally:
                signal.alarm(0)
            print(f"{mode}:{index}: was {saved['status']} ({saved['detail'][:60]}), alone: {outcome.status} "
                  f"({outcome.detail[:80]}), {outcome.seconds:.2f} s CPU, {outcome.wall:.2f} s wall, "
                  f"{outcome.peak_kb // 1024} MB", flush=True)
            rows[(saved["status"], outcome.status, outcome.detail.split(" (")[0][:60])] += 1
        print("\nrecheck:", {" -> ".join(k): n for k, n in rows.items()})
        return 0
    if args.replay:
        mode, index = args.replay.split(":")
        _init(workdir, None)
        desc, run_args = make_input(mode, args.seed, int(index))
        runner = {"midi": rf.run_midi, "midi-builders": rf.run_midi_builders,
                  "harmony": _state["harmony"], "deam": _state["deam"]}[mode]
        outcome = runner(*run_args)
        print(desc, len(run_args[-1]), "bytes")
        print(outcome.status, outcome.detail, f"{outcome.seconds:.3f} s", f"{outcome.peak_kb} kB")
        print(outcome.trace)
        return 0

    mix = {m.split(":")[0]: float(m.split(":")[1]) for m in args.mix.split(",")}
    unknown = set(mix) - set(MODES)
    if unknown:
        p.error(f"unknown modes {unknown}; have {MODES}")
    items = plan(args.inputs, mix)
    batches = [(args.seed, items[i:i + args.batch]) for i in range(0, len(items), args.batch)]
    results, workers, hangs = [], {}, []
    t0 = time.time()
    pending = list(batches)
    ctx = mp.get_context("fork")
    while pending:
        pool = ctx.Pool(args.workers, initializer=_init, initargs=(workdir, args.save))
        it = pool.imap(run_batch, pending)  # in order: on a hang we know which batch
        done = 0
        try:
            for _ in range(len(pending)):
                out = it.next(timeout=args.batch_timeout)
                info = out.pop()
                workers[info["worker"]] = max(workers.get(info["worker"], 0), info["maxrss_kb"])
                results.extend(out)
                done += 1
                if args.out and done % 8 == 0:   # a partial summary now and then: a crash loses little
                    with open(args.out + ".partial", "w") as f:
                        json.dump(summarize(results, workers, time.time() - t0, args, hangs), f, default=str)
                if len(results) % (args.batch * 8) < args.batch:
                    bad = sum(r["status"] != "ok" for r in results)
                    print(f"[{time.time() - t0:7.0f} s] {len(results)}/{args.inputs} inputs, "
                          f"{bad} not ok", flush=True)
            pending = []
            pool.close()
        except mp.TimeoutError:
            hung = pending[done]
            hangs.append({"batch_first": hung[1][0], "batch_size": len(hung[1])})
            print(f"batch starting at {hung[1][0]} did not return in {args.batch_timeout} s: "
                  f"restarting the pool", flush=True)
            pool.terminate()
            pending = pending[done + 1:]
        except Exception as exc:  # noqa: BLE001 - a worker died on a harness bug: record, go on
            broken = pending[done]
            hangs.append({"batch_first": broken[1][0], "batch_size": len(broken[1]), "error": repr(exc)[:300]})
            print(f"batch starting at {broken[1][0]} failed in the harness ({exc!r}): restarting", flush=True)
            pool.terminate()
            pending = pending[done + 1:]
        pool.join()
    summary = summarize(results, workers, time.time() - t0, args, hangs)
    print_summary(summary)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1, default=str)
    failed = sum(n for k, n in summary["outcomes"].items() if k not in ("ok", "known")) + len(hangs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
