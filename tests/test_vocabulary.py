"""One vocabulary: option names never share a name with a data column, old names warn."""

import inspect

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats.core import vocabulary
from leakstats.core.deprecation import renamed_arguments


@pytest.fixture()
def counts():
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 4, 60)
    return pd.DataFrame({"method": np.repeat(["a", "b"], 30), "prompt_id": list(range(30)) * 2,
                         "n_samples": 20, "n_leaked": rng.binomial(20, p)})


def frames_equal(a, b):
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())


@pytest.mark.parametrize(("func", "old", "new", "value"), [
    ("leak_at_k", "method", "ci_method", "wald"),
    ("leak_at_k", "n_boot", "n_resamples", 50),
    ("certify", "method", "bound", "union"),
    ("extrapolate", "method", "family", "beta"),
    ("extrapolate", "n_boot", "n_resamples", 60),
])
def test_old_argument_names_warn_and_give_the_same_result(counts, func, old, new, value):
    fn = getattr(leakstats, func)
    base = {"k": [1, 4] if func != "extrapolate" else [100], "rng": 0}
    if func == "certify":
        base.pop("rng")
    if func == "leak_at_k" and new == "n_resamples":
        base["ci_method"] = "bootstrap"
    if func == "extrapolate" and new == "n_resamples":
        base["family"] = "beta"
    if func == "extrapolate" and new == "family":
        base["n_resamples"] = 50
    with pytest.warns(DeprecationWarning, match=f"argument '{old}' is renamed '{new}'"):
        got = fn(counts, **base, **{old: value})
    frames_equal(got, fn(counts, **base, **{new: value}))


def test_both_names_at_once_are_refused(counts):
    with pytest.raises(leakstats.LeakstatsError, match="old name of 'ci_method' and both"):
        leakstats.leak_at_k(counts, method="wald", ci_method="wald")


def test_signatures_show_the_new_names():
    for func, names in [("leak_at_k", {"ci_method", "n_resamples"}), ("certify", {"bound"}),
                        ("extrapolate", {"family", "n_resamples"}),
                        ("backtest", {"family", "n_resamples"})]:
        params = set(inspect.signature(getattr(leakstats, func)).parameters)
        assert names <= params and not {"method", "n_boot"} & params, func


def test_old_result_attributes_warn(counts):
    res = leakstats.certify(counts, k=[1], bound="pooled")
    with pytest.warns(DeprecationWarning, match="CertifyResult.method is renamed"):
        assert res.method == "pooled"
    ext = leakstats.extrapolate(counts, k=[100], family="beta", n_resamples=50, rng=0)
    with pytest.warns(DeprecationWarning, match="ExtrapolationResult.methods is renamed"):
        assert ext.methods == ("beta",)
    with pytest.warns(DeprecationWarning):
        assert ext.n_boot == 50
    assert leakstats.leak_at_k(counts, k=1, ci_method="wald").ci_method == "wald"


def test_glmm_is_the_old_name_of_gee(counts):
    with pytest.warns(DeprecationWarning, match="test='glmm' is renamed test='gee'"):
        old = leakstats.compare(counts, k=1, test="glmm", rng=0).to_frame()
    new = leakstats.compare(counts, k=1, test="gee", rng=0).to_frame()
    pd.testing.assert_frame_equal(old, new)
    assert set(new["test"]) == {"gee"}


def test_the_library_validates_against_the_vocabulary():
    from leakstats.extrapolate import engine

    assert engine.METHODS == vocabulary.FAMILIES
    assert set(vocabulary.RENAMED_TESTS.values()) <= set(vocabulary.TESTS)
    with pytest.raises(leakstats.LeakstatsError, match="family: 'magic' is not one of"):
        leakstats.extrapolate(pd.DataFrame({"prompt_id": [0], "n_samples": [5],
                                            "n_leaked": [1]}), family="magic")


def test_no_analysis_option_is_named_after_an_arm_column():
    # Functions that take data never name an option after a column of it. (generate_samples's
    # temperature, top_p, ... and method, and relabel's judge, fill the columns of those
    # names: the same concept.)
    checked = 0
    for name in leakstats.__all__:
        value = getattr(leakstats, name)
        if not inspect.isfunction(value):
            continue
        params = list(inspect.signature(value).parameters)
        if name == "relabel" or not params or params[0] not in (
                "data", "records", "frame", "source", "result"):
            continue
        checked += 1
        assert not set(params) & set(leakstats.ARM_COLUMNS), (name, params)
    assert checked >= 10


def test_renamed_arguments_decorator_bad_use():
    @renamed_arguments(n_boot="n_resamples")
    def f(*, n_resamples=1):
        return n_resamples

    assert f() == 1 and f(n_resamples=3) == 3
    with pytest.raises(leakstats.LeakstatsError, match="both were given"):
        f(n_boot=2, n_resamples=3)


def test_format_table_takes_format(counts):
    table = leakstats.leak_at_k(counts, k=1).to_frame()
    with pytest.warns(DeprecationWarning, match="argument 'fmt' is renamed 'format'"):
        old = leakstats.format_table(table, fmt="csv")
    assert old == leakstats.format_table(table, format="csv") == leakstats.format_table(
        table, "csv")


def test_warnings_point_at_the_callers_line(counts):
    with pytest.warns(DeprecationWarning) as caught:
        leakstats.leak_at_k(counts, k=1, method="wald")
    assert caught[0].filename == __file__
    zero = counts.assign(n_leaked=0)
    with pytest.warns(leakstats.DegenerateDataWarning) as caught:
        leakstats.leak_at_k(zero, k=1)
    assert {w.filename for w in caught} == {__file__}
