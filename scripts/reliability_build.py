#!/usr/bin/env python
"""Build one corpus and print a digest of the result as JSON (issue 8 helper).

    python scripts/reliability_build.py harmony --data-dir D --cache-dir C [--config NAME] [--num-proc 2]
        [--kill-at POINT]

The digest holds, per split, the dataset fingerprint, the row count and the
SHA-256 of every column's bytes (the column's chunks combined into one Arrow
array and written as an Arrow IPC stream), plus the skip records, the process's
peak RSS and the wall time. Used by the interrupted-build, determinism and
memory tests and scripts, which run it in subprocesses (to SIGKILL it, or to
give it another time zone / locale). ``--kill-at`` makes the build SIGKILL its
own process group at a named step (``kelly_hf.builder.kill_point``): start it
in its own process group.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time


def column_digest(column) -> str:
    import pyarrow as pa

    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    table = pa.Table.from_arrays([array], names=["c"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def digest(ds) -> dict:
    """{split: {fingerprint, rows, columns: {name: sha256}}} of a DatasetDict."""
    out = {}
    for split in sorted(ds):
        d = ds[split]
        table = d.data.table
        out[split] = {"fingerprint": d._fingerprint, "rows": len(d),
                      "columns": {name: column_digest(table.column(name)) for name in table.column_names}}
    return out


def build(name: str, data_dir: str, cache_dir: str, config: str | None = None, num_proc: int | None = None,
          **config_kwargs) -> dict:
    import kelly_hf
    from kelly_hf import loading

    t0 = time.time()
    ds = kelly_hf.load_dataset(name, config, data_dir=data_dir, cache_dir=cache_dir, num_proc=num_proc,
                               **config_kwargs)
    seconds = time.time() - t0
    builder = loading.load_builder(name, config, data_dir=data_dir, cache_dir=cache_dir, **config_kwargs)
    return {"digest": digest(ds), "skips": loading.skip_records(builder), "cache_dir": builder.cache_dir,
            "seconds": seconds}


def _peak_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--config")
    p.add_argument("--num-proc", type=int)
    p.add_argument("--hash", help="pin the builder hash (cache directory name) instead of the code hash")
    p.add_argument("--kill-at", metavar="POINT", help="kill the process group there (kelly_hf.builder.kill_point)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.kill_at:
        os.environ["KELLY_KILL_AT"] = args.kill_at   # read when kelly_hf.builder is imported, below
    import datasets

    datasets.disable_progress_bars()
    extra = {"hash": args.hash} if args.hash else {}
    result = build(args.name, args.data_dir, args.cache_dir, args.config, args.num_proc, **extra)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so under a large
    # parent (a pytest-xdist worker) it reports the parent's peak instead of this build's.
    result["maxrss_kb"] = _peak_kb()
    result["env"] = {k: os.environ.get(k) for k in ("TZ", "LANG", "LC_ALL", "PYTHONUTF8")}
    result["encoding"] = {"fs": sys.getfilesystemencoding(), "preferred": __import__("locale").getpreferredencoding()}
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
