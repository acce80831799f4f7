"""leak_at_k: the public estimator, its result object and its bad-input paths."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats import DegenerateDataWarning, ExtrapolationRequiredError, LeakstatsError
from leakstats.estimate.kernels import leak_at_k_unbiased


@pytest.fixture
def counts():
    return pd.DataFrame(
        {
            "method": ["a"] * 4 + ["b"] * 4,
            "prompt_id": ["p1", "p2", "p3", "p4"] * 2,
            "n_samples": [20, 20, 30, 40, 20, 20, 20, 20],
            "n_leaked": [0, 1, 5, 2, 3, 0, 0, 20],
        }
    )


def records_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in counts.itertuples():
        for s in range(r.n_samples):
            rows.append((r.method, r.prompt_id, s, s < r.n_leaked))
    return pd.DataFrame(rows, columns=["method", "prompt_id", "sample_id", "leaked"])


def test_result_columns_and_values(counts):
    res = leakstats.leak_at_k(counts, k=[1, 4, 20])
    frame = res.to_frame()
    assert list(frame.columns) == [
        "method", "k", "estimate", "se", "ci_low", "ci_high", "confidence_level",
        "ci_method", "n_prompts", "n_samples", "population",
    ]
    assert len(frame) == 6
    a = counts[counts.method == "a"]
    for k in (1, 4, 20):
        want = leak_at_k_unbiased(a.n_samples.to_numpy(), a.n_leaked.to_numpy(), k).mean()
        got = frame.query("method == 'a' and k == @k")["estimate"].item()
        assert got == pytest.approx(want, abs=1e-15)
    assert (frame["ci_low"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["ci_high"]).all()
    assert frame["ci_low"].between(0, 1).all() and frame["ci_high"].between(0, 1).all()
    assert set(frame["n_prompts"]) == {4}
    assert frame.query("method == 'a'")["n_samples"].iloc[0] == 110
    assert (frame["population"] == "prompts").all()
    assert (frame["confidence_level"] == 0.95).all()


def test_records_and_counts_agree(counts):
    from_counts = leakstats.leak_at_k(counts, k=[1, 8]).to_frame()
    from_records = leakstats.leak_at_k(records_from_counts(counts), k=[1, 8]).to_frame()
    pd.testing.assert_frame_equal(from_counts, from_records)


def test_per_prompt(counts):
    res = leakstats.leak_at_k(counts, k=[1, 2])
    pp = res.per_prompt()
    assert len(pp) == 16
    assert {"method", "prompt_id", "n_samples", "n_leaked", "k", "estimate"} <= set(pp.columns)
    row = pp.query("method == 'a' and prompt_id == 'p3' and k == 2")
    assert row["estimate"].item() == pytest.approx(1 - (25 * 24) / (30 * 29))
    mean = pp.groupby(["method", "k"])["estimate"].mean().to_numpy()
    np.testing.assert_allclose(mean, res.to_frame()["estimate"].to_numpy())
    # a prompt that never leaked shows 0.0, not -0.0
    zero = pp["n_leaked"] == 0
    assert zero.any() and not np.signbit(pp.loc[zero, "estimate"]).any()


def test_result_is_frozen_and_copies(counts):
    res = leakstats.leak_at_k(counts, k=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.population = "superpopulation"
    frame = res.to_frame()
    frame.loc[0, "estimate"] = 99.0
    assert res.to_frame().loc[0, "estimate"] != 99.0
    assert "LeakAtKResult" in repr(res)


def test_single_arm_and_by(counts):
    # records pooled over methods: one arm, 4 prompts
    pooled = records_from_counts(counts).drop(columns="sample_id")
    frame = leakstats.leak_at_k(pooled, k=1, by=[]).to_frame()
    assert len(frame) == 1 and frame["n_prompts"].item() == 4
    assert "method" not in frame.columns
    assert frame["estimate"].item() == pytest.approx(np.mean([3 / 40, 1 / 40, 5 / 50, 22 / 60]))
    # counts cannot be pooled silently: one prompt would have two rows
    with pytest.raises(ValueError, match="prompt_id"):
        leakstats.leak_at_k(counts, k=1, by=[])


@pytest.mark.parametrize("population", ["prompts", "superpopulation"])
@pytest.mark.parametrize("method", ["auto", "cp-effective", "wald", "bootstrap"])
def test_every_method_runs_and_is_labelled(counts, population, method):
    frame = leakstats.leak_at_k(
        counts, k=[1, 4], population=population, ci_method=method, n_resamples=200, rng=1
    ).to_frame()
    assert frame["ci_method"].str.len().gt(0).all()
    assert (frame["ci_low"] <= frame["ci_high"]).all()


def test_bootstrap_is_seeded(counts):
    one = leakstats.leak_at_k(counts, k=4, ci_method="bootstrap", n_resamples=300, rng=7).to_frame()
    two = leakstats.leak_at_k(counts, k=4, ci_method="bootstrap", n_resamples=300, rng=7).to_frame()
    pd.testing.assert_frame_equal(one, two)


def test_nothing_leaked_warns_and_has_positive_width():
    counts = pd.DataFrame({"prompt_id": range(20), "n_samples": 8, "n_leaked": 0})
    with pytest.warns(DegenerateDataWarning, match="No sample leaked"):
        frame = leakstats.leak_at_k(counts, k=[1, 8]).to_frame()
    assert (frame["estimate"] == 0).all()
    # exact: the pooled Clopper-Pearson bound mapped through Jensen, 1 - (alpha/2)^(k / (P n))
    want = [1 - 0.025 ** (1 / 160), 1 - 0.025 ** (8 / 160)]
    np.testing.assert_allclose(frame["ci_high"], want, rtol=1e-10)
    with pytest.warns(DegenerateDataWarning):
        sup = leakstats.leak_at_k(counts, k=[1], population="superpopulation").to_frame()
    assert sup["ci_high"].item() == pytest.approx(1 - 0.025 ** (1 / 20))


def test_k_beyond_n_points_to_extrapolation(counts):
    with pytest.raises(ExtrapolationRequiredError, match="extrapolat") as info:
        leakstats.leak_at_k(counts, k=[1, 25])
    assert "method='a'" in str(info.value) and "p1" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k: 0 is not a positive integer"),
        ({"k": [1, 2.5]}, "k: 2.5 is not a positive integer"),
        ({"k": "8"}, "k: '8' is not an integer"),
        ({"k": True}, "k: True is not an integer"),
        ({"k": []}, "k: empty"),
        ({"k": 1, "confidence_level": 95}, "confidence_level: 95"),
        ({"k": 1, "confidence_level": 0.0}, "confidence_level"),
        ({"k": 1, "population": "super"}, "population: 'super'"),
        ({"k": 1, "ci_method": "normal"}, "ci_method: 'normal'"),
        ({"k": 1, "ci_method": "bootstrap", "n_resamples": 5}, "n_resamples"),
    ],
)
def test_bad_arguments(counts, kwargs, match):
    with pytest.raises(LeakstatsError, match=match):
        leakstats.leak_at_k(counts, **kwargs)


def test_superpopulation_needs_two_prompts():
    one = pd.DataFrame({"prompt_id": ["x"], "n_samples": [10], "n_leaked": [2]})
    with pytest.raises(LeakstatsError, match="at least 2 prompts"):
        leakstats.leak_at_k(one, k=1, population="superpopulation")
    assert leakstats.leak_at_k(one, k=1).to_frame()["estimate"].item() == 0.2


def test_bad_data_is_rejected():
    bad = pd.DataFrame({"prompt_id": [1, 2], "n_samples": [10, 5], "n_leaked": [3, 7]})
    with pytest.raises(ValueError, match="n_leaked"):
        leakstats.leak_at_k(bad, k=1)


def test_unequal_n_and_large_n():
    counts = pd.DataFrame(
        {"prompt_id": [0, 1, 2], "n_samples": [10**7, 5 * 10**6, 10**6], "n_leaked": [3, 0, 1]}
    )
    frame = leakstats.leak_at_k(counts, k=[1, 1000, 10**6]).to_frame()
    assert frame["estimate"].is_monotonic_increasing
    assert frame["estimate"].iloc[0] == pytest.approx((3e-7 + 0 + 1e-6) / 3)


# ---- seeded coverage check (the full study is benchmarks/interval_coverage.py) ------
# 300 replications: a coverage of 0.95 has Monte Carlo sd sqrt(.95 * .05 / 300) = 0.0126, so
# "not below nominal" is tested as coverage >= 0.95 - 3 sd = 0.912.
REPS = 300
FLOOR = 0.95 - 3 * math.sqrt(0.95 * 0.05 / REPS)


def _coverage(p_law, P, n, ks, population, method, seed):
    from leakstats.estimate.intervals import arm_intervals

    rng = np.random.default_rng(seed)
    ks = np.array(ks)
    p_fixed = p_law(P, rng)
    hits = np.zeros(ks.size)
    for _ in range(REPS):
        p = p_fixed if population == "prompts" else p_law(P, rng)
        truth = (-np.expm1(ks[None, :] * np.log1p(-p[:, None]))).mean(axis=0)
        if population == "superpopulation":
            truth = SUPER_TRUTH[p_law](ks)
        c = rng.binomial(n, p)
        est = arm_intervals(np.full(P, n), c, ks, population=population, ci_method=method)
        hits += (est.ci_low <= truth) & (truth <= est.ci_high)
    return hits / REPS


def rare(P, rng):
    return np.full(P, 1e-3)


def zero_inflated(P, rng):
    return np.where(rng.random(P) < 0.7, 0.0, rng.beta(0.3, 30.0, size=P))


SUPER_TRUTH = {
    rare: lambda ks: -np.expm1(ks * np.log1p(-1e-3)),
    zero_inflated: lambda ks: 0.3 * -np.expm1(
        np.array([math.lgamma(30 + k) - math.lgamma(30.3 + k) for k in ks])
        - (math.lgamma(30) - math.lgamma(30.3))
    ),
}


@pytest.mark.parametrize("population", ["prompts", "superpopulation"])
@pytest.mark.parametrize(
    ("law", "P", "n"), [(rare, 20, 8), (rare, 100, 200), (zero_inflated, 20, 50)]
)
def test_default_interval_holds_coverage(law, P, n, population):
    cov = _coverage(law, P, n, [1, min(8, n), n], population, "auto", seed=P + n)
    assert (cov >= FLOOR).all(), cov


def test_wald_fails_where_documented():
    """The textbook interval collapses with rare leaks: the study must be able to see it."""
    cov = _coverage(rare, 20, 8, [1], "prompts", "wald", seed=3)
    assert cov[0] < 0.5
