"""The vLLM backend: its pure parts here; the engine itself only where vLLM and a GPU are."""

import importlib.util
from types import SimpleNamespace as NS

import numpy as np
import pytest

from leakstats.generate import DecodingConfig, SampleJob
from leakstats.generate.vllm import (
    convert_output,
    raw_from_prompt_logprobs,
    ray_rows,
    sample_seed,
    sampling_params_kwargs,
)

JOB = SampleJob((1, 2, 3), DecodingConfig(temperature=0.7, top_p=0.9, top_k=40, min_p=0.0),
                n=3, seed=123, max_new_tokens=32, stop=("\n\n",))


def completion(ids, lps, reason="stop", stop=None, text="t"):
    return NS(token_ids=ids, text=text, finish_reason=reason, stop_reason=stop,
              logprobs=[{t: NS(logprob=lp), 99: NS(logprob=-0.01)} for t, lp in zip(ids, lps,
                                                                                     strict=True)])


def test_sampling_params_translate_the_decoding_config():
    kw = sampling_params_kwargs(JOB)
    assert kw == {"n": 3, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.0,
                  "max_tokens": 32, "seed": 123, "stop": ["\n\n"], "repetition_penalty": 1.0,
                  "presence_penalty": 0.0, "frequency_penalty": 0.0,
                  "skip_special_tokens": True, "logprobs": 0}
    off = sampling_params_kwargs(SampleJob((1,), DecodingConfig(), 1, 0, 4), logprobs=False)
    assert off["top_k"] == -1 and off["stop"] is None and "logprobs" not in off


def test_ray_rows_replicate_each_sample_with_its_own_seed():
    rows = ray_rows([JOB, JOB])
    assert len(rows) == 6
    assert all(r["sampling_params"]["n"] == 1 for r in rows)
    first = [r["seed"] for r in rows if r["job_index"] == 0]
    assert len(set(first)) == 3 and first == [sample_seed(123, i) for i in range(3)]
    assert [r["sample_index"] for r in rows[:3]] == [0, 1, 2]
    assert rows[0]["prompt_token_ids"] == [1, 2, 3]
    assert all(0 <= r["seed"] < 2**63 for r in rows)


def test_convert_output_maps_finish_reasons_and_log_probs():
    out = NS(outputs=[completion([5, 2], [-0.5, -1.0]),
                      completion([5, 6, 7], [-0.1, -0.2, -0.3], stop="\n\n"),
                      completion([8, 8, 8, 8], [-1.0] * 4, reason="length")])
    batch = convert_output(out, JOB)
    assert batch.finish_reason == ["eos", "stop", "length"]
    assert [len(t) for t in batch.token_ids] == [2, 3, 4]
    np.testing.assert_allclose(batch.token_logprobs[1], [-0.1, -0.2, -0.3])
    assert batch.seed == [123] * 3 and batch.token_logprobs_raw is None
    plain = convert_output(out, JOB, logprobs=False)
    assert plain.token_logprobs is None


@pytest.mark.parametrize(
    ("outputs", "match"),
    [
        ([completion([1], [-1.0])], "returned 1 samples for a request of n=3"),
        ([completion([1], [-1.0], reason="abort")] * 3, "finish_reason='abort'"),
        ([NS(token_ids=[1], text="", finish_reason="length", stop_reason=None,
             logprobs=None)] * 3, "logprobs_mode='processed_logprobs'"),
    ],
)
def test_convert_output_bad_engine_outputs(outputs, match):
    with pytest.raises(ValueError, match=match):
        convert_output(NS(outputs=outputs), JOB)


def test_raw_log_probs_from_a_teacher_forced_request():
    out = NS(prompt_token_ids=[1, 2, 3, 5, 2],
             prompt_logprobs=[None, {2: NS(logprob=-3.0)}, {3: NS(logprob=-2.0)},
                              {5: NS(logprob=-0.5), 9: NS(logprob=-0.1)}, {2: NS(logprob=-1.0)}])
    np.testing.assert_allclose(raw_from_prompt_logprobs(out, 3), [-0.5, -1.0])


HAVE_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(not HAVE_VLLM, reason="vLLM is not installed (GPU machines only; "
                                          "benchmarks/vllm_check.py runs the full check)")
def test_vllm_engine_end_to_end(tmp_path):  # pragma: no cover - GPU only
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    from leakstats.generate.vllm import VLLMBackend

    backend = VLLMBackend.from_pretrained(None, gpu_memory_utilization=0.3)
    prompt = tuple(backend.encode_prompt("Who is Ilsa Varenko?"))
    job = SampleJob(prompt, DecodingConfig(temperature=0.8), 4, 1, 16)
    first, again = backend.sample([job, job])
    assert first.text == again.text
    assert all(np.isfinite(lp).all() for lp in first.token_logprobs)
