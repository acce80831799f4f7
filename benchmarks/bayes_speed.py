"""Speed of the Bayesian fit: 100,000 vs 1,000 prompts, and against the naive latent-p model.

Each fit runs in a fresh Python process and is timed from `import leakstats` to the fitted
model (PyMC import, graph compilation and NUTS included): 4 chains x (1000 tune + 1000 draws),
with PyMC's NUTS (the default) and with NumPyro's (needs jax and numpyro installed).
The naive model has one latent p_i per prompt (zero-inflation marginalised), the textbook way
to write the hierarchy; ours integrates p_i out and evaluates distinct (n, c) pairs only.
"Cold" runs use empty PyTensor and numba compilation caches (a fresh machine); "warm" ones reuse
them. The default sampler runs PyMC's NUTS on a hand-written density compiled by numba; the
"graph" rows run the same model written as a PyTensor graph (compiled to C), the previous
default and still the route to the JAX samplers. NumPyro rows are skipped where it is absent.

Run:  python benchmarks/bayes_speed.py [--only WORD,WORD]   (rows whose label has a WORD)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIT = """
import sys, time, warnings
t0 = time.perf_counter()
import numpy as np, pandas as pd
import leakstats
P = int(sys.argv[1]); n = 200
rng = np.random.default_rng(0)
p = np.where(rng.random(P) < 0.6, 0.0, rng.beta(0.4, 25.0, P))
counts = pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n,
                       "n_leaked": rng.binomial(n, p)})
fit = leakstats.fit_bayes(counts, draws=1000, tune=1000, chains=4, rng=1,
                          nuts_sampler=sys.argv[2])
d = fit.diagnostics()
print(time.perf_counter() - t0, d["r_hat"].max(), d["ess_bulk"].min())
"""

# The same model written as a PyTensor graph (used for the JAX samplers; the default before the
# hand-written density): PyMC compiles it to C.
GRAPH = """
import sys, time
t0 = time.perf_counter()
import numpy as np, pandas as pd
import leakstats
from leakstats.bayes import model as bayes
from leakstats.records.api import as_counts
P = int(sys.argv[1]); n = 200
rng = np.random.default_rng(0)
p = np.where(rng.random(P) < 0.6, 0.0, rng.beta(0.4, 25.0, P))
counts = pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n,
                       "n_leaked": rng.binomial(n, p)})
model = leakstats.BetaBinomialModel(rng=1)
c, arms = as_counts(counts, by=None)
pairs, _, _ = bayes._distinct_triples(c, arms)
idata = bayes.run_nuts(model._build(pairs, 1), draws=1000, tune=1000, chains=4,
                       target_accept=0.95, seed=bayes._child_seed(1, 0), sampler="pymc")
import arviz as az
post = idata.posterior[["logit_mu", "log_kappa", "pi0"]]
print(time.perf_counter() - t0, float(az.rhat(post).to_array().max()),
      float(az.ess(post).to_array().min()))
"""

NAIVE = """
import sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np, pymc as pm, pytensor.tensor as pt
P = int(sys.argv[1]); n = 200
rng = np.random.default_rng(0)
p = np.where(rng.random(P) < 0.6, 0.0, rng.beta(0.4, 25.0, P))
c = rng.binomial(n, p)
with pm.Model():
    logit_mu = pm.Normal("logit_mu", -3.0, 2.5)
    log_kappa = pm.Normal("log_kappa", 1.0, 1.5)
    pi0 = pm.Beta("pi0", 1.0, 1.0)
    mu = pm.math.invlogit(logit_mu); kappa = pt.exp(log_kappa)
    p_i = pm.Beta("p_i", mu * kappa, (1 - mu) * kappa, shape=P)
    pm.ZeroInflatedBinomial("c", psi=1 - pi0, n=n, p=p_i, observed=c)
    idata = pm.sample(1000, tune=1000, chains=4, cores=2, random_seed=1, progressbar=False,
                      target_accept=0.95, compute_convergence_checks=False)
import arviz as az
s = az.summary(idata, var_names=["pi0"])
print(time.perf_counter() - t0, float(s["r_hat"].max()), float(s["ess_bulk"].min()))
"""


PAIRED = """
import sys, time
t0 = time.perf_counter()
import numpy as np, pandas as pd
import leakstats
P = int(sys.argv[1]); n = 200
rng = np.random.default_rng(0)
u = rng.normal(0.0, 1.5, P)
frames = []
for m, alpha in enumerate([-6.0, -5.0, -4.5, -4.0, -3.5, -3.0]):
    p = 1 / (1 + np.exp(-(alpha + u)))
    frames.append(pd.DataFrame({"method": f"m{m}", "prompt_id": np.arange(P), "n_samples": n,
                                "n_leaked": rng.binomial(n, p)}))
model = leakstats.PairedLogitModel(rng=1).fit(pd.concat(frames, ignore_index=True))
import arviz as az
post = model.idata_.posterior[["alpha", "sigma"]]
print(time.perf_counter() - t0, float(az.rhat(post).to_array().max()),
      float(az.ess(post).to_array().min()))
"""


def run(code: str, P: int, cold: bool, *extra: str) -> tuple[float, float, float]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:  # empty PyTensor and numba caches
            env["PYTENSOR_FLAGS"] = f"compiledir={tmp}"
            env["NUMBA_CACHE_DIR"] = tmp
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, str(P), *extra], capture_output=True,
                             text=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - t0
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    _, rhat, ess = (float(v) for v in out.stdout.split()[-3:])
    return wall, rhat, ess


def main() -> None:
    import argparse
    import importlib.util

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated words: run only the rows "
                        "whose label contains one of them (e.g. paired,cold)")
    words = [w for w in parser.parse_args().only.split(",") if w]
    has_numpyro = importlib.util.find_spec("numpyro") is not None
    rows = []
    run(FIT, 1000, False, "pymc")  # fill the warm caches
    run(GRAPH, 1000, False)
    for label, code, P, cold, extra in [
        ("ZI model, 1,000 prompts, PyMC sampler (default), warm", FIT, 1_000, False, "pymc"),
        ("ZI model, 100,000 prompts, PyMC sampler (default), warm", FIT, 100_000, False,
         "pymc"),
        ("ZI model, 100,000 prompts, PyMC sampler (default), cold", FIT, 100_000, True, "pymc"),
        ("ZI model, 1,000 prompts, PyMC sampler (default), cold", FIT, 1_000, True, "pymc"),
        ("ZI model, 100,000 prompts, graph model (C), warm", GRAPH, 100_000, False, ""),
        ("ZI model, 100,000 prompts, graph model (C), cold", GRAPH, 100_000, True, ""),
        ("ZI model, 100,000 prompts, NumPyro sampler, warm", FIT, 100_000, False, "numpyro"),
        ("ZI model, 100,000 prompts, NumPyro sampler, cold", FIT, 100_000, True, "numpyro"),
        ("naive latent-p model, 1,000 prompts, PyMC sampler, warm", NAIVE, 1_000, False, ""),
        ("paired model, 400 prompts x 6 methods, PyMC sampler, warm", PAIRED, 400, False, ""),
    ]:
        if words and not any(w in label for w in words):
            continue
        if extra == "numpyro" and not has_numpyro:
            print(f"{label}: skipped (numpyro is not installed)")
            continue
        wall, rhat, ess = run(code, P, cold, *([extra] if extra else []))
        rows.append((label, wall, rhat, ess))
        print(f"{label:60s} {wall:7.1f} s  max R-hat {rhat:.3f}  min bulk ESS {ess:.0f}",
              flush=True)
    base = rows[0][1]
    print("\n| fit | wall seconds | ratio to the first row | max R-hat | min bulk ESS |")
    print("|---|---:|---:|---:|---:|")
    for label, wall, rhat, ess in rows:
        print(f"| {label} | {wall:.1f} | {wall / base:.2f} | {rhat:.3f} | {ess:.0f} |")


if __name__ == "__main__":
    main()
