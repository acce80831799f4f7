"""The report's findings, each computed from the analysis tables: no conclusion is written in
advance. Every sentence carries its numbers and intervals; an absent effect is said plainly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leakstats.demo.analysis import Analysis

__all__ = ["fmt_ci", "fmt_p", "findings"]


def fmt(x: float, digits: int = 3) -> str:
    """A number for the report (``NA`` when missing)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


def fmt_ci(est: float, low: float, high: float, digits: int = 3) -> str:
    """``"0.412 [0.301, 0.530]"``.

    Examples
    --------
    >>> fmt_ci(0.41234, 0.3, 0.53)
    '0.412 [0.300, 0.530]'
    """
    return f"{fmt(est, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_signed_ci(est: float, low: float, high: float, digits: int = 3) -> str:
    """A difference with its interval, signed: ``"+0.120 [+0.020, +0.220]"``."""
    def s(x):
        return "NA" if x is None or not np.isfinite(x) else f"{x:+.{digits}f}"
    return f"{s(est)} [{s(low)}, {s(high)}]"


def fmt_p(p: float) -> str:
    """``"p = 0.003"``; ``"p < 1e-06"`` at the floor of the interval inversion.

    Examples
    --------
    >>> fmt_p(0.0312), fmt_p(1e-6), fmt_p(float("nan"))
    ('p = 0.031', 'p < 1e-06', 'p = NA')
    """
    if p is None or not np.isfinite(p):
        return "p = NA"
    if p <= 1e-6:
        return "p < 1e-06"
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.1e}"


def _names(items: list[str]) -> str:
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _row(frame: pd.DataFrame, **where) -> pd.Series | None:
    mask = np.ones(len(frame), dtype=bool)
    for key, value in where.items():
        mask &= (frame[key] == value).to_numpy()
    rows = frame.loc[mask]
    return None if rows.empty else rows.iloc[0]


def findings(a: Analysis) -> dict[str, list[str]]:
    """The findings by section: ``memorisation``, ``greedy``, ``sampling``, ``reference``,
    ``rule``, ``certify``, ``extrapolation``, ``bayes``; each a list of sentences."""
    meta = a.meta
    level = meta["confidence_level"]
    pct = f"{100 * level:g}%"
    n = meta["n_plain"]
    unlearned = meta["unlearned"]
    rule, base = meta["rule"], meta["rule_base"]
    t = a.tables
    g = t["greedy_summary"]
    fg = g[g["split"] == "forget"]
    return {
        "memorisation": _memorisation(fg),
        "greedy": _greedy(g, fg, unlearned, pct),
        "sampling": _sampling(t["vs_greedy"], n),
        "reference": _reference(t["compare"], n, unlearned),
        "rule": _rule(t["rule"], n, rule, base),
        "certify": _certify(t["certify"], rule, pct),
        "extrapolation": _extrapolation(t["extrapolation"], t.get("extrapolation_notes")),
        "bayes": _bayes(t.get("bayes_summary")),
    }


def _memorisation(fg: pd.DataFrame) -> list[str]:
    """The sentence comparing the original model's greedy forget ROUGE-L with the retrain
    reference's (empty when either row is missing from ``fg``)."""
    orig, ret = _row(fg, model="original"), _row(fg, model="retrain")
    lines = []
    if orig is not None and ret is not None:
        memorised = orig["diff_low"] > 0
        lines.append(
            f"Fine-tuning {'memorised' if memorised else 'did NOT measurably memorise'} the "
            f"forget facts: greedy forget ROUGE-L recall of the original model "
            f"{fmt_ci(orig['rouge_l'], orig['ci_low'], orig['ci_high'])} against "
            f"{fmt_ci(ret['rouge_l'], ret['ci_low'], ret['ci_high'])} for the retrain reference "
            f"(difference {fmt_signed_ci(orig['diff'], orig['diff_low'], orig['diff_high'])}); "
            f"its greedy answer leaks on {int(orig['n_leaked'])} of {int(orig['n_prompts'])} "
            f"forget questions (retrain: {int(ret['n_leaked'])})."
            + ("" if memorised else " Without memorisation there is little to unlearn, and the "
               "comparisons below say little about unlearning.")
        )
    return lines


def _greedy(g: pd.DataFrame, fg: pd.DataFrame, unlearned: list[str], pct: str) -> list[str]:
    """A summary sentence, one sentence per unlearned model's greedy forget ROUGE-L against
    retrain, and the retain-set ROUGE-L of every model when ``g`` has retain rows."""
    lines, near = [], []
    for m in unlearned:
        r = _row(fg, model=m)
        if r is None:
            continue
        if r["significant"]:
            verdict = "above" if r["diff"] > 0 else "below"
            verdict = f"{verdict} the retrain reference (Holm {fmt_p(r['p_adjusted'])})"
        else:
            near.append(m)
            verdict = (f"not distinguishable from the retrain reference at {pct} (Holm "
                       f"{fmt_p(r['p_adjusted'])})")
        score = fmt_ci(r["rouge_l"], r["ci_low"], r["ci_high"])
        diff = fmt_signed_ci(r["diff"], r["diff_low"], r["diff_high"])
        lines.append(f"{m}: greedy forget ROUGE-L {score}, difference to retrain {diff}: "
                     f"{verdict}; greedy leaks on {int(r['n_leaked'])}/{int(r['n_prompts'])}.")
    lines.insert(0, f"Under greedy decoding, {len(near)} of {len(unlearned)} unlearned models "
                    f"look like the retrain reference on the forget questions ({_names(near)}).")
    rg = g[g["split"] == "retain"]
    if len(rg):
        parts = [f"{r.model} {fmt(r.rouge_l)}" for r in rg.itertuples(index=False)]
        lines.append("Retain-set greedy ROUGE-L (utility kept): " + ", ".join(parts) + ".")
    return lines


def _sampling(v: pd.DataFrame, n: int) -> list[str]:
    """A summary sentence and one sentence per in-family model on leak@n at T = 1 against its
    greedy leak rate, from the ``vs_greedy`` table."""
    vk = v[(v["k"] == n) & v["in_family"]]
    sig = [r.model for r in vk.itertuples(index=False) if r.significant and r.difference > 0]
    lines = [
        (f"Sampling at T = 1 leaks more than greedy decoding shows, significantly after Holm "
         f"correction, for {_names(sig)} (leak@{n}, {len(vk)} unlearned models)."
         if sig else
         f"No unlearned model's leak@{n} at T = 1 is significantly above its greedy leak rate "
         f"after Holm correction: this run does not show the paper's effect.")
    ]
    for r in vk.itertuples(index=False):
        word = ("significantly above" if r.significant and r.difference > 0 else
                "significantly below" if r.significant else "not significantly different from")
        lines.append(f"{r.model}: leak@{n} = {fmt_ci(r.estimate, r.ci_low, r.ci_high)} vs greedy "
                     f"leak rate {fmt(r.greedy_rate)}: {word} greedy (Holm "
                     f"{fmt_p(r.p_adjusted)}).")
    return lines


def _reference(c: pd.DataFrame, n: int, unlearned: list[str]) -> list[str]:
    """One sentence per baseline (``retrain``, ``original``) with the unlearned models'
    leak@n differences at T = 1, top-p 1, and a note on how to read them (empty without
    rows)."""
    plain = c[(c["temperature"] == 1.0) & (c["top_p"] == 1.0) & (c["k"] == n)]
    lines = []
    for baseline in ("retrain", "original"):
        rows = plain[(plain["baseline"] == baseline) & plain["method_a"].isin(unlearned)]
        parts = []
        for r in rows.itertuples(index=False):
            mark = "significant" if r.significant else "not significant"
            parts.append(f"{r.method_a} {fmt_signed_ci(r.estimate, r.ci_low, r.ci_high)} "
                         f"(Holm {fmt_p(r.p_adjusted)}, {mark})")
        if parts:
            lines.append(f"leak@{n} at T = 1 minus {baseline}: " + "; ".join(parts) + ".")
    if lines:
        lines.append(
            "How to read these: the intervals are for these "
            f"{int(plain['n_prompts'].max())} prompts (sampling uncertainty only; score "
            "intervals at the two models' cp-eb effective sample sizes) and the p-values are "
            "their duals (Holm-adjusted "
            "over the models), so a difference marked significant has an interval that "
            "excludes 0.")
    return lines


def _rule(rr: pd.DataFrame, n: int, rule: str, base: str) -> list[str]:
    """One sentence per k in {1, n} on the RULE model's leak@k at T = 1 minus its base's."""
    lines = []
    for k in sorted({1, n}):
        r = _row(rr[(rr["temperature"] == 1.0) & (rr["top_p"] == 1.0)], k=k)
        if r is None:
            continue
        if r["significant"]:
            word = "lowered" if r["estimate"] < 0 else "raised"
            head = f"RULE {word} leak@{k} at T = 1 relative to {base}, significantly"
        else:
            head = (f"RULE did not change leak@{k} at T = 1 significantly relative to {base} "
                    f"(no evidence that it closed the leak at this k)")
        lines.append(f"{head}: difference {rule} - {base} "
                     f"{fmt_signed_ci(r['estimate'], r['ci_low'], r['ci_high'])} "
                     f"({r['test']}, Holm {fmt_p(r['p_adjusted'])}).")
    return lines


def _certify(cert: pd.DataFrame, rule: str, pct: str) -> list[str]:
    """The RULE model's certified leak@k bounds, by k, in one sentence (empty without rows)."""
    rows = cert[cert["method"] == rule].sort_values("k")
    return [
        f"With {pct} confidence, whatever the per-prompt leak probabilities, {rule}'s leak@k at "
        f"T = 1 is at most " + ", ".join(f"{fmt(r.upper_bound)} at k = {int(r.k):,}"
                                         for r in rows.itertuples(index=False))
        + " (certify)."] if len(rows) else []


def _extrapolation(ext: pd.DataFrame, notes: pd.DataFrame | None) -> list[str]:
    """One sentence per extrapolated leak@k, then one per model that was not extrapolated."""
    lines = []
    for r in ext.itertuples(index=False):
        lines.append(f"{r.method}: predicted leak@{int(r.k):,} = "
                     f"{fmt_ci(r.estimate, r.ci_low, r.ci_high)}.")
    if notes is not None:
        for r in notes.itertuples(index=False):
            if not r.note.startswith("law of the point estimate"):
                lines.append(f"{r.method}: not extrapolated ({r.note}); use the certify bound.")
    return lines


def _bayes(bs: pd.DataFrame | None) -> list[str]:
    """The posterior mean P(p_i = 0) per model in one sentence (empty without ``bs``)."""
    return [] if bs is None else [
        "Posterior mean probability that a prompt never leaks (P(p_i = 0)): "
        + ", ".join(f"{r.method} {fmt(r.mean_p_zero, 2)} ({r.prompts_likely_forgotten} of "
                    f"{r.n_prompts} prompts above 0.5)" for r in bs.itertuples(index=False))
        + "."]
