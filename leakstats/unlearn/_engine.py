"""The torch side of :mod:`leakstats.unlearn`: scoring, losses, the training loop.

Imported only inside :func:`~leakstats.unlearn.finetune`, :func:`~leakstats.unlearn.unlearn`
and friends, so that ``import leakstats.unlearn`` does not import torch.

All stages share one way to score an example: the prompt is the question wrapped by
:meth:`leakstats.generate.hf.HFBackend.encode_prompt` (the chat template as the generation
layer applies it, so sampling later sees the trained format), the target is the answer's
tokens followed by the model's EOS token, and only target tokens carry loss. Per sequence we
need the sum of target-token log-probs (NPO) and their count (token-mean NLL); the logits are
computed only at target positions (the LM head on the answer's hidden states), which saves the
vocabulary-sized matrix product at prompt positions.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import secrets
import shutil
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from leakstats.core.errors import LeakstatsError
from leakstats.generate.models import torch_threads
from leakstats.unlearn._data import TrainConfig
from leakstats.unlearn._train import TRAIN_JSON, _cycle, _schedule, _weights_sha256

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


# --------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class _Example:
    ids: tuple[int, ...]
    n_prompt: int  # tokens before the first target token


def _eos_id(model, tokenizer) -> int:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    if isinstance(eos, list | tuple):
        eos = eos[0] if eos else None
    if eos is None:
        raise LeakstatsError(
            "the model has no EOS token (generation_config.eos_token_id and "
            "tokenizer.eos_token_id are unset). Fix: set model.generation_config.eos_token_id."
        )
    return int(eos)


class _Encoder:
    """(question, answer) -> token ids, exactly as the generation layer prompts the model."""

    def __init__(self, model, tokenizer) -> None:
        from leakstats.generate.hf import HFBackend

        self.backend = HFBackend(model, tokenizer)
        self.eos = _eos_id(model, tokenizer)
        self.pad = self.backend.pad_id

    def __call__(self, pairs: Sequence[tuple[str, str]], max_length: int,
                 names: Sequence[str]) -> list[_Example]:
        out = []
        for (question, answer), name in zip(pairs, names, strict=True):
            prompt = self.backend.encode_prompt(question)
            target = self.backend.encode_text(answer) + [self.eos]
            if len(prompt) + len(target) > max_length:
                raise LeakstatsError(
                    f"argument 'config': example {name} has {len(prompt) + len(target)} tokens "
                    f"(prompt {len(prompt)} + answer {len(target)}), more than "
                    f"max_length={max_length}. Fix: pass TrainConfig(max_length="
                    f"{len(prompt) + len(target)}) or more; nothing is truncated silently."
                )
            out.append(_Example(tuple(prompt + target), len(prompt)))
        return out


@dataclass
class _Batch:
    input_ids: torch.Tensor | None  # (B, W) token ids, or None with inputs_embeds
    inputs_embeds: torch.Tensor | None  # (B, W, H) cached hidden states (split mode)
    attention_mask: torch.Tensor
    rows: torch.Tensor  # (T,) row of each target token
    cols: torch.Tensor  # (T,) position whose hidden state predicts it
    targets: torch.Tensor  # (T,)
    n_tokens: torch.Tensor  # (B,) target tokens per sequence


#: Hidden states of the frozen lower blocks, shared by all stages of a process (the demo's
#: fine-tune, retrain and unlearning stages all start from the same lower blocks). Keyed by
#: (digest of the lower blocks' weights, token ids); values are float32 (L, H) CPU tensors.
_HIDDEN_CACHE: OrderedDict[tuple[str, tuple[int, ...]], torch.Tensor] = OrderedDict()
_HIDDEN_CACHE_SIZE = 20_000
#: (model class, number of blocks, train_layers) -> whether the split computation was exact.
_CHECKED: dict[tuple, bool] = {}


def _shallow(base, layers, norm):
    """A view of the decoder ``base`` that runs only ``layers`` then ``norm`` (shared
    modules, no copy of weights)."""
    view = copy.copy(base)
    view._modules = dict(base._modules)
    view._modules["layers"] = torch.nn.ModuleList(layers)
    view._modules["norm"] = norm
    config = copy.copy(base.config)
    config.num_hidden_layers = len(layers)
    start = len(base.layers) - len(layers) if norm is not None and layers else 0
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[start: start + len(layers)]
    view.config = config
    return view


def _module_digest(modules) -> str:
    digest = hashlib.sha256()
    for module in modules:
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class _Scorer:
    """Sum of target-token log-probs per sequence, logits only at target positions.

    With ``train_layers=k`` the model is split into its frozen lower part (embeddings and all
    but the last k blocks) and the trained upper part (the last k blocks and the final norm;
    the LM head stays frozen). The lower part's output for an example never changes while
    training, so it is computed once (and kept in a process-wide cache) and every step runs
    only the upper k blocks: a step costs about k / n_layers of a full forward and backward.
    """

    def __init__(self, model, pad: int, train_layers: int | None = None) -> None:
        self.model = model
        self.pad = pad
        self.device = next(model.parameters()).device
        self.head = model.get_output_embeddings()
        self.body = getattr(model, "base_model", None)
        self.train_layers = train_layers
        self.checked = False
        if train_layers is None:
            return
        layers = getattr(self.body, "layers", None)
        norm = getattr(self.body, "norm", None)
        if not isinstance(layers, torch.nn.ModuleList) or norm is None or self.head is None:
            raise LeakstatsError(
                f"TrainConfig argument 'train_layers': this model ({type(model).__name__}) "
                f"does not expose .layers and .norm like Llama-family models, so its upper "
                f"blocks cannot be trained alone. Fix: pass train_layers=None (train all "
                f"parameters)."
            )
        n = len(layers)
        if train_layers > n:
            raise LeakstatsError(
                f"TrainConfig argument 'train_layers': {train_layers} blocks asked for, the "
                f"model has {n}. Fix: pass train_layers <= {n}, or None for all parameters."
            )
        for p in model.parameters():
            p.requires_grad_(False)
        upper = list(layers[n - train_layers:])
        for module in [*upper, norm]:
            for p in module.parameters():
                p.requires_grad_(True)
        self.lower = _shallow(self.body, list(layers[: n - train_layers]),
                              torch.nn.Identity())
        self.upper = _shallow(self.body, upper, norm)
        embeddings = self.body.get_input_embeddings()
        self.key = _module_digest([embeddings, *layers[: n - train_layers]])

    # ------------------------------------------------------------------ inputs

    def _hidden(self, examples: Sequence[_Example]) -> list[torch.Tensor]:
        """Output of the frozen lower part for each example (cached)."""
        missing = [e for e in dict.fromkeys(examples) if (self.key, e.ids) not in _HIDDEN_CACHE]
        for start in range(0, len(missing), 16):
            chunk = missing[start: start + 16]
            ids, mask = self._pad_ids(chunk)
            with torch.no_grad():
                hidden = self.lower(input_ids=ids, attention_mask=mask,
                                    use_cache=False).last_hidden_state.float().cpu()
            for row, e in enumerate(chunk):
                _HIDDEN_CACHE[(self.key, e.ids)] = hidden[row, : len(e.ids)].clone()
        while len(_HIDDEN_CACHE) > _HIDDEN_CACHE_SIZE:
            _HIDDEN_CACHE.popitem(last=False)
        out = []
        for e in examples:
            _HIDDEN_CACHE.move_to_end((self.key, e.ids))
            out.append(_HIDDEN_CACHE[(self.key, e.ids)])
        return out

    def _pad_ids(self, examples: Sequence[_Example]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(e.ids) for e in examples)
        ids = torch.full((len(examples), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        for i, e in enumerate(examples):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = 1
        return ids.to(self.device), mask.to(self.device)

    def batch(self, examples: Sequence[_Example]) -> _Batch:
        """Right-padded inputs and target positions of ``examples``."""
        ids, mask = self._pad_ids(examples)
        embeds = None
        if self.train_layers is not None:
            hidden = self._hidden(examples)
            embeds = torch.zeros((len(examples), ids.shape[1], hidden[0].shape[1]),
                                 dtype=hidden[0].dtype)
            for i, h in enumerate(hidden):
                embeds[i, : len(h)] = h
            embeds = embeds.to(self.device)
        rows, cols, targets, counts = [], [], [], []
        for i, e in enumerate(examples):
            positions = range(e.n_prompt, len(e.ids))
            rows.extend([i] * len(positions))
            cols.extend(p - 1 for p in positions)
            targets.extend(e.ids[p] for p in positions)
            counts.append(len(positions))
        as_long = lambda x: torch.tensor(x, dtype=torch.long, device=self.device)  # noqa: E731
        return _Batch(None if embeds is not None else ids, embeds, mask, as_long(rows),
                      as_long(cols), as_long(targets), as_long(counts))

    # ------------------------------------------------------------------ scoring

    def _full(self, ids: torch.Tensor, batch: _Batch) -> torch.Tensor:
        logits = self.model(input_ids=ids, attention_mask=batch.attention_mask,
                            use_cache=False).logits
        return logits[batch.rows, batch.cols].float()

    def _sparse(self, batch: _Batch) -> torch.Tensor:
        if batch.inputs_embeds is not None:
            hidden = self.upper(inputs_embeds=batch.inputs_embeds,
                                attention_mask=batch.attention_mask,
                                use_cache=False).last_hidden_state
        else:
            hidden = self.body(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                               use_cache=False).last_hidden_state
        return self.head(hidden[batch.rows, batch.cols]).float()

    def _check(self, examples: Sequence[_Example]) -> None:
        """Once per process and architecture: the split / sparse computation must reproduce
        the model's own logits (checked on one example)."""
        self.checked = True
        key = (type(self.model).__name__, len(getattr(self.body, "layers", ()) or ()),
               self.train_layers)
        if key in _CHECKED:
            if not _CHECKED[key]:
                self.body = None
            return
        one = self.batch(examples[:1])
        ids, _ = self._pad_ids(examples[:1])
        with torch.no_grad():
            reference = self._full(ids, one)
            try:
                ok = bool(torch.allclose(self._sparse(one), reference, atol=1e-3, rtol=1e-3))
            except (TypeError, AttributeError, RuntimeError):
                ok = False
        if not ok and self.train_layers is not None:
            raise LeakstatsError(
                f"TrainConfig argument 'train_layers': running the upper blocks of this model "
                f"({type(self.model).__name__}) on cached hidden states does not reproduce its "
                f"logits (the architecture transforms its inputs in a way leakstats does not "
                f"know). Fix: pass train_layers=None (train all parameters)."
            )
        _CHECKED[key] = ok
        if not ok:
            self.body = None  # fall back to the model's full forward

    def __call__(self, batch: _Batch, examples: Sequence[_Example]) -> torch.Tensor:
        if not self.checked:
            self._check(examples)
        if self.body is None:
            ids, _ = self._pad_ids(examples)
            logits = self._full(ids, batch)
        else:
            logits = self._sparse(batch)
        token_lp = torch.log_softmax(logits, dim=-1).gather(1, batch.targets[:, None])[:, 0]
        sums = torch.zeros(len(batch.n_tokens), dtype=token_lp.dtype, device=token_lp.device)
        return sums.index_add(0, batch.rows, token_lp)

    def score(self, examples: Sequence[_Example]) -> torch.Tensor:
        """Per-example sums of target log-probs (with gradient)."""
        return self(self.batch(examples), examples)


def _token_nll(logp: torch.Tensor, examples: Sequence[_Example]) -> torch.Tensor:
    """Token-mean negative log-likelihood of a batch."""
    return -logp.sum() / sum(len(e.ids) - e.n_prompt for e in examples)


def _score_all(scorer: _Scorer, examples: Sequence[_Example],
               batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-example (sum of log-probs, token count), no gradient."""
    sums = []
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            sums.append(scorer.score(examples[start: start + batch_size]).cpu().numpy()
                        .astype(np.float64))
    counts = np.array([len(e.ids) - e.n_prompt for e in examples], dtype=np.int64)
    return np.concatenate(sums), counts


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
    import json

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    tmp.mkdir()
    try:
        saving = time.perf_counter()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        payload["weights_sha256"] = _weights_sha256(tmp)
        start = seconds.pop("start")
        seconds["save"] = time.perf_counter() - saving
        seconds["total"] = time.perf_counter() - start
        payload["seconds"] = seconds
        (tmp / TRAIN_JSON).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        if out.exists():
            out.rmdir()  # empty (checked by the caller)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
