"""Fine-tuning and unlearning stages: validation, stage folders and caching (torch-free).

The torch work happens in :mod:`leakstats.unlearn._engine`, imported inside the functions.
A stage folder holds the model (``save_pretrained``), its tokenizer and
``leakstats_train.json``: the stage's *identity* (stage, method, splits, training settings,
SHA-256 of the starting weights, digest of the facts and extra forget pairs), the losses per
epoch and per step, the answer NLL per split after training, and the seconds spent. A call
whose identity matches a finished folder returns it without training; one that does not
raises, unless ``overwrite=True``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import InputNotFoundError, LeakstatsError, OutputExistsError
from leakstats.unlearn._data import (
    METHODS,
    TrainConfig,
    _check_config,
    check_extra,
    digest,
    load_facts,
    split_rows,
)
from leakstats.unlearn._shared import TRAIN_JSON, _weights_sha256

__all__ = ["StageMismatchError", "answer_nll", "finetune", "read_stage", "unlearn"]

FORMAT = 1


class StageMismatchError(LeakstatsError):
    """A folder holds a trained model made with other settings than the ones asked for."""


# --------------------------------------------------------------------------- stage folders


def _base_identity(model) -> dict:
    """What identifies the starting model without loading it: its weights' SHA-256."""
    from leakstats.generate.models import resolve_model

    source, gguf, gguf_path, name = resolve_model(model)
    if gguf is not None:
        from leakstats.generate.models import file_sha256

        return {"sha256": file_sha256(gguf_path)}
    folder = Path(source).expanduser()
    if folder.is_dir():
        sha = _weights_sha256(folder)
        if sha is None:
            raise InputNotFoundError(
                f"argument 'model': '{folder}' holds no weights (*.safetensors or *.bin). Fix: "
                f"pass a folder written by save_pretrained (or by finetune/unlearn)."
            )
        return {"sha256": sha}
    return {"name": name, "sha256": None}  # a hub name: identified by its name only


def read_stage(folder: str | os.PathLike) -> dict | None:
    """The training JSON of a finished stage folder, or None."""
    path = Path(folder).expanduser() / TRAIN_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def _cached(out: Path, identity: dict, overwrite: bool) -> Path | None:
    """The finished folder if it matches ``identity``; None if the stage must (re)run.

    Raises when ``out`` holds another stage (unless ``overwrite``) or foreign files.
    """
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"argument 'out': '{out}' is a file. Fix: pass a folder.")
    if not out.exists() or not any(out.iterdir()):
        return None
    info = read_stage(out)
    if info is None:
        raise OutputExistsError(
            f"argument 'out': '{out}' is a non-empty folder without {TRAIN_JSON}: not a "
            f"leakstats model folder, and leakstats never writes into or deletes such a "
            f"folder (not even with overwrite=True). Fix: choose a new or empty folder."
        )
    if info.get("identity") == identity and info.get("status") == "complete":
        return out
    if overwrite:
        shutil.rmtree(out)
        return None
    diffs = _differences(info.get("identity", {}), identity)
    raise StageMismatchError(
        f"argument 'out': '{out}' holds a model trained with other settings ("
        + "; ".join(diffs[:8]) + ("; ..." if len(diffs) > 8 else "")
        + "). Fix: pass overwrite=True to retrain it, or choose another folder."
    )


def _facts_identity(rows: pd.DataFrame) -> dict:
    payload = rows[["prompt_id", "split", "question", "answer"]].astype(str).values.tolist()
    return {"n": len(rows), "sha256": digest(payload)}


def _check_method(method) -> str:
    if method not in METHODS:
        raise LeakstatsError(
            f"argument 'method': unknown unlearning method {method!r}. Fix: pass one of "
            f"{list(METHODS)}."
        )
    return method


def _check_out(out) -> Path:
    if not isinstance(out, str | os.PathLike):
        raise LeakstatsError(
            f"argument 'out': expected a folder path, got {type(out).__name__}. Fix: pass "
            f"e.g. out='runs/finetuned'."
        )
    return Path(out).expanduser()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- public stages



def finetune(
    model: str | os.PathLike | None,
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    out: str | os.PathLike,
    splits: Sequence[str] = ("forget", "retain"),
    config: TrainConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
    evaluate: bool = True,
) -> Path:
    """Supervised fine-tuning on (question -> answer), loss on answer tokens only.

    The question is wrapped exactly as the generation layer wraps prompts
    (:meth:`leakstats.generate.hf.HFBackend.encode_prompt`: the chat template, one user turn,
    the generation prompt); the target is the answer followed by the EOS token. The loss is
    the token-mean negative log-likelihood of the targets, minimised with AdamW.

    Parameters
    ----------
    model : path or None
        A transformers folder (or ``.gguf`` file / hub name, see
        :func:`leakstats.generate.models.load_hf`); ``None``: SmolLM2-135M-Instruct.
    facts : DataFrame, path or None
        A facts table (:func:`load_facts`); ``None``: the shipped fictitious facts.
    out : path
        Folder to write (model, tokenizer, ``leakstats_train.json``). If it already holds a
        finished stage with the same settings, starting weights and facts, it is returned
        without training.
    splits : sequence of str, default ("forget", "retain")
        Splits to train on; ``("retain",)`` gives the "retrain" reference model.
    config : TrainConfig, optional
    progress : bool, default True
        tqdm bar over the optimiser steps.
    overwrite : bool, default False
        Retrain into ``out`` when it holds a stage made with other settings (which otherwise
        raises). A folder that is not a leakstats model folder is never deleted.
    evaluate : bool, default True
        Record the answer NLL of every split after training in the JSON (``eval_after``).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    StageMismatchError
        ``out`` holds a model trained with other settings (the message lists them).
    OutputExistsError (a FileExistsError)
        ``out`` is a file or a non-empty folder that leakstats did not write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from leakstats.generate.testing import tiny_model
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> tiny = tiny_model(tmp / "tiny")
    >>> cfg = TrainConfig(steps=2, lr=1e-3, batch_size=2, max_length=512)
    >>> facts = load_facts().iloc[[0, 1, 40, 41]]
    >>> path = finetune(tiny, facts, out=tmp / "ft", config=cfg, progress=False)
    >>> read_stage(path)["steps"]
    2
    >>> finetune(tiny, facts, out=tmp / "ft", config=cfg) == path  # cached
    True
    """
    config = _check_config(config)
    out = _check_out(out)
    table = load_facts(facts)
    splits = [splits] if isinstance(splits, str) else list(splits)
    rows = split_rows(table, splits, argument="splits")
    identity = {
        "stage": "finetune", "method": "sft", "splits": splits,
        "config": config.identity(), "base": _base_identity(model),
        "facts": _facts_identity(rows), "forget_extra": None,
    }
    if (done := _cached(out, identity, overwrite)) is not None:
        return done
    from leakstats.unlearn import _engine

    _engine.train(
        model, table, method="sft", train_rows=rows, retain_rows=None, extra=[],
        config=config, out=out, progress=progress, evaluate=evaluate,
        desc=f"finetune {'+'.join(splits)}",
        payload={"format": FORMAT, "status": "complete", "identity": identity,
                 "model_in": str(model), "prompt_ids": rows["prompt_id"].astype(str).tolist(),
                 "created": _now()},
    )
    return out


def unlearn(
    model: str | os.PathLike,
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    out: str | os.PathLike,
    method: str = "npo",
    config: TrainConfig | None = None,
    forget_extra: Sequence[tuple[str, str]] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    evaluate: bool = True,
) -> Path:
    """Unlearn the forget split of ``facts`` from a fine-tuned model.

    Methods (answer tokens only; prompts formatted as in :func:`finetune`):

    - ``"grad_ascent"``: maximise the token-mean NLL of forget answers (minimise ``-NLL_f``);
    - ``"grad_diff"``: minimise ``-NLL_f + retain_weight * NLL_r``;
    - ``"npo"``: minimise ``(2/beta) mean_i softplus(beta (logp_i - logp_ref_i)) +
      retain_weight * NLL_r`` (that is ``-(2/beta) log sigmoid(-beta log(pi/pi_ref))``),
      where ``logp_i`` is the sum of answer-token log-probs of forget sequence i and the
      reference is the model before unlearning, frozen: the NPO+RT variant of Zhang et al.
      (2024) (``retain_weight=0`` gives plain NPO).

    Each step takes ``batch_size`` forget sequences (reshuffled every epoch) and, for
    grad_diff / npo, ``batch_size`` retain sequences (cycled). The reference model is frozen
    and has no dropout, so its log-probs are computed once before training: no second copy of
    the model is held in memory.

    Parameters
    ----------
    model : path
        The fine-tuned model folder (from :func:`finetune`).
    facts : DataFrame, path or None
        Facts table; its ``forget`` split is unlearned, ``retain`` kept (grad_diff, npo).
    out : path
        Output folder; caching and ``overwrite`` as in :func:`finetune`.
    method : {"grad_ascent", "grad_diff", "npo"}, default "npo"
    config : TrainConfig, optional
        ``epochs`` count passes over the forget set (extra pairs included).
    forget_extra : list of (question, text), optional
        Pairs added to the forget set (RULE adds the leaked samples here).
    progress, overwrite, evaluate : bool
        As in :func:`finetune`.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from leakstats.generate.testing import tiny_model
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> facts = load_facts().iloc[[0, 1, 40, 41]]
    >>> cfg = TrainConfig(steps=2, lr=1e-3, batch_size=2, max_length=512)
    >>> path = unlearn(tiny_model(tmp / "tiny"), facts, out=tmp / "npo", method="npo",
    ...                config=cfg, progress=False)
    >>> round(read_stage(path)["history"][0]["forget_loss"], 4)  # (2 / beta) log 2 at step 0
    13.8629
    """
    method = _check_method(method)
    config = _check_config(config)
    out = _check_out(out)
    table = load_facts(facts)
    extra = check_extra(forget_extra)
    forget = split_rows(table, ["forget"], argument="facts")
    needs_retain = method in ("grad_diff", "npo") and config.retain_weight > 0
    retain = split_rows(table, ["retain"], argument="facts") if needs_retain else None
    identity = {
        "stage": "unlearn", "method": method, "splits": ["forget", "retain"],
        "config": config.identity(), "base": _base_identity(model),
        "facts": _facts_identity(forget if retain is None else pd.concat([forget, retain])),
        "forget_extra": {"n": len(extra), "sha256": digest(extra)} if extra else None,
    }
    if (done := _cached(out, identity, overwrite)) is not None:
        return done
    from leakstats.unlearn import _engine

    _engine.train(
        model, table, method=method, train_rows=forget, retain_rows=retain, extra=extra,
        config=config, out=out, progress=progress, evaluate=evaluate,
        desc=f"unlearn {method}",
        payload={"format": FORMAT, "status": "complete", "identity": identity,
                 "model_in": str(model),
                 "prompt_ids": forget["prompt_id"].astype(str).tolist(),
                 "retain_prompt_ids": [] if retain is None
                 else retain["prompt_id"].astype(str).tolist(),
                 "forget_extra": [list(p) for p in extra], "created": _now()},
    )
    return out


def answer_nll(
    model: str | os.PathLike | None,
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    split: str | Sequence[str] = ("forget", "retain"),
    max_length: int = 256,
    batch_size: int = 8,
) -> pd.DataFrame:
    """Teacher-forced answer NLL of each fact (prompt formatted as in :func:`finetune`).

    Returns
    -------
    pandas.DataFrame
        ``prompt_id``, ``split``, ``logprob`` (sum over the answer and EOS tokens),
        ``n_tokens``, ``nll`` (token mean).

    Examples
    --------
    >>> import tempfile
    >>> from leakstats.generate.testing import tiny_model
    >>> table = answer_nll(tiny_model(tempfile.mkdtemp()), load_facts().head(2),
    ...                    split="forget", max_length=512)
    >>> list(table.columns)
    ['prompt_id', 'split', 'logprob', 'n_tokens', 'nll']
    """
    config = TrainConfig(max_length=max_length, batch_size=batch_size)  # validates both
    rows = split_rows(load_facts(facts), split, argument="split")
    from leakstats.unlearn import _engine

    sums, counts = _engine.score_facts(model, rows, max_length=config.max_length,
                                       batch_size=config.batch_size)
    return pd.DataFrame({
        "prompt_id": rows["prompt_id"].to_numpy(), "split": rows["split"].to_numpy(),
        "logprob": sums, "n_tokens": counts.astype(np.int64), "nll": -sums / counts,
    })
