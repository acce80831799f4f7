"""compare(): paired tests of methods on shared prompts, result object, tables, bad input.

The type I error and power study is benchmarks/compare_calibration.py; here: closed forms
against statsmodels, the permutation test against exact enumeration, small seeded checks of
the level, and the bad-input catalogue.
"""

import dataclasses
import importlib
import itertools
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy.stats import hypergeom  # noqa: E402

import leakstats  # noqa: E402
from leakstats.compare import _paired_tests as ct  # noqa: E402
from leakstats.core.errors import (  # noqa: E402
    DataValidationError,
    DegenerateDataWarning,
    ExtrapolationRequiredError,
    LeakstatsError,
)
from leakstats.estimate.kernels import leak_at_k_unbiased  # noqa: E402

compare_module = importlib.import_module("leakstats.compare.api")


def make_counts(P=40, n=30, methods=(("a", 1.0), ("b", 0.6), ("c", 1.0)), seed=0,
                extra=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 6.0, P)
    frames = [pd.DataFrame({"method": m, "prompt_id": [f"q{i}" for i in range(P)],
                            "n_samples": n, "n_leaked": rng.binomial(n, np.minimum(p * f, 1))})
              for m, f in methods]
    out = pd.concat(frames, ignore_index=True)
    return out if extra is None else out.assign(**extra)


def records_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    rows = [(r.method, r.prompt_id, s, s < r.n_leaked) for r in counts.itertuples()
            for s in range(r.n_samples)]
    return pd.DataFrame(rows, columns=["method", "prompt_id", "sample_id", "leaked"])


@pytest.fixture(scope="module")
def counts():
    return make_counts()


@pytest.fixture(scope="module")
def result(counts):
    return leakstats.compare(counts, k=[1, 4, 16], rng=1)


# --------------------------------------------------------------------------- the result


def test_tables_and_estimates(counts, result):
    diffs = result.to_frame()
    assert list(diffs.columns) == [
        "method_a", "method_b", "k", "estimate", "se", "ci_low", "ci_high", "confidence_level",
        "ci_method", "n_prompts", "n_samples", "population", "test", "p_value", "p_adjusted",
        "correction", "prob_a_greater", "significant", "ci_low_simultaneous",
        "ci_high_simultaneous"]
    assert [tuple(x) for x in diffs[["method_a", "method_b"]].drop_duplicates().values] == [
        ("a", "b"), ("a", "c"), ("b", "c")]
    methods = result.to_frame("methods")
    pd.testing.assert_frame_equal(methods, leakstats.leak_at_k(counts, k=[1, 4, 16]).to_frame())
    est = methods.set_index(["method", "k"])["estimate"]
    for r in diffs.itertuples():
        assert r.estimate == pytest.approx(est[(r.method_a, r.k)] - est[(r.method_b, r.k)],
                                           abs=1e-12)
        assert r.ci_low <= r.estimate <= r.ci_high
        assert 0 < r.p_value <= r.p_adjusted <= 1
    assert set(diffs["test"]) == {"score"} and set(diffs["n_prompts"]) == {40}
    assert (diffs["ci_low_simultaneous"] <= diffs["ci_low"]).all()
    assert (diffs["ci_high_simultaneous"] >= diffs["ci_high"]).all()
    assert set(diffs["n_samples"]) == {2400}


def test_records_and_counts_agree(counts):
    from_counts = leakstats.compare(counts, k=[1, 4], rng=3).to_frame()
    from_records = leakstats.compare(records_from_counts(counts), k=[1, 4], rng=3).to_frame()
    pd.testing.assert_frame_equal(from_counts, from_records)


def test_dict_input_keeps_order(counts):
    parts = {m: g.drop(columns="method") for m, g in counts.groupby("method")}
    res = leakstats.compare({"c": parts["c"], "a": parts["a"], "b": parts["b"]}, k=1, rng=0)
    assert res.methods == ("c", "a", "b")
    assert res.to_frame()[["method_a", "method_b"]].values.tolist() == [
        ["c", "a"], ["c", "b"], ["a", "b"]]
    # a method column equal to the key is accepted
    same = leakstats.compare({"a": parts["a"].assign(method="a"), "b": parts["b"]}, k=1, rng=0)
    assert same.methods == ("a", "b")


def test_baseline_direction(counts):
    res = leakstats.compare(counts, k=[1, 4], baseline="c", rng=0).to_frame()
    assert set(zip(res["method_a"], res["method_b"], strict=True)) == {("a", "c"), ("b", "c")}
    # b leaks less than c by construction: clearly negative difference
    b = res.query("method_a == 'b' and k == 4")
    assert b["estimate"].item() < 0 and bool(b["significant"].item())


def test_result_is_frozen_and_copies(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.test = "bayes"
    frame = result.to_frame()
    frame.loc[0, "estimate"] = 99.0
    assert result.to_frame().loc[0, "estimate"] != 99.0
    assert "Comparison of 3 methods" in repr(result)


def test_configurations_compared_separately():
    data = pd.concat([make_counts(seed=1, extra={"temperature": 1.0}),
                      make_counts(seed=2, extra={"temperature": 0.7})], ignore_index=True)
    res = leakstats.compare(data, k=1, baseline="a", rng=0)
    diffs = res.to_frame()
    assert res.configs == ("temperature",)
    assert list(diffs.columns[:3]) == ["temperature", "method_a", "method_b"]
    assert len(diffs) == 4 and set(diffs["temperature"]) == {0.7, 1.0}
    alone = leakstats.compare(data[data.temperature == 0.7], k=1, baseline="a", rng=0)
    assert set(alone.to_frame()["estimate"]) == set(diffs.query("temperature == 0.7")["estimate"])
    tex = res.to_latex()
    assert "temperature & method & leak@1" in tex and tex.count("\n0.7 & ") == 3
    assert "| 1.0 | b - a | 1 |" in res.to_markdown(table="differences")


def test_missing_drop_reports_what_was_dropped(counts):
    partial = counts.drop(index=counts.index[(counts.method == "b")
                                             & counts.prompt_id.isin(["q3", "q7"])])
    res = leakstats.compare(partial, k=1, missing="drop", rng=0)
    dropped = res.dropped()
    assert sorted(set(dropped["prompt_id"])) == ["q3", "q7"]
    assert set(dropped["method"]) == {"a", "c"} and len(dropped) == 4
    assert set(res.to_frame()["n_prompts"]) == {38}
    assert "4 row(s), see result.dropped()" in res.summary()
    assert len(leakstats.compare(counts, k=1, rng=0).dropped()) == 0


def test_multiplicity_adjustment_matches_statsmodels(counts):
    from statsmodels.stats.multitest import multipletests

    for method in ("holm", "fdr_bh", "bonferroni"):
        res = leakstats.compare(counts, k=[1, 4], rng=0, correction=method).to_frame()
        for k in (1, 4):
            rows = res[res.k == k]
            want = multipletests(rows["p_value"], method=method)[1]
            np.testing.assert_allclose(rows["p_adjusted"], want)
    rng = np.random.default_rng(0)
    for p in (rng.random(9), np.array([0.01, 0.01, 0.04, 0.5]), rng.random(40) ** 3):
        np.testing.assert_allclose(compare_module._holm(p), multipletests(p, method="holm")[1])
    none = leakstats.compare(counts, k=1, rng=0, correction="none").to_frame()
    np.testing.assert_array_equal(none["p_value"], none["p_adjusted"])
    assert (none["significant"] == (none["p_value"] < 0.05)).all()


def test_gee_rows(counts):
    res = leakstats.compare(counts, k=[1, 4], test="gee", rng=0).to_frame()
    assert set(res.query("k == 1")["test"]) == {"gee"}
    assert set(res.query("k == 4")["test"]) == {"permutation (gee covers k = 1 only)"}
    row = res.query("k == 1 and method_a == 'a' and method_b == 'b'")
    wide = counts.pivot(index="prompt_id", columns="method", values="n_leaked") / 30
    assert row["p_value"].item() == pytest.approx(ct.gee_score_test(wide["a"], wide["b"]))


def test_superpopulation_auto_uses_the_bootstrap(counts):
    res = leakstats.compare(counts, k=[1, 4], population="superpopulation", rng=0)
    frame = res.to_frame()
    assert set(frame["test"]) == {"paired-bootstrap"}
    assert set(frame["population"]) == {"superpopulation"}
    alpha = 0.05
    excludes = (frame["ci_low"] > 0) | (frame["ci_high"] < 0)
    assert (excludes == (frame["p_value"] < alpha)).all()  # interval and test agree


def test_seed_reproducible(counts):
    a = leakstats.compare(counts, k=[1, 4], rng=5).to_frame()
    b = leakstats.compare(counts, k=[1, 4], rng=np.random.default_rng(5)).to_frame()
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- the tests


def exact_permutation_p(n_a, c_a, n_b, c_b, k):
    """Exact p-value by enumerating the product of per-prompt hypergeometric laws; the
    statistic is (|T|, |Z|) in lexicographic order, as in permutation_test."""
    supports = []
    obs_t = obs_z = 0.0
    for na, ca, nb, cb in zip(n_a, c_a, n_b, c_b, strict=True):
        m = ca + cb
        values = np.arange(max(0, m - nb), min(m, na) + 1)
        law = hypergeom(na + nb, m, na).pmf(values)
        g = leak_at_k_unbiased(na, values, k) - leak_at_k_unbiased(nb, m - values, k)
        active = 0 < m < na + nb
        z = (values - m * na / (na + nb)) / np.sqrt(m) if active else np.zeros(values.size)
        supports.append(list(zip(g, z, law, strict=True)))
        obs_t += leak_at_k_unbiased(na, ca, k) - leak_at_k_unbiased(nb, cb, k)
        obs_z += (ca - m * na / (na + nb)) / np.sqrt(m) if active else 0.0
    total = 0.0
    for combo in itertools.product(*supports):
        t, z = abs(sum(c[0] for c in combo)), abs(sum(c[1] for c in combo))
        tied = abs(t - abs(obs_t)) <= 1e-9 * abs(obs_t) + 1e-300
        if (t > abs(obs_t) and not tied) or (tied and z >= abs(obs_z) * (1 - 1e-9)):
            total += np.prod([c[2] for c in combo])
    return total


@pytest.mark.parametrize("k", [1, 3])
def test_permutation_matches_exact_enumeration(k):
    n_a, c_a = np.array([6, 6, 5, 8]), np.array([4, 0, 2, 1])
    n_b, c_b = np.array([6, 7, 5, 8]), np.array([1, 1, 0, 0])
    exact = exact_permutation_p(n_a, c_a, n_b, c_b, k)
    B = 20000
    mc = ct.permutation_test(n_a, c_a, n_b, c_b, np.array([k]), B, np.random.default_rng(k))[0]
    # Monte Carlo p-value (1 + hits) / (B + 1): within 4 binomial standard errors
    assert abs(mc - exact) < 4 * np.sqrt(exact * (1 - exact) / B) + 2 / B


def test_permutation_degenerate_prompts_only():
    n = np.array([10, 10])
    p = ct.permutation_test(n, np.array([0, 10]), n, np.array([0, 10]), np.array([1, 2]), 200,
                            np.random.default_rng(0))
    np.testing.assert_array_equal(p, [1.0, 1.0])


def test_permutation_p_values_are_valid_under_the_null():
    # Sharp null, heterogeneous prompts: P(p <= u) <= u (+3 binomial SE) at u = 0.05, 0.2.
    rng = np.random.default_rng(11)
    R, P, n = 300, 25, 12
    ps = []
    for _ in range(R):
        prob = rng.beta(0.4, 3.0, P)
        ca, cb = rng.binomial(n, prob), rng.binomial(n, prob)
        ps.append(ct.permutation_test(np.full(P, n), ca, np.full(P, n), cb, np.array([1, 4]),
                                      199, rng))
    ps = np.array(ps)
    for u in (0.05, 0.2):
        assert (ps <= u).mean() <= u + 3 * np.sqrt(u * (1 - u) / R)


def test_gee_closed_form_equals_statsmodels():
    rng = np.random.default_rng(3)
    y = rng.binomial(40, np.repeat(rng.beta(0.5, 8, 120)[:, None], 3, 1) * [1, 0.8, 1.2]) / 40
    params, cov = ct.gee_fit(y)
    sm_params, sm_cov = ct.gee_fit_statsmodels(y)
    np.testing.assert_allclose(params, sm_params, rtol=1e-9)
    np.testing.assert_allclose(cov, sm_cov, rtol=1e-7)
    assert ct.gee_score_test(y[:, 0], y[:, 1]) == pytest.approx(
        ct.gee_score_test_statsmodels(y[:, 0], y[:, 1]), rel=1e-7)
    # the delta-method interval on the probability scale is the logit one transformed back
    mu = 1 / (1 + np.exp(-params))
    grad = np.array([mu[0] * (1 - mu[0]), -mu[1] * (1 - mu[1])])
    se = np.sqrt(grad @ cov[:2, :2] @ grad)
    assert ct.gee_interval(y[:, 0], y[:, 1], 0.95)[1] == pytest.approx(se, rel=1e-9)


def test_paired_bootstrap_se_and_consistency():
    rng = np.random.default_rng(4)
    d = rng.normal(0.01, 0.05, size=(200, 2))
    se, lo, hi, p = ct.paired_bootstrap(d, ct.bootstrap_weights(200, 4000, rng), 0.9)
    analytic = d.std(axis=0, ddof=1) / np.sqrt(200)
    # bootstrap SE of a mean: relative MC error about 1/sqrt(2B) ~ 1.1%; 5 sigma
    np.testing.assert_allclose(se, analytic, rtol=0.06)
    assert ((lo > 0) | (hi < 0) == (p < 0.1)).all()
    w = ct.bootstrap_weights(7, 50, rng)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=2, max_size=8),
       st.sampled_from(["permutation", "paired-bootstrap", "gee"]))
def test_bounds_and_antisymmetry(pairs, test):
    ca, cb = zip(*pairs, strict=True)
    P = len(pairs)
    data = pd.DataFrame({"method": ["x"] * P + ["y"] * P, "prompt_id": list(range(P)) * 2,
                         "n_samples": 12, "n_leaked": list(ca) + list(cb)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        fwd = leakstats.compare(data, k=[1, 3], test=test, n_resamples=100, rng=0).to_frame()
        back = leakstats.compare(data, k=[1, 3], test=test, baseline="x", n_resamples=100,
                                 rng=0).to_frame()
    assert fwd["p_value"].between(0, 1).all() and fwd["p_adjusted"].between(0, 1).all()
    assert fwd["estimate"].between(-1, 1).all()
    assert (fwd["ci_low"] <= fwd["estimate"] + 1e-12).all()
    assert (fwd["estimate"] <= fwd["ci_high"] + 1e-12).all()
    assert (fwd["ci_low"] >= -1).all() and (fwd["ci_high"] <= 1).all()
    np.testing.assert_allclose(back["estimate"], -fwd["estimate"], atol=1e-12)


# --------------------------------------------------------------------------- presentation


def test_summary_text(result):
    text = result.summary()
    assert "score interval of the fixed-prompt difference at the cp-eb n*, dual test" in text
    assert "p-values adjusted by 'holm'" in text
    assert "a - b" in text and "p_adj" in text
    assert "*: holm-adjusted p < 0.05 (the test is the dual of the interval)." in text


def test_summary_states_the_rule_of_a_non_dual_test(counts):
    text = leakstats.compare(counts, k=[1], test="permutation", rng=1).summary()
    assert "within-prompt permutation test" in text
    assert "*: holm-adjusted p < 0.05 and the 95% interval excludes 0." in text


def test_latex_table(counts):
    res = leakstats.compare(counts, k=[1, 16], baseline="a", rng=0)
    tex = res.to_latex()
    lines = tex.splitlines()
    assert r"\toprule" in lines and r"\bottomrule" in lines and r"\end{tabular}" == lines[-1]
    assert "method & leak@1 & leak@16" in tex
    b_row = next(line for line in lines if line.startswith("b & "))
    assert b_row.count(r"\textbf{") == 2 and b_row.count("$^{*}$") >= 1  # best and significant
    assert r"\multicolumn{3}{l}{\footnotesize $^{*}$ differs from the baseline (a)" in tex
    assert "95\\% confidence intervals" in tex
    diff_tex = res.to_latex(table="differences", k=16)
    assert "b - a & 16 &" in diff_tex and "p (adj.)" in diff_tex


def test_markdown_table(result):
    md = result.to_markdown(k=[4])
    assert md.startswith("| method | leak@4 |")
    assert "**" in md and "\n\n" in md
    assert "least leaky (bold) method" in md
    assert result.to_markdown(table="differences").count("\n| a - b |") == 3


def test_plot(result):
    axes = result.plot()
    assert len(axes) == 2 and axes[0].get_ylabel() == "leak@k"
    assert axes[1].get_xlabel() == "difference of leak@16 (method_a - method_b)"
    assert len(axes[1].get_yticklabels()) == 3
    from leakstats.report.plots import plot_difference_forest

    ax = plot_difference_forest(result, k=4)
    assert "p_adj=" in ax.get_yticklabels()[0].get_text()
    with pytest.raises(LeakstatsError, match=r"argument 'k': 7 is not one of"):
        plot_difference_forest(result, k=7)
    with pytest.raises(LeakstatsError, match="expected a leakstats.CompareResult"):
        plot_difference_forest(result.to_frame())


def test_table_arguments(result):
    with pytest.raises(LeakstatsError, match=r"k: \[2\] not in the result"):
        result.to_latex(k=2)
    with pytest.raises(LeakstatsError, match="table: 'both' is not one of"):
        result.to_markdown(table="both")
    with pytest.raises(LeakstatsError, match="table: 'x' is not one of"):
        result.to_frame("x")


# --------------------------------------------------------------------------- Bayesian test


def test_bayes_one_small_fit():
    pytest.importorskip("pymc")
    data = make_counts(P=15, n=30, methods=(("a", 1.0), ("b", 0.3)), seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", leakstats.ConvergenceWarning)
        res = leakstats.compare(data, k=[1, 4], test="bayes", rng=0,
                                bayes_options={"draws": 150, "tune": 150, "chains": 1})
    frame = res.to_frame()
    assert set(frame["test"]) == {"bayes"} and frame["p_value"].isna().all()
    assert frame["prob_a_greater"].between(0, 1).all()
    assert (frame["prob_a_greater"] > 0.9).all()  # a leaks far more than b
    assert (frame["significant"] == ((frame["ci_low"] > 0) | (frame["ci_high"] < 0))).all()
    assert "P(a > b)" in res.summary() and "P(A > B)" in res.to_latex(table="differences")


# --------------------------------------------------------------------------- bad input


def test_mismatched_prompt_sets_name_the_prompts(counts):
    partial = counts.drop(index=counts.index[(counts.method == "b")
                                             & counts.prompt_id.isin(["q3", "q7"])])
    with pytest.raises(DataValidationError,
                       match=r"(?s)not evaluated on the same prompts.*method 'b' lacks 2 "
                             r"prompt\(s\): 'q3', 'q7'.*missing='drop'"):
        leakstats.compare(partial, k=1)


def test_method_with_one_prompt(counts):
    one = counts[(counts.method != "b") | (counts.prompt_id == "q0")]
    with pytest.raises(DataValidationError, match="method 'b' lacks 39 prompt"):
        leakstats.compare(one, k=1)
    with pytest.raises(DataValidationError,
                       match=r"share 1 prompt\(s\).*'b': 1.*at least 2 shared prompts"):
        leakstats.compare(one, k=1, missing="drop")
    single = counts[counts.prompt_id == "q0"]
    with pytest.raises(DataValidationError, match="at least 2 shared prompts"):
        leakstats.compare(single, k=1)


def test_k_larger_than_n(counts):
    with pytest.raises(ExtrapolationRequiredError, match=r"k: leak@k for k=\[64\] exceeds"):
        leakstats.compare(counts, k=[1, 64])


def test_duplicate_method_names(counts):
    a = counts[counts.method == "a"].drop(columns="method")
    with pytest.raises(DataValidationError, match="duplicate method name '1'"):
        leakstats.compare({1: a, "1": a}, k=1)
    with pytest.raises(DataValidationError, match=r"table of method 'a' has a 'method' column "
                                                  r"with values \['b'\]"):
        leakstats.compare({"a": a.assign(method="b"), "c": a}, k=1)
    twice = pd.concat([counts, counts[counts.method == "a"]])
    with pytest.raises(DataValidationError, match=r"duplicate \('method', 'prompt_id'\)"):
        leakstats.compare(twice, k=1)


def test_empty_data(counts):
    with pytest.raises(DataValidationError, match="the counts table is empty"):
        leakstats.compare(counts.iloc[:0], k=1)
    with pytest.raises(LeakstatsError, match="the dict of methods is empty"):
        leakstats.compare({}, k=1)
    with pytest.raises(DataValidationError, match="cannot tell a records table"):
        leakstats.compare(pd.DataFrame(), k=1)


def test_nan_labels(counts):
    records = records_from_counts(counts[counts.prompt_id.isin(["q0", "q1"])])
    bad = records.astype({"leaked": object})
    bad.loc[3, "leaked"] = np.nan
    with pytest.raises(DataValidationError, match=r"column 'leaked': missing value"):
        leakstats.compare(bad, k=1)
    no_method = records.astype({"method": object})
    no_method.loc[5, "method"] = None
    with pytest.raises(DataValidationError, match="column 'method'"):
        leakstats.compare(no_method, k=1)


def test_one_method_and_no_method_column(counts):
    with pytest.raises(DataValidationError, match=r"at least two methods; the data have one \('a'"):
        leakstats.compare(counts[counts.method == "a"], k=1)
    with pytest.raises(DataValidationError, match="needs a 'method' column"):
        leakstats.compare(counts.drop(columns="method").drop_duplicates("prompt_id"), k=1)
    mixed = pd.concat([make_counts(extra={"temperature": 1.0}),
                       make_counts(methods=(("a", 1.0),), extra={"temperature": 0.5})])
    with pytest.raises(DataValidationError, match=r"configuration temperature=0.5 has a single "
                                                  r"method \('a'\)"):
        leakstats.compare(mixed, k=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": "zzz"}, r"baseline: 'zzz' is not one of the methods \('a', 'b', 'c'\)"),
        ({"test": "t-test"}, "test: 't-test' is not one of 'auto'"),
        ({"correction": "tukey"}, "correction: 'tukey' is not one of 'holm'"),
        ({"missing": "ignore"}, "missing: 'ignore' is not one of 'error', 'drop'"),
        ({"n_resamples": 10}, "n_resamples: 10 is not an integer >= 100"),
        ({"confidence_level": 95}, "confidence_level: 95 is not a number strictly between"),
        ({"population": "all"}, "population: 'all' is not one of"),
        ({"k": 0}, "k: 0 is not a positive integer"),
        ({"by": ["temperature"]}, "unknown arm column 'temperature'"),
    ],
)
def test_bad_arguments(counts, kwargs, message):
    kwargs = {"k": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        leakstats.compare(counts, **kwargs)
