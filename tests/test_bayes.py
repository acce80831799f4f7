"""Bayesian layer: model fitting, closed-form posteriors, diagnostics, bad input.

Fits use few draws to stay fast; the calibration study is benchmarks/sbc.py.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

import leakstats
from leakstats.bayes import _math as bm
from leakstats.core.errors import DegenerateDataWarning, LeakstatsError

pytest.importorskip("pymc")


# ---- closed forms, checked by Monte Carlo and by direct summation -------------------------
def test_moments_match_monte_carlo():
    rng = np.random.default_rng(0)
    a, b, pi0, n, k = 0.4, 12.0, 0.3, 20, 8
    for c in (0, 3):
        mean, var = bm.prompt_moments(c, n, a, b, pi0, k)
        p = bm.sample_prompt_p(np.full(400_000, c), n, a, b, pi0, rng)
        theta = -np.expm1(k * np.log1p(-p))
        se = theta.std() / np.sqrt(theta.size)
        assert abs(theta.mean() - mean) < 4 * se
        assert theta.var() == pytest.approx(var, rel=0.02)


def test_zero_probability_is_bayes_rule():
    a, b, pi0, n = 0.5, 5.0, 0.4, 10
    bb0 = np.exp(betaln(a, b + n) - betaln(a, b))
    assert bm.zero_probability(0, n, a, b, pi0) == pytest.approx(pi0 / (pi0 + (1 - pi0) * bb0))
    assert bm.zero_probability(2, n, a, b, pi0) == 0.0


def test_population_leak_is_expectation():
    a, b, pi0 = 0.3, 20.0, 0.5
    rng = np.random.default_rng(1)
    p = np.where(rng.random(1_000_000) < pi0, 0.0, rng.beta(a, b, 1_000_000))
    for k in (1, 50, 5000):
        mc = -np.expm1(k * np.log1p(-p)).mean()
        assert bm.population_leak(a, b, pi0, k) == pytest.approx(mc, abs=3e-3)


def test_zibb_pmf_sums_to_one():
    c = np.arange(31)
    total = np.exp(bm.log_zibb_pmf(c, 30, 0.7, 3.0, 0.25)).sum()
    assert total == pytest.approx(1.0, abs=1e-12)


# ---- fitting ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(7)
    P, n = 60, 50
    frames = []
    for method, pi0 in (("a", 0.5), ("b", 0.2)):
        p = np.where(rng.random(P) < pi0, 0.0, rng.beta(0.5, 10.0, P))
        frames.append(pd.DataFrame({"method": method, "prompt_id": np.arange(P),
                                    "n_samples": n, "n_leaked": rng.binomial(n, p)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def fitted(counts):
    return leakstats.fit_bayes(counts, draws=1000, tune=1000, chains=2, rng=3)


def test_fit_and_to_frame(fitted, counts):
    frame = fitted.to_frame(k=[1, 8, 500])
    empirical = leakstats.leak_at_k(counts, k=[1, 8]).to_frame()
    assert list(frame.columns) == list(empirical.columns)
    assert len(frame) == 6
    assert (frame["ci_low"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["ci_high"]).all()
    assert frame["ci_method"].str.startswith("bayes zi-beta-binomial").all()
    # leak@k is monotone in k, and k = 500 > n is allowed (extrapolation)
    for _, g in frame.groupby("method"):
        assert g["estimate"].is_monotonic_increasing
    # the posterior agrees with the unbiased estimate where both exist
    merged = frame.merge(empirical, on=["method", "k"], suffixes=("", "_u"))
    assert ((merged["estimate_u"] >= merged["ci_low"] - 0.02)
            & (merged["estimate_u"] <= merged["ci_high"] + 0.02)).all()


def test_superpopulation_frame(fitted):
    frame = fitted.to_frame(k=[1, 10_000], population="superpopulation")
    assert (frame["population"] == "superpopulation").all()
    # leak@k tends to 1 - pi0 for k -> infinity
    pi0 = fitted.idata_.posterior["pi0"].mean(("chain", "draw")).to_numpy()
    big = frame.query("k == 10000")["estimate"].to_numpy()
    assert np.all(big <= 1 - pi0 + 0.05)


def test_prompt_posteriors(fitted, counts):
    pp = fitted.prompt_posteriors(k=[1, 8])
    assert len(pp) == 2 * len(counts)
    assert pp["p_zero"].between(0, 1).all()
    assert (pp.loc[pp["n_leaked"] > 0, "p_zero"] == 0).all()
    assert (pp["p_low"] <= pp["p_mean"] + 1e-12).all() and (pp["p_mean"] <= pp["p_high"]).all()
    one = pp.query("k == 1")
    # with k = 1, prompt leak@1 is p itself
    np.testing.assert_allclose(one["leak_mean"], one["p_mean"], rtol=1e-9, atol=1e-12)


def test_prompt_forest(fitted, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ax = leakstats.plot_prompt_forest(fitted, k=8, top=5)
    assert len(ax.get_yticklabels()) == 5
    assert "P(p=0)" in ax.get_yticklabels()[0].get_text()
    with pytest.raises(LeakstatsError, match="argument 'model'"):
        leakstats.plot_prompt_forest("not a model")
    with pytest.raises(LeakstatsError, match="top: 0 is not an integer >= 1"):
        leakstats.plot_prompt_forest(fitted, top=0)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_diagnostics_loo_ppc(fitted):
    diag = fitted.diagnostics()
    params = diag[diag["parameter"] != "divergent transitions"]
    assert set(params["parameter"]) == {"mu", "kappa", "pi0"}
    assert (params["r_hat"] < 1.1).all()
    loo = fitted.loo()
    assert np.isfinite(loo["elpd_loo"]) and loo["se"] > 0
    ppc = fitted.ppc(draws=50)
    assert set(ppc["statistic"]) >= {"share with no leak", "mean c/n"}
    assert ppc["p_value"].between(0, 1).all()


def test_diagnostics_count_divergences_once_for_the_run(fitted):
    diag = fitted.diagnostics()
    params = diag[diag["parameter"] != "divergent transitions"]
    assert len(params) == 2 * 3  # arms x parameters
    assert set(params["arm"]) == {"method='a'", "method='b'"}
    assert params["divergences"].isna().all()  # no per-arm counts: one NUTS run for all arms
    last = diag.iloc[-1]
    assert (last["arm"], last["parameter"]) == ("all arms", "divergent transitions")
    assert int(diag["divergences"].sum()) == int(fitted.idata_.sample_stats["diverging"].sum())
    doc = " ".join(type(fitted).diagnostics.__doc__.split())
    assert "counted once, for the run" in doc
    assert "divergences per arm" not in doc and "per arm" not in doc.split("divergent")[-1]


def test_convergence_warning_names_each_problem_once(fitted, monkeypatch):
    table = pd.DataFrame({
        "arm": ["method='a'", "method='b'", "all arms"],
        "parameter": ["mu", "mu", "divergent transitions"],
        "r_hat": [1.2, 1.0, np.nan], "ess_bulk": [5000.0, 5000.0, np.nan],
        "ess_tail": [5000.0, 5000.0, np.nan],
        "divergences": pd.array([pd.NA, pd.NA, 3], dtype="Int64"),
    })
    monkeypatch.setattr(fitted, "diagnostics", lambda: table)
    with pytest.warns(leakstats.ConvergenceWarning) as record:
        fitted._warn_diagnostics()
    text = str(record[0].message)
    assert text.startswith("The posterior of the zi-beta-binomial model may be unreliable")
    assert "R-hat of mu for method='a' is 1.200" in text and "method='b'" not in text
    assert text.count("divergent transition") == 1 and "3 divergent transition(s)" in text


def test_docstrings_state_the_priors_used():
    from pathlib import Path

    from leakstats.bayes import model, paired
    from leakstats.bayes._paired_density import PairedDensity

    pr = leakstats.Priors()
    stated = [f"logit(mu) ~ Normal({pr.logit_mu[0]:g}, {pr.logit_mu[1]:g})",
              f"log(kappa) ~ Normal({pr.log_kappa[0]:g}, {pr.log_kappa[1]:g})",
              f"pi0 ~ Beta({pr.pi0[0]:g}, {pr.pi0[1]:g})"]
    docs = (Path(__file__).parents[1] / "docs" / "bayes.md").read_text()
    for text in (model.__doc__, leakstats.Priors.__doc__, docs):
        flat = " ".join(text.split())
        for line in stated:
            assert line in flat, line
    mean, sd = PairedDensity.PRIOR_ALPHA
    flat = " ".join(paired.__doc__.split())
    assert f"alpha_m ~ Normal({mean:g}, {sd:g})" in flat
    assert f"sigma ~ HalfNormal({PairedDensity.PRIOR_SIGMA_SCALE:g})" in flat


def test_leak_draws_shapes(fitted):
    S = 2 * 1000  # chains x draws
    every = fitted.leak_draws([1, 8, 500], arm=None)
    assert every.shape == (S, 2, 3)
    assert fitted.leak_draws([1, 8, 500], arm=1).shape == (S, 3)
    np.testing.assert_array_equal(every[:, 1], fitted.leak_draws([1, 8, 500], arm=1))
    sup = fitted.leak_draws([1, 8], population="superpopulation", arm=None)
    assert sup.shape == (S, 2, 2)
    with pytest.warns(FutureWarning, match="arm=0"):
        old = fitted.leak_draws([1, 8, 500])
    np.testing.assert_array_equal(old, every[:, 0])
    with pytest.raises(LeakstatsError, match="arm: 2"):
        fitted.leak_draws(1, arm=2)
    frame = fitted.to_frame(k=[1, 8, 500])
    np.testing.assert_allclose(frame["estimate"], every.mean(axis=0).ravel())


@pytest.mark.filterwarnings("ignore::leakstats.bayes.model.ConvergenceWarning")
def test_repeated_draws_are_identical_and_the_generator_does_not_advance(counts):
    gen = np.random.default_rng(5)
    state = gen.bit_generator.state
    fit = leakstats.fit_bayes(counts, draws=100, tune=100, chains=1, rng=gen)
    assert gen.bit_generator.state == state
    pd.testing.assert_frame_equal(fit.to_frame(k=[1, 8, 500]), fit.to_frame(k=[1, 8, 500]))
    pd.testing.assert_frame_equal(fit.prompt_posteriors(k=[8]), fit.prompt_posteriors(k=[8]))
    pd.testing.assert_frame_equal(fit.ppc(draws=20), fit.ppc(draws=20))
    assert gen.bit_generator.state == state
    # rng=None: the seeds are fixed at fit, so the draws repeat too
    free = leakstats.fit_bayes(counts, draws=100, tune=100, chains=1, rng=None)
    np.testing.assert_array_equal(free.leak_draws([8], arm=None), free.leak_draws([8], arm=None))


def test_child_seed_leaves_a_generator_alone():
    from leakstats.bayes.model import _child_seed

    gen = np.random.default_rng(1)
    state = gen.bit_generator.state
    assert _child_seed(gen, 2) == _child_seed(gen, 2) != _child_seed(gen, 3)
    assert gen.bit_generator.state == state
    assert _child_seed(7, 0) == _child_seed(7, 0)


# These two tests check other behaviour with short chains: convergence warnings are expected.
@pytest.mark.filterwarnings("ignore::leakstats.bayes.model.ConvergenceWarning")
def test_compare_loo(counts):
    data = counts.query("method == 'a'")
    zi = leakstats.fit_bayes(data, draws=300, tune=300, chains=2, rng=1)
    plain = leakstats.fit_bayes(data, zero_inflated=False, draws=300, tune=300, chains=2, rng=1)
    table = leakstats.compare_loo({"zero-inflated": zi, "plain": plain})
    assert set(table["model"]) == {"zero-inflated", "plain"}
    assert {"elpd_loo", "se", "elpd_diff", "diff_se", "max_pareto_k", "rank"} <= set(table)
    assert table["elpd_diff"].iloc[0] == 0
    with pytest.raises(LeakstatsError, match="same counts"):
        other = leakstats.fit_bayes(counts.query("method == 'b'"), draws=500, tune=500,
                                    chains=2, rng=1)
        leakstats.compare_loo({"zi": zi, "other": other})


# ---- bad input -----------------------------------------------------------------------------
def test_single_prompt_is_an_error():
    one = pd.DataFrame({"prompt_id": [1], "n_samples": [10], "n_leaked": [2]})
    with pytest.raises(LeakstatsError, match="single prompt"):
        leakstats.fit_bayes(one, draws=50, tune=50, chains=1)


def test_non_integer_counts_are_an_error():
    bad = pd.DataFrame({"prompt_id": [1, 2], "n_samples": [10, 10], "n_leaked": [2.5, 1]})
    with pytest.raises(ValueError, match="n_leaked"):
        leakstats.fit_bayes(bad, draws=50, tune=50, chains=1)


def test_no_samples_is_an_error():
    bad = pd.DataFrame({"prompt_id": [1, 2], "n_samples": [0, 10], "n_leaked": [0, 1]})
    with pytest.raises(ValueError, match="n_samples"):
        leakstats.fit_bayes(bad, draws=50, tune=50, chains=1)


@pytest.mark.filterwarnings("ignore::leakstats.bayes.model.ConvergenceWarning")
def test_nothing_leaked_and_always_leaked_warn():
    zeros = pd.DataFrame({"prompt_id": range(12), "n_samples": 20, "n_leaked": 0})
    with pytest.warns(DegenerateDataWarning, match="No sample leaked"):
        with np.errstate(all="ignore"):
            fit = leakstats.fit_bayes(zeros, draws=100, tune=100, chains=1, rng=0)
    assert np.isfinite(fit.to_frame(k=[1, 100])["estimate"]).all()
    ones = pd.DataFrame({"prompt_id": range(12), "n_samples": 20, "n_leaked": 20})
    with pytest.warns(DegenerateDataWarning, match="Every sample leaked"):
        fit = leakstats.fit_bayes(ones, draws=100, tune=100, chains=1, rng=0)
    assert np.isfinite(fit.to_frame(k=[1])["estimate"]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"draws": 0}, "draws"),
        ({"chains": 1.5}, "chains"),
        ({"target_accept": 1.2}, "target_accept"),
        ({"nuts_sampler": "stan"}, "nuts_sampler"),
        ({"zero_inflated": "yes"}, "zero_inflated"),
        ({"priors": {"pi0": (1, 1)}}, "priors"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(LeakstatsError, match=match):
        leakstats.BetaBinomialModel(**kwargs)


def test_bad_priors():
    with pytest.raises(LeakstatsError, match="priors.log_kappa"):
        leakstats.Priors(log_kappa=(1.0, -2.0))


def test_unfitted_model():
    with pytest.raises(LeakstatsError, match="call fit"):
        leakstats.BetaBinomialModel().to_frame(k=1)


# ---- the paired model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paired_counts():
    rng = np.random.default_rng(11)
    P, n = 40, 40
    u = rng.normal(0.0, 1.0, P)
    frames = []
    for method, alpha in (("strong", -4.0), ("weak", -2.5)):
        p = 1 / (1 + np.exp(-(alpha + u)))
        frames.append(pd.DataFrame({"method": method, "prompt_id": np.arange(P),
                                    "n_samples": n, "n_leaked": rng.binomial(n, p)}))
    return pd.concat(frames, ignore_index=True)


def test_paired_model(paired_counts):
    model = leakstats.PairedLogitModel(draws=500, tune=500, chains=2, rng=0).fit(paired_counts)
    frame = model.to_frame(k=[1, 8])
    assert list(frame.columns) == list(leakstats.leak_at_k(paired_counts, k=1).to_frame().columns)
    probs = model.prob_greater(k=[1, 8])
    weak_over_strong = probs.query("arm_a == \"method='weak'\" and arm_b == \"method='strong'\"")
    assert (weak_over_strong["prob_a_greater"] > 0.99).all()
    # P(A > B) + P(B > A) = 1 for continuous draws
    assert probs.query("k == 1")["prob_a_greater"].sum() == pytest.approx(1.0)
    sup = model.to_frame(k=[1], population="superpopulation")
    assert sup["estimate"].between(0, 1).all()
    # the shape convention of BetaBinomialModel.leak_draws
    S = 2 * 500
    every = model.leak_draws([1, 8])
    assert every.shape == (S, 2, 2)
    np.testing.assert_array_equal(model.leak_draws([1, 8], arm=1), every[:, 1])
    assert model.leak_draws([1], population="superpopulation", arm=0).shape == (S, 1)
    # the same output at every call
    pd.testing.assert_frame_equal(model.to_frame(k=[1, 8]), frame)
    pd.testing.assert_frame_equal(model.prob_greater(k=[1, 8]), probs)
    diag = model.diagnostics()
    assert list(diag["parameter"]) == ["alpha", "alpha", "sigma", "divergent transitions"]
    assert list(diag["arm"])[2:] == ["all arms", "all arms"]
    assert diag["divergences"].notna().sum() == 1


def test_paired_model_bad_input(paired_counts):
    with pytest.raises(LeakstatsError, match="no arm column"):
        leakstats.PairedLogitModel().fit(paired_counts.drop(columns="method")
                                         .query("prompt_id < 40").drop_duplicates("prompt_id"))
    with pytest.raises(LeakstatsError, match="at least two arms"):
        leakstats.PairedLogitModel().fit(paired_counts.query("method == 'weak'"))
    unpaired = paired_counts.assign(
        prompt_id=np.where(paired_counts["method"] == "weak", paired_counts["prompt_id"] + 1000,
                           paired_counts["prompt_id"]))
    with pytest.raises(LeakstatsError, match="nothing is paired"):
        leakstats.PairedLogitModel().fit(unpaired)
    with pytest.raises(LeakstatsError, match="call fit"):
        leakstats.PairedLogitModel().to_frame(k=1)


# ---- a fast seeded calibration check (the full study is benchmarks/sbc.py) ---------------
@pytest.mark.filterwarnings("ignore::leakstats.bayes.model.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::leakstats.DegenerateDataWarning")
def test_credible_intervals_cover_data_drawn_from_the_priors():
    """12 data sets drawn from the priors; the 95% interval of leak@n and of leak@10n must
    cover the truth in at least 9 (P(X <= 8) = 0.002 for X ~ Binomial(12, 0.95))."""
    rng = np.random.default_rng(2026)
    priors = leakstats.Priors()
    P, n, reps = 60, 30, 12
    hits = np.zeros(2)
    for r in range(reps):
        mu = 1 / (1 + np.exp(-rng.normal(*priors.logit_mu)))
        kappa = np.exp(rng.normal(*priors.log_kappa))
        pi0 = rng.beta(*priors.pi0)
        p = rng.beta(mu * kappa, (1 - mu) * kappa, size=P)
        p[rng.random(P) < pi0] = 0.0
        counts = pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n,
                               "n_leaked": rng.binomial(n, p)})
        fit = leakstats.fit_bayes(counts, draws=400, tune=400, chains=2, rng=r)
        frame = fit.to_frame(k=[n, 10 * n])
        with np.errstate(divide="ignore"):
            truth = (-np.expm1(np.outer(np.log1p(-p), [n, 10 * n]))).mean(axis=0)
        hits += (frame["ci_low"].to_numpy() <= truth) & (truth <= frame["ci_high"].to_numpy())
    assert (hits >= 9).all(), hits


# ---- the hand-written log density (what NUTS samples with the default sampler) --------------
@pytest.mark.parametrize("zero_inflated", [True, False])
@pytest.mark.parametrize("n_arms", [1, 2])
def test_log_density_matches_scipy_and_its_gradient(zero_inflated, n_arms):
    from scipy.optimize import approx_fprime
    from scipy.special import expit
    from scipy.stats import beta, norm

    from leakstats.bayes._density import LogDensity

    arm = np.array([0, 0, 0, 1, 1, 1, 1]) if n_arms == 2 else np.zeros(7, dtype=int)
    n = np.array([10, 10, 50, 20, 20, 30, 5.0])
    c = np.array([0, 3, 0, 0, 7, 30, 5.0])
    w = np.array([5, 2, 1, 3, 1, 1, 2.0])
    priors = leakstats.Priors(logit_mu=(-2.0, 1.5), log_kappa=(0.5, 1.0), pi0=(2.0, 3.0))
    density = LogDensity(arm, n, c, w, n_arms, priors, zero_inflated)
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = rng.normal(size=density.size)
        value, grad = density(theta)
        t = theta.reshape(n_arms, -1)
        mu, kappa = expit(t[:, 0]), np.exp(t[:, 1])
        pi0 = expit(t[:, 2]) if zero_inflated else np.zeros(n_arms)
        ref = np.sum(w * bm.log_zibb_pmf(c, n, (mu * kappa)[arm], ((1 - mu) * kappa)[arm],
                                         pi0[arm]))
        ref += norm.logpdf(t[:, 0], -2.0, 1.5).sum() + norm.logpdf(t[:, 1], 0.5, 1.0).sum()
        if zero_inflated:  # Beta prior on pi0 times the Jacobian of the logit transform
            ref += (beta.logpdf(pi0, 2.0, 3.0) + np.log(pi0 * (1 - pi0))).sum()
        assert value == pytest.approx(ref, abs=1e-9)
        numeric = approx_fprime(theta, lambda th: density(th)[0], 1e-7)
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_log_density_equals_the_pymc_graph_model():
    """The sampled density and the declarative PyMC model (other samplers) agree exactly."""
    from leakstats.bayes._density import LogDensity

    pairs = pd.DataFrame({"arm": [0, 0, 1, 1], "n": [20, 20, 20, 30], "c": [0, 4, 0, 30],
                          "w": [6, 2, 3, 1]})
    model = leakstats.BetaBinomialModel(rng=0)
    graph = model._build(pairs, 2)
    logp = graph.compile_logp()
    density = LogDensity(pairs["arm"], pairs["n"], pairs["c"], pairs["w"], 2, model.priors, True)
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = rng.normal(size=density.size).reshape(2, 3)
        point = {"logit_mu": theta[:, 0], "log_kappa": theta[:, 1],
                 "pi0_logodds__": theta[:, 2]}
        assert density(theta.ravel())[0] == pytest.approx(float(logp(point)), rel=1e-8)


def test_log_density_is_minus_infinity_far_out():
    from leakstats.bayes._density import LogDensity

    density = LogDensity([0, 0], [10, 10], [0, 4], [3, 1], 1, leakstats.Priors(), True)
    value, grad = density(np.array([-800.0, 0.0, 0.0]))  # mu underflows to 0 with c > 0
    assert value == -np.inf and np.all(grad == 0)
    assert np.isfinite(density(density.mode())[0])
