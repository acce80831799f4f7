"""The torch side of :mod:`leakstats.unlearn`: losses, the training loop, saving a stage.

Imported only inside :func:`~leakstats.unlearn.finetune`, :func:`~leakstats.unlearn.unlearn`
and friends, so that ``import leakstats.unlearn`` does not import torch. Examples are encoded
and scored by :mod:`leakstats.unlearn._scoring`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from leakstats.core.files import atomic_folder, write_json
from leakstats.generate.models import torch_threads
from leakstats.unlearn._data import TrainConfig
from leakstats.unlearn._scoring import (
    _Encoder,
    _score_all,
    _Scorer,
    _token_nll,
)
from leakstats.unlearn._shared import TRAIN_JSON, _cycle, _schedule, _weights_sha256

__all__ = ["npo_loss", "score_facts", "train"]

# --------------------------------------------------------------------------- losses


def npo_loss(logp: torch.Tensor, logp_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """Negative Preference Optimization loss (Zhang et al. 2024), mean over sequences.

    ``-(2 / beta) log sigmoid(-beta (logp - logp_ref)) = (2 / beta) softplus(beta (logp -
    logp_ref))``, where ``logp`` is a sequence's sum of answer-token log-probs under the model
    being trained and ``logp_ref`` under the frozen reference. Minimising it lowers ``logp``.
    It equals ``(2 / beta) log 2`` when the model is the reference, and its gradient there is
    that of ``mean(logp)``: gradient ascent on the sequences' negative log-likelihood. Each
    sequence's weight ``2 sigmoid(beta (logp - logp_ref))`` then falls towards 0 as ``logp``
    drops below ``logp_ref``: the bound that keeps NPO from diverging the way gradient ascent
    does.

    Examples
    --------
    >>> import torch
    >>> float(npo_loss(torch.tensor([-3.0]), torch.tensor([-3.0]), 0.1))  # (2/0.1) log 2
    13.862943649291992
    """
    return (2.0 / beta) * F.softplus(beta * (logp - logp_ref)).mean()


def _progress(enabled: bool, total: int, desc: str):
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True,
                        file=sys.stderr)
        except ModuleNotFoundError:
            pass

    class _NoBar:
        def update(self, n: int = 1) -> None:
            pass

        def set_postfix_str(self, text: str, refresh: bool = True) -> None:
            pass

        def close(self) -> None:
            pass

    return _NoBar()


def _versions() -> dict:
    import transformers

    import leakstats

    return {"leakstats": leakstats.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "python": sys.version.split()[0]}


def _save(model, tokenizer, out: Path, payload: dict, seconds: dict) -> None:
    """Write model, tokenizer and JSON into a temporary sibling, then rename it to ``out``
    (so ``out`` never holds a half-written model)."""

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_folder(out) as tmp:  # ``out`` is absent or empty (checked by the caller)
        saving = time.perf_counter()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        payload["weights_sha256"] = _weights_sha256(tmp)
        start = seconds.pop("start")
        seconds["save"] = time.perf_counter() - saving
        seconds["total"] = time.perf_counter() - start
        payload["seconds"] = seconds
        write_json(tmp / TRAIN_JSON, payload)


def _load(model):
    from leakstats.generate.models import load_hf

    lm, tokenizer, info = load_hf(model)
    lm.train()
    for p in lm.parameters():
        p.requires_grad_(True)
    return lm, tokenizer, info


def _run(
    model,
    steps: list[Callable[[], dict]],
    config: TrainConfig,
    *,
    progress: bool,
    desc: str,
    per_epoch: int,
) -> list[dict]:
    """Run one optimiser step per entry of ``steps`` (each returns its loss terms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warm = config.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
    bar = _progress(progress, len(steps), desc)
    history = []
    try:
        for i, step in enumerate(steps):
            optimizer.zero_grad(set_to_none=True)
            terms = step()
            loss = terms.pop("loss")
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"{desc}: the loss became {value} at step {i}. Fix: lower lr (now "
                    f"{config.lr:g}) or the number of steps."
                )
            loss.backward()
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            row = {"step": i, "epoch": i // per_epoch, "loss": value,
                   **{k: float(v) for k, v in terms.items()}}
            history.append(row)
            bar.update(1)
            bar.set_postfix_str(f"loss {row['loss']:.3f}", refresh=False)
    finally:
        bar.close()
    model.eval()
    return history


def _per_epoch(history: list[dict]) -> list[dict]:
    if not history:
        return []
    frame = pd.DataFrame(history).drop(columns="step")
    return frame.groupby("epoch", as_index=False).mean().to_dict("records")


def _evaluate(scorer, encoder, facts: pd.DataFrame, config: TrainConfig) -> dict:
    """Token-mean answer NLL per split (of the facts table)."""
    out = {}
    for split, rows in facts.groupby("split", sort=True):
        examples = encoder(list(zip(rows["question"], rows["answer"], strict=True)),
                           config.max_length, rows["prompt_id"].astype(str).tolist())
        sums, counts = _score_all(scorer, examples, config.batch_size)
        out[f"{split}_nll"] = float(-sums.sum() / counts.sum())
    return out


def _pairs(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(rows["question"], rows["answer"], strict=True))


def _names(rows: pd.DataFrame) -> list[str]:
    return rows["prompt_id"].astype(str).tolist()


def train(
    model,
    table: pd.DataFrame,
    *,
    method: str,
    train_rows: pd.DataFrame,
    retain_rows: pd.DataFrame | None,
    extra: Sequence[tuple[str, str]],
    config: TrainConfig,
    out: Path,
    payload: dict,
    progress: bool,
    evaluate: bool,
    desc: str,
) -> dict:
    """Train one stage and save it into ``out``; returns the JSON written.

    ``method`` is ``"sft"`` (minimise the answer NLL of ``train_rows``) or an unlearning
    method (``train_rows`` + ``extra`` are the forget set, ``retain_rows`` the retain set).
    """
    started = time.perf_counter()
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        lm, tokenizer, _ = _load(model)
        device = next(lm.parameters()).device
        encoder = _Encoder(lm, tokenizer)
        scorer = _Scorer(lm, encoder.pad, config.train_layers)
        names = _names(train_rows) + [f"forget_extra[{i}]" for i in range(len(extra))]
        examples = encoder(_pairs(train_rows) + list(extra), config.max_length, names)
        retain = [] if retain_rows is None else encoder(
            _pairs(retain_rows), config.max_length, _names(retain_rows))
        rng = np.random.default_rng(config.seed)
        plan = _schedule(len(examples), config, rng)
        r_plan = _cycle(len(retain), len(plan), config.batch_size, rng) if retain \
            else [[] for _ in plan]
        ref = None
        if method == "npo":  # the frozen reference: the model as loaded, scored once
            lm.eval()
            sums, _ = _score_all(scorer, examples, config.batch_size)
            lm.train()
            ref = torch.tensor(sums, dtype=torch.float32, device=device)
        weight = config.retain_weight

        def make(f_idx: list[int], r_idx: list[int]) -> Callable[[], dict]:
            def step() -> dict:
                chosen = [examples[i] for i in f_idx]
                logp = scorer.score(chosen)
                nll = _token_nll(logp, chosen)
                if method == "sft":
                    return {"loss": nll}
                if method == "npo":
                    forget_loss = npo_loss(logp, ref[f_idx], config.beta)
                else:  # grad_ascent, grad_diff
                    forget_loss = -nll
                terms = {"forget_nll": nll.detach(), "forget_loss": forget_loss.detach()}
                loss = forget_loss
                if r_idx:
                    r_chosen = [retain[i] for i in r_idx]
                    retain_nll = _token_nll(scorer.score(r_chosen), r_chosen)
                    terms["retain_nll"] = retain_nll.detach()
                    loss = loss + weight * retain_nll
                return {"loss": loss, **terms}
            return step

        loaded = time.perf_counter()
        per_epoch = math.ceil(len(examples) / min(config.batch_size, len(examples)))
        history = _run(lm, [make(f, r) for f, r in zip(plan, r_plan, strict=True)], config,
                       progress=progress, desc=desc, per_epoch=per_epoch)
        trained = time.perf_counter()
        after = _evaluate(scorer, encoder, table, config) if evaluate else {}
        evaluated = time.perf_counter()
        payload = {
            **payload, "config": config.to_dict(), "steps": len(plan),
            "losses_per_epoch": _per_epoch(history), "history": history,
            "eval_after": after, "sparse_logits": scorer.body is not None,
            "threads": torch.get_num_threads(), "versions": _versions(),
        }
        _save(lm, tokenizer, out, payload, seconds={
            "load": loaded - started, "train": trained - loaded,
            "evaluate": evaluated - trained, "start": started})
    return payload


def score_facts(model, rows: pd.DataFrame, *, max_length: int,
                batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-fact (sum of answer log-probs, token count) under ``model`` (no gradient)."""
    from leakstats.generate.models import load_hf

    lm, tokenizer, _ = load_hf(model)
    encoder = _Encoder(lm, tokenizer)
    examples = encoder(_pairs(rows), max_length, _names(rows))
    return _score_all(_Scorer(lm, encoder.pad), examples, batch_size)
