"""Text, LaTeX and Markdown renderings of a :class:`leakstats.compare.api.CompareResult`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.checks import check_choice, check_int, parse_k
from leakstats.core.errors import LeakstatsError
from leakstats.report.tables import _latex_escape, _level_text, _num, format_table

#: A :class:`leakstats.CompareResult`; not imported, since the compare module imports this one.
CompareResult = Any

MARK = "*"
_TEST_TEXT = {
    "score": "score interval of the fixed-prompt difference at the cp-eb n*, dual test",
    "mover": "MOVER of the fixed-prompt cp-eb intervals, dual test",
    "permutation": "within-prompt permutation test",
    "paired-bootstrap": "paired bootstrap over prompts",
    "gee": "prompt-clustered GEE (leak@1)",
    "bayes": "paired Bayesian model",
}


def _tests_text(frame: pd.DataFrame) -> str:
    names = []
    for test in dict.fromkeys(frame["test"].astype(str)):
        base = test.split(" (")[0]
        names.append(_TEST_TEXT.get(base, base) + (test[len(base):] if base != test else ""))
    return "; ".join(names)


def _pair_text(a, b) -> str:
    return f"{a} - {b}"


def _criterion(result: CompareResult) -> str:
    alpha = f"{1 - result.confidence_level:.3g}"
    if result.test == "bayes":
        return f"the {_level_text(result.confidence_level)} credible interval of the difference " \
               "excludes 0"
    adj = "unadjusted" if result.correction == "none" else f"{result.correction}-adjusted"
    dual = set(result.differences_table["test"].astype(str)) <= {"score", "mover",
                                                                 "paired-bootstrap"}
    if dual:
        return f"{adj} p < {alpha} (the test is the dual of the interval)"
    return f"{adj} p < {alpha} and the {_level_text(result.confidence_level)} interval " \
           "excludes 0"


# --------------------------------------------------------------------------- summary


def _fixed_width(frame: pd.DataFrame, numeric: set[str]) -> str:
    widths = {c: max(len(str(c)), *(len(v) for v in frame[c])) for c in frame.columns}

    def line(values):
        return "  ".join(str(v).rjust(widths[c]) if c in numeric else str(v).ljust(widths[c])
                         for c, v in zip(frame.columns, values, strict=True)).rstrip()

    return "\n".join([line(frame.columns), *(line(r) for r in frame.itertuples(index=False))])


def summary_text(result: CompareResult, *, digits: int = 4) -> str:
    diffs = result.differences_table
    level = _level_text(result.confidence_level)
    dropped = result.dropped_table
    base = "all pairs" if result.baseline is None else f"baseline {result.baseline!r}"
    lines = [
        f"Comparison of {len(result.methods)} methods ({base}); population: "
        f"{result.population}; {level} intervals",
        f"  methods: {', '.join(map(repr, result.methods))}",
    ]
    if result.configs:
        lines.append(f"  compared within each configuration of: {', '.join(result.configs)}")
    lines.append(f"  test: {_tests_text(diffs)}")
    if result.test != "bayes":
        lines.append(f"  p-values adjusted by {result.correction!r} over the comparisons at each "
                     f"k; significant: {_criterion(result)}")
    lines.append(f"  prompts used per comparison: {sorted(set(diffs['n_prompts']))}")
    lines.append(
        "  prompts dropped (missing under some method): "
        + (f"{len(dropped)} row(s), see result.dropped()" if len(dropped) else "none")
    )
    lines += ["", "leak@k per method", format_table(result.methods_table, "table", digits=digits),
              "", "Differences (leak@k of method_a minus method_b)"]
    shown = pd.DataFrame({c: diffs[c].astype(str) for c in result.configs})
    shown["comparison"] = [_pair_text(a, b) for a, b in zip(diffs["method_a"], diffs["method_b"],
                                                            strict=True)]
    shown["k"] = diffs["k"].astype(str)
    shown["difference"] = [_num(v, digits) for v in diffs["estimate"]]
    shown[f"{level} CI"] = [f"[{_num(lo, digits)}, {_num(hi, digits)}]"
                            for lo, hi in zip(diffs["ci_low"], diffs["ci_high"], strict=True)]
    if result.test == "bayes":
        shown["P(a > b)"] = [_num(v, 3) for v in diffs["prob_a_greater"]]
    else:
        shown["p"] = [_p_text(v) for v in diffs["p_value"]]
        shown["p_adj"] = [_p_text(v) for v in diffs["p_adjusted"]]
    shown["sig"] = np.where(diffs["significant"], MARK, "")
    shown["test"] = diffs["test"].astype(str)
    numeric = {"k", "difference", "p", "p_adj", "P(a > b)"}
    lines.append(_fixed_width(shown, numeric))
    lines.append(f"{MARK}: {_criterion(result)}.")
    return "\n".join(lines)


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# --------------------------------------------------------------------------- paper tables


def _select_k(result: CompareResult, k) -> np.ndarray:
    available = np.unique(result.methods_table["k"].to_numpy())
    if k is None:
        return available
    ks = parse_k(k)
    unknown = sorted(set(ks.tolist()) - set(available.tolist()))
    if unknown:
        raise LeakstatsError(
            f"k: {unknown} not in the result (it has k = {available.tolist()}). Fix: pass k "
            "values the comparison was run with, or k=None for all."
        )
    return ks


def _significant(diffs: pd.DataFrame, cfg_mask, a, b, k) -> bool:
    rows = diffs[cfg_mask & (diffs["k"] == k)
                 & (((diffs["method_a"] == a) & (diffs["method_b"] == b))
                    | ((diffs["method_a"] == b) & (diffs["method_b"] == a)))]
    return bool(rows["significant"].any())


def _config_mask(frame: pd.DataFrame, configs, key) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for col, value in zip(configs, key, strict=True):
        mask &= (frame[col] == value).to_numpy()
    return mask


def _methods_cells(result: CompareResult, ks, digits, bold, mark):
    """Rows of (config values, method, cells per k) with bold/marks applied."""
    table = result.methods_table
    diffs = result.differences_table
    configs = list(result.configs)
    keys = (table[configs].drop_duplicates().itertuples(index=False, name=None)
            if configs else [()])
    rows = []
    for key in keys:
        tmask = _config_mask(table, configs, key)
        dmask = _config_mask(diffs, configs, key)
        block = table[tmask]
        methods = list(dict.fromkeys(block["method"]))
        cells = {m: [] for m in methods}
        for k in ks:
            at = block[block["k"] == k].set_index("method")
            best_value = at["estimate"].min()
            best = [m for m in methods if at.loc[m, "estimate"] == best_value]
            ref = result.baseline if result.baseline is not None else best[0]
            for m in methods:
                r = at.loc[m]
                est = _num(r["estimate"], digits)
                if m in best:
                    est = bold(est)
                if m != ref and _significant(diffs, dmask, m, ref, k):
                    est = mark(est)
                cells[m].append(f"{est} [{_num(r['ci_low'], digits)}, "
                                f"{_num(r['ci_high'], digits)}]")
        rows += [(key, m, cells[m]) for m in methods]
    return rows


def _notes(result: CompareResult) -> list[str]:
    level = _level_text(result.confidence_level)
    diffs = result.differences_table
    methods = result.methods_table
    ci = "; ".join(dict.fromkeys(methods["ci_method"].astype(str)))
    notes = [f"leak@k with {level} confidence intervals in brackets ({ci}; population: "
             f"{result.population}). Bold: the least leaky method at each k."]
    against = (f"the baseline ({result.baseline})" if result.baseline is not None
               else "the least leaky (bold) method")
    notes.append(f"{MARK} differs from {against} at that k: {_criterion(result)} "
                 f"({_tests_text(diffs)}).")
    return notes


def _differences_rows(result: CompareResult, ks, digits, mark):
    diffs = result.differences_table
    diffs = diffs[diffs["k"].isin(ks)]
    rows = []
    for r in diffs.itertuples(index=False):
        row = r._asdict()
        est = _num(row["estimate"], digits)
        if row["significant"]:
            est = mark(est)
        cell = f"{est} [{_num(row['ci_low'], digits)}, {_num(row['ci_high'], digits)}]"
        stat = (_num(row["prob_a_greater"], 3) if result.test == "bayes"
                else _p_text(row["p_adjusted"]))
        rows.append(([row[c] for c in result.configs],
                     _pair_text(row["method_a"], row["method_b"]), row["k"], cell, stat))
    return rows


def render(result: CompareResult, fmt: str, *, table: str, k, digits: int) -> str:
    check_choice("table", table, ("methods", "differences"))
    check_int("digits", digits, 0, 3)
    ks = _select_k(result, k)
    latex = fmt == "latex"
    def esc(value) -> str:
        text = str(value)
        return _latex_escape(text) if latex else text.replace("|", r"\|")


    def bold(s):
        return rf"\textbf{{{s}}}" if latex else f"**{s}**"

    def mark(s):
        return rf"{s}$^{{{MARK}}}$" if latex else f"{s}{MARK}"

    configs = [esc(c) for c in result.configs]
    level = _level_text(result.confidence_level)
    if table == "methods":
        header = [*configs, "method", *[f"leak@{kk}" for kk in ks]]
        body = [[*(esc(v) for v in key), esc(m), *cells]
                for key, m, cells in _methods_cells(result, ks, digits, bold, mark)]
        align = "l" * (len(configs) + 1) + "l" * len(ks)
        notes = _notes(result)
    else:
        stat = "P(A > B)" if result.test == "bayes" else "p (adj.)"
        header = [*configs, "comparison", "k", f"difference [{level} CI]", stat]
        body = [[*(esc(v) for v in cfg), esc(pair), str(kk), cell, stat_text]
                for cfg, pair, kk, cell, stat_text in
                _differences_rows(result, ks, digits, mark)]
        align = "l" * (len(configs) + 1) + "rlr"
        notes = [f"Differences of leak@k (A - B) with {level} intervals "
                 f"({'; '.join(dict.fromkeys(result.differences_table['ci_method']))}).",
                 f"{MARK} {_criterion(result)} ({_tests_text(result.differences_table)})."]
    if latex:
        width = len(header)
        lines = [f"% {n}" for n in notes]
        lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
                  " & ".join(h.replace("%", r"\%") for h in header) + r" \\", r"\midrule"]
        lines += [" & ".join(row) + r" \\" for row in body]
        lines.append(r"\bottomrule")
        for note in notes:
            text = _latex_escape(note)
            if text.startswith(MARK):
                text = rf"$^{{{MARK}}}$" + text[len(MARK):]
            lines.append(rf"\multicolumn{{{width}}}{{l}}{{\footnotesize {text}}} \\")
        lines.append(r"\end{tabular}")
        return "\n".join(lines)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n\n" + "\n".join(
        n.replace(MARK, r"\*", 1) if n.startswith(MARK) else n for n in notes)
