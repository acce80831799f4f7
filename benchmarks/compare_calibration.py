"""Type I error and power of compare()'s paired tests, against an unpaired test, by simulation.

Null scenarios: both methods share the per-prompt leak probabilities p_i (drawn afresh in every
replication from the scenario's law: heterogeneous prompts, rare and zero-inflated leaks,
few prompts, homogeneous prompts); each method's generations are drawn independently. Every
test is run at alpha = 0.05 on the same data; we report the rejection rate and its Monte Carlo
standard error sqrt(r (1 - r) / R).

Power scenarios: method B leaks less on every prompt (p_iB = r p_iA), with heterogeneous or
homogeneous prompt difficulty. The unpaired baseline is Welch's t-test on the per-prompt
estimates (the two methods' prompts treated as independent samples).

Tests (the array-level functions that compare() calls, leakstats/compare/_paired_tests.py and
leakstats/compare/_difference.py):
  score             the dual test of the fixed-prompt score interval (compare's default)
  mover             the dual test of the fixed-prompt MOVER interval
  permutation       exact within-prompt permutation test, Monte Carlo (B resamples)
  paired-bootstrap  bootstrap over prompts: bootstrap SE with t quantiles (P - 1 df)
  gee               prompt-clustered GEE, leak@1: robust score test
  unpaired-welch    the baseline

Also (--plan-only): plan("compare") sizes checked by simulating the permutation test at them.
And (--bayes): compare(test="bayes") end to end (PairedLogitModel, NUTS), a difference called
significant when its 95% credible interval excludes 0; slower (one MCMC fit per replication), so
on smaller null scenarios and fewer replications.

Run:  nice -n 10 python benchmarks/compare_calibration.py [--reps 2000] [--workers 2]
      nice -n 10 python benchmarks/compare_calibration.py --bayes [--bayes-reps 200]
      nice -n 10 python benchmarks/compare_calibration.py --bayes-laplace [--bayes-reps 2000]
      python benchmarks/compare_calibration.py --bayes-agree LOG [--bayes-grid] [--bayes-scenario S]
      nice -n 10 python benchmarks/compare_calibration.py --bayes-default --bayes-scenario S
          [--bayes-reps R] [--bayes-first-rep F] [--bayes-window 0.06] [--bayes-far 40]
      nice -n 10 python benchmarks/compare_calibration.py --bayes-exact [--bayes-scenario S]
          [--bayes-reps R] [--bayes-first-rep F]
      python benchmarks/compare_calibration.py --bayes-pooled-z --bayes-scenario S [--bayes-reps R]
          [--bayes-first-rep F]
      nice -n 10 python benchmarks/compare_calibration.py --plan-only [--plan-reps 1000]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from leakstats.compare import _paired_tests as ct  # noqa: E402
from leakstats.compare._difference import mover_p_value, score_p_value  # noqa: E402
from leakstats.estimate.intervals import _Arm  # noqa: E402

KS = np.array([1, 16])
ALPHA = 0.05


def law(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Per-prompt leak probabilities of a scenario."""
    if name == "heterogeneous":  # Beta(0.3, 8): mean 0.036, most prompts rare, a few frequent
        return rng.beta(0.3, 8.0, size)
    if name == "zero-inflated rare":  # 70% never leak, the rest Beta(0.5, 50) (mean 0.01)
        return np.where(rng.random(size) < 0.7, 0.0, rng.beta(0.5, 50.0, size))
    if name == "very rare":  # 90% never leak, the rest Beta(0.5, 100) (mean 0.005)
        return np.where(rng.random(size) < 0.9, 0.0, rng.beta(0.5, 100.0, size))
    if name == "frequent":  # Beta(0.5, 2): mean 0.2, very heterogeneous
        return rng.beta(0.5, 2.0, size)
    if name == "homogeneous":
        return np.full(size, 0.036)
    raise ValueError(name)


NULL_SCENARIOS = [  # (law, prompts, samples per prompt)
    ("heterogeneous", 400, 200),
    ("zero-inflated rare", 400, 200),
    ("very rare", 400, 50),
    ("frequent", 50, 20),
    ("homogeneous", 400, 200),
    ("heterogeneous", 30, 50),
]
POWER_SCENARIOS = [  # (law, prompts, samples, ratio p_B / p_A)
    ("heterogeneous", 400, 200, 0.95),
    ("homogeneous", 400, 200, 0.92),
    ("frequent", 50, 20, 0.85),
]


def _welch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.stats import ttest_ind

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ttest_ind(x, y, axis=0, equal_var=False).pvalue
    return np.where(np.isfinite(p), p, 1.0)


def one_rep(args) -> dict:
    scenario, P, n, ratio, seed, n_resamples = args
    rng = np.random.default_rng(seed)
    p_a = law(scenario, P, rng)
    p_b = p_a * ratio
    nn = np.full(P, n)
    c_a, c_b = rng.binomial(n, p_a), rng.binomial(n, p_b)
    theta_a = ct.per_prompt_leak(nn, c_a, KS)
    theta_b = ct.per_prompt_leak(nn, c_b, KS)
    out = {}
    if n_resamples:  # --resamples 0: the dual fixed-prompt tests only (same data sets)
        perm = ct.permutation_test(nn, c_a, nn, c_b, KS, n_resamples, rng)
        w = ct.bootstrap_weights(P, n_resamples, rng)
        boot = ct.paired_bootstrap(theta_a - theta_b, w, 1 - ALPHA)[3]
        welch = _welch(theta_a, theta_b)
        for j, k in enumerate(KS):
            out[("permutation", k)] = perm[j]
            out[("paired-bootstrap", k)] = boot[j]
            out[("unpaired-welch", k)] = welch[j]
        out[("gee", 1)] = ct.gee_score_test(c_a / n, c_b / n)
    sharp_a, sharp_b = _Arm(nn, c_a, KS).fixed_sharp(), _Arm(nn, c_b, KS).fixed_sharp()
    for name, p_of in (("score", score_p_value), ("mover", mover_p_value)):
        p_value = p_of(sharp_a, sharp_b)
        for j, k in enumerate(KS):
            out[(name, k)] = p_value[j]
    return out


def run(jobs, workers: int) -> list[dict]:
    if workers <= 1:
        return [one_rep(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(one_rep, jobs, chunksize=20))


def summarise(results: list[dict]) -> dict:
    frame = pd.DataFrame(results)
    out = {}
    for col in frame.columns:
        r = (frame[col] < ALPHA).mean()
        out[col] = (r, np.sqrt(r * (1 - r) / len(frame)))
    return out


def fmt(value) -> str:
    r, se = value
    return f"{r:.4f} ({se:.4f})"


PLAN_CASES = [  # (k, leak_a, leak_b, prompts, heterogeneous prompts?)
    (1, 0.10, 0.08, 200, False),
    (8, 0.30, 0.25, 400, False),
    (8, 0.30, 0.25, 400, True),
    (32, 0.50, 0.42, 100, True),
]


def _plan_rep(args) -> bool:
    k, leak_a, leak_b, P, n, hetero, seed, n_resamples = args
    rng = np.random.default_rng(seed)
    p_a = np.full(P, -np.expm1(np.log1p(-leak_a) / k))
    p_b = np.full(P, -np.expm1(np.log1p(-leak_b) / k))
    if hetero:  # same benchmark leak@k, prompts of varying difficulty (logit-normal spread)
        z = rng.normal(0.0, 1.0, P)
        for p, target in ((p_a, leak_a), (p_b, leak_b)):
            lo, hi = -30.0, 30.0
            for _ in range(80):  # shift so that the mean leak@k is the target
                mid = (lo + hi) / 2
                q = 1 / (1 + np.exp(-(mid + z)))
                lo, hi = (mid, hi) if np.mean(-np.expm1(k * np.log1p(-q))) < target else (lo, mid)
            p[:] = 1 / (1 + np.exp(-((lo + hi) / 2 + z)))
    nn = np.full(P, n)
    c_a, c_b = rng.binomial(n, p_a), rng.binomial(n, p_b)
    return bool(ct.permutation_test(nn, c_a, nn, c_b, np.array([k]), n_resamples, rng)[0] < ALPHA)


def plan_check(reps: int, workers: int, n_resamples: int) -> None:
    import leakstats

    print(f"## plan('compare') check: simulated power of the permutation test at the planned "
          f"sizes ({reps} studies each, target 0.8)\n")
    print("| k | leak_a | leak_b | prompts | prompts differ | planned n | planned power | "
          "simulated power (MC SE) |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|")
    for i, (k, la, lb, P, hetero) in enumerate(PLAN_CASES):
        row = leakstats.plan("compare", k=k, n_prompts=P, leak_a=la, leak_b=lb).to_frame()
        n = int(row["n_samples"].iloc[0])
        jobs = [(k, la, lb, P, n, hetero, (500 + i, r), n_resamples) for r in range(reps)]
        if workers <= 1:
            hits = [_plan_rep(j) for j in jobs]
        else:
            with ProcessPoolExecutor(workers) as pool:
                hits = list(pool.map(_plan_rep, jobs, chunksize=20))
        r = float(np.mean(hits))
        print(f"| {k} | {la} | {lb} | {P} | {'yes' if hetero else 'no'} | {n} | "
              f"{row['achieved'].iloc[0]:.3f} | {r:.3f} ({np.sqrt(r * (1 - r) / reps):.3f}) |")


BAYES_SCENARIOS = [  # (law, prompts, samples per prompt)
    ("heterogeneous", 100, 50),
    ("frequent", 50, 20),
]


def _null_counts(scenario: str, P: int, n: int, rng: np.random.Generator):
    """One null data set of the Bayesian runs: leak counts of methods A and B, shared p_i."""
    p = law(scenario, P, rng)
    c_a = rng.binomial(n, p)
    return c_a, rng.binomial(n, p)


def _bayes_rep(args) -> dict:
    scenario, P, n, seed, draws, chains = args
    import leakstats

    rng = np.random.default_rng(seed)
    c_a, c_b = _null_counts(scenario, P, n, rng)
    frames = [pd.DataFrame({"method": m, "prompt_id": np.arange(P), "n_samples": n,
                            "n_leaked": c}) for m, c in (("A", c_a), ("B", c_b))]
    counts = pd.concat(frames, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = leakstats.compare(counts, k=[int(k) for k in KS], test="bayes", rng=rng,
                                bayes_options={"draws": draws, "tune": draws,
                                              "chains": chains, "cores": 1})
    return {int(r.k): bool(r.significant) for r in res.differences_table.itertuples()}


def _bayes_seeds(scenarios=None) -> list[tuple[str, int, int, int]]:
    """(name, P, n, seed) of the Bayesian runs: the two default scenarios (seeds 900, 901), or
    chosen null scenarios with the seeds of --bayes-laplace's run (700 + their index)."""
    if scenarios is None:
        return [(name, P, n, 900 + s) for s, (name, P, n) in enumerate(BAYES_SCENARIOS)]
    return [(name, P, n, 700 + NULL_SCENARIOS.index((name, P, n)))
            for name, P, n in scenarios]


def bayes_check(reps: int, workers: int, draws: int, scenarios=None, first: int = 0) -> None:
    """Replications first, ..., first + reps - 1 of each scenario (a later run can extend an
    earlier one with new data sets: --bayes-first-rep)."""
    print(f"## Type I error of compare(test='bayes') at 95% (share of replications whose credible "
          f"interval of the difference excludes 0; {reps} replications from number {first + 1}, "
          f"2 chains x {draws} draws)\n")
    print("| scenario | P | n | k | rejection rate (MC SE) |")
    print("|---|---:|---:|---:|---:|")
    for name, P, n, seed in _bayes_seeds(scenarios):
        t0 = time.perf_counter()
        jobs = [(name, P, n, (seed, r), draws, 2) for r in range(first, first + reps)]
        out = []  # each result printed as it ends (a partial run counts)
        with ProcessPoolExecutor(max(workers, 1)) as pool:
            for result in pool.map(_bayes_rep, jobs):
                out.append(result)
                line = ", ".join(f"k={k}: {'reject' if v else 'keep'}" for k, v in result.items())
                print(f"  rep {first + len(out)}: {line}", flush=True)
        frame = pd.DataFrame(out)
        for k in KS:
            r = float(frame[int(k)].mean())
            print(f"| {name} | {P} | {n} | {k} | {r:.3f} ({np.sqrt(r * (1 - r) / reps):.3f}) |")
        print(f"\n({name}: {time.perf_counter() - t0:.0f} s)\n")


def _null_density(scenario: str, P: int, n: int, seed):
    """The paired model's integrated posterior density on one null data set (its distinct count
    patterns, as PairedLogitModel builds them)."""
    from leakstats.bayes.paired import PairedDensity

    N = np.full((P, 2), float(n))
    C = np.c_[_null_counts(scenario, P, n, np.random.default_rng(seed))].astype(float)
    rows, mult = np.unique(np.hstack([N, C]), axis=0, return_counts=True)
    return PairedDensity(rows[:, :2], rows[:, 2:], mult)


@functools.cache
def _grid_batch():
    """log_density at many points in one compiled loop (compiled on first use)."""
    import numba

    from leakstats.bayes._paired_kernel import log_density

    @numba.njit
    def batch(thetas, n, c, w, prior_mean, prior_sd, sigma_scale, state):
        out = np.empty(thetas.shape[0])
        for i in range(thetas.shape[0]):
            out[i] = log_density(thetas[i], n, c, w, prior_mean, prior_sd, sigma_scale,
                                 state)[0]
        return out

    return batch


def _laplace_rep(args) -> bool:
    """The Laplace approximation of the Bayesian test: |mode difference| / sd > 1.96."""
    scenario, P, n, seed = args
    mode, factor = _null_density(scenario, P, n, seed).laplace()
    cov = factor @ factor.T
    z = (mode[0] - mode[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    return bool(abs(z) > 1.959964)


def _permutation_rep(args) -> bool:
    """The exact within-prompt permutation test (k = 1, 999 resamples) on the same data set as
    the Bayesian run's replication: a reference whose level is known to hold."""
    scenario, P, n, seed = args
    c_a, c_b = _null_counts(scenario, P, n, np.random.default_rng(seed))
    nn = np.full(P, n)
    p = ct.permutation_test(nn, c_a, nn, c_b, np.array([1]), 999, np.random.default_rng((*seed, 1)))
    return bool(p[0] < ALPHA)


def _paired_difference(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Rate of x minus rate of y, two decisions on the same data sets, and its SE from the
    discordant pairs (McNemar): sqrt(b + c - (b - c)^2 / R) / R."""
    b, c, R = int((x & ~y).sum()), int((y & ~x).sum()), x.size
    return (b - c) / R, float(np.sqrt(b + c - (b - c) ** 2 / R) / R)


def _grid_rep(args, h1: float = 0.2, h2: float = 0.6, half: float = 6.0) -> float:
    """P(alpha_A > alpha_B | data) of one Bayesian run's data set by grid quadrature, free of
    sampler error: a grid in the Laplace-whitened coordinates, rotated so that its first axis is
    alpha_A - alpha_B and laid so that a grid line falls on alpha_A = alpha_B (trapezoid rule;
    spacing h1 along that axis and h2 across, +-half whitened sd). The equal-tailed 95% credible
    interval excludes 0 exactly when this probability is below 0.025 or above 0.975."""
    from scipy.integrate import trapezoid

    scenario, P, n, seed = args
    density = _null_density(scenario, P, n, seed)
    mode, factor = density.laplace()
    g = factor.T @ np.array([1.0, -1.0, 0.0])  # alpha_A - alpha_B = mode diff + g . psi
    q, _ = np.linalg.qr(np.c_[g, np.eye(3)[:, :2]])
    q[:, 0] *= np.sign(q[:, 0] @ g)  # rotated axes, the first along g
    z0 = -(mode[0] - mode[1]) / np.linalg.norm(g)  # alpha_A > alpha_B  <=>  z1 > z0
    z1 = z0 + h1 * np.arange(np.floor((-half - z0) / h1), np.ceil((half - z0) / h1) + 1)
    z2 = np.arange(-half, half + 1e-9, h2)
    grid = np.stack(np.meshgrid(z1, z2, z2, indexing="ij"), -1).reshape(-1, 3)
    theta = np.ascontiguousarray(mode + grid @ q.T @ factor.T)
    logp = _grid_batch()(theta, density.n, density.c, density.w, *density.PRIOR_ALPHA,
                         density.PRIOR_SIGMA_SCALE, density.state)
    logp = np.where(np.isfinite(logp), logp, -np.inf).reshape(z1.size, z2.size, z2.size)
    marginal = np.exp(logp - logp.max()).sum(axis=(1, 2))
    j0 = int(np.argmin(np.abs(z1 - z0)))
    return float(trapezoid(marginal[j0:]) / trapezoid(marginal))


def endpoint_mcse(scenarios, reps: int, draws: int) -> None:
    """Monte Carlo error of the Bayesian decision's interval endpoints: on the first data sets of
    a scenario, the paired model as compare() fits it (2 chains x draws), and ArviZ's MC SE of
    the 2.5% and 97.5% quantiles of alpha_A - alpha_B in posterior sd units."""
    import arviz as az

    from leakstats.bayes.paired import PairedLogitModel

    for name, P, n, seed in _bayes_seeds(scenarios):
        for r in range(reps):
            rng = np.random.default_rng((seed, r))
            c_a, c_b = _null_counts(name, P, n, rng)
            counts = pd.DataFrame({"method": np.repeat(["A", "B"], P),
                                   "prompt_id": np.tile(np.arange(P), 2), "n_samples": n,
                                   "n_leaked": np.r_[c_a, c_b]})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = PairedLogitModel(draws=draws, tune=draws, chains=2, cores=1,
                                         rng=rng).fit(counts, by="method")
            alpha = model.idata_.posterior["alpha"]
            d = (alpha.sel(arm=0) - alpha.sel(arm=1)).to_dataset(name="d")
            sd = float(d["d"].std())
            mcse = [float(az.mcse(d, method="quantile", prob=q)["d"]) / sd for q in (0.025, 0.975)]
            print(f"{name} rep {r + 1}: bulk ESS {float(az.ess(d)['d']):.0f}, tail ESS "
                  f"{float(az.ess(d, method='tail')['d']):.0f}, MC SE of the 2.5% / 97.5% "
                  f"quantiles {mcse[0]:.3f} / {mcse[1]:.3f} posterior sd", flush=True)


def _read_log(log: str) -> list[dict[int, bool]]:
    """The NUTS decisions at k = 1 in a --bayes log, one {replication index: rejected} per
    scenario (its "rep i: k=1: reject|keep" lines, i counting from --bayes-first-rep + 1; a new
    scenario starts where the counter goes back)."""
    import re

    runs: list[dict[int, bool]] = []
    for i, decision in re.findall(r"rep (\d+): k=1: (\w+)", Path(log).read_text()):
        if not runs or int(i) <= max(runs[-1]):
            runs.append({})
        runs[-1][int(i) - 1] = decision == "reject"
    return runs


def grid_agreement(log: str, scenarios, workers: int) -> None:
    """The Bayesian decision from the exact posterior (grid quadrature) beside NUTS's and the
    permutation test's, on the data sets of a --bayes run (its log)."""
    runs = _read_log(log)
    print("| scenario | P | n | data sets | NUTS | exact posterior | same decision | NUTS only | "
          "exact only | permutation test | exact - permutation (SE) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with ProcessPoolExecutor(max(workers, 1)) as pool:
        for (name, P, n, seed), run_ in zip(_bayes_seeds(scenarios), runs, strict=False):
            nuts = np.array(list(run_.values()))
            jobs = [(name, P, n, (seed, r)) for r in run_]
            prob = np.array(list(pool.map(_grid_rep, jobs, chunksize=10)))
            exact = (prob < 0.025) | (prob > 0.975)
            perm = np.array(list(pool.map(_permutation_rep, jobs, chunksize=10)))
            diff, se = _paired_difference(exact, perm)
            print(f"| {name} | {P} | {n} | {nuts.size} | {nuts.mean():.3f} | {exact.mean():.3f} | "
                  f"{(nuts == exact).mean():.3f} | {(nuts & ~exact).sum()} | "
                  f"{(exact & ~nuts).sum()} | {perm.mean():.3f} | {diff:+.3f} ({se:.3f}) |",
                  flush=True)


def default_settings_check(scenarios, first: int, reps: int, workers: int, window: float,
                           far: int, nuts_runs: bool = True) -> None:
    """compare(test="bayes") at its default NUTS settings (4 chains x 1,000 draws after 1,000
    tuning steps) on data sets first + 1, ..., first + reps of a scenario, run where it matters.

    The exact posterior P(alpha_A > alpha_B | data) (grid quadrature, _grid_rep) is computed on
    every data set. Where it lies within `window` of 0 or 1 (near the decision threshold 0.025 /
    0.975), compare() is run with NUTS; elsewhere the exact decision (keep) stands in for it,
    and a random sample of `far` such data sets is run with NUTS as well to check that it keeps
    them. (Four times the draws of --bayes-mcse's 2 x 500, where the Monte Carlo SE of the
    interval endpoints was 0.09-0.19 posterior sd, should halve that; q = 0.06 lies 0.4 sd inside
    the threshold, at z = 1.55 against 1.96.) Each line of the log holds one data set's exact
    probability and, where run, the NUTS decision. nuts_runs=False (--bayes-exact): the exact
    posterior's and the permutation test's decisions only, no NUTS.
    """
    from leakstats.bayes.paired import PairedLogitModel

    if not nuts_runs:
        window, far = 0.0, 0
    default = PairedLogitModel()  # compare()'s settings, tune = draws as _bayes_rep passes them
    assert default.tune == default.draws == 1000 and default.chains == 4, "update the labels"
    grid = functools.partial(_grid_rep, h1=0.2, h2=1.0, half=6.0)
    if nuts_runs:
        print(f"## compare(test='bayes') at its default settings (4 chains x 1,000 draws): data "
              f"sets {first + 1}-{first + reps}, NUTS run where the exact posterior is within "
              f"{window} of the decision, and on {far} others\n", flush=True)
    else:
        print(f"## The Bayesian decision from the exact posterior (no NUTS): data sets "
              f"{first + 1}-{first + reps}\n", flush=True)
    rows = []
    with ProcessPoolExecutor(max(workers, 1)) as pool:
        for name, P, n, seed in _bayes_seeds(scenarios):
            t0 = time.perf_counter()
            jobs = [(name, P, n, (seed, r)) for r in range(first, first + reps)]
            q = np.array(list(pool.map(grid, jobs, chunksize=10)))
            exact = (q < 0.025) | (q > 0.975)
            perm = np.array(list(pool.map(_permutation_rep, jobs, chunksize=10)))
            near = np.flatnonzero(np.minimum(q, 1 - q) < window)
            others = np.setdiff1d(np.arange(reps), near)
            check = np.random.default_rng((seed, 17)).choice(others, min(far, others.size),
                                                             replace=False)
            run_ = np.sort(np.r_[near, check])
            nuts = exact.copy()
            nuts_jobs = [(*jobs[i], default.draws, default.chains) for i in run_]
            for i, result in zip(run_, pool.map(_bayes_rep, nuts_jobs), strict=True):
                nuts[i] = result[1]
                print(f"  rep {first + i + 1}: exact P(alpha_A > alpha_B) = {q[i]:.5f}, NUTS: "
                      f"{'reject' if nuts[i] else 'keep'}", flush=True)
            diff, se = _paired_difference(nuts, perm)
            far_rejected = int(nuts[check].sum())
            cells = (f"{near.size} | {nuts.mean():.4f} "
                     f"({np.sqrt(nuts.mean() * (1 - nuts.mean()) / reps):.4f}) | "
                     f"{(nuts & ~exact).sum()} | {(exact & ~nuts).sum()} | "
                     f"{far_rejected} of {check.size}") if nuts_runs else "- | - | - | - | -"
            rows.append(f"| {name} | {P} | {n} | {reps} | {exact.mean():.4f} | {cells} | "
                        f"{perm.mean():.4f} | {diff:+.4f} ({se:.4f}) |")
            print(f"\n({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)
    print("| scenario | P | n | data sets | exact posterior | near (NUTS run) | NUTS 4 x 1,000 "
          "(MC SE) | NUTS only | exact only | far, NUTS run: rejected | permutation test | "
          f"{'NUTS' if nuts_runs else 'exact'} - permutation (SE) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


def pooled_z_check(scenarios, first: int, reps: int) -> None:
    """How extreme a range of null data sets is: the rejection rate, on data sets first + 1, ...,
    first + reps of a Bayesian run's scenario, of the two-proportion z-test on the methods'
    pooled counts (sum_i c_iA against sum_i c_iB out of P n each). Instantaneous, and with
    homogeneous prompts (P n = 80,000 samples per method) its level is 0.05 to within the normal
    approximation; with heterogeneous prompts it is conservative. When every test rejects more
    of a range of data sets than its level allows, the range is unusual, not the tests."""
    from scipy.stats import norm

    for name, P, n, seed in _bayes_seeds(scenarios):
        reject = []
        for r in range(first, first + reps):
            c_a, c_b = _null_counts(name, P, n, np.random.default_rng((seed, r)))
            pooled = (c_a.sum() + c_b.sum()) / (2 * P * n)
            z = (c_a.sum() - c_b.sum()) / np.sqrt(2 * P * n * pooled * (1 - pooled))
            reject.append(abs(z) > norm.ppf(1 - ALPHA / 2))
        rate = float(np.mean(reject))
        print(f"| {name} | {P} | {n} | {first + 1}-{first + reps} | {rate:.4f} "
              f"({np.sqrt(rate * (1 - rate) / reps):.4f}) |")


def laplace_check(reps: int, workers: int) -> None:
    """Every null scenario, the Bayesian test's decision approximated at the posterior mode.

    compare(test="bayes") rejects when the 95% credible interval of leak@k_A - leak@k_B
    excludes 0. Within one posterior draw both methods share the prompt effects u_i, so the
    difference has the sign of alpha_A - alpha_B at every k: the test rejects exactly when the
    credible interval of alpha_A - alpha_B excludes 0. Its normal (Laplace) approximation costs
    a mode and a Hessian instead of an MCMC run, so it can cover every scenario with many
    replications; where NUTS was run too, the two agree fit by fit (docs/benchmarks.md).
    """
    print(f"## Bayesian test, Laplace approximation ({reps} replications per scenario)\n")
    print("| scenario | P | n | rejection rate (MC SE) |")
    print("|---|---:|---:|---:|")
    # the null scenarios, then the data sets of the NUTS run (bayes_check's seeds)
    plan = [(*row, "") for row in _bayes_seeds(NULL_SCENARIOS)]
    plan += [(*row, " (the data sets of the NUTS run)") for row in _bayes_seeds()]
    with ProcessPoolExecutor(max(workers, 1)) as pool:
        for name, P, n, seed, note in plan:
            jobs = [(name, P, n, (seed, r)) for r in range(reps)]
            r = float(np.mean(list(pool.map(_laplace_rep, jobs, chunksize=20))))
            print(f"| {name}{note} | {P} | {n} | {r:.3f} ({np.sqrt(r * (1 - r) / reps):.3f}) |",
                  flush=True)


def laplace_agreement(log: str, scenarios=None) -> None:
    """Fit by fit: the Laplace approximation's decision beside the NUTS one from a --bayes log."""
    runs = _read_log(log)
    print("| scenario | P | n | replications | NUTS | Laplace | same decision | NUTS only | "
          "Laplace only | permutation test | NUTS - permutation (SE) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, P, n, seed), run_ in zip(_bayes_seeds(scenarios), runs, strict=False):
        nuts = np.array(list(run_.values()))
        lap = np.array([_laplace_rep((name, P, n, (seed, r))) for r in run_])
        perm = np.array([_permutation_rep((name, P, n, (seed, r))) for r in run_])
        diff, se = _paired_difference(nuts, perm)
        print(f"| {name} | {P} | {n} | {nuts.size} | {nuts.mean():.3f} | {lap.mean():.3f} | "
              f"{(nuts == lap).mean():.3f} | {(nuts & ~lap).sum()} | {(lap & ~nuts).sum()} | "
              f"{perm.mean():.3f} | {diff:+.3f} ({se:.3f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--power-reps", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plan-only", action="store_true",
                        help="only the plan('compare') check")
    parser.add_argument("--plan-reps", type=int, default=1000)
    parser.add_argument("--bayes", action="store_true",
                        help="only the type I error of compare(test='bayes')")
    parser.add_argument("--bayes-laplace", action="store_true",
                        help="only the Laplace approximation of the Bayesian test, every null "
                        "scenario (--bayes-reps replications each)")
    parser.add_argument("--bayes-scenario", default="", metavar="NAME,P,N",
                        help="with --bayes: one of the null scenarios instead of the two "
                        "default ones (same data sets as --bayes-laplace)")
    parser.add_argument("--bayes-agree", default="", metavar="LOG",
                        help="compare the decisions in the output of a --bayes run, fit by "
                        "fit, with the Laplace approximation's on the same data sets")
    parser.add_argument("--bayes-grid", action="store_true",
                        help="with --bayes-agree: the decision from the exact posterior (grid "
                        "quadrature) instead of the Laplace approximation's")
    parser.add_argument("--bayes-mcse", type=int, default=0, metavar="R",
                        help="with --bayes-scenario: the MC SE of the interval endpoints on the "
                        "first R data sets")
    parser.add_argument("--bayes-default", action="store_true",
                        help="compare(test='bayes') at its default NUTS settings, run where the "
                        "exact posterior is near the decision (default_settings_check)")
    parser.add_argument("--bayes-pooled-z", action="store_true",
                        help="the pooled two-proportion z-test on data sets --bayes-first-rep + 1, "
                        "..., + --bayes-reps of --bayes-scenario (pooled_z_check)")
    parser.add_argument("--bayes-exact", action="store_true",
                        help="as --bayes-default without NUTS: the exact posterior's decision "
                        "and the permutation test's on the same data sets")
    parser.add_argument("--bayes-window", type=float, default=0.06)
    parser.add_argument("--bayes-far", type=int, default=40)
    parser.add_argument("--bayes-reps", type=int, default=200)
    parser.add_argument("--bayes-draws", type=int, default=500)
    parser.add_argument("--bayes-first-rep", type=int, default=0, metavar="R",
                        help="with --bayes: start at replication R + 1 (new data sets that "
                        "extend an earlier run of R replications)")
    args = parser.parse_args()
    chosen = None
    if args.bayes_scenario:
        name, P, n = args.bayes_scenario.rsplit(",", 2)
        chosen = [(name, int(P), int(n))]
        if chosen[0] not in NULL_SCENARIOS:
            parser.error(f"--bayes-scenario: not one of {NULL_SCENARIOS}")
    if args.bayes_mcse:
        endpoint_mcse(chosen, args.bayes_mcse, args.bayes_draws)
        return
    if args.bayes_pooled_z:
        pooled_z_check(chosen, args.bayes_first_rep, args.bayes_reps)
        return
    if args.bayes_default or args.bayes_exact:
        default_settings_check(chosen, args.bayes_first_rep, args.bayes_reps, args.workers,
                               args.bayes_window, args.bayes_far, not args.bayes_exact)
        return
    if args.bayes_agree and args.bayes_grid:
        grid_agreement(args.bayes_agree, chosen, args.workers)
        return
    if args.bayes_agree:
        laplace_agreement(args.bayes_agree, chosen)
        return
    if args.bayes_laplace:
        laplace_check(args.bayes_reps, args.workers)
        return
    if args.bayes:
        bayes_check(args.bayes_reps, args.workers, args.bayes_draws, chosen,
                    args.bayes_first_rep)
        return
    if args.plan_only:
        plan_check(args.plan_reps, args.workers, args.resamples)
        return
    tests = ["score", "mover", "permutation", "paired-bootstrap", "gee", "unpaired-welch"]
    print(f"## Type I error at alpha = {ALPHA} (rejection rate, Monte Carlo SE in parentheses; "
          f"{args.reps} replications, {args.resamples} resamples)\n")
    print("| scenario | P | n | k | " + " | ".join(tests) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(tests))
    t0 = time.perf_counter()
    for s, (name, P, n) in enumerate(NULL_SCENARIOS):
        jobs = [(name, P, n, 1.0, (s, r), args.resamples) for r in range(args.reps)]
        res = summarise(run(jobs, args.workers))
        for k in KS:
            cells = [fmt(res[(t, k)]) if (t, k) in res else "-" for t in tests]
            print(f"| {name} | {P} | {n} | {k} | " + " | ".join(cells) + " |")
    print(f"\n(null scenarios: {time.perf_counter() - t0:.0f} s)\n")
    print(f"## Power at alpha = {ALPHA} ({args.power_reps} replications)\n")
    print("| scenario | P | n | p_B / p_A | k | " + " | ".join(tests) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(tests))
    t0 = time.perf_counter()
    for s, (name, P, n, ratio) in enumerate(POWER_SCENARIOS):
        jobs = [(name, P, n, ratio, (100 + s, r), args.resamples)
                for r in range(args.power_reps)]
        res = summarise(run(jobs, args.workers))
        for k in KS:
            cells = [fmt(res[(t, k)]) if (t, k) in res else "-" for t in tests]
            print(f"| {name} | {P} | {n} | {ratio} | {k} | " + " | ".join(cells) + " |")
    print(f"\n(power scenarios: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
