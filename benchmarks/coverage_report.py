"""Markdown summary of a coverage table (interval_coverage.py --out), for docs/benchmarks.md.

Run:  python benchmarks/coverage_report.py docs/coverage.csv
"""

from __future__ import annotations

import sys

import pandas as pd


def report(df: pd.DataFrame) -> str:
    lines = []
    reps = int(df["reps"].iloc[0])
    lines.append(f"{df.groupby(['law', 'P', 'n']).ngroups} scenarios, {len(df)} cells "
                 f"(scenario x k x estimand x method), {reps} replications each.\n")
    summ = (df.groupby(["population", "method"])
              .agg(cells=("coverage", "size"), min_coverage=("coverage", "min"),
                   mean_coverage=("coverage", "mean"),
                   cells_below_093=("coverage", lambda s: int((s < 0.93).sum())),
                   median_width=("mean_width", "median"))
              .reset_index())
    lines.append(summ.to_markdown(index=False, floatfmt=".3f"))
    for pop in ("prompts", "superpopulation"):
        sub = df[df.population == pop]
        wide = sub.pivot_table(index=["law", "P", "n"], columns="method", values="coverage",
                               aggfunc="min")
        width = sub[sub.method == "cp-effective"].groupby(["law", "P", "n"])["mean_width"].max()
        wide["cp-effective max width"] = width
        lines.append(f"\n#### {pop}: lowest coverage over k in each scenario\n")
        wide = wide.reset_index()
        wide["n0"] = wide["n"].astype(str).str.split("-").str[0].astype(int)
        wide = wide.sort_values(["law", "P", "n0", "n"]).drop(columns="n0")
        lines.append(wide.to_markdown(index=False, floatfmt=".3f"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(pd.read_csv(sys.argv[1])))
