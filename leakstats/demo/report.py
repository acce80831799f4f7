"""The report folder: ``report.md``, ``report.html``, ``table.tex``, ``findings.json`` and
``figures/`` (PNG and PDF), written from an :class:`~leakstats.demo.analysis.Analysis`."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.demo._settings import DemoSettings
from leakstats.demo.analysis import Analysis
from leakstats.demo.findings import findings, fmt, fmt_ci, fmt_p, fmt_signed_ci

__all__ = ["md_table", "read_findings", "write_report"]

SECTIONS = (
    ("memorisation", "Did fine-tuning teach the facts?"),
    ("greedy", "Greedy decoding: do unlearned models look like the retrain reference?"),
    ("sampling", "Sampling: does leak@k at T = 1 exceed the greedy leak rate?"),
    ("reference", "Against the references (paired tests)"),
    ("rule", "RULE against its base method"),
    ("certify", "What can be certified for RULE"),
    ("extrapolation", "Extrapolation to large k"),
    ("bayes", "Bayesian per-prompt view"),
)


def md_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A Markdown pipe table of ``frame`` (cells as they are; ``|`` escaped).

    Examples
    --------
    >>> print(md_table(pd.DataFrame({"a": [1], "b": ["x|y"]})))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    columns = list(columns or frame.columns)
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in frame[columns].itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cfg(t: float, p: float) -> str:
    return f"T={t:g}, top-p={p:g}"


def _greedy_table(a: Analysis) -> str:
    g = a.tables["greedy_summary"]
    rows = pd.DataFrame({
        "model": g["model"], "split": g["split"],
        "ROUGE-L recall [CI]": [fmt_ci(r.rouge_l, r.ci_low, r.ci_high)
                                for r in g.itertuples(index=False)],
        "greedy leaks": [f"{r.n_leaked}/{r.n_prompts}" for r in g.itertuples(index=False)],
        "minus retrain [CI]": [fmt_signed_ci(r.diff, r.diff_low, r.diff_high)
                               if np.isfinite(r.diff) else "" for r in g.itertuples(index=False)],
        "Holm p": [fmt_p(r.p_adjusted) if np.isfinite(r.p_adjusted) else ""
                   for r in g.itertuples(index=False)],
    })
    return md_table(rows)


def _leak_table(a: Analysis) -> str:
    lk = a.tables["leak"]
    rows = pd.DataFrame({
        "model": lk["method"], "decoding": [_cfg(t, p) for t, p in zip(lk["temperature"],
                                                                      lk["top_p"], strict=True)],
        "k": lk["k"], "leak@k [CI]": [fmt_ci(r.estimate, r.ci_low, r.ci_high)
                                      for r in lk.itertuples(index=False)],
        "prompts": lk["n_prompts"], "samples": lk["n_samples"], "interval": lk["ci_method"],
    })
    return md_table(rows)


def _vs_greedy_table(a: Analysis) -> str:
    v = a.tables["vs_greedy"]
    rows = pd.DataFrame({
        "model": v["model"], "k": v["k"],
        "leak@k at T=1 [CI]": [fmt_ci(r.estimate, r.ci_low, r.ci_high)
                               for r in v.itertuples(index=False)],
        "greedy leak rate": [fmt(x) for x in v["greedy_rate"]],
        "difference": [f"{x:+.3f}" for x in v["difference"]],
        "p": [fmt_p(x) for x in v["p_value"]],
        "Holm p (unlearned models)": [fmt_p(r.p_adjusted) if r.in_family else "(reference)"
                                      for r in v.itertuples(index=False)],
        "significant": [("yes" if r.significant else "no") if r.in_family else ""
                        for r in v.itertuples(index=False)],
    })
    return md_table(rows)


def _diff_table(frame: pd.DataFrame, label: str = "baseline") -> str:
    rows = pd.DataFrame({
        "decoding": [_cfg(t, p) for t, p in zip(frame["temperature"], frame["top_p"],
                                                strict=True)],
        "comparison": [f"{r.method_a} - {r.method_b}" for r in frame.itertuples(index=False)],
        "k": frame["k"],
        "difference [CI]": [fmt_signed_ci(r.estimate, r.ci_low, r.ci_high)
                            for r in frame.itertuples(index=False)],
        "test": frame["test"], "p": [fmt_p(x) for x in frame["p_value"]],
        "Holm p": [fmt_p(x) for x in frame["p_adjusted"]],
        "significant": np.where(frame["significant"], "yes", "no"),
    })
    return md_table(rows)


def _certify_table(a: Analysis) -> str:
    c = a.tables["certify"]
    rows = pd.DataFrame({"model": c["method"], "k": [f"{k:,}" for k in c["k"]],
                         "estimate": [fmt(x) for x in c["estimate"]],
                         "upper bound": [fmt(x) for x in c["upper_bound"]], "route": c["route"]})
    return md_table(rows)


def _extrapolation_table(a: Analysis) -> str:
    e = a.tables["extrapolation"]
    notes = a.tables.get("extrapolation_notes")
    notes = notes if notes is not None else pd.DataFrame(columns=["method", "note"])
    head = "law of the point estimate: "
    laws = {r.method: r.note.removeprefix(head)
            for r in notes.itertuples(index=False) if r.note.startswith(head)}
    parts = []
    if len(e):
        parts.append(md_table(pd.DataFrame({
            "model": e["method"], "k": [f"{int(k):,}" for k in e["k"]],
            "predicted leak@k [CI]": [fmt_ci(r.estimate, r.ci_low, r.ci_high)
                                      for r in e.itertuples(index=False)],
            "law (AIC)": [laws.get(m, "") for m in e["method"]]})))
        parts.append(f"Interval: {e['ci_method'].iloc[0]}." if "ci_method" in e.columns else "")
    parts += [f"- {r.method}: not extrapolated: {r.note}." for r in notes.itertuples(index=False)
              if not r.note.startswith("law of the point estimate")]
    return "\n\n".join(p for p in parts if p) or "No extrapolation."


def _bayes_text(a: Analysis) -> str:
    if "bayes" not in a.tables:
        return "Skipped (PyMC is not installed: `pip install 'leakstats[bayes]'`)."
    b = a.tables["bayes"]
    table = md_table(pd.DataFrame({
        "model": b["method"], "k": [f"{int(k):,}" for k in b["k"]],
        "posterior leak@k [credible interval]": [fmt_ci(r.estimate, r.ci_low, r.ci_high)
                                                  for r in b.itertuples(index=False)]}))
    d = a.tables["bayes_diagnostics"]
    diag = (f"Diagnostics: max R-hat {d['r_hat'].max():.3f}, min bulk ESS "
            f"{d['ess_bulk'].min():.0f}, divergences {int(d['divergences'].sum())} "
            f"({a.meta['settings']['bayes_chains']} chains x "
            f"{a.meta['settings']['bayes_draws']} draws; small on purpose: read the intervals "
            f"as approximate when R-hat > 1.01).")
    return table + "\n\n" + diag


def _examples(a: Analysis, per_model: int = 2) -> str:
    """Forget questions whose greedy answer does not leak but a T = 1 sample does."""
    rec = a.tables["records"]
    rec = rec[rec["judge"] == a.meta["judge"]]
    greedy = a.tables["greedy"]
    greedy = greedy[greedy["split"] == "forget"]
    rows = []
    plain = rec[(rec["temperature"] == 1.0) & (rec["top_p"] == 1.0) & rec["leaked"]]
    for model in a.meta["unlearned"]:
        g = greedy[(greedy["model"] == model) & ~greedy["leaked"].astype(bool)]
        leaked = plain[(plain["method"] == model) & plain["prompt_id"].isin(g["prompt_id"])]
        for pid, group in list(leaked.groupby("prompt_id", sort=True))[:per_model]:
            gr = g[g["prompt_id"] == pid].iloc[0]
            rows.append({"model": model, "question": gr.get("question", pid),
                         "greedy answer": _short(gr.get("output", "")),
                         "a leaking sample (T=1)": _short(group["text"].iloc[0]),
                         "leaked samples": f"{len(group)}/{_n_of(rec, model, pid)}"})
    if not rows:
        return ("No forget question of an unlearned model had a non-leaking greedy answer and a "
                "leaking sample at T = 1.")
    return md_table(pd.DataFrame(rows))


def _n_of(rec: pd.DataFrame, model: str, pid: str) -> int:
    return int(((rec["method"] == model) & (rec["prompt_id"] == pid) & (rec["temperature"] == 1.0)
                & (rec["top_p"] == 1.0)).sum())


def _short(text, width: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _judge_words(spec: str) -> str:
    if spec == "keywords-any":
        return ("leaked = a keyword of the fact, e.g. the birthplace or the year, appears in "
                "the answer")
    if spec == "keywords-all":
        return ("leaked = every keyword of the fact, e.g. the birthplace and the year, appears "
                "in the answer")
    return f"leaked = ROUGE-L recall of the reference >= {spec.partition(':')[2] or '0.4'}"


def _judges_table(a: Analysis) -> str:
    j = a.tables.get("judges")
    if j is None or j.empty:
        return "Only one judge."
    rows = pd.DataFrame({"model": j["method"], "judge": j["judge"], "k": j["k"],
                         "leak@k at T=1 [CI]": [fmt_ci(r.estimate, r.ci_low, r.ci_high)
                                                for r in j.itertuples(index=False)]})
    note = (f"The findings use `{a.meta['judge']}`. A judge that also flags the retrain model "
            "(which never saw the facts) measures the answer's template, not the fact: compare "
            "each model with retrain under the same judge.")
    return md_table(rows) + "\n\n" + note


def _settings_text(a: Analysis, settings: DemoSettings, run_info: dict) -> str:
    s = settings
    arms = "; ".join(f"{arm.label}: n = {arm.n}" for arm in s.arms)
    summary = a.tables["greedy_summary"]
    n_forget = int(summary.loc[summary["split"] == "forget", "n_prompts"].max())
    lines = [
        f"- Model: {run_info.get('model', '?')}, fine-tuned on all facts (**original**) and on "
        f"the retain split only (**retrain**, the reference that never saw the forget facts).",
        f"- Unlearning methods: {', '.join(s.methods)}; RULE on top of {s.rule_base} "
        f"(**{a.meta['rule']}**).",
        f"- Sampled evaluation on the {n_forget} forget questions: {arms}; at most "
        f"{s.max_new_tokens} new tokens; leak judge `{a.meta['judge']}` "
        f"({_judge_words(s.judge)}); also stored: "
        f"{', '.join(f'`{j}`' for j in s.judges if j != s.judge) or 'none'}; seed {s.seed}.",
        f"- Greedy answers to all forget questions and "
        f"{'all' if s.retain_eval is None else f'the first {s.retain_eval}'} retain questions, "
        f"at most {s.greedy_max_new_tokens} new tokens, labelled by the same judge; their "
        f"ROUGE-L recall of the reference is reported as well.",
        f"- Intervals at {100 * s.confidence_level:g}%; compare: {s.n_resamples} resamples; "
        f"extrapolation: {s.extrapolate_resamples} bootstrap refits; Bayes: "
        f"{s.bayes_chains} chains x {s.bayes_draws} draws.",
    ]
    training = run_info.get("training")
    if training:
        lines.append("- Training configurations (leakstats.unlearn presets): "
                     f"`{json.dumps(training, sort_keys=True)}`")
    times = run_info.get("stage_seconds") or {}
    if times:
        lines.append("")
        lines.append(md_table(pd.DataFrame({"stage": list(times),
                                            "seconds": [f"{v:.1f}" for v in times.values()]})))
    return "\n".join(lines)


HOW_TO_READ = """\
- **leak@k** is the chance that at least one of k sampled answers to a forget question leaks
  the forgotten fact (judge above), averaged over the forget questions. Its intervals
  (`cp-eb`) are for **these prompts** (uncertainty from sampling only), hold their coverage
  with rare leaks and few prompts and are near the narrowest the data allow
  (docs/methodology.md).
- **Greedy** answers are deterministic: the greedy leak rate of these prompts is a number, not an
  estimate. Greedy ROUGE-L intervals treat the prompts as a sample of similar facts (t interval).
- **Sampled vs greedy**: H0 leak@k = greedy leak rate; the p-value inverts the leak@k interval,
  so a difference is significant exactly when the interval excludes the greedy rate; Holm over
  the unlearned models at each k (original and retrain are shown for reference only).
- **Paired tests** (`compare`): the models answer the same prompts; the interval of a
  difference is the score interval at the two models' fixed-prompt effective sample sizes
  and its p-value is the interval's dual, so a row is significant only when its interval
  excludes 0; Holm over the models compared with the same reference in one decoding
  configuration, at each k. RULE vs its base is its own family.
- **certify** gives one-sided upper bounds valid whatever the per-prompt leak probabilities, also
  with zero leaks; **extrapolation** predicts leak@k beyond the samples from a fitted law of leak
  rates (intervals by prompt bootstrap); the **Bayesian** model gives per-prompt posteriors and
  P(p_i = 0), the chance a prompt never leaks.
- Findings are computed from these numbers each run; none is written in advance.
"""


def write_report(a: Analysis, folder: Path, *, settings: DemoSettings,
                 run_info: dict | None = None) -> Path:
    """Write the report into ``folder`` (created); returns the path of ``report.md``."""
    from leakstats.demo.figures import draw_all

    folder = Path(folder)
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    run_info = run_info or {}
    found = findings(a)
    stems = draw_all(a, figures)
    n = a.meta["n_plain"]
    compare = a.tables["compare"]
    parts = [
        "# leakstats demo: does an unlearned model forget under sampling?",
        f"Preset **{settings.name}** · written {time.strftime('%Y-%m-%d %H:%M')} · "
        f"all numbers below are computed by this run.",
        "## Findings",
    ]
    for key, title in SECTIONS:
        if found.get(key):
            parts.append(f"### {title}")
            parts.append("\n".join(f"- {line}" for line in found[key]))
    parts += [
        "## What was run", _settings_text(a, settings, run_info),
        "## Greedy evaluation (forget and retain questions)", _greedy_table(a),
        "## Looks forgotten, still leaks: examples", _examples(a),
        "## Sampled leak@k", _leak_table(a),
        f"## Sampled (T = 1) against greedy (k up to {n})", _vs_greedy_table(a),
        "## Against retrain and original (paired tests)",
        (a.texts.get("methods.md", "") + "\n\n" if a.texts.get("methods.md") else "")
        + _diff_table(compare.sort_values(["baseline", "temperature", "k"],
                                          ascending=[False, False, True])),
        f"## RULE ({a.meta['rule']}) against {a.meta['rule_base']}",
        _diff_table(a.tables["rule"]),
        "## Judge sensitivity (T = 1)", _judges_table(a),
        "## Certified upper bounds (T = 1)", _certify_table(a),
        "## Extrapolation (T = 1)", _extrapolation_table(a),
        "## Bayesian per-prompt posteriors (T = 1)", _bayes_text(a),
        "## Figures",
        "\n\n".join(f"![{stem}](figures/{stem}.png) ([PDF](figures/{stem}.pdf))"
                    for stem in stems),
        "## How to read this report", HOW_TO_READ,
        "## Warnings",
        ("Raised by the analysis, kept here rather than hidden:\n\n```text\n"
         + "\n".join(_short(w, 400) for w in a.warnings) + "\n```") if a.warnings else "None.",
    ]
    text = "\n\n".join(parts) + "\n"
    (folder / "report.md").write_text(text, encoding="utf-8")
    (folder / "report.html").write_text(_html(text), encoding="utf-8")
    (folder / "table.tex").write_text(a.texts.get("table.tex", ""), encoding="utf-8")
    flat = [line for key, _ in SECTIONS for line in found.get(key, [])]
    (folder / "findings.json").write_text(json.dumps(
        {"findings": found, "flat": flat, "warnings": a.warnings}, indent=2) + "\n",
        encoding="utf-8")
    return folder / "report.md"


def _html(text: str) -> str:
    try:
        import markdown
    except ModuleNotFoundError:  # the report stays readable: the Markdown, preformatted
        body = f"<pre>{html.escape(text)}</pre>"
    else:
        body = markdown.markdown(text, extensions=["tables"])
    style = ("body{font-family:sans-serif;max-width:75em;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;"
             "padding:2px 6px}img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>leakstats demo"
            f"</title><style>{style}</style></head><body>\n{body}\n</body></html>\n")


def read_findings(folder: Path) -> tuple[list[str], list[str]]:
    """The findings and warnings a report folder holds (empty lists if there is none)."""
    path = Path(folder) / "findings.json"
    if not path.is_file():
        return [], []
    info = json.loads(path.read_text(encoding="utf-8"))
    return list(info.get("flat", [])), list(info.get("warnings", []))
