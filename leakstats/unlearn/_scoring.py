"""Scoring of (question, answer) examples for :mod:`leakstats.unlearn._engine` (torch).

All stages share one way to score an example: the prompt is the question wrapped by
:meth:`leakstats.generate.hf.HFBackend.encode_prompt` (the chat template as the generation
layer applies it, so sampling later sees the trained format), the target is the answer's
tokens followed by the model's EOS token, and only target tokens carry loss. Per sequence we
need the sum of target-token log-probs (NPO) and their count (token-mean NLL); the logits are
computed only at target positions (the LM head on the answer's hidden states), which saves the
vocabulary-sized matrix product at prompt positions.

This module holds the example encoder (:class:`_Encoder`), the batch layout (:class:`_Batch`),
the scorer with its split lower/upper computation and hidden-state cache (:class:`_Scorer`),
and the batch helpers :func:`_token_nll` and :func:`_score_all`.
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from leakstats.core.errors import LeakstatsError

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
