"""RULE (Reisizadeh et al. 2025): sample the unlearned model, unlearn what leaked, repeat."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leakstats.core.checks import check_int, check_number
from leakstats.core.errors import DataValidationError, LeakstatsError, OutputExistsError
from leakstats.core.files import write_json
from leakstats.unlearn._data import (
    _check_config,
    digest,
    load_facts,
    prompt_table,
    split_rows,
)

__all__ = ["rule"]

RULE_JSON = "rule.json"


def _rule_iv(method, rounds, n, temperature, top_p, max_new_tokens, seed):
    from leakstats.unlearn._train import _check_method

    _check_method(method)
    rounds = check_int("rounds", rounds, 1, fix="pass e.g. rounds=2 (the paper uses 2-3)")
    n = check_int("n", n, 1, 16)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1, 48)
    temperature = check_number("temperature", temperature, low=0, low_open=True,
                               fix="pass temperature=1.0 (RULE samples at T = 1)")
    top_p = check_number("top_p", top_p, low=0, high=1, low_open=True)
    seed = check_int("seed", seed, 0, 0)
    return rounds, n, temperature, top_p, max_new_tokens, seed


def _leaked_pairs(records: pd.DataFrame, questions: dict) -> list[tuple[str, str]]:
    """(question, sampled text) of every leaked sample, in prompt then sample order."""
    hits = records[records["leaked"].astype(bool)].sort_values(["prompt_id", "sample_id"])
    out = []
    for pid, text in hits[["prompt_id", "text"]].itertuples(index=False):
        text = str(text).strip()
        if text:
            out.append((questions[str(pid)], text))
    return out


def _check_samples(samples: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("prompt_id", "text") if c not in samples.columns]
    if missing:
        raise DataValidationError(
            f"argument 'samples': missing column(s) {missing} (columns present: "
            f"{list(map(str, samples.columns))}). Fix: pass the records of the unlearned "
            f"model's samples (leakstats.read_store(folder)).",
            column=missing[0],
        )
    return samples


def _given_samples(samples, forget: pd.DataFrame, judge) -> pd.DataFrame:
    """Round 1's records from given samples, re-judged with ``judge``."""
    if isinstance(samples, str | os.PathLike):
        from leakstats.generate import read_store

        samples = read_store(samples)
    if not isinstance(samples, pd.DataFrame):
        raise LeakstatsError(
            f"argument 'samples': expected a records DataFrame or a store folder, got "
            f"{type(samples).__name__}. Fix: pass leakstats.read_store(folder) or the folder."
        )
    _check_samples(samples)
    if "judge" in samples.columns:  # one row per sample and judge: keep one judge's rows
        samples = samples[samples["judge"] == samples["judge"].iloc[0]]
    ids = forget["prompt_id"].astype(str)
    rows = samples[samples["prompt_id"].astype(str).isin(set(ids))].copy()
    if rows.empty:
        raise DataValidationError(
            f"argument 'samples': no sample has a forget prompt_id (forget ids: "
            f"{ids.tolist()[:5]}...). Fix: pass samples of the forget prompts.",
            column="prompt_id",
        )
    rows["prompt_id"] = rows["prompt_id"].astype(str)
    if "sample_id" not in rows.columns:
        rows["sample_id"] = rows.groupby("prompt_id").cumcount()
    reference = dict(zip(ids, forget["answer"], strict=True))
    items = [{"reference": reference[p]} for p in rows["prompt_id"]]
    rows["text"] = rows["text"].fillna("").astype(str)
    _, rows["leaked"] = judge.judge(rows["text"].tolist(), items)
    return rows.reset_index(drop=True)


def _check_out(out) -> Path:
    """``out`` as a path; raises if it is not a path."""
    if not isinstance(out, str | os.PathLike):
        raise LeakstatsError(
            f"argument 'out': expected a folder path, got {type(out).__name__}. Fix: pass e.g. "
            f"out='runs/rule'."
        )
    return Path(out).expanduser()


def _prepare_out(out: Path, identity: dict, overwrite: bool) -> None:
    """Create the run folder ``out``; a folder from a RULE run with another identity raises,
    or is deleted when ``overwrite``; a non-empty folder without ``rule.json`` raises."""
    from leakstats.unlearn._train import StageMismatchError, _differences

    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"argument 'out': '{out}' is a file. Fix: pass a folder.")
    if out.exists() and any(out.iterdir()):
        if not (out / RULE_JSON).is_file():
            raise OutputExistsError(
                f"argument 'out': '{out}' is a non-empty folder without {RULE_JSON}: not a "
                f"RULE run folder; leakstats never writes into or deletes such a folder. Fix: "
                f"choose a new or empty folder."
            )
        old = json.loads((out / RULE_JSON).read_text()).get("identity", {})
        if old != identity:
            if not overwrite:
                diffs = _differences(old, identity)
                raise StageMismatchError(
                    f"argument 'out': '{out}' holds a RULE run with other settings ("
                    + "; ".join(diffs[:8]) + "). Fix: pass overwrite=True to redo it, or "
                    "choose another folder."
                )
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class _Run:
    """The settings every RULE round uses (checked by :func:`rule`)."""

    table: pd.DataFrame
    prompts: pd.DataFrame
    questions: dict
    given: pd.DataFrame | None
    method: str
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    judge: object
    config: object
    seed: int
    progress: bool
    evaluate: bool
    batched: bool


def _sample_step(run: _Run, r: int, current: Path, folder: Path) -> pd.DataFrame:
    """Round ``r``'s judged samples: the given ones in round 1, else samples of ``current``
    stored in ``folder/samples``."""
    if r == 1 and run.given is not None:
        return run.given
    from leakstats.generate import generate_samples, read_store

    backend = "hf"
    if run.batched:
        from leakstats.generate.hf import HFBackend
        from leakstats.unlearn._sampling import BatchedSampler

        backend = BatchedSampler(HFBackend.from_pretrained(current),
                                 groups_per_call=len(run.prompts))
    generate_samples(
        run.prompts, out=folder / "samples", model=current, n=run.n,
        temperature=run.temperature, top_p=run.top_p, max_new_tokens=run.max_new_tokens,
        judge=run.judge, method=f"{run.method}+rule_round{r}", seed=run.seed + r,
        resume=True, progress=run.progress, backend=backend, logprobs=False,
        raw_logprobs=False, reference_logprobs=False,
    )
    return read_store(folder / "samples")


def _leak_step(run: _Run, records: pd.DataFrame,
               extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Append the leaked pairs of ``records`` not yet in ``extra`` to it; returns them."""
    found = _leaked_pairs(records, run.questions)
    known = set(extra)
    new = [p for p in dict.fromkeys(found) if p not in known]
    extra.extend(new)
    return new


def _unlearn_step(run: _Run, current: Path, folder: Path,
                  extra: list[tuple[str, str]]) -> Path:
    """Unlearn the forget set plus ``extra`` from ``current`` into ``folder/model``."""
    from leakstats.unlearn._train import unlearn

    return unlearn(current, run.table, out=folder / "model", method=run.method,
                   config=run.config, forget_extra=extra, progress=run.progress,
                   evaluate=run.evaluate)


def _summary_step(run: _Run, r: int, records: pd.DataFrame, current: Path, following: Path,
                  new: list, extra: list, seconds: dict) -> dict:
    """The ``summary.json`` of round ``r``."""
    leaked = records["leaked"].astype(bool)
    return {
        "round": r,
        "model_in": str(current),
        "model_out": str(following),
        "method": run.method,
        "judge": run.judge.name,
        "n_prompts": int(records["prompt_id"].nunique()),
        "n_samples": int(len(records)),
        "n_leaked": int(leaked.sum()),
        "leak_rate": float(leaked.mean()) if len(records) else float("nan"),
        "prompts_with_leak": int(records.loc[leaked, "prompt_id"].nunique()),
        "new_pairs": len(new),
        "forget_extra_total": len(extra),
        "seconds": seconds,
    }


def rule(
    model: str | os.PathLike,
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    out: str | os.PathLike,
    method: str = "npo",
    rounds: int = 2,
    n: int = 16,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 48,
    judge="rouge:0.4",
    config=None,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    evaluate: bool = True,
    samples: pd.DataFrame | str | os.PathLike | None = None,
    batched: bool = True,
) -> Path:
    """RULE: repeatedly sample the unlearned model, add its leaks to the forget set, unlearn.

    Starting from the *unlearned* model ``model``, each round ``r = 1..rounds``

    1. samples it ``n`` times per forget question at ``temperature`` / ``top_p``
       (:func:`leakstats.generate.generate_samples`, store in ``out/round_r/samples``);
    2. flags leaked samples with ``judge``;
    3. adds the leaked (question, sampled text) pairs to the forget set (cumulative over
       rounds, duplicates dropped);
    4. unlearns the augmented forget set from the current model with ``method``
       (:func:`unlearn`, reference = the current model), into ``out/round_r/model``;

    and writes ``out/round_r/summary.json`` (samples, leaks found, leak rate, prompts with a
    leak, pairs added, seconds). ``out/rule.json`` collects the rounds. A rerun resumes: the
    sample stores and model folders of finished rounds are reused; asking for more rounds
    continues from the last one.

    Parameters
    ----------
    model : path
        The unlearned model folder (from :func:`unlearn`).
    facts : DataFrame, path or None
        Facts table (:func:`load_facts`); forget and retain splits as in :func:`unlearn`.
    out : path
        Run folder (created).
    method : {"grad_ascent", "grad_diff", "npo"}, default "npo"
    rounds : int, default 2
    n : int, default 16
        Samples per forget question per round.
    temperature, top_p : float, default 1.0
        Decoding of the sampling step (the paper: T = 1, top-p = 1).
    max_new_tokens : int, default 48
    judge : str, Judge or callable, default "rouge:0.4"
        :func:`leakstats.generate.judges.make_judge` spec.
    config : TrainConfig, optional
        Settings of each round's unlearning.
    seed : int, default 0
        Round r samples with seed ``seed + r``.
    progress, overwrite, evaluate : bool
        As in :func:`unlearn`; ``overwrite`` deletes a RULE folder made with other settings.
    samples : DataFrame or path, optional
        Samples of ``model`` that round 1 uses instead of sampling it again (a records table
        or a store folder with ``prompt_id`` and ``text``, e.g. the demo's T = 1 samples of
        the unlearned model). They are re-judged with ``judge``; only forget prompts count.
        Later rounds sample their own model.
    batched : bool, default True
        Sample all forget prompts in one ``generate`` call
        (:class:`~leakstats.unlearn._sampling.BatchedSampler`: same distribution as the
        default backend, several times faster on a CPU, other random draws); False: the
        per-prompt transformers backend.

    Returns
    -------
    pathlib.Path
        The final model folder, ``out/round_<rounds>/model``.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> from leakstats.generate.testing import tiny_model
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> facts = load_facts().iloc[[0, 1, 40, 41]]
    >>> final = rule(tiny_model(tmp / "tiny"), facts, out=tmp / "rule", rounds=1, n=2,
    ...              max_new_tokens=4, judge=lambda text, item: True, progress=False,
    ...              config=dict(steps=1, batch_size=2, max_length=512))
    >>> summary = json.loads((tmp / "rule" / "round_1" / "summary.json").read_text())
    >>> summary["n_samples"], summary["n_leaked"]
    (4, 4)
    """
    from leakstats.generate.judges import make_judge
    from leakstats.unlearn._train import _base_identity

    rounds, n, temperature, top_p, max_new_tokens, seed = _rule_iv(
        method, rounds, n, temperature, top_p, max_new_tokens, seed)
    config = _check_config(config)
    judge_obj = make_judge(judge)
    table = load_facts(facts)
    forget = split_rows(table, ["forget"], argument="facts")
    given = None if samples is None else _given_samples(samples, forget, judge_obj)
    out = _check_out(out)
    identity = {
        "base": _base_identity(model), "method": method, "n": n, "temperature": temperature,
        "top_p": top_p, "max_new_tokens": max_new_tokens, "judge": judge_obj.spec(),
        "config": config.identity(), "seed": seed,
        "facts": digest(table[["prompt_id", "split", "question", "answer"]].astype(str)
                        .values.tolist()),
        "samples": None if given is None else digest(
            given[["prompt_id", "text"]].astype(str).values.tolist()),
        "batched": bool(batched),
    }
    _prepare_out(out, identity, overwrite)
    state = {"identity": identity, "status": "running", "rounds": []}
    write_json(out / RULE_JSON, state)

    run = _Run(
        table=table, prompts=prompt_table(forget),
        questions=dict(zip(forget["prompt_id"].astype(str), forget["question"], strict=True)),
        given=given, method=method, n=n, temperature=temperature, top_p=top_p,
        max_new_tokens=max_new_tokens, judge=judge_obj, config=config, seed=seed,
        progress=progress, evaluate=evaluate, batched=batched,
    )
    current = Path(model)
    extra: list[tuple[str, str]] = []
    for r in range(1, rounds + 1):
        folder = out / f"round_{r}"
        folder.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        records = _sample_step(run, r, current, folder)
        t1 = time.perf_counter()
        new = _leak_step(run, records, extra)
        following = _unlearn_step(run, current, folder, extra)
        t2 = time.perf_counter()
        summary = _summary_step(run, r, records, current, following, new, extra,
                                {"sample": t1 - t0, "unlearn": t2 - t1})
        write_json(folder / "summary.json", summary)
        state["rounds"] = [*state["rounds"][: r - 1], summary]
        write_json(out / RULE_JSON, state)
        current = following
    state.update(status="complete", final_model=str(current), n_rounds=rounds)
    write_json(out / RULE_JSON, state)
    return current
