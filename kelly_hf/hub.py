"""Hub-ready export and push of a built corpus.

* :func:`export` builds a corpus through its builder (the normal cache applies)
  and writes the folder a push uploads: Parquet shards and a ``README.md``
  dataset card. The layout is ``push_to_hub``'s own: the ``default`` config in
  ``data/<split>-0000i-of-0000N.parquet``, any other config ``C`` in
  ``C/<split>-...``. The card's YAML header (``configs`` with their
  ``data_files``, ``dataset_info`` with features and split sizes) is built with
  the same pieces ``DatasetDict.push_to_hub`` uses, so plain
  ``datasets.load_dataset(folder, config)`` reads the exact features, ClassLabel
  names included, without this package.
* :func:`push` sends the same content with ``DatasetDict.push_to_hub``, into a
  private repository unless ``public=True``, and refuses to write into an
  existing public repository without it (``push_to_hub`` ignores ``private=``
  for a repository that exists).

Shards are written exactly as ``push_to_hub`` writes them (same shard count,
writer batch size and ``to_parquet`` call), so an exported shard is
byte-identical to the uploaded one. That is what lets :func:`push` compare
hashes with the repository's files and upload nothing when they are equal.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets.arrow_writer import get_writer_batch_size_from_data_size, get_writer_batch_size_from_features
from datasets.features.features import require_decoding
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.table import embed_table_storage
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from datasets.utils.tqdm import tqdm
from huggingface_hub import DatasetCard, DatasetCardData, HfApi, get_token
from huggingface_hub.errors import RepositoryNotFoundError
from huggingface_hub.utils.sha import git_hash

from kelly_hf import loading

CARD = "README.md"
# Hub license identifiers a builder's free-text license may normalise to; anything
# else is "other" (the Hub rejects unknown identifiers) with the text in the prose.
HUB_LICENSES = {"apache-2.0", "mit", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0",
                "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0", "odc-by", "odbl", "pddl", "unknown", "other"}
SIZE_CATEGORIES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M")


class HubError(RuntimeError):
    """A push or export that must not go ahead (the message says why and what to do)."""


@dataclass
class _Config:
    """One exported config: its datasets, where its shards live, what the card says about it."""

    name: str
    repo_dir: str
    default: bool
    dataset: datasets.DatasetDict
    info: DatasetInfo | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    repo_id: str
    private: bool
    pushed: list[str]       # configs whose shards were uploaded
    unchanged: list[str]    # configs whose shards already matched the repository's
    card_updated: bool


# -- export ----------------------------------------------------------------------


def export(name, data_dir, out_dir, configs=None, *, cache_dir=None, max_shard_size=None,
           num_proc=None) -> Path:
    """Build ``name`` from ``data_dir`` and write the Hub folder to ``out_dir``.

    ``configs``: config names (default: the builder's default config). An
    ``out_dir`` holding an earlier export keeps its other configs (their card
    entries too), so configs built from different folders accumulate.
    ``max_shard_size`` bounds the in-memory size per shard like ``push_to_hub``
    (default ``datasets.config.MAX_SHARD_SIZE``, 500MB).
    """
    out = Path(out_dir)
    base = None
    if out.is_dir() and any(out.iterdir()):
        if not (out / CARD).is_file():
            raise HubError(f"{out} is not empty and holds no {CARD}: export into an empty folder "
                           f"or an earlier export")
        base = DatasetCard.load(out / CARD).data
    cls, parts = _build(name, data_dir, configs, cache_dir, num_proc)
    for part in tqdm(parts, desc="export configs", unit=" config", disable=len(parts) < 2):
        old = out / part.repo_dir
        if old.exists():
            if any(p.is_file() and p.suffix != ".parquet" for p in old.rglob("*")):
                raise HubError(f"{old} holds files other than Parquet shards; not replacing it")
            shutil.rmtree(old)
        _write_config(part, out, max_shard_size)
    (out / CARD).write_text(_card(cls, parts, base), encoding="utf-8")
    return out


def _build(name, data_dir, configs, cache_dir, num_proc) -> tuple[type, list[_Config]]:
    cls = loading.builder_class(name)
    names = list(dict.fromkeys(configs or [_default_config(cls)]))
    parts = []
    for config in names:
        if config == "data":
            raise HubError("a config named 'data' cannot be pushed (push_to_hub reserves it)")
        builder = loading.load_builder(name, config, data_dir=data_dir, cache_dir=cache_dir)
        builder.download_and_prepare(num_proc=num_proc)
        report = loading.summarize(loading.skip_records(builder))
        if report:
            print(f"{builder.name}/{builder.config.name}: {report}", file=sys.stderr)
        full = builder.as_dataset()
        # datasets cannot read an empty Parquet split back ("corresponds to no data"): leave it out
        dataset = datasets.DatasetDict({split: d for split, d in full.items() if len(d)})
        if not dataset:
            raise HubError(f"{builder.name}/{builder.config.name}: nothing loaded from {builder.config.data_dir}")
        if len(dataset) < len(full):
            print(f"{builder.name}/{builder.config.name}: empty split(s) left out: "
                  f"{', '.join(s for s in full if s not in dataset)}", file=sys.stderr)
        config = builder.config.name
        parts.append(_Config(config, "data" if config == "default" else config,
                             default=config == _default_config(cls) and config != "default", dataset=dataset))
    return cls, parts


def _default_config(cls) -> str:
    return cls.DEFAULT_CONFIG_NAME or (cls.BUILDER_CONFIGS[0].name if cls.BUILDER_CONFIGS else "default")


def _write_config(part: _Config, out: Path, max_shard_size) -> None:
    """Write one config's shards the way ``Dataset._push_parquet_shards_to_hub`` does."""
    part.info = DatasetInfo(config_name=part.name, features=None, splits=SplitDict(), download_size=0, dataset_size=0)
    for split, dataset in part.dataset.items():
        nbytes = dataset._estimate_nbytes()
        batch_size = (get_writer_batch_size_from_features(dataset.features)
                      or get_writer_batch_size_from_data_size(len(dataset), nbytes))
        num_shards = int(nbytes / convert_file_size_to_int(max_shard_size or datasets.config.MAX_SHARD_SIZE)) + 1
        embed = any(require_decoding(f, ignore_decode_attribute=True) for f in dataset.features.values())
        uploaded = 0
        for index in tqdm(range(num_shards), desc=f"{part.name}/{split} parquet shards", unit=" shards"):
            shard = dataset.shard(num_shards=num_shards, index=index, contiguous=True)
            if embed:  # Audio/Image columns carry their bytes, as push_to_hub does
                shard = shard.with_format("arrow").map(embed_table_storage, batched=True, batch_size=batch_size,
                                                       keep_in_memory=True).with_format(**shard.format)
            rel = f"{part.repo_dir}/{split}-{index:05d}-of-{num_shards:05d}.parquet"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shard.to_parquet(str(out / rel), batch_size=batch_size)
            uploaded += (out / rel).stat().st_size
            part.files.append(rel)
        part.info.features = dataset.features
        part.info.splits.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=len(dataset)))
        part.info.download_size += uploaded
        part.info.dataset_size += nbytes
    part.info.size_in_bytes = part.info.download_size + part.info.dataset_size


# -- the dataset card ------------------------------------------------------------


def _card(cls, parts: list[_Config], base: DatasetCardData | None) -> str:
    """README.md: the generated YAML header over the builder's own card prose.

    ``base`` is an earlier card (a previous export, the repository's card):
    its entries for other configs are kept. Card-level keys of the builder's
    own card (license, tags, ...) win over the generated defaults; ``configs``
    and ``dataset_info`` are always generated.
    """
    info = parts[0].dataset[next(iter(parts[0].dataset))].info
    own = _builder_card(cls)
    data = DatasetCardData(**(base.to_dict() if base else {}))
    meta = {"pretty_name": f"Kelly {_corpus(cls)}", **_license(info.license),
            "task_categories": ["tabular-regression"], "tags": ["music", "emotion", "kelly", f"kelly-{_corpus(cls)}"]}
    if own is not None:
        meta.update({k: v for k, v in own.data.to_dict().items() if k not in ("configs", "dataset_info")})
    for key, value in meta.items():
        data[key] = value
    DatasetInfosDict({p.name: p.info for p in parts}).to_dataset_card_data(data)
    MetadataConfigs({p.name: {"data_files": [{"split": s, "path": f"{p.repo_dir}/{s}-*"} for s in p.dataset],
                              **({"default": True} if p.default else {})} for p in parts}).to_dataset_card_data(data)
    rows = max(sum(s.num_examples for s in i.splits.values())
               for i in DatasetInfosDict.from_dataset_card_data(data).values())
    data["size_categories"] = [SIZE_CATEGORIES[min(len(SIZE_CATEGORIES) - 1, max(0, len(str(rows)) - 3))]]
    prose = own.text if own is not None else _fallback_prose(cls, parts[0], info)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{prose.strip()}\n"))


def _corpus(cls) -> str:
    return cls.__module__.rsplit(".", 1)[-1]


def _builder_card(cls) -> DatasetCard | None:
    path = Path(inspect.getfile(cls)).parent / CARD
    return DatasetCard.load(path) if path.is_file() else None


def _license(text: str | None) -> dict:
    slug = re.sub(r"[\s_]+", "-", (text or "unknown").strip().lower())
    return {"license": slug if slug in HUB_LICENSES else "other"}


def _md(doc: str | None) -> str:
    """A docstring as Markdown: roles and ``literals`` to `code`, RST simple tables fenced."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", inspect.cleandoc(doc or "")).replace("``", "`")
    out, rules = [], 0
    for line in text.splitlines():
        if re.fullmatch(r"=+( +=+)+", line.strip()):
            if rules == 0:
                out.append("```text")
            rules += 1
            out.append(line)
            if rules == 3:
                out.append("```")
                rules = 0
            continue
        out.append(line.replace("`", "") if rules else line)  # no inline code inside a fence
    return "\n".join(out).strip()


def _fallback_prose(cls, part: _Config, info: DatasetInfo) -> str:
    """Card prose for a builder without its own README.md: its docstrings, columns, conventions."""
    from kelly_hf import emotion, splits

    corpus = _corpus(cls)
    sections = [f"# Kelly {corpus}", _md(cls.__doc__), _md(info.description)]
    with contextlib.suppress(ImportError):  # the feature module of the corpus, when it has one
        sections += ["## How the vectors are computed", _md(importlib.import_module(f"kelly_hf.{corpus}").__doc__)]
    columns = ["| column | type |", "|---|---|"] + [f"| `{k}` | {_type(v)} |" for k, v in info.features.items()]
    sections += ["## Columns", "\n".join(columns),
                 "## Emotion convention", _md(emotion.__doc__),
                 "## Splits", _md(splits.__doc__),
                 "## Use", "```python\nfrom datasets import load_dataset\n\n"
                 f'ds = load_dataset("<this repository or folder>", "{part.name}")\n```']
    if info.license:
        sections += ["## License", info.license]
    if info.citation:
        sections += ["## Citation", f"```bibtex\n{info.citation.strip()}\n```"]
    return "\n\n".join(s for s in sections if s)


def _type(feature) -> str:
    if isinstance(feature, datasets.List):
        length = f"[{feature.length}]" if feature.length not in (None, -1) else "[*]"
        return f"list{length} of {_type(feature.feature)}"
    if isinstance(feature, datasets.ClassLabel):
        return f"ClassLabel ({feature.num_classes} classes)"
    return str(getattr(feature, "dtype", type(feature).__name__))


# -- push ------------------------------------------------------------------------


def push(name, data_dir, repo_id, configs=None, public=False, token=None, *, cache_dir=None,
         max_shard_size=None, num_proc=None) -> PushResult:
    """Build ``name`` and push it to the dataset repository ``repo_id``.

    Private unless ``public``; an existing public repository is refused
    without ``public``. The token is ``token``, else ``HF_TOKEN`` or the saved
    login. A config whose shards already match the repository's is not
    pushed, and the card is uploaded only when it changed, so re-pushing an
    unchanged corpus commits nothing.
    """
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: run `hf auth login` or set HF_TOKEN")
    try:
        return _push(name, data_dir, repo_id, configs, public, token, cache_dir, max_shard_size, num_proc)
    except Exception as exc:
        chain, seen = [], exc
        while seen is not None:
            chain.append(str(seen))
            seen = seen.__cause__ or seen.__context__
        if not any(token in text for text in chain):
            raise
        # from None: the original exception (and its context) would print the token
        raise HubError(f"{type(exc).__name__}: {redact(str(exc), token)}") from None


def _push(name, data_dir, repo_id, configs, public, token, cache_dir, max_shard_size, num_proc) -> PushResult:
    api = HfApi(token=token)
    try:  # before building: a refused push should fail fast
        private = bool(api.repo_info(repo_id, repo_type="dataset").private)  # unknown counts as public
        exists = True
    except RepositoryNotFoundError:
        private, exists = not public, False
    if exists and not private and not public:
        raise HubError(f"{repo_id} is a public dataset repository; pass --public (public=True) to push into it")
    if exists and private and public:
        print(f"{repo_id} exists and is private; it stays private (change visibility in its settings)")
    remote = _remote_files(api, repo_id) if exists else {}
    base = DatasetCard.load(api.hf_hub_download(repo_id, CARD, repo_type="dataset")).data if CARD in remote else None

    with tempfile.TemporaryDirectory(prefix="kelly-hf-push-") as tmp:
        cls, parts = _build(name, data_dir, configs, cache_dir, num_proc)
        for part in parts:
            _write_config(part, Path(tmp), max_shard_size)
        card = _card(cls, parts, base)
        if not exists:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            print(f"created {'private' if private else 'public'} dataset repository {repo_id}")
        pushed, unchanged = [], []
        for part in tqdm(parts, desc="push configs", unit=" config", disable=len(parts) < 2):
            if _same_files(Path(tmp), part, remote):
                print(f"{repo_id} [{part.name}]: {len(part.files)} shards unchanged, nothing to upload")
                unchanged.append(part.name)
                continue
            part.dataset.push_to_hub(repo_id, config_name=part.name, set_default=part.default or None,
                                     private=private, token=token, max_shard_size=max_shard_size)
            pushed.append(part.name)
        card_updated = bool(pushed) or remote.get(CARD) not in _hashes(card.encode())
        if card_updated:
            api.upload_file(path_or_fileobj=card.encode(), path_in_repo=CARD, repo_id=repo_id,
                            repo_type="dataset", commit_message="Update dataset card")
    print(f"{repo_id}: pushed {pushed or 'nothing'}"
          + (f", unchanged {unchanged}" if unchanged else "") + (", card updated" if card_updated else ""))
    return PushResult(repo_id, private, pushed, unchanged, card_updated)


def _remote_files(api: HfApi, repo_id: str) -> dict[str, str]:
    """Repository path -> hash: the LFS sha256 where the file is in LFS, else its git blob id."""
    return {f.path: (f.lfs.sha256 if f.lfs else f.blob_id)
            for f in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True) if hasattr(f, "blob_id")}


def _same_files(folder: Path, part: _Config, remote: dict[str, str]) -> bool:
    """Whether the repository's files of this config are exactly these shards (push_to_hub
    also deletes extra files in the config's folder, so an extra file is a difference)."""
    theirs = {p: h for p, h in remote.items() if p.startswith(f"{part.repo_dir}/")}
    if set(theirs) != set(part.files):
        return False
    return all(theirs[rel] in _hashes((folder / rel).read_bytes()) for rel in part.files)


def _hashes(data: bytes) -> set[str]:
    """The two ids the Hub gives a file: LFS sha256 and git blob sha1."""
    return {hashlib.sha256(data).hexdigest(), git_hash(data)}


def redact(text: str, token: str | None = None) -> str:
    """``text`` with the token (given, else the environment's or saved one) replaced."""
    token = token or get_token()
    return text.replace(token, "hf_***") if token else text
