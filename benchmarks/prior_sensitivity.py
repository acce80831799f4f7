"""Prior sensitivity of the Bayesian fit on the shipped example data (one method).

Fits the zero-inflated model under the default priors and two alternatives and prints
benchmark leak@k at k = 1, 128 (= n) and 10,000 (extrapolated) side by side.

Run:  python benchmarks/prior_sensitivity.py [--method npo]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import leakstats  # noqa: E402
from leakstats import Priors  # noqa: E402

SETTINGS = {
    "default (log_kappa ~ N(1, 5))": Priors(),
    "log_kappa ~ N(1, 2.5) (the default until 2026-11-29)": Priors(log_kappa=(1.0, 2.5)),
    "log_kappa ~ N(1, 1.5) (the default before that)": Priors(log_kappa=(1.0, 1.5)),
    "log_kappa ~ N(0, 1) (more heterogeneous)": Priors(log_kappa=(0.0, 1.0)),
    "pi0 ~ Beta(1, 4) (fewer never-leaking)": Priors(pi0=(1.0, 4.0)),
    "logit_mu ~ N(-6, 1.5) (rarer leaks)": Priors(logit_mu=(-6.0, 1.5)),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="npo")
    args = ap.parse_args(argv)
    records = leakstats.example_records().query("method == @args.method")
    rows = []
    for name, priors in SETTINGS.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = leakstats.BetaBinomialModel(priors=priors, rng=0).fit(records)
        frame = fit.to_frame(k=[1, 128, 10_000])
        for r in frame.itertuples():
            rows.append({"priors": name, "k": r.k,
                         "leak@k [95% CrI]": f"{r.estimate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]",
                         "warnings": len(caught)})
    empirical = leakstats.leak_at_k(records, k=[1, 128]).to_frame()
    table = pd.DataFrame(rows).pivot(index="priors", columns="k", values="leak@k [95% CrI]")
    print(f"method {args.method!r}; unbiased estimates: " + ", ".join(
        f"k={r.k}: {r.estimate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"
        for r in empirical.itertuples()))
    print(table.reset_index().to_markdown(index=False))


if __name__ == "__main__":
    main()
