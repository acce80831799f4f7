"""The cp-eb variance on S data sets at once, and the bootstrap degrees of freedom of it."""

import numpy as np
import pytest

from leakstats.estimate.fixed_variance import eb_variance, fit_priors
from leakstats.estimate.intervals import DF_MEASURED, _Arm
from leakstats.estimate.kernels import distinct_pairs
from leakstats.estimate.sharp import bootstrap_df, sharp_variance

KS = np.array([1, 8, 16])


def _counts(P, n, seed, law):
    rng = np.random.default_rng(seed)
    return np.full(P, n), rng.binomial(n, law(rng, P)), rng


def test_batched_rows_equal_one_at_a_time():
    """Rows of weights over shared pairs give what each data set gives alone (to the
    optimiser's tolerance: the batched fit starts from the first row's starting points)."""
    rng = np.random.default_rng(3)
    n = np.full(40, 30)
    data = [rng.binomial(n, rng.beta(0.4, 6, 40)) for _ in range(3)]
    dn, dc, inverse = distinct_pairs(np.tile(n, 3), np.concatenate(data))
    W = np.zeros((3, dn.size))
    np.add.at(W, (np.repeat(np.arange(3), 40), inverse), 1.0)
    priors = fit_priors(dn, dc, W)
    var, df = sharp_variance(dn, dc, W, priors, KS, 30, 40)
    for s, c in enumerate(data):
        alone = _Arm(n, c, KS).fixed_sharp(measure_df=False)
        np.testing.assert_allclose(var[s], alone.var, rtol=1e-4)
        np.testing.assert_allclose(df[s], alone.df, rtol=1e-4)


def test_eb_variance_unchanged_by_the_split():
    """eb_variance is fit_priors then pair_variances: the per-pair terms sum to the EB part."""
    n, c, _ = _counts(50, 40, 1, lambda r, s: r.beta(0.3, 8, s))
    arm = _Arm(n, c, KS)
    pair = eb_variance(arm.dn, arm.dc, arm.weight, KS)
    prior = fit_priors(arm.dn, arm.dc, arm.weight)
    var, _ = sharp_variance(arm.dn, arm.dc, arm.weight, prior, KS, 40, 50)
    # the sharp variance is the EB variance, scaled up only by model-free anchors
    assert np.all(var[0] >= arm.weight @ pair / 50**2 * (1 - 1e-12))


def test_bootstrap_df_is_deterministic_and_nan_without_a_fit():
    n, c, _ = _counts(30, 50, 2, lambda r, s: r.beta(0.3, 8, s))
    arm = _Arm(n, c, KS)
    prior = fit_priors(arm.dn, arm.dc, arm.weight)[0]
    np.testing.assert_array_equal(bootstrap_df(n, c, KS, prior), bootstrap_df(n, c, KS, prior))
    assert np.isnan(bootstrap_df(n, np.zeros(30, dtype=int), KS, np.full(3, np.nan))).all()


@pytest.mark.parametrize("law, P, n", [
    (lambda r, s: r.beta(0.3, 8.0, s), 30, 50),  # prior-smoothed terms: Satterthwaite far low
    (lambda r, s: np.where(r.random(s) < 0.9, 0.0, r.beta(0.5, 100.0, s)), 400, 50),  # few leak
])
def test_bootstrap_df_tracks_the_actual_spread(law, P, n):
    """The bootstrap df is within a factor 2 of the df of the variance estimate's actual spread
    over 300 replications (2 mean^2 / var of the estimates). A factor 2 at df >= 15 moves the
    t quantile by at most 4%; Satterthwaite's df is off by a factor 3 to 7 in these designs.
    The actual df itself carries a Monte Carlo error of about sqrt(2 / 299) + kurtosis, well
    inside the factor."""
    rng = np.random.default_rng(11)
    p = law(rng, P)
    nn = np.full(P, n)
    var, satt, boot = [], [], []
    for r in range(300):
        c = rng.binomial(nn, p)
        if c.sum() == 0:
            continue
        arm = _Arm(nn, c, KS)
        sharp = arm.fixed_sharp(measure_df=False)
        var.append(sharp.var)
        satt.append(sharp.df)
        if r < 12:
            boot.append(bootstrap_df(nn, c, KS, fit_priors(arm.dn, arm.dc, arm.weight)[0]))
    var = np.array(var)
    actual = 2 * var.mean(axis=0) ** 2 / var.var(axis=0, ddof=1)
    ratio = np.median(boot, axis=0) / actual
    assert np.all((ratio > 0.5) & (ratio < 2.0)), (actual, np.median(boot, axis=0))
    # the case for measuring: Satterthwaite's df is off by more than the factor 2
    assert np.any(np.abs(np.log(np.median(satt, axis=0) / actual)) > np.log(2.0))


def test_fixed_sharp_measures_df_only_below_the_threshold():
    """Many prompts, many leaks: Satterthwaite's df is large and kept as is."""
    n, c, _ = _counts(400, 200, 5, lambda r, s: r.beta(0.5, 6, s))
    arm = _Arm(n, c, KS)
    plain, measured = arm.fixed_sharp(measure_df=False), arm.fixed_sharp()
    assert (plain.df >= DF_MEASURED).all()
    np.testing.assert_array_equal(plain.df, measured.df)
