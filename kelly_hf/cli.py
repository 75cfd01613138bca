"""The ``kelly-hf`` command.

    kelly-hf check NAME DATA_DIR [--config C] [--num-proc N]   build and inspect a corpus
    kelly-hf synth NAME OUT_DIR                               write a synthetic corpus
    kelly-hf demo [--out DIR]                                  the README's main job
    kelly-hf export NAME DATA_DIR OUT_DIR [--config C]...     write the Hub folder (Parquet + card)
    kelly-hf push NAME DATA_DIR --repo-id ORG/NAME [--config C]... [--public]
                                                               push it to a (private) Hub repository
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _describe_value(feature, value) -> str:
    import datasets

    if isinstance(feature, datasets.List) and isinstance(feature.feature, datasets.ClassLabel):
        names = [feature.feature.int2str(int(v)) for v in value]
        more = f" ... ({len(names)} in all)" if len(names) > 16 else ""
        return " ".join(names[:16]) + more
    if isinstance(feature, datasets.List) and isinstance(feature.feature, datasets.List):
        inner = [np.asarray(v, dtype=np.float64) for v in value]
        if not inner:
            return "[] (empty)"
        flat = np.concatenate([v.ravel() for v in inner])
        return (f"[{len(inner)} x {inner[0].size}] min {flat.min():+.3f} mean {flat.mean():+.3f} "
                f"max {flat.max():+.3f}")
    if isinstance(feature, datasets.List) and isinstance(feature.feature, datasets.Value):
        arr = np.asarray(value, dtype=np.float64)
        if arr.size == 0:
            return "[] (empty)"
        return f"[{arr.size}] min {arr.min():+.3f} mean {arr.mean():+.3f} max {arr.max():+.3f}"
    if isinstance(feature, datasets.ClassLabel):
        return f"{feature.int2str(int(value))} ({value})"
    if isinstance(value, float):
        return f"{value:.4f}"
    return repr(value)


def _schema_line(name, feature) -> str:
    import datasets

    if isinstance(feature, datasets.List):
        inner = feature.feature
        if isinstance(inner, datasets.List):
            kind = _schema_line("", inner).strip()
        else:
            kind = f"ClassLabel({inner.num_classes})" if isinstance(inner, datasets.ClassLabel) else getattr(inner, "dtype", inner)
        length = f"[{feature.length}]" if feature.length not in (None, -1) else "[*]"
        return f"  {name:<18} list{length} of {kind}"
    if isinstance(feature, datasets.ClassLabel):
        return f"  {name:<18} ClassLabel {feature.names[:6]}{' ...' if feature.num_classes > 6 else ''}"
    return f"  {name:<18} {getattr(feature, 'dtype', feature)}"


def _decoded_emotion(row: dict) -> str | None:
    from kelly_hf import emotion

    vec = row.get("emotion")
    if vec is None and row.get("context") is not None and len(row["context"]) >= 64:
        vec = row["context"][:64]
    if vec is None or len(vec) != 64:
        return None
    v, a, d, c = emotion.decode(vec)
    return f"decoded emotion: valence {v:+.3f}, arousal {a:.3f}, dominance {d:.3f}, intensity {c:.3f}"


def check(args) -> int:
    from kelly_hf import loading

    try:
        builder = loading.load_builder(args.name, args.config, data_dir=args.data_dir, cache_dir=args.cache_dir)
        builder.download_and_prepare(num_proc=args.num_proc)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records = loading.skip_records(builder)
    dataset = builder.as_dataset()
    total = sum(len(d) for d in dataset.values())
    print(f"\n{builder.name} / {builder.config.name}  (data_dir {builder.config.data_dir})")
    print(f"cache: {builder.cache_dir}")
    print("\nexamples per split:")
    for split, ds in dataset.items():
        print(f"  {split:<12} {len(ds):>8}")
    print(f"  {'total':<12} {total:>8}")
    features = builder.info.features
    print("\nschema:")
    for name, feature in features.items():
        print(_schema_line(name, feature))
    first = next((ds[0] for ds in dataset.values() if len(ds)), None)
    if first is not None:
        print("\none example:")
        for name, feature in features.items():
            print(f"  {name:<18} {_describe_value(feature, first[name])}")
        decoded = _decoded_emotion(first)
        if decoded:
            print(f"  {decoded}")
    # notes the builder flags as headlines (e.g. DEAM's static vs dynamic disagreement): in full, first
    headline = tuple(getattr(builder, "HEADLINE_NOTES", ()))
    heads = [r for r in records if headline and r["kind"] == "note" and r["reason"].startswith(headline)]
    if heads:
        print(f"\n!! read this first: {len(heads)} note{'s' * (len(heads) > 1)} on the labels themselves")
        for r in heads:
            print(f"  {r['source']}:\n    {r['reason']}")
    for kind, title in (("skip", "skipped inputs"), ("note", "notes on written rows")):
        counts = loading.reason_counts(records, kind)
        if counts:
            print(f"\n{title} ({sum(counts.values())}):")
            for reason, n in counts.most_common():
                print(f"  {n:>6} x {reason}")
            for r in [r for r in records if r["kind"] == kind][: args.show]:
                print(f"         {r['source']}: {r['reason']}")
    if total == 0:
        print("\nnothing loaded", file=sys.stderr)
        return 1
    return 0


def synth(args) -> int:
    from kelly_hf import synthetic

    path = synthetic.write(args.name, args.out_dir)
    print(f"wrote a synthetic {args.name} corpus to {path}")
    return 0


def demo(args) -> int:
    from kelly_hf import demo as demo_module

    return demo_module.main(args)


def export(args) -> int:
    from kelly_hf import hub

    try:
        path = hub.export(args.name, args.data_dir, args.out_dir, configs=args.config, cache_dir=args.cache_dir,
                          max_shard_size=args.max_shard_size, num_proc=args.num_proc)
    except (FileNotFoundError, ValueError, hub.HubError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path.resolve()}: upload it as is, or read it with datasets.load_dataset(folder, config)")
    return 0


def push(args) -> int:
    from kelly_hf import hub

    try:
        hub.push(args.name, args.data_dir, args.repo_id, configs=args.config, public=args.public,
                 cache_dir=args.cache_dir, max_shard_size=args.max_shard_size, num_proc=args.num_proc)
    except (FileNotFoundError, ValueError, hub.HubError) as exc:
        print(f"error: {hub.redact(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # network / Hub errors: the message, never the token
        print(f"error: {type(exc).__name__}: {hub.redact(str(exc))}", file=sys.stderr)
        return 1
    return 0


def _add_build_options(p) -> None:
    p.add_argument("name", help="corpus name (harmony, lakh, maestro, groove, deam) or a builder directory")
    p.add_argument("data_dir", help="the corpus folder, in any layout the builder reads")
    p.add_argument("--config", action="append", default=None, metavar="C",
                   help="builder config, a config of the repository; repeat for several (default: the builder's default)")
    p.add_argument("--max-shard-size", default=None, help="bound per Parquet shard, e.g. 200MB (default 500MB)")
    p.add_argument("--num-proc", type=int, default=None, help="build with this many processes")
    p.add_argument("--cache-dir", default=None, help="datasets cache directory (default: HF_DATASETS_CACHE)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kelly-hf", description="Kelly HF datasets: build, inspect and share the corpora "
                                     "the five Kelly models learn from.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="build a corpus and print what loaded",
                       description="Build a corpus (with progress bars), then print examples per split, the schema "
                                   "with vector lengths, one example in readable form and the skipped inputs by reason. "
                                   "Exit 0 when rows loaded, 1 when nothing loaded, 2 on a usage or data_dir error.")
    p.add_argument("name", help="corpus name (harmony, lakh, maestro, groove, deam) or a builder directory")
    p.add_argument("data_dir", help="the corpus folder, in any layout the builder reads")
    p.add_argument("--config", default=None, help="builder config (default: the builder's default)")
    p.add_argument("--num-proc", type=int, default=None, help="build with this many processes")
    p.add_argument("--cache-dir", default=None, help="datasets cache directory (default: HF_DATASETS_CACHE)")
    p.add_argument("--show", type=int, default=5, help="how many skipped inputs to list by name (default 5)")
    p.set_defaults(func=check)

    p = sub.add_parser("synth", help="write a synthetic corpus in its official layout")
    p.add_argument("name", help="corpus name")
    p.add_argument("out_dir", help="folder to write")
    p.set_defaults(func=synth)

    p = sub.add_parser("demo", help="the README's main job on the embedded synthetic corpora")
    p.add_argument("--out", default="./kelly_demo", help="working folder (default ./kelly_demo)")
    p.set_defaults(func=demo)

    p = sub.add_parser("export", help="write the Hub folder: Parquet shards and a dataset card",
                       description="Build a corpus and write exactly what a push uploads: data/<split>-*.parquet "
                                   "(other configs: <config>/<split>-*.parquet) and README.md, a dataset card whose "
                                   "YAML lets plain datasets.load_dataset(OUT_DIR, CONFIG) read it without kelly_hf. "
                                   "OUT_DIR must be empty or an earlier export (its other configs are kept).")
    _add_build_options(p)
    p.add_argument("out_dir", help="the folder to write")
    p.set_defaults(func=export)

    p = sub.add_parser("push", help="push a corpus to a Hugging Face dataset repository (private by default)",
                       description="Build a corpus and push it with datasets' push_to_hub. The repository is created "
                                   "private unless --public; an existing public repository is refused without "
                                   "--public. Token: HF_TOKEN or the saved `hf auth login`. Configs whose "
                                   "shards already match the repository's are not uploaded again.")
    _add_build_options(p)
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository")
    p.add_argument("--public", action="store_true", help="create the repository public / allow pushing into a public one")
    p.set_defaults(func=push)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
