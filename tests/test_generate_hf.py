"""The transformers backend on a tiny random model: seeds, log-probs, EOS, stop strings."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from leakstats.generate import DecodingConfig, SampleJob  # noqa: E402
from leakstats.generate.hf import HFBackend, warpers  # noqa: E402
from leakstats.generate.testing import tiny_model  # noqa: E402

CONFIGS = [
    DecodingConfig(),
    DecodingConfig(temperature=0.7),
    DecodingConfig(temperature=1.3, top_k=20),
    DecodingConfig(temperature=0.9, top_p=0.8),
    DecodingConfig(top_k=30, top_p=0.9, min_p=0.05),
]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and never oversubscribes
    yield HFBackend.from_pretrained(tiny_model(tmp_path_factory.mktemp("tiny")))
    torch.set_num_threads(threads)


def job(backend, config=None, n=6, seed=1, tokens=12, stop=(), prompt="Who is Ilsa Varenko?"):
    return SampleJob(tuple(backend.encode_prompt(prompt)), config or DecodingConfig(), n, seed,
                     tokens, tuple(stop))


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_same_seed_same_samples_other_seed_other_samples(backend):
    first = backend.sample([job(backend, seed=7)])[0]
    again = backend.sample([job(backend, seed=7)])[0]
    other = backend.sample([job(backend, seed=8)])[0]
    assert same(first.token_ids, again.token_ids) and first.text == again.text
    assert same(first.token_logprobs, again.token_logprobs)
    assert not same(first.token_ids, other.token_ids)
    assert first.seed == [7] * 6


def test_sampling_leaves_the_global_rng_alone(backend):
    state = torch.get_rng_state()
    backend.sample([job(backend)])
    assert torch.equal(state, torch.get_rng_state())


def test_recording_log_probs_does_not_change_the_samples(backend):
    with_lp = backend.sample([job(backend, CONFIGS[3])])[0]
    plain = backend.sample([job(backend, CONFIGS[3])], logprobs=False, raw_logprobs=False)[0]
    assert same(with_lp.token_ids, plain.token_ids)
    assert plain.token_logprobs is None and plain.token_logprobs_raw is None


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_log_probs_match_a_teacher_forced_pass(backend, config):
    batch = backend.sample([job(backend, config, n=5, tokens=16)])[0]
    processed, raw = backend.score(backend.encode_prompt("Who is Ilsa Varenko?"),
                                   batch.token_ids, [config])
    for i in range(len(batch)):
        np.testing.assert_allclose(batch.token_logprobs_raw[i], raw[i], atol=1e-4, rtol=0)
        np.testing.assert_allclose(batch.token_logprobs[i], processed[0][i], atol=1e-4, rtol=0)
        # the sum is the log-probability of the sample under the sampling distribution
        assert abs(batch.token_logprobs[i].sum() - processed[0][i].sum()) < 1e-4 * 16
        assert np.isfinite(batch.token_logprobs[i]).all()  # a sampled token is never masked
        assert (batch.token_logprobs[i] <= 1e-6).all()
    if config.is_plain():
        for i in range(len(batch)):
            np.testing.assert_array_equal(batch.token_logprobs[i], batch.token_logprobs_raw[i])


def test_eos_ends_a_sample_and_later_positions_are_dropped(backend):
    batch = backend.sample([job(backend, DecodingConfig(temperature=0.8), n=16, tokens=24)])[0]
    reasons = set(batch.finish_reason)
    assert reasons == {"eos", "length"}
    for ids, lp, raw, reason in zip(batch.token_ids, batch.token_logprobs,
                                    batch.token_logprobs_raw, batch.finish_reason, strict=True):
        assert len(ids) == len(lp) == len(raw)
        eos_positions = np.flatnonzero(np.isin(ids, backend.eos_ids))
        if reason == "eos":
            assert eos_positions.tolist() == [len(ids) - 1]
        else:
            assert len(ids) == 24 and eos_positions.size == 0


def test_stop_strings_cut_the_text(backend):
    plain = backend.sample([job(backend, n=8, tokens=20)])[0]
    stop = next(ch for ch in "aeiouns" if any(ch in t for t in plain.text))
    batch = backend.sample([job(backend, n=8, tokens=20, stop=[stop])])[0]
    assert "stop" in batch.finish_reason
    for text, ids, reason in zip(batch.text, batch.token_ids, batch.finish_reason, strict=True):
        assert stop not in text
        full = backend.tokenizer.decode(ids.tolist(), skip_special_tokens=True)
        if reason == "stop":
            assert stop in full and stop not in backend.tokenizer.decode(ids[:-1].tolist())


def test_the_models_own_generation_defaults_do_not_leak_in(backend):
    config = backend.model.generation_config
    reference = backend.sample([job(backend)])[0]
    config.temperature, config.top_k, config.repetition_penalty = 0.2, 3, 1.5
    try:
        again = backend.sample([job(backend)])[0]
    finally:
        config.temperature, config.top_k, config.repetition_penalty = None, None, None
    assert same(reference.token_ids, again.token_ids)


def test_chat_template_and_plain_prompts(backend):
    chat = backend.encode_prompt("Hi")
    assert backend.tokenizer.decode(chat).endswith("<|im_start|>assistant\n")
    plain = HFBackend(backend.model, backend.tokenizer, chat_template=False)
    assert plain.tokenizer.decode(plain.encode_prompt("Hi")) == "Hi"
    system = HFBackend(backend.model, backend.tokenizer, system_prompt="Be brief.")
    assert "Be brief." in system.tokenizer.decode(system.encode_prompt("Hi"))
    assert backend.provenance()["chat_template"] is True


def test_backend_bad_inputs(backend):
    with pytest.raises(ValueError, match="argument 'system_prompt': a system prompt needs a chat"):
        HFBackend(backend.model, backend.tokenizer, chat_template=False, system_prompt="x")
    template = backend.tokenizer.chat_template
    backend.tokenizer.chat_template = None
    try:
        with pytest.raises(ValueError, match="argument 'chat_template': the tokenizer has no"):
            HFBackend(backend.model, backend.tokenizer, chat_template=True)
    finally:
        backend.tokenizer.chat_template = template


def test_warpers_follow_the_transformers_order():
    names = [type(w).__name__ for w in warpers(CONFIGS[4])]
    assert names == ["TopKLogitsWarper", "TopPLogitsWarper", "MinPLogitsWarper"]
    assert warpers(DecodingConfig()) == []


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    temperature=st.sampled_from([0.5, 1.0, 1.5]),
    top_p=st.sampled_from([0.5, 0.95, 1.0]),
    top_k=st.sampled_from([0, 5, 50]),
    seed=st.integers(0, 2**32),
)
def test_processed_log_probs_are_valid_log_probabilities(backend, temperature, top_p, top_k,
                                                         seed):
    config = DecodingConfig(temperature=temperature, top_p=top_p, top_k=top_k)
    batch = backend.sample([job(backend, config, n=3, seed=seed, tokens=6)])[0]
    for lp, raw in zip(batch.token_logprobs, batch.token_logprobs_raw, strict=True):
        assert np.isfinite(lp).all() and (lp <= 1e-6).all()
        if temperature == 1.0:  # truncation renormalises over fewer tokens: never less likely
            assert (lp >= raw - 1e-5).all()


def test_teacher_forced_reference_log_prob_bounds_the_verbatim_probability(backend):
    prompt = backend.encode_prompt("Who is Ilsa Varenko?")
    answer = backend.encode_text("Ilsa")
    processed, raw = backend.score(prompt, [answer, []], [DecodingConfig(), CONFIGS[2]])
    assert len(raw[0]) == len(answer) and raw[1].size == 0
    np.testing.assert_allclose(processed[0][0], raw[0], atol=1e-6)
    assert np.exp(processed[1][0].sum()) <= 1.0
