"""The demo's analysis: every number of the report, from the records and the greedy answers.

:func:`analyse` is pure (tables in, tables out), so that it is tested on synthetic data and
re-run on shipped results (``data/demo``) without a model. Warnings raised by the analysis
layer are caught and kept (``Analysis.warnings``), to be listed in the report: never hidden.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.demo._settings import DemoSettings
from leakstats.demo._stats import greedy_summary, vs_greedy

__all__ = ["ARM", "Analysis", "analyse", "load_inputs", "plain_ks"]

#: The arm columns of the demo's records (the store's ``model`` column is the folder name and is
#: dropped: models are told apart by ``method``).
ARM = ["method", "temperature", "top_p", "judge"]
#: Record columns kept (no token lists: they are large and the analysis does not use them).
RECORD_COLUMNS = [*ARM, "prompt_id", "sample_id", "leaked", "score", "text", "n_tokens",
                  "finish_reason"]


def plain_ks(n: int) -> list[int]:
    """k values for an arm with ``n`` samples per prompt: powers of two up to n, and n.

    Examples
    --------
    >>> plain_ks(12)
    [1, 2, 4, 8, 12]
    """
    ks = [2**i for i in range(int(np.log2(n)) + 1) if 2**i <= n]
    return ks if ks[-1] == n else [*ks, n]


@dataclass
class Analysis:
    """The analysis tables (DataFrames), texts (LaTeX / Markdown) and warnings of a run."""

    tables: dict[str, pd.DataFrame]
    texts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        """Write the tables as Parquet, the texts and the rest as JSON, into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            _parquet_safe(table).to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "analysis.json").write_text(json.dumps(
            {"texts": self.texts, "warnings": self.warnings, "meta": self.meta,
             "tables": sorted(self.tables)}, indent=2, default=str) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Analysis:
        """Read what :meth:`save` wrote."""
        folder = Path(folder)
        info = json.loads((folder / "analysis.json").read_text(encoding="utf-8"))
        tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in info["tables"]}
        return cls(tables=tables, texts=info["texts"], warnings=info["warnings"],
                   meta=info["meta"])


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and not out[column].map(
                lambda v: v is None or isinstance(v, str | bool)).all():
            out[column] = out[column].map(lambda v: v if v is None else
                                          json.dumps(v, default=str) if not isinstance(v, str)
                                          else v)
    return out


def load_inputs(root: Path, models: Sequence[str], outputs: dict) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """The records (all models, all arms) and the greedy table of a run folder."""
    from leakstats.generate import read_store

    records, greedy = [], []
    for name in models:
        for store in outputs[f"samples/{name}"]["stores"]:
            frame = read_store(Path(root) / store)
            records.append(frame[[c for c in RECORD_COLUMNS if c in frame.columns]])
        greedy.append(pd.read_parquet(Path(root) / outputs[f"greedy/{name}"]["table"]))
    return pd.concat(records, ignore_index=True), pd.concat(greedy, ignore_index=True)


@contextlib.contextmanager
def _collect(messages: list[str]):
    """Catch every warning raised inside, and keep its text in ``messages``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            messages.extend(f"{w.category.__name__}: {w.message}" for w in caught)


class _Steps:
    """A tqdm bar over the analysis steps (nothing when disabled or tqdm is missing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ModuleNotFoundError:
                return
            self.bar = tqdm(total=total, desc="analysis", unit="step", file=sys.stderr,
                            dynamic_ncols=True)

    def step(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def analyse(records: pd.DataFrame, greedy: pd.DataFrame, settings: DemoSettings, *,
            models: Sequence[str], rule: str, progress: bool = False) -> Analysis:
    """All the numbers of the report.

    Parameters
    ----------
    records : DataFrame
        Sampled answers: ``method`` (the model), ``temperature``, ``top_p``, ``judge``,
        ``prompt_id``, ``leaked``, ``score``...
    greedy : DataFrame
        Greedy answers: ``model``, ``split``, ``prompt_id``, ``rouge_l_recall``, ``output``...
    settings : DemoSettings
    models : sequence of str
        All models in report order; must include ``original``, ``retrain`` and ``rule``.
    rule : str
        The RULE model's name (its base is ``settings.rule_base``).
    progress : bool, default False
        A progress bar over the steps on stderr.

    Returns
    -------
    Analysis
    """
    import leakstats
    from leakstats.demo._settings import demo_judge

    _check_inputs(records, greedy, settings, models, rule)
    level = settings.confidence_level
    judge = demo_judge(settings.judge)
    unlearned = [m for m in models if m not in ("original", "retrain")]
    greedy = _greedy_labels(greedy, judge)
    records = _prepare_records(records, models, judge.name)
    all_counts = leakstats.counts(records, by=ARM)
    counts = all_counts[all_counts["judge"] == judge.name].reset_index(drop=True)
    messages: list[str] = []
    tables: dict[str, pd.DataFrame] = {"counts": all_counts, "greedy": greedy}
    texts: dict[str, str] = {}
    bar = _Steps(progress, 6)
    with _collect(messages), contextlib.closing(bar):
        tables["greedy_summary"] = greedy_summary(greedy, unlearned=unlearned,
                                                  confidence_level=level)
        bar.step("greedy")
        frames, plain = _sampled_tables(counts, settings, rule, texts)
        bar.step("leak@k, compare")
        tables["leak"] = pd.concat(frames["leak"], ignore_index=True)
        tables["compare"] = pd.concat(frames["compare"], ignore_index=True)
        tables["rule"] = pd.concat(frames["rule"], ignore_index=True)
        sub, ks = plain
        n_plain = ks[-1]
        tables["vs_greedy"] = vs_greedy(sub, greedy, ks, unlearned=unlearned,
                                        confidence_level=level)
        plain_all = all_counts[(all_counts["temperature"] == 1.0) & (all_counts["top_p"] == 1.0)]
        tables["judges"] = leakstats.leak_at_k(plain_all, k=sorted({1, n_plain}),
                                               confidence_level=level, by=ARM).to_frame()
        bar.step("vs greedy")
        cert_k = sorted({1, n_plain, *settings.extrapolate_k})
        tables["certify"] = leakstats.certify(sub, k=cert_k, confidence_level=level,
                                              by=ARM).to_frame()
        bar.step("certify")
        tables.update(_extrapolation(sub, settings, messages))
        bar.step("extrapolation")
        if settings.bayes:
            tables.update(_bayes(sub, settings, n_plain, messages))
        bar.step("bayes")
    tables["records"] = records
    _order_tables(tables, models)
    return Analysis(tables=tables, texts=texts, warnings=list(dict.fromkeys(messages)),
                    meta={"models": list(models), "unlearned": unlearned, "rule": rule,
                          "rule_base": settings.rule_base, "judge": judge.name,
                          "judge_spec": settings.judge, "n_plain": n_plain,
                          "ks": ks, "confidence_level": level,
                          "extrapolate_k": list(settings.extrapolate_k),
                          "settings": settings.as_dict()})


def _check_inputs(records: pd.DataFrame, greedy: pd.DataFrame, settings: DemoSettings,
                  models: Sequence[str], rule: str) -> None:
    """Raise :class:`LeakstatsError` when ``models`` lacks ``original``, ``retrain``, ``rule``
    or ``settings.rule_base``, or when ``records`` or ``greedy`` lacks a required column."""
    missing = [m for m in ("original", "retrain", rule, settings.rule_base) if m not in models]
    if missing:
        raise LeakstatsError(f"argument 'models': {list(models)} lacks {missing}. Fix: pass all "
                             f"the models of the run.")
    for name, frame, cols in (("records", records, ["method", "temperature", "top_p",
                                                      "prompt_id", "leaked"]),
                              ("greedy", greedy, ["model", "split", "prompt_id",
                                                  "rouge_l_recall"])):
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise LeakstatsError(f"argument {name!r}: missing column(s) {absent}. Fix: pass the "
                                 f"tables load_inputs() reads from a run folder.")


def _prepare_records(records: pd.DataFrame, models: Sequence[str],
                     judge_name: str) -> pd.DataFrame:
    """A copy of ``records`` with a ``judge`` column (``judge_name`` where absent), sorted by
    model in report order, temperature and prompt, with ``method`` and ``prompt_id`` as str.

    Raises :class:`LeakstatsError` when a method is not in ``models`` or no row is judged
    ``judge_name``."""
    records = records.copy()
    strangers = sorted(set(records["method"].astype(str)) - set(models))
    if strangers:
        raise LeakstatsError(f"argument 'records': methods {strangers} are not in models "
                             f"{list(models)}. Fix: pass every model of the records.")
    if "judge" not in records.columns:
        records["judge"] = judge_name
    if judge_name not in set(records["judge"]):
        raise LeakstatsError(f"argument 'records': no rows judged {judge_name!r} (judges: "
                             f"{sorted(set(records['judge']))}). Fix: sample with the judge of "
                             f"the settings, or set judge= to one of those.")
    records["method"] = pd.Categorical(records["method"].astype(str), categories=list(models))
    records = records.sort_values(["method", "temperature", "prompt_id"], kind="stable")
    records["method"] = records["method"].astype(str)
    records["prompt_id"] = records["prompt_id"].astype(str)
    return records


def _sampled_tables(counts: pd.DataFrame, settings: DemoSettings, rule: str,
                    texts: dict[str, str]) -> tuple[dict[str, list[pd.DataFrame]], tuple | None]:
    """The frames of the ``leak``, ``compare`` and ``rule`` tables, one per (temperature,
    top_p) arm, keyed by table name; the paper table (``table.tex``, ``methods.md``) is put into
    ``texts``.

    Also returns the counts of the T = 1, top-p 1 arm with its k values (:func:`plain_ks`), or
    ``None`` when there is no such arm."""
    import leakstats

    level, seed = settings.confidence_level, settings.seed
    configs = counts[["temperature", "top_p"]].drop_duplicates().sort_values(
        "temperature", ascending=False)
    leak, cmp_frames, rule_frames = [], [], []
    plain = None
    for t, p in configs.itertuples(index=False):
        sub = counts[(counts["temperature"] == t) & (counts["top_p"] == p)]
        n_min = int(sub["n_samples"].min())
        ks = plain_ks(n_min)
        is_plain = t == 1.0 and p == 1.0
        leak.append(leakstats.leak_at_k(sub, k=ks, confidence_level=level, by=ARM,
                                        rng=seed).to_frame())
        cks = sorted({1, n_min})
        for baseline in ("retrain", "original"):
            res = leakstats.compare(sub, k=cks, baseline=baseline, confidence_level=level,
                                    n_resamples=settings.n_resamples, rng=seed, by=ARM)
            cmp_frames.append(res.to_frame().assign(baseline=baseline))
            if is_plain and baseline == "retrain":  # the paper table: one column per k
                _paper_table(sub, cks, settings, texts)
        pair = sub[sub["method"].isin([settings.rule_base, rule])]
        res = leakstats.compare(pair, k=cks, baseline=settings.rule_base,
                                confidence_level=level, n_resamples=settings.n_resamples,
                                rng=seed, by=ARM)
        rule_frames.append(res.to_frame())
        if is_plain:
            plain = (sub, ks)
    return {"leak": leak, "compare": cmp_frames, "rule": rule_frames}, plain


def _paper_table(sub: pd.DataFrame, cks: list[int], settings: DemoSettings,
                 texts: dict[str, str]) -> None:
    """Put the comparison to ``retrain`` by method alone, one column per k in ``cks``, into
    ``texts`` as ``table.tex`` (LaTeX) and ``methods.md`` (Markdown)."""
    import leakstats

    paper = leakstats.compare(
        sub[["method", "prompt_id", "n_samples", "n_leaked"]], k=cks,
        baseline="retrain", confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples, rng=settings.seed, by=["method"])
    texts["table.tex"] = paper.to_latex()
    texts["methods.md"] = paper.to_markdown()


def _order_tables(tables: dict[str, pd.DataFrame], models: Sequence[str]) -> None:
    """Sort the per-model tables of ``tables`` in place by model in report order."""
    for name in ("leak", "certify", "extrapolation", "bayes", "bayes_summary", "counts",
                 "judges"):
        if name in tables and len(tables[name]):
            tables[name] = _in_order(tables[name], "method", models)
    tables["vs_greedy"] = _in_order(tables["vs_greedy"], "model", models)


def _greedy_labels(greedy: pd.DataFrame, judge) -> pd.DataFrame:
    """The greedy table with ``judge_score`` and boolean ``leaked`` by ``judge``, from the
    outputs (a given ``leaked`` column is kept: tables labelled elsewhere)."""
    greedy = greedy.assign(prompt_id=greedy["prompt_id"].astype(str))
    if "leaked" in greedy.columns:
        return greedy.assign(leaked=greedy["leaked"].astype(bool))
    missing = [c for c in ("output", "answer") if c not in greedy.columns]
    if getattr(judge, "kind", "").startswith("keywords") and "keywords" not in greedy.columns:
        missing.append("keywords")
    if missing:
        raise LeakstatsError(
            f"argument 'greedy': no 'leaked' column, and the columns {missing} that judge "
            f"{judge.name!r} needs are missing. Fix: pass the greedy table of a run folder, or "
            f"add a boolean 'leaked' column."
        )
    items = [{"reference": r.answer, **({"keywords": list(r.keywords)}
                                          if "keywords" in greedy.columns else {})}
             for r in greedy.itertuples(index=False)]
    scores, labels = judge.judge(greedy["output"].astype(str).tolist(), items)
    return greedy.assign(judge_score=np.asarray(scores, dtype=float),
                         leaked=np.asarray(labels, dtype=bool))


def _in_order(frame: pd.DataFrame, column: str, models: Sequence[str]) -> pd.DataFrame:
    """Rows sorted by model in report order (stable within a model)."""
    rank = {m: i for i, m in enumerate(models)}
    order = np.argsort(frame[column].map(rank).to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def _extrapolation(sub: pd.DataFrame, settings: DemoSettings, messages: list[str]) -> dict:
    """leak@k beyond n per model; a model without any leak gets a row that says why not."""
    import leakstats

    preds, curves, observed, notes = [], [], [], []
    for model, group in sub.groupby("method", sort=False):
        try:
            res = leakstats.extrapolate(group, k=list(settings.extrapolate_k),
                                        n_resamples=settings.extrapolate_resamples,
                                        rng=settings.seed, by=ARM,
                                        confidence_level=settings.confidence_level)
        except LeakstatsError as exc:
            notes.append({"method": model, "note": str(exc).split(". Fix")[0]})
            continue
        preds.append(res.to_frame())
        curves.append(res.curve())
        observed.append(res.observed().assign(method=model))
        chosen = res.selection()
        chosen = chosen[chosen["selected"]]
        if len(chosen):
            notes.append({"method": model, "note": f"law of the point estimate: "
                                                   f"{chosen['family'].iloc[0]}"})
    empty = pd.DataFrame(columns=["method", "k", "estimate", "ci_low", "ci_high"])
    return {"extrapolation": pd.concat(preds, ignore_index=True) if preds else empty,
            "extrapolation_curve": pd.concat(curves, ignore_index=True) if curves else empty,
            "extrapolation_observed": (pd.concat(observed, ignore_index=True) if observed
                                       else empty),
            "extrapolation_notes": pd.DataFrame(notes, columns=["method", "note"])}


def _bayes(sub: pd.DataFrame, settings: DemoSettings, n_plain: int,
           messages: list[str]) -> dict:
    """Hierarchical zero-inflated beta-binomial per model (skipped, with a note, without PyMC)."""
    import leakstats

    try:
        fit = leakstats.fit_bayes(sub, by=["method"], draws=settings.bayes_draws,
                                  tune=settings.bayes_tune, chains=settings.bayes_chains,
                                  rng=settings.seed)
    except ModuleNotFoundError as exc:
        messages.append(f"Bayesian analysis skipped: {exc}")
        return {}
    ks = sorted({1, n_plain, *settings.extrapolate_k})
    posts = fit.prompt_posteriors(k=[n_plain], confidence_level=settings.confidence_level)
    summary = posts.groupby("method", sort=False).agg(
        n_prompts=("prompt_id", "size"), mean_p_zero=("p_zero", "mean"),
        prompts_likely_forgotten=("p_zero", lambda s: int((s > 0.5).sum()))).reset_index()
    return {"bayes": fit.to_frame(k=ks, confidence_level=settings.confidence_level),
            "bayes_prompts": posts, "bayes_summary": summary,
            "bayes_diagnostics": fit.diagnostics()}
