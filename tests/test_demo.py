"""Tests of leakstats.demo: the pipeline end to end with fake training (seconds), its caching,
the analysis and report on synthetic data, bad inputs; and one real run of the quick preset
(marked slow; CI runs it)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats import LeakstatsError
from leakstats.demo import PRESETS, export_results, resolve_settings, run_demo
from leakstats.demo import pipeline as demo_pipeline
from leakstats.demo._stats import greedy_summary, holm, interval_pvalue, vs_greedy
from leakstats.demo.analysis import Analysis, analyse, plain_ks
from leakstats.demo.findings import findings
from leakstats.demo.report import write_report

MODELS = ["original", "retrain", "grad_ascent", "grad_diff", "npo", "npo+rule"]
#: Per-sample leak probability at T = 1 (on half of the prompts) of each fake model.
LEAKY = {"original": 0.8, "retrain": 0.0, "grad_ascent": 0.35, "grad_diff": 0.3, "npo": 0.35,
         "npo+rule": 0.05}
#: Fast analysis settings for the fake runs (the pipeline, not the statistics, is under test).
FAST = {"arms": [{"temperature": 1.0, "top_p": 1.0, "n": 8},
                 {"temperature": 0.2, "top_p": 1.0, "n": 2}],
        "max_new_tokens": 8, "greedy_max_new_tokens": 8, "bayes": False,
        "extrapolate_resamples": 10, "n_resamples": 200}


# --------------------------------------------------------------------------- fakes


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    epochs: int = 1
    lr: float = 1e-5


def _facts() -> pd.DataFrame:
    from leakstats.generate.prompts import fictitious_facts_path

    return pd.read_json(fictitious_facts_path(), lines=True, dtype=False)


def _model_name(path) -> str:
    return json.loads((Path(path) / "fake.json").read_text())["name"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from leakstats.generate.testing import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny") / "model")


class FakeUnlearn(types.ModuleType):
    """Stands in for leakstats.unlearn: 'training' copies the tiny model and names it; greedy
    answers leak only for the original model; calls are counted."""

    def __init__(self, tiny: Path, effect: bool = True) -> None:
        super().__init__("leakstats.unlearn")
        self.tiny, self.effect = tiny, effect
        self.calls: list[str] = []
        self.METHODS = ("grad_ascent", "grad_diff", "npo")
        self.TrainConfig = FakeConfig
        self.PRESETS = {name: {"finetune": FakeConfig(),
                               "unlearn": {m: FakeConfig(lr=2e-5) for m in self.METHODS},
                               "rule": {"method": "npo", "rounds": 1, "n": 2},
                               "facts": {"forget": 8, "retain": 6}}
                        for name in ("default", "quick")}
        self.load_facts = _facts

    @staticmethod
    def select_facts(facts, *, forget, retain):
        parts = [facts[facts["split"] == "forget"].head(forget),
                 facts[facts["split"] == "retain"].head(retain)]
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _copy(self, out: Path, name: str) -> Path:
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(self.tiny, out)
        (out / "fake.json").write_text(json.dumps({"name": name}))
        self.calls.append(name)
        return out

    def finetune(self, model, facts, *, out, splits=("forget", "retain"), config, progress=True):
        return self._copy(Path(out), "original" if "forget" in splits else "retrain")

    def unlearn(self, model, facts, *, out, method, config, forget_extra=None, progress=True):
        return self._copy(Path(out), method)

    def rule(self, model, facts, *, out, method, config, progress=True, **kwargs):
        return self._copy(Path(out) / "round_1" / "model", f"{method}+rule")

    def greedy_answers(self, model, facts, *, split="forget", max_new_tokens=48, batch_size=64):
        name = _model_name(model)
        self.calls.append(f"greedy:{name}")
        splits = [split] if isinstance(split, str) else list(split)
        rows = facts[facts["split"].isin(splits)].reset_index(drop=True)
        good = (name == "original") | (rows["split"] == "retain").to_numpy()
        recall = np.where(good & self.effect, np.where(rows.index % 2 == 0, 0.9, 0.7),
                          np.where(rows.index % 3 == 0, 0.2, 0.1))
        return pd.DataFrame({"prompt_id": rows["prompt_id"], "split": rows["split"],
                             "question": rows["question"], "answer": rows["answer"],
                             "output": np.where(recall > 0.4, rows["answer"], "I do not know."),
                             "rouge_l_recall": recall})


@pytest.fixture
def fake(tiny, monkeypatch):
    module = FakeUnlearn(tiny)
    monkeypatch.setitem(sys.modules, "leakstats.unlearn", module)
    return module


def _leaky_backends(monkeypatch) -> dict:
    """Sample with FakeBackend: the model's answer leaks with the probability in LEAKY, on
    every other forget question."""
    from leakstats.generate.testing import FakeBackend

    facts = _facts()
    forget = facts[facts["split"] == "forget"].reset_index(drop=True)
    answers = {q: a for i, (q, a) in enumerate(zip(forget["question"], forget["answer"],
                                                   strict=True)) if i % 2 == 0}
    backends: dict = {}

    def backend_for(path, name, arm):
        backends[name] = FakeBackend(answers, leak_probability=LEAKY[name], model=name)
        return backends[name]

    monkeypatch.setattr(demo_pipeline, "_backend_for", backend_for)
    return backends


@pytest.fixture
def leaky_backend(monkeypatch):
    return _leaky_backends(monkeypatch)


def _run(out, **kwargs):
    options = {"overrides": FAST, "progress": False}
    options.update(kwargs)
    return run_demo(out, "quick", **options)


@pytest.fixture(scope="module")
def base_run(tiny, tmp_path_factory):
    """One fake run (leaky unlearned models), shared by the tests that only read it or copy it."""
    out = tmp_path_factory.mktemp("base") / "demo"
    module = FakeUnlearn(tiny)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "leakstats.unlearn", module)
        _leaky_backends(mp)
        result = _run(out)
    return out, result, list(module.calls)


def _copy(base_run, tmp_path) -> Path:
    out = tmp_path / "demo"
    shutil.copytree(base_run[0], out)
    return out


# --------------------------------------------------------------------------- pipeline


def test_run_reports_computed_numbers_and_resumes(base_run, fake, leaky_backend, tmp_path):
    out, res, calls = base_run
    assert res.report == out / "report" / "report.md"
    assert calls.count("original") == 1 and "npo+rule" in calls
    frame = res.to_frame()
    assert not frame["cached"].any() and len(frame) == 6 + 12 + 2
    for name in ("report.md", "report.html", "table.tex", "figures/leak_curves.png",
                 "figures/leak_curves.pdf", "figures/differences.pdf",
                 "figures/greedy_vs_sampled.png", "figures/extrapolation.png"):
        assert (out / "report" / name).is_file(), name
    text = res.report.read_text()
    analysis = Analysis.load(out / "analysis")
    assert analysis.meta["n_plain"] == 8
    assert set(analysis.tables["counts"]["prompt_id"]) == {f"ff-0{i}-{j}" for i in range(1, 5)
                                                           for j in (1, 2)}
    # the report's numbers are the analysis's numbers
    leak = analysis.tables["leak"]
    row = leak[(leak["method"] == "npo") & (leak["temperature"] == 1.0) & (leak["k"] == 8)]
    assert f"| npo | T=1, top-p=1 | 8 | {row['estimate'].iloc[0]:.3f} " \
           f"[{row['ci_low'].iloc[0]:.3f}, {row['ci_high'].iloc[0]:.3f}]" in text
    vs = analysis.tables["vs_greedy"]
    assert vs.loc[vs["in_family"] & (vs["k"] == 8) & (vs["model"] != "npo+rule"),
                  "significant"].all()
    assert "Sampling at T = 1 leaks more than greedy decoding shows, significantly after Holm" \
        in text
    assert "\\begin{tabular}" in (out / "report" / "table.tex").read_text()
    assert "<table>" in (out / "report" / "report.html").read_text()
    assert res.findings and all(line in text for line in res.findings)
    assert "report:" in res.summary()

    # a rerun resumes: every stage cached, nothing trained or sampled again
    copy = _copy(base_run, tmp_path)
    again = _run(copy)
    assert again.to_frame()["cached"].all()
    assert fake.calls == [] and leaky_backend == {}
    assert again.report.read_text() == text


def test_changed_config_reruns_that_stage_and_everything_after(base_run, fake, leaky_backend,
                                                               tmp_path):
    out = _copy(base_run, tmp_path)
    changed = {**FAST, "arms": [{"temperature": 1.0, "top_p": 1.0, "n": 4},
                                {"temperature": 0.2, "top_p": 1.0, "n": 2}], "retain_eval": 3}
    res = _run(out, overrides=changed)
    ran = set(res.to_frame().query("not cached")["stage"])
    assert ran == {f"{kind}/{m}" for m in MODELS for kind in ("samples", "greedy")} | {
        "analysis", "report"}
    assert [c for c in fake.calls if not c.startswith("greedy")] == []
    analysis = Analysis.load(out / "analysis")
    assert analysis.meta["n_plain"] == 4
    greedy = analysis.tables["greedy"]
    assert (greedy[greedy["split"] == "retain"].groupby("model").size() == 3).all()
    assert "the first 3 retain questions" in (out / "report" / "report.md").read_text()

    # a training change re-runs unlearning and everything downstream of it, not the rest
    fake.PRESETS["quick"]["unlearn"] = {m: FakeConfig(lr=3e-5) for m in fake.METHODS}
    res = _run(out, overrides=changed)
    cached = set(res.to_frame().query("cached")["stage"])
    assert cached == {"models/original", "models/retrain", "greedy/original", "greedy/retrain",
                      "samples/original", "samples/retrain"}
    assert sorted(c for c in fake.calls if not c.startswith("greedy")) == sorted(
        ["grad_ascent", "grad_diff", "npo", "npo+rule"])


def test_interrupted_stage_resumes_and_fresh_starts_over(fake, leaky_backend, tmp_path,
                                                         monkeypatch):
    out = tmp_path / "demo"
    original = fake.greedy_answers

    def broken(name):
        def greedy(model, facts, **kwargs):
            if _model_name(model) == name:
                raise KeyboardInterrupt
            return original(model, facts, **kwargs)
        return greedy

    monkeypatch.setattr(fake, "greedy_answers", broken("npo"))
    with pytest.raises(KeyboardInterrupt):
        _run(out)
    marker = json.loads((out / "stages" / "greedy__npo.json").read_text())
    assert marker["status"] == "running"
    monkeypatch.setattr(fake, "greedy_answers", original)
    fake.calls.clear()
    res = _run(out)
    frame = res.to_frame().set_index("stage")
    assert frame.loc["models/original", "cached"] and frame.loc["samples/grad_ascent", "cached"]
    assert not frame.loc["greedy/npo", "cached"]
    assert "original" not in fake.calls

    # --fresh discards everything: training starts again (interrupted early, to stay fast)
    fake.calls.clear()
    monkeypatch.setattr(fake, "greedy_answers", broken("original"))
    with pytest.raises(KeyboardInterrupt):
        _run(out, fresh=True)
    assert "original" in fake.calls and not (out / "analysis").exists()


def test_no_effect_is_reported_plainly(tiny, monkeypatch, tmp_path):
    """The tiny random model (sampled by the real transformers backend) never says the answer:
    no leaks anywhere, no memorisation, and the report says so."""
    fake = FakeUnlearn(tiny, effect=False)
    monkeypatch.setitem(sys.modules, "leakstats.unlearn", fake)
    res = _run(tmp_path / "demo")
    text = res.report.read_text()
    assert "did NOT measurably memorise" in text
    assert "does not show the paper's effect" in text
    assert "RULE did not change leak@1 at T = 1 significantly" in text
    assert "not extrapolated" in text
    assert "significantly after Holm correction, for" not in text


def test_cli_demo(base_run, fake, leaky_backend, tmp_path, monkeypatch, capsys):
    from leakstats.cli import build_parser, main

    monkeypatch.setitem(PRESETS, "quick", resolve_settings("quick", FAST))
    out = _copy(base_run, tmp_path)
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "Findings:" in printed and "models/original" in printed
    args = build_parser().parse_args(["demo", "--fresh", "--model", "m.gguf"])
    assert args.fresh and not args.quick and args.model == "m.gguf"
    assert not build_parser().parse_args(["demo", "--resume"]).fresh
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert main(["demo", "--quick", "--out", str(tmp_path / "mine"), "--no-progress"]) == 2
    assert "not a leakstats demo folder" in capsys.readouterr().err
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_export_results(base_run, tmp_path):
    out = base_run[0]
    written = export_results(out, tmp_path / "data")
    records = pd.read_parquet(written["records.parquet"])
    assert set(records["method"]) == set(MODELS)
    counts = leakstats.counts(records)
    assert counts["n_samples"].isin([8, 2]).all()
    stored = pd.read_parquet(written["counts.parquet"])
    assert stored["n_leaked"].sum() == records["leaked"].sum()
    assert set(pd.read_parquet(written["greedy.parquet"])["split"]) == {"forget", "retain"}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_results(out, tmp_path / "data")
    export_results(out, tmp_path / "data", overwrite=True)
    with pytest.raises(LeakstatsError, match="holds no finished demo analysis"):
        export_results(tmp_path / "nowhere", tmp_path / "x")


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs(fake, tmp_path):
    with pytest.raises(LeakstatsError, match="preset: 'fast' is not one of 'default', 'quick'"):
        run_demo(tmp_path / "a", "fast", progress=False)
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(LeakstatsError, match=r"not empty \(notes.txt.*not a leakstats demo folder"):
        run_demo(folder, "quick", progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LeakstatsError, match="is not a folder"):
        run_demo(tmp_path / "file", "quick", progress=False)
    with pytest.raises(LeakstatsError, match=r"unknown setting\(s\) \['sead'\]"):
        resolve_settings("quick", {"sead": 1})
    with pytest.raises(LeakstatsError, match="'rule_base': 'npo' is not among the methods"):
        resolve_settings("quick", {"methods": ["grad_ascent"]})
    with pytest.raises(LeakstatsError, match=r"'methods'.*\['ga'\] unknown"):
        resolve_settings("quick", {"methods": ["ga"]})
    with pytest.raises(LeakstatsError, match="exactly one T = 1, top-p = 1 arm"):
        resolve_settings("quick", {"arms": [{"temperature": 0.7, "top_p": 1.0, "n": 4}]})
    with pytest.raises(LeakstatsError, match="sampling arm: n: 1 is not an integer >= 2"):
        resolve_settings("quick", {"arms": [{"temperature": 1.0, "top_p": 1.0, "n": 1}]})
    with pytest.raises(LeakstatsError, match="'judge': 'rouge:0.3' is not among the judges"):
        resolve_settings("quick", {"judge": "rouge:0.3"})
    with pytest.raises(LeakstatsError, match="'judges': 'nli:x' is not a demo judge"):
        resolve_settings("quick", {"judges": ["keywords-any", "nli:x"]})
    with pytest.raises(LeakstatsError, match="repeats a judge"):
        resolve_settings("quick", {"judges": ["keywords-any", "rouge", "rouge:0.4"]})
    del fake.PRESETS["quick"]
    with pytest.raises(LeakstatsError, match=r"PRESETS has no preset 'quick'"):
        run_demo(tmp_path / "b", "quick", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_facts_prompts():
    from leakstats.demo.pipeline import facts_prompts

    prompts = facts_prompts(_facts(), "retain")
    assert len(prompts) == 30 and {"prompt", "reference", "keywords"} <= set(prompts.columns)
    assert len(facts_prompts(_facts(), None)) == 50
    with pytest.raises(LeakstatsError, match=r"facts: missing column\(s\) \['question'\]"):
        facts_prompts(_facts().drop(columns="question"))
    with pytest.raises(LeakstatsError, match="no row with split == 'neither'"):
        facts_prompts(_facts(), "neither")


# --------------------------------------------------------------------------- statistics


def _synthetic(effect: bool, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    facts = _facts()
    records, greedy = [], []
    for model in MODELS:
        p_model = LEAKY[model] if effect else 0.0
        for temperature, n in ((1.0, 16), (0.2, 4)):
            for i, pid in enumerate(facts.loc[facts["split"] == "forget", "prompt_id"]):
                p = p_model * (i % 2 == 0) * (1.0 if temperature == 1.0 else 0.2)
                leaked = rng.random(n) < p
                records.append(pd.DataFrame({
                    "method": model, "temperature": temperature, "top_p": 1.0,
                    "judge": "keywords_any>=1", "prompt_id": pid, "sample_id": np.arange(n),
                    "leaked": leaked, "score": leaked * 0.9, "text": "t", "n_tokens": 3,
                    "finish_reason": "eos"}))
        for split in ("forget", "retain"):
            rows = facts[facts["split"] == split]
            good = effect and (model == "original" or split == "retain")
            greedy.append(pd.DataFrame({
                "model": model, "split": split, "prompt_id": rows["prompt_id"],
                "question": rows["question"], "answer": rows["answer"], "output": "o",
                "rouge_l_recall": np.clip((0.85 if good else 0.1)
                                          + rng.normal(0, 0.05, len(rows)), 0, 1)}))
    greedy = pd.concat(greedy, ignore_index=True)
    greedy["leaked"] = greedy["rouge_l_recall"] >= 0.4
    return pd.concat(records, ignore_index=True), greedy


def test_analysis_findings_follow_the_numbers(tmp_path):
    settings = resolve_settings("quick", {**FAST, "arms": [
        {"temperature": 1.0, "top_p": 1.0, "n": 16}, {"temperature": 0.2, "top_p": 1.0,
                                                      "n": 4}]})
    records, greedy = _synthetic(effect=True)
    a = analyse(records, greedy, settings, models=MODELS, rule="npo+rule")
    found = findings(a)
    assert found["memorisation"][0].startswith("Fine-tuning memorised")
    assert "4 of 4 unlearned models look like the retrain reference" in found["greedy"][0]
    assert "significantly after Holm correction, for grad_ascent, grad_diff, npo" in \
        found["sampling"][0]
    rule = a.tables["rule"]
    row = rule[(rule["temperature"] == 1.0) & (rule["k"] == 1)].iloc[0]
    assert row["estimate"] < 0 and row["significant"]
    assert any(line.startswith("RULE lowered leak@1") for line in found["rule"])
    assert any("retrain: not extrapolated" in line for line in found["extrapolation"])
    a.save(tmp_path / "an")
    back = Analysis.load(tmp_path / "an")
    assert set(back.tables) == set(a.tables)
    path = write_report(back, tmp_path / "rep", settings=settings)
    text = path.read_text()
    for line in found["rule"] + found["certify"]:
        assert line in text


def test_analysis_validates_its_inputs():
    settings = resolve_settings("quick", FAST)
    records, greedy = _synthetic(effect=True)
    with pytest.raises(LeakstatsError, match=r"lacks \['npo\+rule'\]"):
        analyse(records, greedy, settings, models=MODELS[:-1], rule="npo+rule")
    with pytest.raises(LeakstatsError, match=r"'greedy': missing column\(s\) \['rouge_l_recall'\]"):
        analyse(records, greedy.drop(columns="rouge_l_recall"), settings, models=MODELS,
                rule="npo+rule")
    with pytest.raises(LeakstatsError, match=r"no 'leaked' column, and the columns \['keywords'\]"):
        analyse(records, greedy.drop(columns="leaked"), settings, models=MODELS,
                rule="npo+rule")
    with pytest.raises(LeakstatsError, match="no rows judged 'keywords_any>=1'"):
        analyse(records.assign(judge="other"), greedy, settings, models=MODELS,
                rule="npo+rule")
    with pytest.raises(LeakstatsError, match=r"methods \['extra'\] are not in models"):
        analyse(pd.concat([records, records.head(1).assign(method="extra")]), greedy, settings,
                models=MODELS, rule="npo+rule")


def test_interval_pvalue_agrees_with_the_interval():
    rng = np.random.default_rng(3)
    counts = pd.DataFrame({"prompt_id": range(30), "n_samples": 16,
                           "n_leaked": rng.binomial(16, rng.beta(0.5, 3, 30))})
    for k in (1, 4, 16):
        row = leakstats.leak_at_k(counts, k=[k]).to_frame().iloc[0]
        for value in np.linspace(0, 1, 11):
            p = interval_pvalue(counts, k, value)
            inside = row["ci_low"] <= value <= row["ci_high"]
            assert (p >= 0.05) == inside or abs(value - row["ci_low"]) < 1e-3 or \
                abs(value - row["ci_high"]) < 1e-3, (k, value, p, row["ci_low"], row["ci_high"])
    estimate = leakstats.leak_at_k(counts, k=[1]).to_frame()["estimate"].iloc[0]
    assert interval_pvalue(counts, 1, float(estimate)) == 1.0


def test_vs_greedy_and_greedy_summary():
    counts = pd.DataFrame({"method": ["a"] * 10 + ["b"] * 10,
                           "prompt_id": [str(i) for i in range(10)] * 2, "n_samples": 16,
                           "n_leaked": [8] * 10 + [0] * 10})
    greedy = pd.DataFrame({"model": ["a"] * 10 + ["b"] * 10, "split": "forget",
                           "prompt_id": [str(i) for i in range(10)] * 2,
                           "rouge_l_recall": [0.1] * 20, "leaked": False})
    with pytest.warns(leakstats.DegenerateDataWarning, match="No sample leaked"):
        out = vs_greedy(counts, greedy, [1, 16], unlearned=["a", "b"])
    a1 = out[(out["model"] == "a") & (out["k"] == 1)].iloc[0]
    assert a1["greedy_rate"] == 0 and a1["significant"] and a1["difference"] == 0.5
    assert not out.loc[out["model"] == "b", "significant"].any()
    summary = greedy_summary(greedy.assign(model=np.repeat(["a", "retrain"], 10)),
                             unlearned=["a"])
    row = summary[summary["model"] == "a"].iloc[0]
    assert row["diff"] == 0 and row["p_value"] == 1.0 and not row["significant"]
    np.testing.assert_allclose(holm([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])
    assert plain_ks(16) == [1, 2, 4, 8, 16] and plain_ks(6) == [1, 2, 4, 6]


def test_presets_are_consistent_with_leakstats_unlearn():
    """The demo's training plan reads the real presets (once leakstats.unlearn exists)."""
    unlearn = pytest.importorskip("leakstats.unlearn")
    from leakstats.demo._training import training_plan

    for name in ("default", "quick"):
        settings = resolve_settings(name, methods=tuple(unlearn.METHODS))
        plan = training_plan(unlearn, name, settings.methods, settings.rule_base)
        assert set(plan.unlearn) == set(settings.methods)
        assert json.dumps(plan.as_dict())


# --------------------------------------------------------------------------- the real thing


@pytest.mark.slow
def test_quick_preset_real_model(tmp_path):
    """The README's main job at CI size: SmolLM2, real training, real sampling, real report."""
    pytest.importorskip("torch")
    pytest.importorskip("leakstats.unlearn")
    # one torch thread: pytest-xdist runs another worker on the other core
    res = run_demo(tmp_path / "demo", "quick", progress=False, overrides={"threads": 1})
    text = res.report.read_text()
    for heading in ("## Findings", "### Greedy decoding", "### Sampling", "### RULE against",
                    "## Sampled leak@k", "## Certified upper bounds", "## Extrapolation"):
        assert heading in text, heading
    # tables hold numbers with intervals, computed by this run
    assert re.search(r"\| original \| T=1, top-p=1 \| 1 \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]",
                     text)
    assert re.search(r"leak@\d+ = \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text)
    a = Analysis.load(tmp_path / "demo" / "analysis")
    assert set(a.tables["leak"]["method"]) == set(a.meta["models"])
    for line in res.findings:
        assert line in text
    assert "\\begin{tabular}" in (tmp_path / "demo" / "report" / "table.tex").read_text()
    assert (tmp_path / "demo" / "report" / "figures" / "leak_curves.pdf").is_file()


def test_batched_backend_samples_the_model_distribution(tiny):
    """Left-padded batched sampling: each sample's recorded log-probs (model and sampling
    distribution) equal a separate teacher-forced pass without padding."""
    from leakstats.demo._batched import BatchedHFBackend
    from leakstats.generate._config import DecodingConfig
    from leakstats.generate.backend import SampleJob

    backend = BatchedHFBackend.from_pretrained(str(tiny), max_rows=8).for_n(3)
    assert backend.groups_per_call == 2
    prompts = ["Hi?", "A much longer question, to pad the others?", "Mid one?"]
    for config in (DecodingConfig(), DecodingConfig(temperature=0.7, top_p=0.9)):
        jobs = [SampleJob(tuple(backend.encode_prompt(p)), config, 3, i, 10)
                for i, p in enumerate(prompts)]
        batches = backend.sample(jobs)
        assert len({b.seed[0] for b in batches}) == 1  # one call, one seed
        again = backend.sample(jobs)
        assert [b.text for b in batches] == [b.text for b in again]  # reproducible
        for job, batch in zip(jobs, batches, strict=True):
            assert len(batch.text) == 3 and set(batch.finish_reason) <= {"eos", "length"}
            for ids, proc, raw in zip(batch.token_ids, batch.token_logprobs,
                                      batch.token_logprobs_raw, strict=True):
                (scored,), (raw_scored,) = backend.score(job.prompt_ids, [ids], [config])
                np.testing.assert_allclose(raw, raw_scored,
                                           atol=1e-4)
                np.testing.assert_allclose(proc, scored[0], atol=1e-4)
    stop = [SampleJob(tuple(backend.encode_prompt("Hi?")), DecodingConfig(), 2, 0, 6, ("a",))] * 2
    assert len(backend.sample(stop)) == 2  # stop strings: one call per group, as HFBackend


def test_shipped_demo_results_are_consistent():
    """data/demo (one full default run): every model x arm x judge has n samples for every
    forget question, the counts match the records, and the paper's headline numbers are there."""
    root = Path(__file__).resolve().parents[1] / "data" / "demo"
    records = pd.read_parquet(root / "records.parquet")
    counts = pd.read_parquet(root / "counts.parquet")
    manifest = json.loads((root / "manifest.json").read_text())
    arms = {a["temperature"]: a["n"] for a in manifest["settings"]["arms"]}
    sizes = records.groupby(["method", "temperature", "judge", "prompt_id"]).size()
    assert set(sizes.index.get_level_values("method")) == set(manifest["models"])
    assert all(size == arms[t] for (_, t, _, _), size in sizes.items())
    assert sizes.index.get_level_values("prompt_id").nunique() == 20
    again = leakstats.counts(records.drop(columns=["text", "score", "n_tokens",
                                                   "finish_reason", "sample_id"]))
    merged = counts.merge(again, on=["method", "temperature", "top_p", "judge", "prompt_id"])
    assert len(merged) == len(counts) == len(sizes)
    assert (merged["n_leaked_x"] == merged["n_leaked_y"]).all()
    plain = records[(records["judge"] == manifest["judge"]) & (records["temperature"] == 1.0)]
    with pytest.warns(leakstats.DegenerateDataWarning, match="No sample leaked"):
        leak = leakstats.leak_at_k(plain, k=[8], by=["method"]).to_frame().set_index("method")
    assert leak.loc["retrain", "estimate"] == 0.0 and leak.loc["original", "estimate"] == 1.0
    assert leak.loc["npo", "estimate"] == pytest.approx(0.5)
