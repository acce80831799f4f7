"""``run_demo``: fine-tune -> unlearn -> RULE -> greedy and sampled evaluation -> analysis ->
report, each stage cached in the run folder (see :mod:`leakstats.demo._stages`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.demo._settings import DemoSettings, SamplingArm, resolve_settings
from leakstats.demo._stages import RunFolder, Stage, StageRecord, stable_key
from leakstats.demo._training import config_dict, training_plan, unlearn_api
from leakstats.generate.models import torch_threads

__all__ = ["DemoResult", "arm_folder", "facts_prompts", "rule_name", "run_demo"]

#: Version of the analysis and report code: a change re-runs those stages.
ANALYSIS_VERSION = 1
REPORT_VERSION = 1


def rule_name(base: str) -> str:
    """The model name of RULE on top of ``base`` (``"npo+rule"``)."""
    return f"{base}+rule"


def arm_folder(arm: SamplingArm) -> str:
    """Store folder name of a sampling arm, e.g. ``"T1_p1"``, ``"T0.2_p1"``."""
    return f"T{arm.temperature:g}_p{arm.top_p:g}"


@dataclass(frozen=True, repr=False, eq=False)
class DemoResult:
    """What :func:`run_demo` did and where the report is.

    Attributes
    ----------
    path : pathlib.Path
        The run folder.
    report : pathlib.Path
        ``report.md`` inside it (``report.html``, ``table.tex`` and ``figures/`` beside it).
    preset : str
    seconds : float
        Wall time of this call.
    findings : tuple of str
        The report's findings, one sentence each, computed from the numbers.
    warnings : tuple of str
        Warnings raised by the analysis (also listed in the report).
    """

    path: Path
    report: Path
    preset: str
    seconds: float
    stages: tuple[StageRecord, ...] = field(repr=False)
    findings: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: ``stage``, ``cached``, ``seconds`` (of the run that made it)."""
        return pd.DataFrame({"stage": [s.name for s in self.stages],
                             "cached": [s.cached for s in self.stages],
                             "seconds": [round(s.seconds, 1) for s in self.stages]})

    def summary(self) -> str:
        """Printable summary: stage times, findings, report path."""
        frame = self.to_frame()
        ran = frame.loc[~frame["cached"], "seconds"].sum()
        lines = [f"leakstats demo ({self.preset} preset) in {self.path}: {self.seconds:.0f} s "
                 f"({int((~frame['cached']).sum())} stages run, {int(frame['cached'].sum())} "
                 f"cached; {ran:.0f} s of stage work)", "", frame.to_string(index=False), "",
                 "Findings:"]
        lines += [f"  - {f}" for f in self.findings]
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s): see the report's Warnings section.")
        lines.append(f"report: {self.report}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DemoResult(path={str(self.path)!r}, preset={self.preset!r}, " \
               f"seconds={self.seconds:.1f}, report={str(self.report)!r})"


# --------------------------------------------------------------------------- inputs


def facts_prompts(facts: pd.DataFrame, split: str | None = "forget") -> pd.DataFrame:
    """The prompt table (``prompt_id``, ``prompt``, ``reference``, ``keywords``...) of one
    split of the facts (None: all): the question is the prompt, the answer the reference.

    Examples
    --------
    >>> from leakstats.generate.prompts import fictitious_facts_path
    >>> facts = pd.read_json(fictitious_facts_path(), lines=True)
    >>> facts_prompts(facts)[["prompt_id", "prompt"]].shape
    (20, 2)
    """
    missing = [c for c in ("prompt_id", "question", "answer", "split") if c not in facts.columns]
    if missing:
        raise LeakstatsError(f"facts: missing column(s) {missing}. Fix: load the facts with "
                             f"leakstats.unlearn.load_facts().")
    rows = (facts if split is None else facts[facts["split"] == split]).reset_index(drop=True)
    if rows.empty:
        raise LeakstatsError(f"facts: no row with split == {split!r}. Fix: use facts with a "
                             f"forget and a retain split.")
    out = pd.DataFrame({"prompt_id": rows["prompt_id"].astype(str), "prompt": rows["question"],
                        "reference": rows["answer"]})
    for extra in ("keywords", "split", "person"):
        if extra in rows.columns:
            out[extra] = rows[extra].to_numpy()
    return out


def _model_identity(model) -> dict:
    from leakstats.generate.models import file_sha256, resolve_model

    if model is None:
        from leakstats.generate.models import default_model_path

        path = default_model_path()
        return {"model": path.stem, "sha256": file_sha256(path)}
    _, _, gguf_path, name = resolve_model(model)
    if gguf_path is not None:
        return {"model": name, "sha256": file_sha256(gguf_path)}
    folder = Path(os.fspath(model)).expanduser()
    weights = folder / "model.safetensors"
    digest = file_sha256(weights) if weights.is_file() else None
    return {"model": str(folder.resolve()) if folder.exists() else str(model), "sha256": digest}


_LOADED: dict[str, Any] = {}


def _backend_for(model_path: Path, name: str, arm: SamplingArm):
    """The sampling backend of a model and arm: transformers, several questions per call
    (:class:`~leakstats.demo._batched.BatchedHFBackend`); the model is loaded once for all
    its arms. A hook for tests."""
    from leakstats.demo._batched import BatchedHFBackend

    key = str(Path(model_path).resolve())
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = BatchedHFBackend.from_pretrained(key)
    return _LOADED[key].for_n(arm.n)


@contextlib.contextmanager
def _transformers_bars(enabled: bool):
    """Without progress, also silence transformers' own bars ("Loading weights")."""
    try:
        from transformers.utils import logging as hf_logging
    except ModuleNotFoundError:
        yield
        return
    before = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if before and not enabled:
            hf_logging.enable_progress_bar()


def _stderr_log(line: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the run


def run_demo(
    out: str | os.PathLike = "out/demo",
    preset: str = "default",
    *,
    model: str | os.PathLike | None = None,
    fresh: bool = False,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the end-to-end demo: train, unlearn, evaluate, analyse, report.

    Stages (each cached in ``out``; a rerun resumes, and a changed setting re-runs that stage
    and everything after it):

    1. fine-tune the model on all facts (``original``) and on the retain split only
       (``retrain``, the reference that never saw the forget set);
    2. unlearn the forget split from ``original`` with each method, and RULE on top of
       ``rule_base``;
    3. greedy answers of every model to the forget and retain questions (ROUGE-L recall);
    4. sampled answers of every model to the forget questions over the decoding grid, judged;
    5. the analysis (leak@k with intervals, Bayesian per-prompt posteriors, extrapolation,
       paired comparisons with Holm-adjusted p-values, certification);
    6. the report: ``report/report.md`` and ``.html``, ``table.tex``, figures (PNG and PDF).

    Parameters
    ----------
    out : path, default "out/demo"
        The run folder: new, empty, or an earlier demo run (never another folder).
    preset : {"default", "quick"}
        ``default``: about 20 minutes on 2 CPU cores; ``quick``: about 4 minutes (CI).
    model : path or None
        The base model (transformers folder or GGUF file); None: SmolLM2-135M-Instruct.
    fresh : bool, default False
        Discard the outputs of an earlier run in ``out`` and start again.
    overrides : mapping, optional
        Replace settings of the preset (fields of :class:`DemoSettings`, e.g.
        ``{"arms": [...], "seed": 1}``).
    progress : bool, default True
        Progress bars and one line per stage on stderr.
    log : callable, optional
        Receives the stage lines instead of stderr.

    Returns
    -------
    DemoResult

    Raises
    ------
    ValueError
        (:class:`leakstats.LeakstatsError`) for an unknown preset or setting, or an ``out``
        that exists, is not empty and is not a demo run folder.
    MissingDependencyError (a ModuleNotFoundError)
        Without the generation extra (torch, transformers).
    """
    start = time.perf_counter()
    api = unlearn_api()
    settings = resolve_settings(preset, {**_from_training_preset(api, preset), **(overrides or {})},
                                methods=tuple(api.METHODS))
    plan = training_plan(api, preset, settings.methods, settings.rule_base)
    logger = log if log is not None else (_stderr_log if progress else None)
    run = RunFolder(out, fresh=fresh, log=logger, info={"preset": preset})
    facts = api.select_facts(api.load_facts(), **plan.facts)
    records: list[StageRecord] = []
    with torch_threads(settings.threads), _transformers_bars(progress):
        for stage in _stages(run, api, settings, plan, facts, model, progress):
            records.append(run.run(stage))
    report_dir = run.path / "report"
    from leakstats.demo.report import read_findings

    findings, warned = read_findings(report_dir)
    return DemoResult(path=run.path, report=report_dir / "report.md", preset=preset,
                      seconds=time.perf_counter() - start, stages=tuple(records),
                      findings=tuple(findings), warnings=tuple(warned))


def _from_training_preset(api, preset: str) -> dict:
    """Settings that the training preset fixes: RULE's base method."""
    rule = api.PRESETS.get(preset, {}).get("rule", {})
    return {"rule_base": rule["method"]} if "method" in rule else {}


def _stages(run: RunFolder, api, settings: DemoSettings, plan, facts: pd.DataFrame, model,
            progress: bool):
    """The stages in execution order (a generator: later configs read earlier outputs)."""
    facts_key = stable_key(facts.astype(str).to_dict(orient="list"))
    base = {"model": _model_identity(model), "facts": facts_key}
    root = run.path

    def model_path(outputs: dict) -> Path:
        return root / outputs["model"]

    def finetune_stage(name: str, splits: tuple[str, ...], config) -> Stage:
        def go(folder: Path, deps: dict) -> dict:
            path = api.finetune(model, facts, out=folder / "model", splits=splits, config=config,
                                progress=progress)
            return {"model": str(Path(path).relative_to(root))}
        return Stage(f"models/{name}", {**base, "splits": list(splits),
                                        "config": config_dict(config)}, go)

    yield finetune_stage("original", ("forget", "retain"), plan.finetune)
    yield finetune_stage("retrain", ("retain",), plan.retrain)
    for method in settings.methods:
        def go(folder: Path, deps: dict, method=method) -> dict:
            path = api.unlearn(model_path(deps["models/original"]), facts, out=folder / "model",
                               method=method, config=plan.unlearn[method], progress=progress)
            return {"model": str(Path(path).relative_to(root))}
        yield Stage(f"models/{method}", {"method": method,
                                         "config": config_dict(plan.unlearn[method])},
                    go, deps=("models/original",))
    rule = rule_name(settings.rule_base)

    def go_rule(folder: Path, deps: dict) -> dict:
        path = api.rule(model_path(deps[f"models/{settings.rule_base}"]), facts,
                        out=folder / "rule", method=settings.rule_base,
                        config=plan.rule_config, progress=progress, **plan.rule_args)
        return {"model": str(Path(path).relative_to(root))}
    yield Stage(f"models/{rule}", {"base": settings.rule_base, "args": dict(plan.rule_args),
                                   "config": config_dict(plan.rule_config)},
                go_rule, deps=(f"models/{settings.rule_base}",))

    names = ["original", "retrain", *settings.methods, rule]
    prompts = facts_prompts(facts, "forget")
    for name in names:
        yield _greedy_stage(api, name, facts, settings, root)
        yield _sample_stage(name, prompts, settings, root, progress)
    deps = tuple(f"{kind}/{name}" for name in names for kind in ("greedy", "samples"))
    analysis = {"version": ANALYSIS_VERSION, "settings": settings.as_dict(), "models": names,
                "rule": rule}

    def go_analysis(folder: Path, outputs: dict) -> dict:
        from leakstats.demo.analysis import analyse, load_inputs

        records, greedy = load_inputs(root, names, outputs)
        analyse(records, greedy, settings, models=names, rule=rule,
                progress=progress).save(folder)
        return {}
    yield Stage("analysis", analysis, go_analysis, deps=deps)

    def go_report(folder: Path, outputs: dict) -> dict:
        from leakstats.demo.analysis import Analysis
        from leakstats.demo.report import write_report

        write_report(Analysis.load(root / "analysis"), folder, settings=settings,
                     run_info=_run_info(run, plan, model))
        return {"report": "report/report.md"}
    yield Stage("report", {"version": REPORT_VERSION}, go_report, deps=("analysis",))


def _greedy_stage(api, name: str, facts: pd.DataFrame, settings: DemoSettings,
                  root: Path) -> Stage:
    def go(folder: Path, deps: dict) -> dict:
        path = root / deps[f"models/{name}"]["model"]
        chosen = facts
        if settings.retain_eval is not None:
            retain = facts.index[facts["split"] == "retain"][settings.retain_eval:]
            chosen = facts.drop(index=retain)
        splits = [x for x in ("forget", "retain") if (chosen["split"] == x).any()]
        table = api.greedy_answers(path, chosen, split=tuple(splits),
                                   max_new_tokens=settings.greedy_max_new_tokens, batch_size=32)
        _with_keywords(table, facts).assign(model=name).to_parquet(folder / "greedy.parquet",
                                                                    index=False)
        return {"table": f"greedy/{name}/greedy.parquet"}
    config = {"max_new_tokens": settings.greedy_max_new_tokens,
              "retain_eval": settings.retain_eval}
    return Stage(f"greedy/{name}", config, go, deps=(f"models/{name}",))


def _with_keywords(table: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """The greedy table with each fact's ``keywords`` (the analysis judges the outputs)."""
    if "keywords" in table.columns or "keywords" not in facts.columns:
        return table
    keywords = facts.set_index(facts["prompt_id"].astype(str))["keywords"]
    return table.assign(keywords=[list(keywords.loc[str(p)]) for p in table["prompt_id"]])


def _sample_stage(name: str, prompts: pd.DataFrame, settings: DemoSettings, root: Path,
                  progress: bool) -> Stage:
    def go(folder: Path, deps: dict) -> dict:
        from leakstats.demo._settings import demo_judge
        from leakstats.generate import generate_samples

        path = root / deps[f"models/{name}"]["model"]
        stores = []
        for arm in settings.arms:
            store = folder / arm_folder(arm)
            generate_samples(prompts, out=store, model=str(path),
                             backend=_backend_for(path, name, arm), n=arm.n,
                             temperature=arm.temperature, top_p=arm.top_p,
                             max_new_tokens=settings.max_new_tokens,
                             judge=[demo_judge(j) for j in settings.judges],
                             method=name, seed=settings.seed, reference_logprobs=False,
                             resume=True, progress=progress)
            stores.append(str(store.relative_to(root)))
        _LOADED.clear()
        return {"stores": stores}
    config = {"arms": [vars(a) for a in settings.arms], "max_new_tokens": settings.max_new_tokens,
              "judges": list(settings.judges), "seed": settings.seed,
              "prompts": stable_key(prompts.astype(str).to_dict(orient="list"))}
    return Stage(f"samples/{name}", config, go, deps=(f"models/{name}",))


def _run_info(run: RunFolder, plan, model) -> dict:
    times = {name: round(r.seconds, 1) for name, r in run.records.items()}
    return {"model": _model_identity(model)["model"], "training": plan.as_dict(),
            "stage_seconds": times}
