"""Hub export and push (issue 7).

The export folder is tested for real: plain ``datasets`` (in a subprocess that
cannot import kelly_hf) reads it back to the same rows and features, and its
card YAML matches its files. The push decisions are tested at the
huggingface_hub boundary: ``HfApi`` is an in-memory fake hub and
``DatasetDict.push_to_hub`` a recorder, except in one test that runs the real
``push_to_hub`` over a fake ``HfApi`` to prove the export is byte for byte what
it uploads.
"""

import hashlib
import logging
import os
import pickle
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from types import SimpleNamespace

import datasets
import fsspec
import pyarrow.parquet as pq
import pytest
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils.sha import git_hash

import kelly_hf
from kelly_hf import cli, hub, loading, synthetic
from kelly_hf.builder import DataDirError

BUILDERS = loading.available()
SMALL = {"harmony": 60, "lakh": 40, "maestro": 6, "groove": 24, "deam": 12}
TOKEN = "hf_FAKEfakeFAKEfake0123456789tokenVALUE"
SHARD = re.compile(r"^(?P<dir>[^/]+)/(?P<split>\w+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")


@pytest.fixture(scope="module", params=BUILDERS)
def exported(request, tmp_path_factory):
    """Every config of the builder the synthetic corpus has rows for, one export call each
    (so a multi-config builder also exercises accumulation into an earlier export)."""
    name = request.param
    root = tmp_path_factory.mktemp(f"export-{name}")
    data_dir = synthetic.write(name, root / "data", n=SMALL[name])
    cls, out, cache = loading.builder_class(name), root / "out", str(root / "cache")
    default = hub._default_config(cls)
    for config in [c.name for c in cls.BUILDER_CONFIGS] or [default]:
        try:
            hub.export(name, data_dir, out, configs=[config], cache_dir=cache)
        except (hub.HubError, DataDirError):  # e.g. a config reading a layout the synthetic corpus lacks
            if config == default:
                raise
    return SimpleNamespace(name=name, data_dir=data_dir, out=out, cache=cache, root=root)


# -- the export folder, for real -----------------------------------------------------

PLAIN_READ = textwrap.dedent("""
    import importlib.abc, pickle, sys

    class NoKelly(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("kelly_hf", "kelly_hf_local_builders"):
                raise ModuleNotFoundError(name + " is blocked: plain datasets must not need it")

    sys.meta_path.insert(0, NoKelly())
    import datasets

    folder, config, dump = sys.argv[1:]
    ds = datasets.load_dataset(folder, config)
    st = datasets.load_dataset(folder, config, streaming=True)
    assert not [m for m in sys.modules if m.startswith("kelly_hf")]
    with open(dump, "wb") as f:
        pickle.dump({s: (d.features, d.to_list(), st[s].features, list(st[s])) for s, d in ds.items()}, f)
    # The result is on disk; skip interpreter teardown, where a native reader thread of the
    # streamed Parquet files has been seen to abort ("terminate called without an active exception").
    import os
    os._exit(0)
""")


def _plain_read(folder, config, tmp_path) -> dict:
    """Read the folder with plain datasets in a clean interpreter (clean env, not the repo's cwd)."""
    work = tmp_path / "plain"
    work.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "HF_HOME": str(work / "hf"),
           "HF_DATASETS_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1", "PYTHONNOUSERSITE": "1"}
    dump = work / f"{config}.pkl"
    run = subprocess.run([sys.executable, "-c", PLAIN_READ, str(folder), config, str(dump)],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return pickle.loads(dump.read_bytes())


def _configs(folder) -> tuple[MetadataConfigs, DatasetInfosDict]:
    data = DatasetCard.load(Path(folder) / "README.md").data
    return MetadataConfigs.from_dataset_card_data(data), DatasetInfosDict.from_dataset_card_data(data)


def test_plain_datasets_reads_the_export_like_kelly_hf(exported, tmp_path):
    name, out = exported.name, exported.out
    configs, _ = _configs(out)
    for config in configs:
        plain = _plain_read(out, config, tmp_path)
        ref = kelly_hf.load_dataset(name, config, data_dir=exported.data_dir, cache_dir=exported.cache)
        ref_stream = kelly_hf.load_dataset(name, config, data_dir=exported.data_dir, streaming=True)
        assert list(plain) == [split for split, d in ref.items() if len(d)]  # empty splits are left out
        for split, (features, rows, stream_features, stream_rows) in plain.items():
            assert features == ref[split].features == stream_features, split  # ClassLabel names too
            assert rows == ref[split].to_list() == stream_rows, split
            assert stream_rows == list(ref_stream[split]), split  # kelly_hf's streaming: the same typed rows


def test_card_yaml_matches_the_files(exported):
    name, out = exported.name, exported.out
    configs, infos = _configs(out)
    card = DatasetCard.load(out / "README.md")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "README.md" in files
    shards = [f for f in files if f != "README.md"]
    assert shards and all(SHARD.match(f) for f in shards), shards
    assert set(configs) == set(infos)
    listed = set()
    for config, meta in configs.items():
        builder = loading.load_builder(name, config, data_dir=exported.data_dir)
        info = infos[config]
        assert info.features == builder.info.features
        assert [d["split"] for d in meta["data_files"]] == list(info.splits)
        for entry in meta["data_files"]:
            matched = [f for f in shards if Path(f).match(entry["path"])]
            assert matched, entry
            listed.update(matched)
            rows = sum(pq.read_metadata(out / f).num_rows for f in matched)
            assert rows == info.splits[entry["split"]].num_examples
            assert {SHARD.match(f)["n"] for f in matched} == {f"{len(matched):05d}"}
        assert info.download_size == sum((out / f).stat().st_size for f in shards if f.startswith(
            meta["data_files"][0]["path"].split("/")[0] + "/"))
    assert listed == set(shards)  # no stray file: the folder is exactly what is uploaded
    assert card.data.license and card.data.task_categories and "kelly" in card.data.tags
    assert card.data.size_categories
    for column in infos[next(iter(infos))].features:
        assert f"`{column}`" in card.text, column
    if builder.info.citation:
        assert "Citation" in card.text


def test_export_is_deterministic_and_reexport_in_place_is_stable(exported, tmp_path):
    configs = sorted(_configs(exported.out)[0])
    again = hub.export(exported.name, exported.data_dir, tmp_path / "again", configs, cache_dir=exported.cache)
    before = {p.relative_to(exported.out): p.read_bytes() for p in exported.out.rglob("*") if p.is_file()}
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()} == before
    hub.export(exported.name, exported.data_dir, again, configs[:1], cache_dir=exported.cache)  # into an earlier export
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()} == before
    text = (again / "README.md").read_text(encoding="utf-8")
    assert str(DatasetCard(text)) == text  # a fixed point: re-reading the card on the Hub changes nothing


@pytest.mark.skipif("harmony" not in BUILDERS, reason="needs the harmony builder")
def test_shard_size_is_bounded(tmp_path):
    data_dir = synthetic.write("harmony", tmp_path / "data", n=60)
    out = hub.export("harmony", data_dir, tmp_path / "out", cache_dir=str(tmp_path / "cache"), max_shard_size="10KB")
    _, infos = _configs(out)
    train = sorted(p.name for p in (out / "data").glob("train-*.parquet"))
    expected = infos["default"].splits["train"].num_bytes // 10_000 + 1
    assert len(train) == expected > 1
    assert train[-1] == f"train-{expected - 1:05d}-of-{expected:05d}.parquet"
    plain = datasets.load_dataset(str(out), "default", split="train")
    assert len(plain) == infos["default"].splits["train"].num_examples


@pytest.mark.skipif("harmony" not in BUILDERS, reason="needs the harmony builder")
def test_empty_splits_are_left_out(tmp_path):
    data_dir = synthetic.write("harmony", tmp_path / "data", n=4)
    ref = kelly_hf.load_dataset("harmony", data_dir=data_dir, cache_dir=str(tmp_path / "cache"))
    assert any(len(d) == 0 for d in ref.values())  # the premise: 4 items leave a split empty
    out = hub.export("harmony", data_dir, tmp_path / "out", cache_dir=str(tmp_path / "cache"))
    plain = datasets.load_dataset(str(out), "default")
    assert {s: len(d) for s, d in plain.items()} == {s: len(d) for s, d in ref.items() if len(d)}


def test_export_refuses_a_folder_that_is_not_an_export(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(hub.HubError, match="not empty"):
        hub.export("harmony", tmp_path, tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


@pytest.fixture
def two_config_builder(tmp_path):
    """A builder with two configs (like Lakh's lmd_full / lmd_matched) and no card of its own."""
    folder = tmp_path / "builders" / "harmony_two"
    folder.mkdir(parents=True)
    (folder / "harmony_two.py").write_text(textwrap.dedent("""
        from kelly_hf.builder import KellyConfig
        from kelly_hf.builders.harmony.harmony import Harmony


        class HarmonyTwo(Harmony):
            \"\"\"Harmony with two configs, for the hub tests.\"\"\"

            BUILDER_CONFIGS = [KellyConfig(name="full"), KellyConfig(name="small")]
            DEFAULT_CONFIG_NAME = "full"
    """))
    return str(folder)


@pytest.mark.skipif("harmony" not in BUILDERS, reason="needs the harmony builder")
def test_several_configs_and_fallback_card(two_config_builder, tmp_path):
    data_dir = synthetic.write("harmony", tmp_path / "data", n=30)
    cache = str(tmp_path / "cache")
    out = hub.export(two_config_builder, data_dir, tmp_path / "out", configs=["small"], cache_dir=cache)
    out = hub.export(two_config_builder, data_dir, out, configs=["full"], cache_dir=cache)  # accumulates
    configs, infos = _configs(out)
    assert sorted(configs) == sorted(infos) == ["full", "small"]
    assert configs["full"].get("default") is True and "default" not in configs["small"]
    assert {p.parent.name for p in out.rglob("*.parquet")} == {"full", "small"}
    plain = _plain_read(out, "small", tmp_path)
    assert sum(len(rows) for _, rows, _, _ in plain.values()) == sum(s.num_examples for s in infos["small"].splits.values())
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "other"  # free-text license -> "other", text in the prose
    for section in ("## Columns", "## Emotion convention", "## Splits", "## Citation"):
        assert section in card.text
    assert "Harmony with two configs" in card.text


@pytest.mark.skipif("harmony" not in BUILDERS, reason="needs the harmony builder")
def test_fallback_card_without_a_builder_card(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "_builder_card", lambda cls: None)
    data_dir = synthetic.write("harmony", tmp_path / "data", n=20)
    text = (hub.export("harmony", data_dir, tmp_path / "out", cache_dir=str(tmp_path / "cache")) / "README.md").read_text()
    card = DatasetCard(text)
    assert card.text.startswith("# Kelly harmony")
    for section in ("## How the vectors are computed", "## Columns", "## Emotion convention", "## License",
                    "## Citation", "| `context` | list[128] of float32 |", "```text"):
        assert section in card.text
    assert ":data:" not in card.text and "``" not in card.text.replace("```", "")


# -- export == what the real push_to_hub uploads ---------------------------------------------


@pytest.mark.skipif("harmony" not in BUILDERS, reason="needs the harmony builder")
def test_export_is_byte_identical_to_push_to_hub_upload(monkeypatch, tmp_path):
    uploaded = {}

    class RecordingApi:  # what datasets' push_to_hub calls on HfApi
        def __init__(self, **kwargs):
            pass

        def repo_info(self, repo_id, **kwargs):
            return SimpleNamespace(id=repo_id, sha="0" * 40, private=True)

        def preupload_lfs_files(self, repo_id, additions, **kwargs):
            for op in additions:  # the temporary shard is deleted right after
                uploaded[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()

        def create_commit(self, repo_id, operations, **kwargs):
            for op in operations:
                if isinstance(op.path_or_fileobj, bytes):
                    uploaded[op.path_in_repo] = op.path_or_fileobj

    monkeypatch.setattr(datasets.dataset_dict, "HfApi", RecordingApi)
    monkeypatch.setattr(datasets.arrow_dataset, "HfApi", RecordingApi)
    memory = fsspec.filesystem("memory", skip_instance_cache=True)
    monkeypatch.setattr(datasets.dataset_dict, "HfFileSystem", lambda **kwargs: memory)

    data_dir = synthetic.write("harmony", tmp_path / "data", n=60)
    cache = str(tmp_path / "cache")
    out = hub.export("harmony", data_dir, tmp_path / "out", cache_dir=cache, max_shard_size="20KB")
    kelly_hf.load_dataset("harmony", data_dir=data_dir, cache_dir=cache).push_to_hub(
        "me/kelly-harmony", max_shard_size="20KB", token=TOKEN)

    shards = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.parquet")}
    assert {k: v for k, v in uploaded.items() if k.endswith(".parquet")} == shards
    theirs = DatasetCard(uploaded["README.md"].decode()).data
    ours = DatasetCard.load(out / "README.md").data
    assert theirs["configs"] == ours["configs"]
    assert theirs["dataset_info"] == ours["dataset_info"]


# -- push decisions at the huggingface_hub boundary ---------------------------------------


class FakeHub:
    """An in-memory Hub behind the HfApi methods kelly_hf.hub calls, plus a push_to_hub recorder."""

    def __init__(self, tmp_path):
        self.repos = {}         # repo_id -> {"private": bool, "files": {path: bytes}}
        self.tmp = tmp_path
        self.calls = []         # (method, kwargs)
        self.tokens = set()

    def add(self, repo_id, private, files=None):
        self.repos[repo_id] = {"private": private, "files": dict(files or {})}

    def files(self, repo_id):
        return self.repos[repo_id]["files"]

    def called(self, method):
        return [kwargs for m, kwargs in self.calls if m == method]

    # HfApi
    def __call__(self, token=None, **kwargs):
        self.tokens.add(token)
        return self

    def repo_info(self, repo_id, repo_type=None, **kwargs):
        if repo_id not in self.repos:
            raise RepositoryNotFoundError(f"404: {repo_id} not found", response=SimpleNamespace(headers={}, request=None))
        return SimpleNamespace(id=repo_id, private=self.repos[repo_id]["private"], sha="1" * 40)

    def create_repo(self, repo_id, repo_type=None, private=None, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", dict(repo_id=repo_id, private=private)))
        self.repos.setdefault(repo_id, {"private": bool(private), "files": {}})

    def list_repo_tree(self, repo_id, repo_type=None, recursive=False, **kwargs):
        for path, data in self.files(repo_id).items():
            lfs = {"size": len(data), "oid": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            yield RepoFile(path=path, size=len(data), oid=git_hash(data), type="file",
                           lfs=lfs if path.endswith(".parquet") else None)

    def hf_hub_download(self, repo_id, filename, repo_type=None, **kwargs):
        path = self.tmp / "downloads" / repo_id / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files(repo_id)[filename])
        return str(path)

    def upload_file(self, path_or_fileobj, path_in_repo, repo_id, **kwargs):
        self.calls.append(("upload_file", dict(path_in_repo=path_in_repo, repo_id=repo_id)))
        self.files(repo_id)[path_in_repo] = path_or_fileobj

    # DatasetDict.push_to_hub: writes the shards as push_to_hub does (proved byte-identical above)
    def push_to_hub(self, dataset_dict, repo_id, config_name="default", set_default=None, private=None,
                    token=None, max_shard_size=None, **kwargs):
        self.calls.append(("push_to_hub", dict(repo_id=repo_id, config_name=config_name, set_default=set_default,
                                               private=private, token=token)))
        repo_dir = "data" if config_name == "default" else config_name
        part = hub._Config(config_name, repo_dir, bool(set_default), dataset_dict)
        folder = self.tmp / "pushed" / f"{len(self.calls)}"
        hub._write_config(part, folder, max_shard_size)
        files = self.files(repo_id)
        for path in [p for p in files if p.startswith(repo_dir + "/")]:
            del files[path]
        files.update({rel: (folder / rel).read_bytes() for rel in part.files})


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    fake = FakeHub(tmp_path)
    monkeypatch.setattr(hub, "HfApi", fake)
    monkeypatch.setattr(datasets.DatasetDict, "push_to_hub", lambda self, *a, **k: fake.push_to_hub(self, *a, **k))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return fake


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if "harmony" not in BUILDERS:
        pytest.skip("needs the harmony builder")
    root = tmp_path_factory.mktemp("push")
    return SimpleNamespace(data_dir=synthetic.write("harmony", root / "data", n=60), cache=str(root / "cache"),
                           root=root)


def _push(corpus, repo_id="me/kelly-harmony", **kwargs):
    return hub.push("harmony", corpus.data_dir, repo_id, cache_dir=corpus.cache, **kwargs)


def test_push_creates_a_private_repo_by_default(fake_hub, corpus):
    result = _push(corpus)
    assert fake_hub.called("create_repo") == [dict(repo_id="me/kelly-harmony", private=True)]
    (call,) = fake_hub.called("push_to_hub")
    assert call == dict(repo_id="me/kelly-harmony", config_name="default", set_default=None, private=True, token=TOKEN)
    assert fake_hub.tokens == {TOKEN}
    assert result.private and result.pushed == ["default"] and result.card_updated
    files = fake_hub.files("me/kelly-harmony")
    card = DatasetCard(files["README.md"].decode())
    assert sorted(files) == sorted(["README.md"] + [f"data/{s}-00000-of-00001.parquet"
                                                    for s in ("train", "validation", "test")])
    assert MetadataConfigs.from_dataset_card_data(card.data)["default"]["data_files"][0]["path"] == "data/train-*"


def test_push_public_flag_creates_a_public_repo(fake_hub, corpus):
    assert not _push(corpus, public=True).private
    assert fake_hub.called("create_repo") == [dict(repo_id="me/kelly-harmony", private=False)]
    assert fake_hub.called("push_to_hub")[0]["private"] is False


def test_push_refuses_an_existing_public_repo(fake_hub, corpus, monkeypatch):
    fake_hub.add("me/public", private=False)
    monkeypatch.setattr(loading, "load_builder", lambda *a, **k: pytest.fail("built before refusing"))
    with pytest.raises(hub.HubError, match="public.*--public"):
        _push(corpus, "me/public")
    assert fake_hub.calls == [] and fake_hub.files("me/public") == {}


def test_push_public_flag_allows_an_existing_public_repo(fake_hub, corpus):
    fake_hub.add("me/public", private=False)
    result = _push(corpus, "me/public", public=True)
    assert result.pushed == ["default"] and not result.private
    assert fake_hub.called("create_repo") == []
    assert "README.md" in fake_hub.files("me/public")


def test_push_into_an_existing_private_repo(fake_hub, corpus):
    fake_hub.add("me/private", private=True)
    assert _push(corpus, "me/private").pushed == ["default"]
    assert fake_hub.called("create_repo") == [] and fake_hub.called("push_to_hub")[0]["private"] is True


def test_repush_of_an_unchanged_corpus_uploads_nothing(fake_hub, corpus, tmp_path):
    _push(corpus)
    before = dict(fake_hub.files("me/kelly-harmony"))
    fake_hub.calls.clear()
    again = _push(corpus)
    assert again.pushed == [] and again.unchanged == ["default"] and not again.card_updated
    assert fake_hub.calls == []  # no push_to_hub, no upload, no commit
    assert fake_hub.files("me/kelly-harmony") == before
    changed = synthetic.write("harmony", tmp_path / "more", n=70)
    result = hub.push("harmony", changed, "me/kelly-harmony", cache_dir=str(tmp_path / "cache"))
    assert result.pushed == ["default"] and len(fake_hub.called("push_to_hub")) == 1


def test_repush_with_only_the_card_changed_uploads_only_the_card(fake_hub, corpus):
    _push(corpus)
    files = fake_hub.files("me/kelly-harmony")
    files["README.md"] = files["README.md"].replace(b"# Kelly", b"# Edited on the Hub")
    fake_hub.calls.clear()
    result = _push(corpus)
    assert result.pushed == [] and result.card_updated
    assert [m for m, _ in fake_hub.calls] == ["upload_file"]
    assert b"# Edited on the Hub" not in files["README.md"]


def test_push_several_configs_accumulate_in_one_repo(fake_hub, corpus, two_config_builder):
    first = hub.push(two_config_builder, corpus.data_dir, "me/two", configs=["small"], cache_dir=corpus.cache)
    second = hub.push(two_config_builder, corpus.data_dir, "me/two", configs=["full"], cache_dir=corpus.cache)
    assert first.pushed == ["small"] and second.pushed == ["full"]
    calls = fake_hub.called("push_to_hub")
    assert [(c["config_name"], c["set_default"]) for c in calls] == [("small", None), ("full", True)]
    files = fake_hub.files("me/two")
    assert {p.split("/")[0] for p in files if p.endswith(".parquet")} == {"small", "full"}
    configs, infos = (f(DatasetCard(files["README.md"].decode()).data)
                      for f in (MetadataConfigs.from_dataset_card_data, DatasetInfosDict.from_dataset_card_data))
    assert sorted(configs) == sorted(infos) == ["full", "small"] and configs["full"]["default"] is True
    fake_hub.calls.clear()
    both = hub.push(two_config_builder, corpus.data_dir, "me/two", configs=["full", "small"], cache_dir=corpus.cache)
    assert both.unchanged == ["full", "small"] and fake_hub.calls == []


# -- the token never shows ----------------------------------------------------------------


def _no_token_anywhere(capsys, caplog):
    out, err = capsys.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for where, text in (("stdout", out), ("stderr", err), ("log", logs)):
        assert TOKEN not in text, where
    return out, err


def test_cli_push_never_prints_the_token(fake_hub, corpus, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    assert cli.main(["push", "harmony", corpus.data_dir, "--repo-id", "me/cli", "--cache-dir", corpus.cache]) == 0
    out, _ = _no_token_anywhere(capsys, caplog)
    assert "me/cli" in out and fake_hub.called("push_to_hub")[0]["token"] == TOKEN


def test_cli_push_error_path_redacts_the_token(fake_hub, corpus, capsys, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)

    def unauthorized(*args, **kwargs):
        raise HfHubHTTPError(f"401 Unauthorized: invalid token {TOKEN}", response=SimpleNamespace(headers={}, request=None))

    monkeypatch.setattr(fake_hub, "repo_info", unauthorized)
    assert cli.main(["push", "harmony", corpus.data_dir, "--repo-id", "me/cli", "--cache-dir", corpus.cache]) != 0
    _, err = _no_token_anywhere(capsys, caplog)
    assert "401 Unauthorized" in err and "hf_***" in err


def test_api_push_error_inside_push_to_hub_is_redacted(fake_hub, corpus, monkeypatch):
    def failing(*args, **kwargs):
        try:
            raise OSError(f"upload failed with Authorization: Bearer {TOKEN}")
        except OSError as exc:
            raise RuntimeError("push failed") from exc  # the token only in the cause

    monkeypatch.setattr(fake_hub, "push_to_hub", failing)
    with pytest.raises(hub.HubError) as info:
        _push(corpus)
    assert TOKEN not in "".join(traceback.format_exception(info.value))


def test_push_without_a_token_says_how_to_log_in(corpus, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(hub.HubError, match="hf auth login"):
        _push(corpus)


def test_cli_export_and_refused_push_exit_codes(fake_hub, corpus, tmp_path, capsys, two_config_builder):
    out = tmp_path / "out"
    argv = ["export", two_config_builder, corpus.data_dir, str(out), "--config", "small", "--config", "full",
            "--cache-dir", corpus.cache]
    assert cli.main(argv) == 0
    assert (out / "README.md").is_file() and sorted(MetadataConfigs.from_dataset_card_data(
        DatasetCard.load(out / "README.md").data)) == ["full", "small"]
    assert list((out / "small").glob("train-*.parquet")) and list((out / "full").glob("train-*.parquet"))
    fake_hub.add("me/public", private=False)
    assert cli.main(["push", "harmony", corpus.data_dir, "--repo-id", "me/public", "--cache-dir", corpus.cache]) == 2
    assert "--public" in capsys.readouterr().err
