"""extrapolate / backtest: the likelihoods, the closed forms, the API, bad input, plots.

Independent implementations are checked against each other: analytic gradients against finite
differences, maximum likelihood against a brute-force grid, closed-form predictions against
Monte Carlo and numerical integration. The calibration study is benchmarks/extrapolation.py;
here a small seeded version.
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy import integrate, stats  # noqa: E402
from scipy.optimize import approx_fprime  # noqa: E402
from scipy.special import betaincinv, expit  # noqa: E402

import leakstats  # noqa: E402
from leakstats import DegenerateDataWarning, LeakstatsError  # noqa: E402
from leakstats.estimate.kernels import distinct_pairs  # noqa: E402
from leakstats.extrapolate import engine as eng  # noqa: E402
from leakstats.extrapolate.api import _fit_subsample  # noqa: E402
from leakstats.laws import models as em  # noqa: E402
from leakstats.report.plots import plot_backtest, plot_extrapolation  # noqa: E402

RESULT_COLUMNS = ["law", "k", "estimate", "se", "ci_low", "ci_high", "confidence_level",
                  "ci_method", "n_prompts", "n_samples", "population"]


def make_pairs(c, n=50):
    c = np.asarray(c)
    dn, dc, inv = distinct_pairs(np.full(c.size, n), c)
    return em.Pairs(dn, dc, np.bincount(inv))


def zi_beta_counts(P=400, n=50, pi0=0.6, a=0.4, b=20.0, seed=0):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(P) < pi0, 0.0, rng.beta(a, b, P))
    return pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n,
                         "n_leaked": rng.binomial(n, p)}), p


@pytest.fixture(scope="module")
def pairs():
    counts, _ = zi_beta_counts()
    return make_pairs(counts["n_leaked"].to_numpy())


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- likelihoods -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(em.FAMILIES))
def test_gradient_matches_finite_differences(name, pairs):
    family = em.FAMILIES[name]
    rng = np.random.default_rng(1)
    theta = family.starts(pairs)[:1] + 0.3 * rng.normal(size=family.n_params)
    weight = pairs.weight[None, :]
    _, grad = family.nll_grad(theta, pairs, weight)
    numeric = approx_fprime(theta[0], lambda t: family.nll_grad(t[None], pairs, weight)[0][0],
                            1e-7)
    assert np.max(np.abs(grad[0] - numeric)) < 1e-5


@pytest.mark.parametrize("name", list(em.FAMILIES))
def test_pmf_sums_to_one(name):
    # every count 0..n of one n: the marginal pmf must sum to one (checks the logit grid)
    pairs = em.Pairs(np.full(61, 60), np.arange(61), np.ones(61))
    family = em.FAMILIES[name]
    theta = family.starts(pairs)[:1]
    total = np.exp(family.pair_loglik(theta, pairs)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("n", "c"), [(50, 0), (50, 3), (1000, 500), (200, 199)])
def test_logit_normal_likelihood_matches_quadrature(n, c):
    family = em.FAMILIES["logit-normal"]
    m, s = -3.0, 1.7
    pairs = em.Pairs([n], [c], [1])
    got = np.exp(family.pair_loglik(np.array([[m, np.log(s)]]), pairs))[0, 0]
    dens = stats.norm(m, s).pdf
    want = integrate.quad(lambda x: stats.binom.pmf(c, n, expit(x)) * dens(x), -40, 15,
                          points=[np.log(max(c, 0.5) / max(n - c, 0.5))], limit=400)[0]
    assert got == pytest.approx(want, rel=1e-6)


def test_mle_beats_brute_force_grid(pairs):
    # beta: a 2-d grid around the optimum never beats the fitted maximum, and its best point
    # lies next to it; zero-inflated beta: same on a 3-d grid.
    for name, axes in (
        ("beta", [np.linspace(-6, 0, 121), np.linspace(-2, 6, 161)]),
        ("zi-beta", [np.linspace(-3, 3, 31), np.linspace(-6, 0, 61), np.linspace(-2, 6, 61)]),
    ):
        family = em.FAMILIES[name]
        theta, ll = em.fit_family(family, pairs)
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
        grid_ll = (family.pair_loglik(mesh, pairs) * pairs.weight).sum(axis=1)
        assert ll[0] >= grid_ll.max() - 1e-6
        best = mesh[np.argmax(grid_ll)]
        steps = np.array([ax[1] - ax[0] for ax in axes])
        assert np.all(np.abs(best - theta[0]) <= 2 * steps + 0.15)


def test_nested_families_never_fit_worse(pairs):
    fits = em.fit_families(pairs, list(em.FAMILIES))
    ll = {name: fit[1] for name, fit in fits.items()}
    assert ll["zi-beta"] >= ll["beta"] - 1e-6
    assert ll["beta-mix"] >= ll["beta"] - 1e-6
    assert ll["zi-beta-mix"] >= max(ll["zi-beta"], ll["beta-mix"]) - 1e-6
    assert ll["zi-logit-normal"] >= ll["logit-normal"] - 1e-6


def test_batched_fits_agree_with_single_fits(pairs):
    rng = np.random.default_rng(2)
    weight = rng.multinomial(int(pairs.n_prompts), pairs.weight / pairs.n_prompts, size=4)
    family = em.FAMILIES["zi-beta"]
    batched, ll = em.fit_family(family, pairs, weight)
    for row in range(4):
        _, ll1 = em.fit_family(family, pairs, weight[row:row + 1])
        assert ll[row] == pytest.approx(ll1[0], abs=1e-6)


def test_fold_weights_partition_the_prompts(pairs):
    folds = em.fold_weights(pairs, 5)
    np.testing.assert_array_equal(folds.sum(axis=0), pairs.weight)
    assert folds.sum(axis=1).max() - folds.sum(axis=1).min() <= 1


# ---- predictions -----------------------------------------------------------------------
def test_fixed_prompt_prediction_matches_monte_carlo():
    family = em.FAMILIES["zi-beta-mix"]
    theta = family.pack(0.3, 0.6, [0.01, 0.2], [2.0, 5.0])[None, :]
    pairs = em.Pairs([40, 40, 40], [0, 2, 10], [5, 3, 2])
    pi0, w, a, b = family.unpack(theta)
    rng = np.random.default_rng(3)
    ks = np.array([10, 1000])
    mean, var = em.fixed_prompt_moments(family, theta, pairs, ks)
    # simulate prompts from the law, keep those matching each count, average their leak@k
    S = 400_000
    p = np.where(rng.random(S) < pi0[0], 0.0,
                 np.where(rng.random(S) < w[0, 0], rng.beta(a[0, 0], b[0, 0], S),
                          rng.beta(a[0, 1], b[0, 1], S)))
    c = rng.binomial(40, p)
    leak = -np.expm1(np.outer(np.log1p(-p), ks))
    per_pair = []
    for cc in pairs.c:
        sel = leak[c == cc]
        per_pair.append((sel.mean(axis=0), sel.var(axis=0), sel.std(axis=0) / np.sqrt(len(sel))))
    want = sum(wt * m for wt, (m, _, _) in zip(pairs.weight, per_pair, strict=True)) / 10
    se = np.sqrt(sum((wt * s) ** 2 for wt, (_, _, s) in zip(pairs.weight, per_pair,
                                                             strict=True))) / 10
    assert np.all(np.abs(mean[0] - want) < 4 * se + 1e-4)
    want_var = sum(wt * v for wt, (_, v, _) in zip(pairs.weight, per_pair, strict=True)) / 100
    assert var[0] == pytest.approx(want_var, rel=0.05)


@pytest.mark.parametrize("name", ["zi-beta", "beta-mix", "zi-logit-normal"])
def test_population_leak_matches_monte_carlo(name):
    family = em.FAMILIES[name]
    theta = {
        "zi-beta": em.FAMILIES["zi-beta"].pack(0.4, None, [0.05], [1.5]),
        "beta-mix": em.FAMILIES["beta-mix"].pack(None, 0.7, [0.002, 0.3], [0.8, 4.0]),
        "zi-logit-normal": np.array([np.log(0.3 / 0.7), -5.0, np.log(2.0)]),
    }[name][None, :]
    rng = np.random.default_rng(4)
    S = 1_000_000
    if name == "zi-logit-normal":
        pi0, m, s = expit(theta[0, 0]), theta[0, 1], np.exp(theta[0, 2])
        p = np.where(rng.random(S) < pi0, 0.0, expit(rng.normal(m, s, S)))
    else:
        pi0, w, a, b = family.unpack(theta)
        comp = rng.random(S) < w[0, 0]
        p = np.where(comp, rng.beta(a[0, 0], b[0, 0], S), rng.beta(a[0, -1], b[0, -1], S))
        p = np.where(rng.random(S) < pi0[0], 0.0, p)
    ks = np.array([1.0, 100.0, 10_000.0])
    got = family.population_leak(theta, [*ks, np.inf])[0]
    mc = [np.mean(-np.expm1(k * np.log1p(-p))) for k in ks]
    np.testing.assert_allclose(got[:-1], mc, atol=3e-3)
    # the asymptote is the share of prompts with p > 0 (beta draws this small underflow)
    assert got[-1] == pytest.approx(1 - (expit(theta[0, 0]) if family.zero_inflated else 0))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(list(em.FAMILIES)),
    seed=st.integers(0, 10_000),
    counts=st.lists(st.integers(0, 30), min_size=2, max_size=12),
)
def test_predictions_are_bounded_and_monotone_in_k(name, seed, counts):
    family = em.FAMILIES[name]
    pairs = make_pairs(counts, n=30)
    lo, hi = family.bounds()
    theta = np.random.default_rng(seed).uniform(lo, hi, size=(3, family.n_params))
    ks = np.array([1, 5, 30, 300, 3000, 30_000, np.inf])
    for population in ("prompts", "superpopulation"):
        mean, var = em.predict(family, theta, pairs, ks, population)
        assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var))
        assert np.all((mean >= 0) & (mean <= 1)) and np.all(var >= 0)
        assert np.all(np.diff(mean, axis=1) >= -1e-9)


def test_mixture_quantiles_match_exact_beta_quantiles():
    mean = np.array([[0.2, 0.6]])
    var = np.array([[0.01, 0.02]])
    got = eng.mixture_quantiles(np.repeat(mean, 3, 0), np.repeat(var, 3, 0), [0.025, 0.975])
    nu = mean * (1 - mean) / var - 1
    want = betaincinv(mean * nu, (1 - mean) * nu, np.array([[0.025], [0.975]]))
    np.testing.assert_allclose(got, want, atol=1e-9)
    # point masses: the empirical quantiles
    pm = eng.mixture_quantiles(np.linspace(0, 1, 101)[:, None], np.zeros((101, 1)), [0.5])
    assert pm[0, 0] == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("form", ["power-law", "power-law-neglog"])
def test_power_law_recovers_an_exact_power_law(form):
    grid = np.arange(1, 51)
    a, b = 0.02, 0.7
    curve = -np.expm1(-a * grid**b) if form == "power-law" else np.exp(-3.0 * grid**-0.4)
    intercept, slope = eng._power_fit(curve[None, :], grid, form)
    if form == "power-law":
        assert np.exp(intercept[0]) == pytest.approx(a) and slope[0] == pytest.approx(b)
    else:
        assert np.exp(intercept[0]) == pytest.approx(3.0) and slope[0] == pytest.approx(-0.4)


# ---- the public function ---------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    counts, _ = zi_beta_counts(P=300, n=60, seed=5)
    counts["method"] = "npo"
    return leakstats.extrapolate(counts, k=[10, 1000, 10_000],
                                 family=["auto", "zi-beta", "power-law"], n_resamples=60, rng=0)


def test_result_columns_and_invariants(result):
    frame = result.to_frame()
    assert list(frame.columns) == ["method", *RESULT_COLUMNS]
    assert len(frame) == 9
    assert frame[["estimate", "se", "ci_low", "ci_high"]].notna().all().all()
    assert (frame["ci_low"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["ci_high"]).all()
    assert frame["ci_low"].between(0, 1).all() and frame["ci_high"].between(0, 1).all()
    assert (frame["n_prompts"] == 300).all() and (frame["n_samples"] == 18_000).all()
    for _, g in frame.groupby("law"):
        assert np.all(np.diff(g.sort_values("k")["estimate"]) >= -1e-12)
    assert frame.loc[frame.law == "auto", "ci_method"].str.contains(
        "beta unless another law's AIC is lower by its margin").all()
    assert "auto" in repr(result) and "auto selected" in repr(result)


def test_asymptote_selection_curve_and_observed(result):
    asym = result.asymptotes()
    assert list(asym.columns) == ["method", *RESULT_COLUMNS]
    assert set(asym["law"]) == {"auto", "zi-beta"}  # power laws have no asymptote
    assert np.isinf(asym["k"]).all()
    top = result.to_frame().groupby("law")["estimate"].max()
    for r in asym.itertuples():
        assert r.ci_low <= r.estimate <= r.ci_high
        assert r.estimate >= top[r.law] - 1e-9
    sel = result.selection()
    assert set(sel["family"]) == set(eng.AUTO_FAMILIES)
    assert sel["selected"].sum() == 1
    assert sel["bootstrap_share"].sum() == pytest.approx(1.0)
    # the selected law is the one of least AIC + margin (the beta law's margin is 0)
    score = sel["aic"] + sel["margin"]
    assert sel.loc[score.idxmin(), "selected"]
    assert sel.set_index("family").loc["beta", "margin"] == 0
    assert result.curve()["k"].max() >= 10_000
    observed = result.observed()
    assert observed["k"].max() == 60
    want = leakstats.leak_at_k(result.counts(), k=observed["k"].tolist()).to_frame()
    np.testing.assert_allclose(observed["estimate"], want["estimate"])


def test_records_and_counts_agree_and_rng_reproduces():
    counts, _ = zi_beta_counts(P=60, n=20, seed=6)
    rows = [(r.prompt_id, s, s < r.n_leaked) for r in counts.itertuples()
            for s in range(r.n_samples)]
    records = pd.DataFrame(rows, columns=["prompt_id", "sample_id", "leaked"])
    kw = dict(k=[100, 1000], family="zi-beta", n_resamples=50, rng=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        a = leakstats.extrapolate(counts, **kw).to_frame()
        b = leakstats.extrapolate(records, **kw).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_superpopulation_estimand_and_closed_form():
    counts, _ = zi_beta_counts(P=200, n=50, seed=7)
    res = leakstats.extrapolate(counts, k=[1000], family="zi-beta", population="superpopulation",
                                n_resamples=50, rng=0)
    frame = res.to_frame()
    assert (frame["population"] == "superpopulation").all()
    pairs = make_pairs(counts["n_leaked"].to_numpy())
    family = em.FAMILIES["zi-beta"]
    theta, _ = em.fit_family(family, pairs)
    want = family.population_leak(theta, [1000.0])[0, 0]
    assert frame["estimate"].iloc[0] == pytest.approx(want, rel=1e-6)
    assert res.asymptotes()["estimate"].iloc[0] == pytest.approx(1 - expit(theta[0, 0]))


def test_seeded_coverage_small():
    """Small seeded version of benchmarks/extrapolation.py (logit-normal law, k = 10,000).

    With true coverage at the bar (0.90), fewer than binom.ppf(0.001, R, 0.9) hits out of R
    would happen with probability < 0.001."""
    rng = np.random.default_rng(2026)
    R, P, n, k = 5, 400, 50, 10_000
    hits = 0
    for _ in range(R):
        p = expit(rng.normal(-6.0, 1.5, P))
        counts = pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n,
                               "n_leaked": rng.binomial(n, p)})
        truth = np.mean(-np.expm1(k * np.log1p(-p)))
        row = leakstats.extrapolate(counts, k=[k], n_resamples=50, rng=rng).to_frame().iloc[0]
        hits += row.ci_low <= truth <= row.ci_high
    assert hits >= stats.binom.ppf(0.001, R, 0.9)


# ---- bad input ---------------------------------------------------------------------------
def test_no_leak_points_to_certify():
    counts = pd.DataFrame({"prompt_id": range(5), "n_samples": 10, "n_leaked": 0})
    with pytest.raises(LeakstatsError, match=r"No sample leaked.*certify"):
        leakstats.extrapolate(counts, k=[1000])


def test_all_leaked_is_refused():
    counts = pd.DataFrame({"prompt_id": range(5), "n_samples": 10, "n_leaked": 10})
    with pytest.raises(LeakstatsError, match="Every sample leaked"):
        leakstats.extrapolate(counts, k=[1000])


def test_fewer_than_two_samples_names_the_rows():
    counts = pd.DataFrame({"prompt_id": ["a", "b", "c"], "n_samples": [10, 1, 10],
                           "n_leaked": [1, 0, 2]})
    with pytest.raises(LeakstatsError, match=r"n_samples.*fewer than 2 samples(.|\n)*b"):
        leakstats.extrapolate(counts, k=[1000])


def test_single_prompt_is_refused():
    counts = pd.DataFrame({"prompt_id": ["a"], "n_samples": [10], "n_leaked": [3]})
    with pytest.raises(LeakstatsError, match="single prompt"):
        leakstats.extrapolate(counts, k=[1000])


def test_few_leaking_prompts_warn():
    counts = pd.DataFrame({"prompt_id": range(30), "n_samples": 20,
                           "n_leaked": [1, 2, 0] + [0] * 27})
    with pytest.warns(DegenerateDataWarning, match="barely informed"):
        leakstats.extrapolate(counts, k=[1000], family="beta", n_resamples=50, rng=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"family": "magic"}, "family: 'magic' is not one of"),
        ({"family": []}, "family: empty"),
        ({"n_resamples": 10}, "n_resamples: 10 is not an integer >= 50"),
        ({"k": [0]}, "k: 0 is not a positive integer"),
        ({"confidence_level": 1.5}, "confidence_level"),
        ({"population": "all"}, "population: 'all'"),
        ({"bayes_options": 3}, "bayes_options: expected a dict"),
    ],
)
def test_bad_arguments(kwargs, match):
    counts, _ = zi_beta_counts(P=20, n=10)
    with pytest.raises(LeakstatsError, match=match):
        leakstats.extrapolate(counts, **kwargs)


def test_backtest_bad_input():
    counts, _ = zi_beta_counts(P=50, n=40)
    with pytest.raises(LeakstatsError, match=r"no more than fit_n=40 samples"):
        leakstats.backtest(counts, fit_n=40)
    with pytest.raises(LeakstatsError, match=r"k: 80 exceeds the smallest n_samples \(40\)"):
        leakstats.backtest(counts, fit_n=10, k=[80])
    with pytest.raises(LeakstatsError, match="fit_n: 1 is not an integer >= 2"):
        leakstats.backtest(counts, fit_n=1)
    with pytest.raises(LeakstatsError, match="repeats: 0"):
        leakstats.backtest(counts, fit_n=10, repeats=0)


# ---- backtest --------------------------------------------------------------------------
def test_backtest_table_and_summary():
    counts, _ = zi_beta_counts(P=300, n=200, seed=8)
    bt = leakstats.backtest(counts, fit_n=20, k=[100, 200], family=["zi-beta", "power-law"],
                            repeats=2, n_resamples=50, rng=1)
    table = bt.to_frame()
    assert len(table) == 2 * 2 * 2
    assert set(table["subsample"]) == {"random subsample"}
    ref = leakstats.leak_at_k(counts, k=[100, 200]).to_frame()["estimate"].to_numpy()
    np.testing.assert_allclose(table.query("law == 'zi-beta' and repeat == 0")["reference"],
                               ref)
    np.testing.assert_allclose(table["error"], table["estimate"] - table["reference"])
    summary = bt.summary()
    assert list(summary.columns) == ["law", "k", "n", "mae", "bias", "rmse", "coverage",
                                     "mean_width"]
    assert (summary["n"] == 2).all()
    assert "BacktestResult(fit_n=20" in repr(bt)


def test_backtest_uses_the_first_samples_of_records():
    records = pd.DataFrame({
        "prompt_id": ["a"] * 6 + ["b"] * 6,
        "sample_id": [5, 4, 3, 2, 1, 0] * 2,
        "leaked": [True, True, False, False, False, False] * 2,
    })
    from leakstats.records.api import as_counts

    counts, arms = as_counts(records)
    sub, how = _fit_subsample(records, counts, arms, 3, 0, np.random.default_rng(0))
    assert how == "first samples"
    # sample_ids 0, 1, 2 are the last three rows: no leak among them
    assert sub["n_leaked"].tolist() == [0, 0] and sub["n_samples"].tolist() == [3, 3]


# ---- Bayes (one small fit) -----------------------------------------------------------------
def test_bayes_method_small_fit():
    pytest.importorskip("pymc")
    from leakstats.bayes.model import ConvergenceWarning

    counts, _ = zi_beta_counts(P=80, n=40, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = leakstats.extrapolate(
            counts, k=[1000], family=["bayes", "zi-beta"], n_resamples=50, rng=0,
            bayes_options={"draws": 200, "tune": 200, "chains": 2},
        )
    frame = res.to_frame().set_index("law")
    assert frame.loc["bayes", "ci_method"].startswith("bayes zi-beta-binomial")
    assert frame.loc["bayes", "ci_low"] <= frame.loc["bayes", "estimate"]
    assert frame.loc["bayes", "estimate"] <= frame.loc["bayes", "ci_high"]
    # the posterior mean and the MLE prediction agree to within the intervals
    assert abs(frame.loc["bayes", "estimate"] - frame.loc["zi-beta", "estimate"]) < (
        frame.loc["zi-beta", "ci_high"] - frame.loc["zi-beta", "ci_low"])
    asym = res.asymptotes().set_index("law")
    assert 0 <= asym.loc["bayes", "ci_low"] <= asym.loc["bayes", "ci_high"] <= 1


# ---- plots -------------------------------------------------------------------------------
def test_plot_extrapolation(result):
    ax = plot_extrapolation(result)
    assert ax.get_xscale() == "log"
    assert ax.get_ylim() == (0.0, 1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # the auto entry names the law it chose
    assert labels == ["observed (unbiased)", "auto (beta)", "zi-beta", "power-law"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    zi = result.asymptotes().set_index("law").loc["zi-beta", "estimate"]
    assert any(np.allclose(ln.get_ydata(), zi) for ln in dashed) == (zi < 1 - 1e-6)


def test_plot_extrapolation_arms_and_bad_input():
    a, _ = zi_beta_counts(P=100, n=30, seed=10)
    b, _ = zi_beta_counts(P=100, n=30, seed=11)
    counts = pd.concat([a.assign(method="x"), b.assign(method="y")], ignore_index=True)
    res = leakstats.extrapolate(counts, k=[1000], family="beta", n_resamples=50, rng=0)
    with pytest.raises(LeakstatsError, match="arm.*has 2 arms"):
        plot_extrapolation(res)
    assert plot_extrapolation(res, arm="y").get_xscale() == "log"
    with pytest.raises(LeakstatsError, match="no rows"):
        plot_extrapolation(res, arm="z")
    with pytest.raises(LeakstatsError, match="expected a leakstats.ExtrapolationResult"):
        plot_extrapolation(res.to_frame())


def test_plot_backtest():
    counts, _ = zi_beta_counts(P=200, n=100, seed=12)
    bt = leakstats.backtest(counts, fit_n=20, k=[50, 100], family=["beta", "power-law"],
                            n_resamples=50, rng=2)
    ax = plot_backtest(bt)
    assert ax.get_xlim() == (0.0, 1.0)
    assert len(ax.get_legend().get_texts()) == 2
    with pytest.raises(LeakstatsError, match="expected a leakstats.BacktestResult"):
        plot_backtest(bt.to_frame())


def test_a_model_arm_column_keeps_the_law_column():
    """Generation stores have a ``model`` arm column; the law of each row has its own column
    (it used to be written to ``model`` and overwritten by the arm)."""
    rng = np.random.default_rng(0)
    counts = pd.DataFrame({"model": ["llama"] * 60 + ["qwen"] * 60,
                           "prompt_id": list(range(60)) * 2, "n_samples": 20,
                           "n_leaked": rng.binomial(20, rng.beta(0.3, 8, 120))})
    res = leakstats.extrapolate(counts, k=[100, 1000], family=["beta", "zi-beta"], n_resamples=50,
                                rng=0)
    for frame in (res.to_frame(), res.asymptotes()):
        assert list(frame.columns[:2]) == ["model", "law"]
        assert frame.columns.is_unique
        assert set(frame["model"]) == {"llama", "qwen"}
        assert set(frame["law"]) == {"beta", "zi-beta"}
    assert len(res.to_frame()) == 2 * 2 * 2
