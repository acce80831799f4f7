"""The store keeps its promise: what the manifest lists is what is read, a damaged store is
recovered exactly by resume or refused clearly, and leakstats deletes only what it wrote."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from leakstats import DataValidationError, LeakstatsError, LeakstatsWarning
from leakstats.core.errors import OutputExistsError
from leakstats.generate import generate_samples, read_store, store_manifest
from leakstats.generate.prompts import fictitious_facts
from leakstats.generate.testing import FakeBackend


@pytest.fixture
def prompts():
    return fictitious_facts().head(6)


def run(prompts, out, **kw):
    backend = FakeBackend(
        dict(zip(prompts["prompt"], prompts["reference"], strict=True)), leak_probability=0.3
    )
    options = dict(
        n=4, temperature=[0.7, 1.0], max_new_tokens=6, progress=False, seed=3, shard_samples=8
    )
    options.update(kw)
    return generate_samples(prompts, out=out, backend=backend, **options)


def shards(out):
    return sorted(out.glob("records/arm-*/part-*.parquet"))


@pytest.fixture
def store(prompts, tmp_path):
    out = tmp_path / "store"
    run(prompts, out)
    return out


def test_the_manifest_lists_every_shard(store):
    registry = store_manifest(store)["shards"]
    assert sorted(registry) == [p.relative_to(store).as_posix() for p in shards(store)]
    assert sum(e["rows"] for e in registry.values()) == len(read_store(store))


def test_a_deleted_shard_is_refused_then_regenerated_exactly(prompts, store):
    whole = read_store(store)
    victim = shards(store)[1]
    victim.unlink()
    with pytest.raises(DataValidationError, match=r"part-.*is missing \(\d+ rows listed.*--resume"):
        read_store(store)
    with pytest.warns(LeakstatsWarning, match="is missing"):
        run(prompts, store, resume=True)
    pd.testing.assert_frame_equal(read_store(store), whole)


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_a_damaged_shard_is_refused_then_regenerated_exactly(prompts, store, damage):
    whole = read_store(store)
    victim = shards(store)[0]
    data = victim.read_bytes()
    victim.write_bytes(
        data[: len(data) // 2]
        if damage == "truncate"
        else data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    )
    with pytest.raises(DataValidationError, match="does not hold what its manifest lists"):
        read_store(store)
    with pytest.warns(LeakstatsWarning, match="generated again"):
        run(prompts, store, resume=True)
    pd.testing.assert_frame_equal(read_store(store), whole)


def test_an_unlisted_shard_is_refused_on_read(store):
    extra = shards(store)[0].with_name("part-999999-abcd1234.parquet")
    extra.write_bytes(shards(store)[0].read_bytes())
    with pytest.raises(DataValidationError, match="is not listed in the manifest"):
        read_store(store)


def test_a_failed_resume_leaves_the_store_as_it_was(prompts, store):
    junk = shards(store)[0].with_name("part-999999-abcd1234.parquet")
    junk.write_bytes(b"not parquet")
    before = (store / "manifest.json").read_text()
    with pytest.raises(LeakstatsError, match="not listed in the manifest and cannot be read"):
        run(prompts, store, resume=True)
    assert (store / "manifest.json").read_text() == before
    assert not (store / ".lock").exists()


def test_a_damaged_manifest_or_lock_is_named(prompts, store):
    (store / ".lock").write_text("{garbage")
    with pytest.raises(OutputExistsError, match=r"lock file '.*\.lock' is damaged"):
        run(prompts, store, resume=True)
    (store / ".lock").unlink()
    (store / "manifest.json").write_text("{not json")
    with pytest.raises(LeakstatsError, match=r"manifest.json' is not valid JSON"):
        read_store(store)


def test_overwrite_refuses_a_foreign_folder_with_a_manifest(prompts, tmp_path):
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.py").write_text("print('mine')")
    (out / "README.md").write_text("mine")
    (out / "manifest.json").write_text(json.dumps({"name": "another tool"}))
    with pytest.raises(OutputExistsError, match="not a leakstats store"):
        run(prompts, out, overwrite=True)
    assert (out / "src" / "main.py").read_text() == "print('mine')"
    assert (out / "README.md").exists() and (out / "manifest.json").exists()


def test_overwrite_keeps_user_files_and_refuses(prompts, store):
    (store / "NOTES.md").write_text("my notes")
    (store / "my_plots").mkdir()
    (store / "my_plots" / "a.png").write_bytes(b"png")
    with pytest.raises(
        OutputExistsError,
        match=r"files leakstats did not write \(NOTES.md, "
        r"my_plots/\)",
    ):
        run(prompts, store, overwrite=True)
    assert (store / "NOTES.md").read_text() == "my notes"
    assert (store / "my_plots" / "a.png").exists()
    assert len(read_store(store)) > 0  # the store itself is untouched too


def test_overwrite_of_a_clean_store_starts_again(prompts, store):
    run(prompts, store, overwrite=True, n=2)
    manifest = store_manifest(store)
    assert manifest["config"]["n"] == 2 and len(manifest["runs"]) == 1
    assert len(read_store(store)) == 6 * 2 * 2 * len(manifest["config"]["judge_names"])


def test_a_store_from_before_the_registry_reads_and_gains_it_on_resume(prompts, store):
    whole = read_store(store)
    manifest = json.loads((store / "manifest.json").read_text())
    del manifest["shards"]
    manifest["format_version"] = 1
    (store / "manifest.json").write_text(json.dumps(manifest))
    pd.testing.assert_frame_equal(read_store(store), whole)
    run(prompts, store, resume=True)
    again = store_manifest(store)
    assert again["format_version"] == 2 and len(again["shards"]) == len(shards(store))
    pd.testing.assert_frame_equal(read_store(store), whole)


def test_a_store_without_its_manifest_is_refused(prompts, store):
    (store / "manifest.json").unlink()
    with pytest.raises(OutputExistsError, match="not a leakstats store"):
        run(prompts, store, resume=True)
    assert len(shards(store)) > 0  # nothing deleted


def test_every_reader_of_a_store_checks_its_shards(store):
    import leakstats

    whole = leakstats.read_records(store)
    assert len(whole) == len(leakstats.read_records(store / "records")) == len(read_store(store))
    assert leakstats.leak_at_k(store).to_frame()["n_samples"].sum() == len(whole)
    shards(store)[0].unlink()
    for source in (store, store / "records"):
        with pytest.raises(DataValidationError, match="does not hold what its manifest lists"):
            leakstats.leak_at_k(source)


def test_the_cli_reads_a_store_folder(prompts, store, capsys):
    from leakstats.cli import main

    assert main(["estimate", str(store), "--k", "1", "--format", "csv"]) == 0
    assert "estimate" in capsys.readouterr().out
    shards(store)[0].unlink()
    assert main(["estimate", str(store / "records"), "--k", "1"]) == 2
    assert "does not hold what its manifest lists" in capsys.readouterr().err


def test_a_tampered_manifest_cannot_make_leakstats_delete_outside_the_store(prompts, store,
                                                                              tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["shards"]["../precious.txt"] = {"rows": 1, "bytes": 1, "sha256": "0"}
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataValidationError, match="not a shard of this store"):
        read_store(store)
    with pytest.warns(LeakstatsWarning, match="not a shard of this store"):
        run(prompts, store, resume=True)
    with pytest.raises(OutputExistsError):  # precious.txt is outside: overwrite sees no claim
        (store / "x").write_text("user file")
        run(prompts, store, overwrite=True)
    assert precious.read_text() == "mine"
