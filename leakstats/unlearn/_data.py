"""Facts tables and training configurations (torch-free)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.checks import check_int, check_number
from leakstats.core.errors import DataValidationError, InputNotFoundError, LeakstatsError

__all__ = ["METHODS", "FACT_COLUMNS", "TrainConfig", "load_facts", "select_facts"]

#: Unlearning methods of :func:`leakstats.unlearn.unlearn`.
METHODS = ("grad_ascent", "grad_diff", "npo")

#: Columns a facts table must have; ``person``, ``paraphrased_question`` and ``keywords`` are
#: kept when present.
FACT_COLUMNS = ("prompt_id", "split", "question", "answer")
OPTIONAL_COLUMNS = ("person", "paraphrased_question", "keywords")


def _number(value, name: str, *, low: float, integer: bool, strict: bool, fix: str):
    """Validate one TrainConfig field (a finite number >= or > low)."""
    label = f"argument {name!r}"
    if integer:
        return check_int(label, value, int(low) + int(strict), fix=fix)
    return check_number(label, value, low=low, low_open=strict, fix=fix)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training stage (fine-tuning or unlearning).

    Parameters
    ----------
    epochs : int, default 5
        Passes over the training set (for unlearning: over the forget set; the retain set is
        cycled alongside). Ignored when ``steps`` is given.
    steps : int, optional
        Number of optimizer steps (overrides ``epochs``).
    lr : float, default 1e-5
        AdamW learning rate (constant after ``warmup_steps``).
    batch_size : int, default 8
        Sequences per optimizer step (per term: an unlearning step takes ``batch_size``
        forget and ``batch_size`` retain sequences).
    max_length : int, default 256
        Longest prompt + answer in tokens; a longer example raises (nothing is truncated
        silently).
    seed : int, default 0
        Seeds the data order (and torch, for dropout if the model has any).
    threads : int, optional
        torch threads while training (restored afterwards); not part of the stage's identity.
    beta : float, default 0.1
        NPO inverse temperature.
    retain_weight : float, default 1.0
        Weight of the retain NLL in ``grad_diff`` and ``npo``.
    weight_decay : float, default 0.0
        AdamW weight decay.
    max_grad_norm : float, default 1.0
        Gradient-norm clipping (``0`` turns it off).
    warmup_steps : int, default 0
        Linear learning-rate warm-up.
    train_layers : int, optional
        Train only the last ``train_layers`` transformer blocks and the final norm (embeddings,
        LM head and the lower blocks frozen). The frozen part's hidden states are computed once
        and cached, so a step costs about ``train_layers / n_layers`` of a full one: what makes
        the demo fit on a 2-core CPU. ``None``: train every parameter.

    Examples
    --------
    >>> TrainConfig(epochs=3, lr=1e-4).to_dict()["lr"]
    0.0001
    >>> TrainConfig(lr=-1)
    Traceback (most recent call last):
    ...
    leakstats.core.errors.LeakstatsError: argument 'lr': -1 is not a number > 0. Fix: pass a \
positive learning rate, e.g. lr=1e-5.
    """

    epochs: int = 5
    steps: int | None = None
    lr: float = 1e-5
    batch_size: int = 8
    max_length: int = 256
    seed: int = 0
    threads: int | None = None
    beta: float = 0.1
    retain_weight: float = 1.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    warmup_steps: int = 0
    train_layers: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epochs", _number(self.epochs, "epochs", low=1, integer=True, strict=False,
                                     fix="pass e.g. epochs=5"))
        if self.steps is not None:
            set_(self, "steps", _number(self.steps, "steps", low=1, integer=True, strict=False,
                                        fix="pass e.g. steps=20, or steps=None to use epochs"))
        set_(self, "lr", _number(self.lr, "lr", low=0, integer=False, strict=True,
                                 fix="pass a positive learning rate, e.g. lr=1e-5"))
        set_(self, "batch_size", _number(self.batch_size, "batch_size", low=1, integer=True,
                                         strict=False, fix="pass e.g. batch_size=8"))
        set_(self, "max_length", _number(self.max_length, "max_length", low=2, integer=True,
                                         strict=False, fix="pass e.g. max_length=256"))
        set_(self, "seed", _number(self.seed, "seed", low=0, integer=True, strict=False,
                                   fix="pass e.g. seed=0"))
        if self.threads is not None:
            set_(self, "threads", _number(self.threads, "threads", low=1, integer=True,
                                          strict=False, fix="pass e.g. threads=2, or None"))
        set_(self, "beta", _number(self.beta, "beta", low=0, integer=False, strict=True,
                                   fix="pass a positive NPO temperature, e.g. beta=0.1"))
        set_(self, "retain_weight", _number(self.retain_weight, "retain_weight", low=0,
                                            integer=False, strict=False,
                                            fix="pass e.g. retain_weight=1.0"))
        set_(self, "weight_decay", _number(self.weight_decay, "weight_decay", low=0,
                                           integer=False, strict=False,
                                           fix="pass e.g. weight_decay=0.0"))
        set_(self, "max_grad_norm", _number(self.max_grad_norm, "max_grad_norm", low=0,
                                            integer=False, strict=False,
                                            fix="pass e.g. max_grad_norm=1.0 (0: no clipping)"))
        set_(self, "warmup_steps", _number(self.warmup_steps, "warmup_steps", low=0,
                                           integer=True, strict=False,
                                           fix="pass e.g. warmup_steps=0"))
        if self.train_layers is not None:
            set_(self, "train_layers", _number(
                self.train_layers, "train_layers", low=1, integer=True, strict=False,
                fix="pass e.g. train_layers=4 (the last 4 blocks), or None for all parameters"))

    def to_dict(self) -> dict:
        """All fields, JSON-able."""
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """The fields that change what is trained (``threads`` does not)."""
        out = self.to_dict()
        out.pop("threads")
        return out

    @classmethod
    def from_dict(cls, values: Mapping) -> TrainConfig:
        """Inverse of :meth:`to_dict` (unknown keys raise)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise LeakstatsError(
                f"TrainConfig: unknown field(s) {unknown}. Fix: use only {sorted(names)}."
            )
        return cls(**dict(values))


def _check_config(config) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, Mapping):
        return TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise LeakstatsError(
            f"argument 'config': expected a TrainConfig (or a dict of its fields), got "
            f"{type(config).__name__}. Fix: pass config=TrainConfig(epochs=..., lr=...)."
        )
    return config


# --------------------------------------------------------------------------- facts


def _facts_path() -> Path:
    from leakstats.generate.prompts import fictitious_facts_path

    return fictitious_facts_path()


def _read_table(path: Path) -> pd.DataFrame:
    from leakstats.records.files import read_any_table

    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".csv", ".parquet"):
        return read_any_table(path)
    raise LeakstatsError(
        f"argument 'facts': cannot read '{path}' (suffix {suffix!r}). Fix: pass a .jsonl, "
        f".json, .csv or .parquet file, or a DataFrame."
    )


def load_facts(facts: str | os.PathLike | pd.DataFrame | None = None) -> pd.DataFrame:
    """The question-answer facts to fine-tune on and unlearn, validated.

    Parameters
    ----------
    facts : path, DataFrame or None
        ``None``: the shipped ``leakstats/data/fictitious_facts.jsonl`` (50 questions about 25
        invented people; ``split`` forget: 20, retain: 30). A path (JSON Lines, JSON, CSV,
        Parquet) or a DataFrame with the columns ``prompt_id``, ``split``, ``question``, ``answer``
        (``person``, ``paraphrased_question``, ``keywords`` are kept when present).

    Returns
    -------
    pandas.DataFrame
        One row per fact, fresh index, ``prompt_id`` as given (unique as strings), text
        columns as ``str``.

    Raises
    ------
    leakstats.DataValidationError
        Missing columns, no rows, repeated ``prompt_id``, empty question or answer.

    Examples
    --------
    >>> facts = load_facts()
    >>> len(facts), facts["split"].value_counts().to_dict()
    (50, {'retain': 30, 'forget': 20})
    """
    if facts is None:
        frame = _read_table(_facts_path())
    elif isinstance(facts, pd.DataFrame):
        frame = facts
    elif isinstance(facts, str | os.PathLike):
        path = Path(facts).expanduser()
        if not path.is_file():
            raise InputNotFoundError(
                f"argument 'facts': no such file '{path}'. Fix: check the path, or pass None "
                f"for the shipped fictitious facts."
            )
        frame = _read_table(path)
    else:
        raise LeakstatsError(
            f"argument 'facts': expected a path, a DataFrame or None, got "
            f"{type(facts).__name__}. Fix: pass e.g. load_facts() (the shipped facts)."
        )
    missing = [c for c in FACT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"facts table: missing column(s) {missing} (columns present: "
            f"{list(map(str, frame.columns))}). Fix: give the table the columns "
            f"{list(FACT_COLUMNS)} (split is 'forget' or 'retain').",
            column=missing[0],
        )
    if frame.empty:
        raise DataValidationError("facts table: no rows. Fix: pass at least one fact.")
    keep = list(FACT_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in frame.columns]
    out = frame.loc[:, keep].reset_index(drop=True).copy()
    for column in ("prompt_id", "split", "question", "answer"):
        values = out[column]
        bad = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataValidationError(
                f"facts table: column {column!r} is missing or empty in {len(rows)} row(s) "
                f"(rows {rows[:5].tolist()}). Fix: fill or drop these rows.",
                column=column, rows=rows[:5].tolist(),
            )
    keys = out["prompt_id"].astype(str)
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataValidationError(
            f"facts table: column 'prompt_id' repeats {sorted(set(keys[dup]))[:5]} (compared "
            f"as strings). Fix: give every fact a unique id.",
            column="prompt_id", rows=np.flatnonzero(dup)[:5].tolist(),
        )
    for column in ("split", "question", "answer"):
        out[column] = out[column].astype(str)
    return out


def select_facts(
    facts: pd.DataFrame | str | os.PathLike | None = None,
    *,
    forget: int | None = None,
    retain: int | None = None,
) -> pd.DataFrame:
    """The first ``forget`` forget facts and ``retain`` retain facts (file order).

    The quick preset trains on fewer facts; taking the first rows of each split keeps a
    person's questions together in the shipped file (two questions per person).

    Examples
    --------
    >>> select_facts(forget=4, retain=6)["split"].value_counts().to_dict()
    {'retain': 6, 'forget': 4}
    """
    table = load_facts(facts)
    parts = []
    for split, count in (("forget", forget), ("retain", retain)):
        rows = table[table["split"] == split]
        if count is not None:
            count = _number(count, split, low=1, integer=True, strict=False,
                            fix=f"pass {split}= a positive number of facts, or None for all")
            if count > len(rows):
                raise LeakstatsError(
                    f"argument {split!r}: asked for {count} {split} facts, the table has "
                    f"{len(rows)}. Fix: pass {split}<={len(rows)} or None."
                )
            rows = rows.head(count)
        parts.append(rows)
    others = table[~table["split"].isin(["forget", "retain"])]
    return pd.concat([*parts, others]).sort_index().reset_index(drop=True)


def split_rows(facts: pd.DataFrame, splits: Iterable[str], *, argument: str) -> pd.DataFrame:
    """Rows of ``facts`` in ``splits`` (each split must have rows)."""
    splits = [splits] if isinstance(splits, str) else list(splits)
    if not splits:
        raise LeakstatsError(
            f"argument {argument!r}: no split given. Fix: pass e.g. ('forget', 'retain')."
        )
    present = facts["split"].value_counts().to_dict()
    empty = [s for s in splits if present.get(s, 0) == 0]
    if empty:
        raise DataValidationError(
            f"argument {argument!r}: split(s) {empty} have no rows in the facts table (splits "
            f"present: {present}). Fix: pass facts with these splits, or other splits.",
            column="split",
        )
    return facts[facts["split"].isin(splits)].reset_index(drop=True)


def check_extra(extra: Sequence | None) -> list[tuple[str, str]]:
    """Validate ``forget_extra``: a list of (question, text) pairs of non-empty strings."""
    if extra is None:
        return []
    if isinstance(extra, str | bytes) or not isinstance(extra, Iterable):
        raise LeakstatsError(
            f"argument 'forget_extra': expected a list of (question, text) pairs, got "
            f"{type(extra).__name__}. Fix: pass e.g. [('Who is X?', 'X is ...')]."
        )
    out = []
    for i, pair in enumerate(extra):
        ok = (isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2
              and all(isinstance(x, str) and x.strip() for x in pair))
        if not ok:
            raise LeakstatsError(
                f"argument 'forget_extra': item {i} is {pair!r}, not a (question, text) pair "
                f"of non-empty strings. Fix: drop or fix that item."
            )
        out.append((str(pair[0]), str(pair[1])))
    return out


def digest(payload) -> str:
    """SHA-256 of a JSON-able payload (stable key order)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_table(facts: pd.DataFrame) -> pd.DataFrame:
    """A leakstats prompt table (``prompt`` = question, ``reference`` = answer)."""
    from leakstats.generate.prompts import validate_prompts

    table = pd.DataFrame({
        "prompt_id": facts["prompt_id"].to_numpy(),
        "prompt": facts["question"].to_numpy(),
        "reference": facts["answer"].to_numpy(),
    })
    for extra in ("keywords", "split", "person"):
        if extra in facts.columns:
            table[extra] = facts[extra].to_numpy()
    return validate_prompts(table)
