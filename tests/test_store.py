"""The records store and the runner, with a torch-free fake backend (fast)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats.generate import ConfigMismatchError, generate_samples, read_store, store_manifest
from leakstats.generate.judges import relabel
from leakstats.generate.prompts import fictitious_facts
from leakstats.generate.testing import FakeBackend
from leakstats.records.api import ARM_COLUMNS, as_counts


@pytest.fixture
def prompts():
    return fictitious_facts().head(6)


def fake(prompts, p=0.3):
    return FakeBackend(dict(zip(prompts["prompt"], prompts["reference"], strict=True)),
                       leak_probability=p)


def run(prompts, out, backend=None, **kw):
    options = dict(n=8, temperature=[0.7, 1.0], max_new_tokens=6, progress=False, seed=3)
    options.update(kw)
    return generate_samples(prompts, out=out, backend=backend or fake(prompts), **options)


def test_store_reads_back_as_records_with_proper_dtypes(prompts, tmp_path):
    res = run(prompts, tmp_path / "s")
    assert res.status == "complete" and res.samples_written == 6 * 2 * 8
    assert res.groups_written == 12 and res.groups_skipped == 0
    records = read_store(tmp_path / "s")
    assert records.dtypes["temperature"] == np.float64
    assert records.dtypes["top_k"] == np.int64
    assert records.dtypes["leaked"] == np.dtype(bool)
    # the records folder is a plain partitioned Parquet dataset: no key=value partitions,
    # so the arm columns come back with their dtypes through the analysis layer too
    direct = leakstats.read_records(tmp_path / "s" / "records")
    assert direct.dtypes["temperature"] == np.float64
    counts, arms = as_counts(records)
    # a store records every arm column but task and split (a run has one of each)
    assert arms == [c for c in ARM_COLUMNS if c not in ("task", "split")]
    assert (counts["n_samples"] == 8).all() and len(counts) == 12
    assert not records.duplicated(["temperature", "prompt_id", "sample_id", "judge"]).any()
    lengths = records["token_ids"].map(len)
    assert (lengths == records["n_tokens"]).all()
    assert (records["token_logprobs"].map(len) == lengths).all()
    np.testing.assert_allclose(records["logprob"], records["token_logprobs"].map(np.sum),
                               rtol=1e-6)
    table = res.to_frame()
    assert table["n_samples"].tolist() == [48, 48] and "GenerationResult" in repr(res)
    est = leakstats.leak_at_k(records, k=[1, 4])
    assert len(est.to_frame()) == 4


def test_manifest_has_config_and_provenance(prompts, tmp_path):
    run(prompts, tmp_path / "s")
    manifest = store_manifest(tmp_path / "s")
    config = manifest["config"]
    assert config["n"] == 8 and config["seed"] == 3 and config["backend"] == "fake"
    assert [a["temperature"] for a in config["arms"]] == [0.7, 1.0]
    assert config["prompts"]["n"] == 6 and len(config["prompts"]["sha256"]) == 64
    run_info = manifest["runs"][-1]
    assert run_info["status"] == "complete" and run_info["ended"] >= run_info["started"]
    assert {"numpy", "pandas", "pyarrow", "leakstats"} <= set(run_info["provenance"]["versions"])
    assert manifest["status"] == "complete"
    assert not (tmp_path / "s" / ".lock").exists()
    prompts_back = read_store(tmp_path / "s", table="prompts")
    assert prompts_back["prompt_id"].tolist() == prompts["prompt_id"].tolist()


def test_resume_after_interruption_equals_uninterrupted_run(prompts, tmp_path):
    reference = run(prompts, tmp_path / "ref", shard_samples=1).records()

    def stop_after(groups):
        if groups >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(prompts, tmp_path / "s", shard_samples=1, on_group=stop_after)
    assert store_manifest(tmp_path / "s")["status"] == "incomplete"
    partial = read_store(tmp_path / "s")
    assert partial.groupby(["temperature", "prompt_id"]).size().eq(8).all()
    backend = fake(prompts)
    res = run(prompts, tmp_path / "s", backend=backend, resume=True, shard_samples=1)
    assert res.groups_skipped == 5 and res.groups_written == 7
    assert backend.calls == 7  # the completed groups were not generated again
    pd.testing.assert_frame_equal(read_store(tmp_path / "s"), reference)
    manifest = store_manifest(tmp_path / "s")
    assert [r["status"] for r in manifest["runs"]] == ["interrupted", "complete"]
    assert manifest["runs"][1]["resumed"] is True


def test_an_error_is_recorded_as_failed_not_interrupted(prompts, tmp_path):
    def broken(groups):
        if groups >= 5:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        run(prompts, tmp_path / "s", shard_samples=1, on_group=broken)
    manifest = store_manifest(tmp_path / "s")
    assert manifest["status"] == "incomplete"
    assert [r["status"] for r in manifest["runs"]] == ["failed"]
    assert manifest["runs"][0]["samples_written"] == 5 * 8
    res = run(prompts, tmp_path / "s", resume=True)
    assert res.status == "complete" and res.groups_skipped == 5 and res.groups_written == 7


class ShortBackend(FakeBackend):
    """Returns one sample too few for the jobs of one prompt."""

    def __init__(self, answers, short_prompt):
        super().__init__(answers, leak_probability=0.3)
        self.short_prompt = short_prompt

    def sample(self, jobs, *, logprobs=True, raw_logprobs=True):
        batches = super().sample(jobs, logprobs=logprobs, raw_logprobs=raw_logprobs)
        for job, batch in zip(jobs, batches, strict=True):
            if bytes(job.prompt_ids).decode("utf-8") == self.short_prompt:
                for name in ("token_ids", "text", "finish_reason", "seed", "token_logprobs",
                             "token_logprobs_raw"):
                    if getattr(batch, name) is not None:
                        setattr(batch, name, getattr(batch, name)[:-1])
        return batches


def test_a_backend_short_of_samples_never_gives_a_complete_run(prompts, tmp_path):
    reference = run(prompts, tmp_path / "ref", shard_samples=1).records()
    answers = dict(zip(prompts["prompt"], prompts["reference"], strict=True))
    short = ShortBackend(answers, short_prompt=prompts["prompt"].iloc[3])
    with pytest.raises(ValueError, match="job 0 asked for 8 samples; its batch holds \\[7\\]"):
        run(prompts, tmp_path / "s", backend=short, shard_samples=1)
    manifest = store_manifest(tmp_path / "s")
    assert manifest["status"] == "incomplete"
    assert [r["status"] for r in manifest["runs"]] == ["failed"]
    stored = read_store(tmp_path / "s")
    assert stored.groupby(["temperature", "prompt_id"]).size().eq(8).all()
    assert prompts["prompt_id"].iloc[3] not in set(stored["prompt_id"])
    res = run(prompts, tmp_path / "s", resume=True, shard_samples=1)
    assert res.status == "complete" and res.groups_skipped + res.groups_written == 12
    pd.testing.assert_frame_equal(read_store(tmp_path / "s"), reference)


def test_a_flush_stopped_part_way_writes_no_group_twice(prompts, tmp_path, monkeypatch):
    from leakstats.generate.store import Store

    reference = run(prompts, tmp_path / "ref").records()
    write = Store.write_shard
    calls = []

    def stopped_on_second_shard(self, arm, frame):
        calls.append(arm)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write(self, arm, frame)

    monkeypatch.setattr(Store, "write_shard", stopped_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        run(prompts, tmp_path / "s")  # one flush at the end: one shard per arm
    monkeypatch.setattr(Store, "write_shard", write)
    assert len(calls) == 3 and calls[0] != calls[1] == calls[2]
    assert store_manifest(tmp_path / "s")["runs"][0]["status"] == "interrupted"
    res = run(prompts, tmp_path / "s", resume=True)
    assert res.groups_skipped == 12 and res.groups_written == 0
    pd.testing.assert_frame_equal(read_store(tmp_path / "s"), reference)


def test_batch_size_splits_into_seeded_blocks(prompts, tmp_path):
    res = run(prompts, tmp_path / "s", batch_size=3)
    records = res.records()
    seeds = records[(records["prompt_id"] == prompts["prompt_id"][0])
                    & (records["temperature"] == 1.0)]["seed"]
    assert seeds.nunique() == 3  # blocks of 3, 3, 2 samples, one seed each
    assert (res.records().groupby(["temperature", "prompt_id"]).size() == 8).all()


def test_existing_store_needs_resume_or_overwrite(prompts, tmp_path):
    run(prompts, tmp_path / "s")
    with pytest.raises(FileExistsError, match="already holds a leakstats store.*--resume"):
        run(prompts, tmp_path / "s")
    res = run(prompts, tmp_path / "s", resume=True)
    assert res.groups_skipped == 12 and res.samples_written == 0
    res = run(prompts, tmp_path / "s", overwrite=True, seed=4)
    assert res.samples_written == 96
    assert store_manifest(tmp_path / "s")["config"]["seed"] == 4


def test_resume_refuses_a_different_config_and_names_the_fields(prompts, tmp_path):
    run(prompts, tmp_path / "s")
    with pytest.raises(ConfigMismatchError, match=r"n: store has 8, this run has 16"):
        run(prompts, tmp_path / "s", resume=True, n=16)
    with pytest.raises(ConfigMismatchError, match=r"seed: store has 3, this run has 5"):
        run(prompts, tmp_path / "s", resume=True, seed=5)
    with pytest.raises(ConfigMismatchError, match="prompts"):
        run(prompts.head(3), tmp_path / "s", resume=True)


def test_never_writes_into_a_foreign_folder_or_a_file(prompts, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a leakstats store"):
        run(prompts, folder, overwrite=True)
    assert (folder / "thesis.tex").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        run(prompts, tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(prompts, empty).status == "complete"


def test_a_live_writer_holds_the_lock(prompts, tmp_path):
    run(prompts, tmp_path / "s", temperature=1.0)
    lock = tmp_path / "s" / ".lock"
    import socket

    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    with pytest.raises(FileExistsError, match="being written by another run"):
        run(prompts, tmp_path / "s", temperature=1.0, resume=True)
    # a dead writer's lock (e.g. after SIGKILL) is taken over
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    assert run(prompts, tmp_path / "s", temperature=1.0, resume=True).status == "complete"


def test_several_judges_give_one_row_per_sample_and_judge(prompts, tmp_path):
    res = run(prompts, tmp_path / "s", judge=["rouge:0.4", "contains"], temperature=1.0)
    records = res.records()
    assert sorted(records["judge"].unique()) == ["contains>=1", "rougeL_recall>=0.4"]
    assert len(records) == 6 * 8 * 2
    counts, arms = as_counts(records)
    assert "judge" in arms and len(counts) == 12


def test_relabel_needs_no_regeneration(prompts, tmp_path):
    backend = fake(prompts, p=0.5)
    run(prompts, tmp_path / "s", backend=backend, temperature=1.0)
    calls = backend.calls
    records = read_store(tmp_path / "s")
    stricter = relabel(records, 0.9)
    assert backend.calls == calls
    assert (stricter["leaked"] == (records["score"] >= 0.9)).all()
    assert stricter["judge"].unique().tolist() == ["rougeL_recall>=0.9"]
    assert records["leaked"].sum() > 0  # leak_probability 0.5: the answer is reproduced


def test_reference_table_one_row_per_prompt_and_arm(prompts, tmp_path):
    run(prompts, tmp_path / "s", judge=["rouge", "exact"])
    ref = read_store(tmp_path / "s", table="reference")
    assert len(ref) == 12
    assert {"reference_logprob", "reference_logprob_raw", "reference_n_tokens"} <= set(ref)
    raw = ref["reference_logprob_raw"].to_numpy()
    np.testing.assert_allclose(raw, -3.0 * ref["reference_n_tokens"].to_numpy())


def test_read_store_columns_and_errors(prompts, tmp_path):
    run(prompts, tmp_path / "s", temperature=1.0)
    slim = read_store(tmp_path / "s", columns=["score", "text"])
    assert "token_ids" not in slim and {"score", "text", "leaked"} <= set(slim)
    with pytest.raises(ValueError, match="unknown column.*'nope'"):
        read_store(tmp_path / "s", columns=["nope"])
    with pytest.raises(ValueError, match="argument 'table'.*'records'"):
        read_store(tmp_path / "s", table="nope")
    with pytest.raises(FileNotFoundError, match="not a leakstats store"):
        read_store(tmp_path)


def test_shards_are_written_as_the_run_goes(prompts, tmp_path):
    seen = []
    run(prompts, tmp_path / "s", shard_samples=16, on_group=seen.append)
    shards = list((tmp_path / "s" / "records").glob("arm-*/part-*.parquet"))
    assert len(shards) >= 6 and seen[-1] == 12 and len(seen) >= 6
    assert not list((tmp_path / "s" / "records").glob("arm-*/.*"))  # no temporary files left


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n: 0 is not an integer >= 1"),
        ({"batch_size": -1}, "batch_size: -1 is not an integer >= 1"),
        ({"max_new_tokens": 1.5}, "max_new_tokens: 1.5 is not an integer"),
        ({"stop": [""]}, "argument 'stop'"),
        ({"judge": "bleu"}, "unknown judge 'bleu'"),
        ({"judge": []}, "no judge given"),
        ({"judge": ["rouge", "rouge:0.4"]}, "same name"),
        ({"seed": -1}, "seed: -1 is not an integer >= 0"),
        ({"temperature": 0}, "temperature: 0 is not a number > 0"),
        ({"top_p": 1.5}, r"top_p: 1.5 is not a number in \(0, 1\]"),
        ({"top_k": -2}, "top_k: -2 is not an integer >= 0"),
        ({"min_p": 1.0}, r"min_p: 1.0 is not a number in \[0, 1\)"),
        ({"temperature": []}, "argument 'temperature': the list is empty"),
        ({"shard_samples": 0}, "shard_samples: 0 is not an integer >= 1"),
        ({"flush_seconds": 0}, "flush_seconds: 0 is not a number > 0"),
    ],
)
def test_bad_arguments(prompts, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(prompts, tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()


def test_bad_backend_and_prompts(prompts, tmp_path):
    with pytest.raises(ValueError, match="argument 'backend'.*'hf'"):
        generate_samples(prompts, out=tmp_path / "s", backend="tgi")
    bad = prompts.assign(prompt_id="same")
    with pytest.raises(ValueError, match="'prompt_id' repeats"):
        run(bad, tmp_path / "s")


def test_store_runner_and_judges_work_without_torch(tmp_path):
    import subprocess
    import sys

    code = f"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):  # as if torch and transformers were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {{name!r}}")

sys.meta_path.insert(0, Block())
import leakstats
from leakstats.generate.judges import make_judge
from leakstats.generate.testing import FakeBackend
facts = leakstats.load_prompts("fictitious").head(2)
fake = FakeBackend(dict(zip(facts["prompt"], facts["reference"])), leak_probability=0.5)
res = leakstats.generate_samples(facts, out={str(tmp_path / 's')!r}, backend=fake, n=4,
                                 judge=["rouge", "contains", "exact"],
                                 progress=False)
records = leakstats.read_store(res.path)
assert "torch" not in sys.modules and "transformers" not in sys.modules
print(len(records), make_judge("rouge:0.2").name)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["24", "rougeL_recall>=0.2"]
