"""Crash safety: SIGKILL a generation process at random moments, resume, lose nothing.

The generator runs in child processes forked from a forkserver that has torch and
transformers imported already (so that each start costs milliseconds, not seconds), on a tiny
random model built here. Each child is killed with SIGKILL at a random moment after it has
made some progress (possibly in the middle of sampling, judging or writing a shard); the next
child resumes the store. The final store must hold exactly n samples per prompt and arm, no
duplicates, and be equal to an uninterrupted run with the same seed.
"""

import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from leakstats.generate import read_store, store_manifest  # noqa: E402
from leakstats.generate.prompts import fictitious_facts  # noqa: E402
from leakstats.generate.testing import run_generation, tiny_model  # noqa: E402

N = 8
KILLS = 5
#: What a child needs, imported once in the forkserver (transformers imports lazily).
PRELOAD = [
    "torch", "torch._dynamo", "transformers", "transformers.modeling_utils",
    "transformers.generation.utils", "transformers.models.llama.modeling_llama",
    "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
    "transformers.tokenization_utils_tokenizers", "tokenizers", "safetensors", "accelerate",
    "pyarrow.parquet", "rouge_score.rouge_scorer", "leakstats.generate.prompts",
    "leakstats.generate.judges",
    "leakstats.generate.testing", "leakstats.generate.hf", "leakstats.generate.runner",
]


def shard_count(store):
    return len(list((store / "records").glob("arm-*/part-*.parquet")))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_at_random_points_then_resume_equals_uninterrupted_run(tmp_path):
    model = tiny_model(tmp_path / "model", seed=1)
    prompts = fictitious_facts().head(16)  # 16 prompts x 2 arms = 32 groups
    kwargs = dict(prompts=prompts, model=str(model), n=N, temperature=[0.8, 1.0],
                  top_p=[0.95], max_new_tokens=8, judge=["rouge:0.4", "contains"], seed=7,
                  batch_size=8, progress=False, shard_samples=1)

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    store = tmp_path / "killed"
    rng = np.random.default_rng(20261128)
    kills = 0
    deadline = time.monotonic() + 120
    while kills < KILLS:
        assert time.monotonic() < deadline, "the children never made progress"
        before = shard_count(store) if store.exists() else 0
        child = ctx.Process(target=run_generation, args=({**kwargs, "out": store,
                                                          "resume": True},))
        child.start()
        # let it make some progress, then kill it at a random moment
        while child.is_alive() and (not store.exists() or shard_count(store) <= before):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        if not child.is_alive():
            break  # finished before the kill: the workload was too small
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        kills += 1
    assert kills == KILLS
    assert store_manifest(store)["status"] != "complete"

    final = ctx.Process(target=run_generation, args=({**kwargs, "out": store, "resume": True},))
    final.start()
    final.join(120)
    assert final.exitcode == 0

    reference_store = tmp_path / "reference"
    run_generation({**kwargs, "out": reference_store})

    killed = read_store(store)
    reference = read_store(reference_store)
    per_group = killed.groupby(["temperature", "judge", "prompt_id"]).size()
    assert len(per_group) == 2 * 2 * len(prompts) and (per_group == N).all()
    assert not killed.duplicated(["temperature", "judge", "prompt_id", "sample_id"]).any()
    pd.testing.assert_frame_equal(killed, reference)
    runs = store_manifest(store)["runs"]
    assert len(runs) == KILLS + 1 and runs[-1]["status"] == "complete"
    assert not list((store / "records").glob("arm-*/.*"))  # temporary files were not kept
