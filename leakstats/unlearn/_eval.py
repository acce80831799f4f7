"""Greedy answers to the facts' questions: the "looks forgotten under greedy decoding" check."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from leakstats.core.checks import check_int
from leakstats.unlearn._data import load_facts, split_rows

__all__ = ["greedy_answers"]


def _greedy(model, tokenizer, backend, questions: Sequence[str], max_new_tokens: int,
            batch_size: int) -> list[str]:
    """Batched greedy decoding (left padding), cut at the first EOS."""
    import torch
    from transformers import GenerationConfig

    eos = backend.eos_ids
    pad = backend.pad_id
    device = backend.device
    encoded = [backend.encode_prompt(q) for q in questions]
    clean = GenerationConfig(
        do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=pad,
        bos_token_id=tokenizer.bos_token_id,
    )
    saved = model.generation_config
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad,
                                               bos_token_id=tokenizer.bos_token_id)
    texts: list[str] = []
    try:
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start: start + batch_size]
            width = max(len(ids) for ids in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, row in enumerate(chunk):
                ids[i, width - len(row):] = torch.tensor(row)
                mask[i, width - len(row):] = 1
            with torch.inference_mode():
                out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                     generation_config=clean)
            for row in out[:, width:].cpu().numpy():
                hits = np.flatnonzero(np.isin(row, eos))
                row = row[: hits[0]] if hits.size else row
                texts.append(tokenizer.decode(row.tolist(), skip_special_tokens=True).strip())
    finally:
        model.generation_config = saved
    return texts


def greedy_answers(
    model: str | os.PathLike | None,
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    split: str | Sequence[str] = "forget",
    max_new_tokens: int = 48,
    batch_size: int = 64,
    threads: int | None = None,
) -> pd.DataFrame:
    """Greedy-decode each question and score the output against the reference answer.

    The prompt is formatted as in generation and training (chat template, one user turn).
    Unlearning papers call a fact forgotten when this greedy answer no longer matches;
    leakstats then asks whether *sampled* answers still do.

    Parameters
    ----------
    model : path or None
        Model folder (from :func:`finetune` / :func:`unlearn`); None: SmolLM2-135M-Instruct.
    facts : DataFrame, path or None
        Facts table (:func:`load_facts`).
    split : str or sequence of str, default "forget"
        Split(s) to answer.
    max_new_tokens : int, default 48
    batch_size : int, default 64
        Questions decoded together (left-padded; on a CPU one large batch is fastest).
    threads : int, optional
        torch threads while decoding (restored afterwards).

    Returns
    -------
    pandas.DataFrame
        ``prompt_id``, ``split``, ``question``, ``answer`` (the reference), ``output``,
        ``rouge_l_recall`` (ROUGE-L recall of the reference in the output, as
        :class:`leakstats.generate.judges.RougeJudge` scores it), and, when the facts have
        ``keywords``, ``keyword_recall`` (share of the fact's keywords in the output, as
        :class:`leakstats.generate.judges.KeywordJudge` scores it). On the shipped facts the answers
        share a template ("X was born in C, Country in Y."), so a model that never saw a fact
        still reaches a ROUGE-L recall near 0.6 with the wrong city and year; the keywords
        (the city, the year, the book) are what tells knowing from guessing.

    Examples
    --------
    >>> import tempfile
    >>> from leakstats.generate.testing import tiny_model
    >>> table = greedy_answers(tiny_model(tempfile.mkdtemp()), load_facts().head(2),
    ...                        max_new_tokens=4)
    >>> list(table.columns)
    ['prompt_id', 'split', 'question', 'answer', 'output', 'rouge_l_recall', 'keyword_recall']
    """
    check_int("max_new_tokens", max_new_tokens, 1, 48)
    check_int("batch_size", batch_size, 1, 16)
    rows = split_rows(load_facts(facts), split, argument="split")
    from leakstats.generate.hf import HFBackend
    from leakstats.generate.judges import RougeJudge
    from leakstats.generate.models import load_hf, torch_threads

    with torch_threads(threads):
        lm, tokenizer, info = load_hf(model)
        backend = HFBackend(lm, tokenizer, info=info)
        outputs = _greedy(lm, tokenizer, backend, rows["question"].tolist(),
                          int(max_new_tokens), int(batch_size))
    scores = RougeJudge().score(outputs, [{"reference": a} for a in rows["answer"]])
    table = pd.DataFrame({
        "prompt_id": rows["prompt_id"].to_numpy(), "split": rows["split"].to_numpy(),
        "question": rows["question"].to_numpy(), "answer": rows["answer"].to_numpy(),
        "output": outputs, "rouge_l_recall": scores,
    })
    if "keywords" in rows.columns:
        from leakstats.generate.judges import KeywordJudge

        keys = [list(k) if isinstance(k, list | tuple | np.ndarray) else [] for k in
                rows["keywords"]]
        found = KeywordJudge().score(outputs, [{"keywords": k} for k in keys])
        table["keyword_recall"] = np.where([len(k) > 0 for k in keys], found, np.nan)
    return table
