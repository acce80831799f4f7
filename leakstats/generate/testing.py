"""A tiny random causal LM with a byte-level tokenizer, for tests, examples and smoke runs.

It loads in well under a second and samples thousands of tokens per second on a CPU, so that
tests of the generation layer (determinism, log-probs, crash safety) need no real model. Its
outputs are gibberish; its EOS token is made likely enough (about one step in ten) that samples
end by EOS as well as by length.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["FakeBackend", "run_generation", "tiny_model"]

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _byte_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in sorted(alphabet):
        vocab[char] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    hidden_size: int = 16,
    layers: int = 2,
    eos_logit: float = 3.0,
) -> Path:
    """Build and save a tiny random Llama model and its byte-level tokenizer.

    Parameters
    ----------
    path : str or os.PathLike
        Folder to write (created if missing); load it with
        :func:`leakstats.generate.models.load_hf` or ``from_pretrained``.
    seed : int, default 0
        Seed of the random weights (the same seed gives the same model).
    hidden_size, layers : int
        Size of the model.
    eos_logit : float, default 3.0
        Typical logit of the EOS token (the others are near 0): about 7% EOS per step.

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile
    >>> folder = tiny_model(tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.glob("*.json"))[:2]
    ['config.json', 'generation_config.json']
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _byte_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.2,
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        # the final hidden states are RMS-normalised: a lm_head row along the all-ones
        # direction of the norm's weight gives EOS a logit of about eos_logit at every step
        probe = torch.randint(3, config.vocab_size, (8, 32), generator=generator)
        hidden = model.model(input_ids=probe).last_hidden_state.reshape(-1, hidden_size)
        direction = hidden.mean(0)
        model.lm_head.weight[eos] = eos_logit * direction / direction.dot(direction)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=eos, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "leakstats_tiny.json").write_text(json.dumps({"seed": seed}) + "\n")
    return path


class FakeBackend:
    """A torch-free stand-in for a sampling backend (tests of the store and the runner).

    Samples are words drawn with numpy from the job's seed; with probability
    ``leak_probability`` a sample is the prompt's answer (looked up in ``answers``, a mapping
    from prompt text to reference). Log-probs are those of its own toy distribution.

    Examples
    --------
    >>> from leakstats.generate._config import DecodingConfig
    >>> from leakstats.generate.backend import SampleJob
    >>> fake = FakeBackend({"Q?": "yes"}, leak_probability=1.0)
    >>> job = SampleJob(tuple(fake.encode_prompt("Q?")), DecodingConfig(), 2, 1, 8)
    >>> fake.sample([job])[0].text
    ['yes', 'yes']
    """

    name = "fake"
    WORDS = ("alpha", "beta", "gamma", "delta", "born", "in", "the", "city", "of", "year")

    def __init__(self, answers: dict | None = None, *, leak_probability: float = 0.2,
                 model: str = "fake-model") -> None:
        self.answers = dict(answers or {})
        self.leak_probability = leak_probability
        self.model = model
        self.calls = 0

    def encode_prompt(self, prompt: str) -> list[int]:
        return list(prompt.encode("utf-8"))

    def encode_text(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def sample(self, jobs, *, logprobs: bool = True, raw_logprobs: bool = True):
        import numpy as np

        from leakstats.generate.backend import SampleBatch

        out = []
        for job in jobs:
            self.calls += 1
            rng = np.random.default_rng(job.seed)
            prompt = bytes(job.prompt_ids).decode("utf-8")
            batch = SampleBatch(token_ids=[], text=[], finish_reason=[], seed=[job.seed] * job.n,
                                token_logprobs=[] if logprobs else None,
                                token_logprobs_raw=[] if raw_logprobs else None)
            for _ in range(job.n):
                length = int(rng.integers(1, job.max_new_tokens + 1))
                if rng.random() < self.leak_probability and prompt in self.answers:
                    text = self.answers[prompt]
                else:
                    text = " ".join(rng.choice(self.WORDS, size=length))
                ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)
                batch.token_ids.append(ids)
                batch.text.append(text)
                batch.finish_reason.append("eos" if length < job.max_new_tokens else "length")
                lp = np.full(len(ids), -np.log(len(self.WORDS)) / job.config.temperature,
                             dtype=np.float32)
                if logprobs:
                    batch.token_logprobs.append(lp)
                if raw_logprobs:
                    batch.token_logprobs_raw.append(lp * job.config.temperature)
            out.append(batch)
        return out

    def score(self, prompt_ids, continuations, configs):
        import numpy as np

        raw = [np.full(len(c), -3.0, dtype=np.float32) for c in continuations]
        return [[r / c.temperature for r in raw] for c in configs], raw

    def provenance(self) -> dict:
        return {"model": self.model, "model_sha256": None, "backend": self.name}


def run_generation(kwargs: dict, threads: int = 1) -> None:
    """Run :func:`~leakstats.generate.generate_samples` with ``kwargs`` (a child-process
    target for crash tests; torch uses ``threads`` threads)."""
    import torch

    from leakstats.generate.runner import generate_samples

    torch.set_num_threads(threads)
    generate_samples(**kwargs)
