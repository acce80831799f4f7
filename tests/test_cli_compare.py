"""The compare, certify and plan subcommands of the command line."""

import io
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import leakstats  # noqa: E402
from leakstats.cli import main  # noqa: E402

METHODS = (("npo", 1.0), ("ga", 1.4), ("retrain", 0.4))


def method_counts(factor: float, seed: int, P: int = 25, n: int = 32) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.random.default_rng(0).beta(0.5, 5.0, P)  # the same prompts for every method
    return pd.DataFrame({"prompt_id": [f"p{i}" for i in range(P)], "n_samples": n,
                         "n_leaked": rng.binomial(n, np.minimum(p * factor, 1.0))})


@pytest.fixture
def files(tmp_path):
    paths = []
    for i, (name, factor) in enumerate(METHODS):
        path = tmp_path / f"{name}.csv"
        method_counts(factor, i).to_csv(path, index=False)
        paths.append(path)
    return paths


@pytest.fixture
def combined(tmp_path):
    frame = pd.concat([method_counts(f, i).assign(method=m) for i, (m, f) in enumerate(METHODS)])
    path = tmp_path / "all.parquet"
    frame.to_parquet(path, index=False)
    return path, frame


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, pattern):
    assert code == 2
    assert "Traceback" not in err
    assert pattern in err, err


# --------------------------------------------------------------------------- compare


def test_compare_files_match_the_api(capsys, files, combined):
    code, out, err = run(capsys, "compare", *files, "--k", "1,8", "--baseline", "retrain",
                         "--seed", "3", "--format", "csv")
    assert code == 0 and err == ""
    got = pd.read_csv(io.StringIO(out))
    _, frame = combined
    want = leakstats.compare(frame, k=[1, 8], baseline="retrain", rng=3).to_frame()
    assert set(got["method_a"]) == {"npo", "ga"} and set(got["method_b"]) == {"retrain"}
    key = ["method_a", "k"]
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(got["estimate"], want["estimate"], atol=1e-12)


def test_compare_one_file_with_method_column(capsys, combined):
    path, frame = combined
    code, out, _ = run(capsys, "compare", path, "--k", "1", "--seed", "0", "--format", "json")
    assert code == 0
    got = pd.DataFrame(json.loads(out))
    want = leakstats.compare(frame, k=1, rng=0).to_frame()
    assert got[["method_a", "method_b"]].values.tolist() == \
        want[["method_a", "method_b"]].values.tolist()
    np.testing.assert_allclose(got["p_value"], want["p_value"])


def test_compare_report_and_paper_tables(capsys, files, tmp_path):
    code, out, _ = run(capsys, "compare", *files, "--k", "1,8", "--baseline", "retrain")
    assert code == 0
    assert out.startswith("Comparison of 3 methods (baseline 'retrain')")
    assert "Differences (leak@k of method_a minus method_b)" in out
    code, out, _ = run(capsys, "compare", *files, "--k", "8", "--format", "latex")
    assert code == 0 and r"\toprule" in out and r"\textbf{" in out and "footnotesize" in out
    code, out, _ = run(capsys, "compare", *files, "--k", "8", "--format", "markdown",
                       "--table", "differences")
    assert code == 0 and out.startswith("| comparison | k | difference [95% CI] | p (adj.) |")
    target, png = tmp_path / "t.tex", tmp_path / "cmp.png"
    code, out, err = run(capsys, "compare", *files, "--k", "1,8", "--format", "latex",
                         "--output", target, "--plot", png)
    assert code == 0 and out == ""
    assert target.read_text().endswith("\\end{tabular}\n")
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(capsys, "compare", *files, "--output", target)
    assert_usage_error(code, err, "already exists")


def test_compare_options_reach_the_api(capsys, files):
    code, out, _ = run(capsys, "compare", *files, "--k", "1,4", "--test", "gee",
                       "--correction", "bonferroni", "--confidence-level", "0.9",
                       "--n-resamples", "300", "--format", "csv")
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    assert set(got.query("k == 1")["test"]) == {"gee"}
    assert set(got["correction"]) == {"bonferroni"} and set(got["confidence_level"]) == {0.9}
    code, out, _ = run(capsys, "compare", *files, "--population", "superpopulation",
                       "--format", "csv", "--table", "methods")
    got = pd.read_csv(io.StringIO(out))
    assert code == 0 and set(got["population"]) == {"superpopulation"} and "method" in got


def test_compare_missing_prompts_and_drop(capsys, files, tmp_path):
    short = tmp_path / "short.csv"
    pd.read_csv(files[0]).iloc[:-2].to_csv(short, index=False)
    code, _, err = run(capsys, "compare", short, files[1], "--k", "1")
    assert_usage_error(code, err, "were not evaluated on the same prompts")
    assert "method 'short' lacks 2 prompt(s): 'p23', 'p24'" in err and "missing='drop'" in err
    code, out, _ = run(capsys, "compare", short, files[1], "--k", "1", "--missing", "drop")
    assert code == 0 and "2 row(s), see result.dropped()" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--k", "1", "--baseline", "base"], "baseline: 'base' is not one of the methods"),
        (["--k", "40"], "k: leak@k for k=[40] exceeds"),
        (["--k", "1", "--test", "ttest"], "argument --test: invalid choice: 'ttest'"),
        (["--k", "1", "--correction", "x"], "argument --correction: invalid choice"),
        (["--k", "1", "--n-resamples", "5"], "n_resamples: 5 is not an integer >= 100"),
        (["--k", "1", "--format", "latex", "--table", "both"], "argument --table: invalid"),
        (["--k", "1", "--plot", "x.bmpx"], "--plot: cannot tell a supported image format"),
    ],
)
def test_compare_bad_arguments(capsys, files, argv, message):
    code, out, err = run(capsys, "compare", *files, *argv)
    assert_usage_error(code, err, message)
    assert out == ""


def test_compare_bad_inputs(capsys, files, tmp_path):
    code, _, err = run(capsys, "compare", files[0], files[0], "--k", "1")
    assert_usage_error(code, err, "duplicate method name 'npo'")
    code, _, err = run(capsys, "compare", files[0], "--k", "1")
    assert_usage_error(code, err, "compare needs a 'method' column")
    empty = tmp_path / "empty.csv"
    empty.write_text("prompt_id,n_samples,n_leaked\n")
    code, _, err = run(capsys, "compare", empty, files[1], "--k", "1")
    assert_usage_error(code, err, "the counts table is empty")
    code, _, err = run(capsys, "compare", tmp_path / "nope.csv", files[1], "--k", "1")
    assert_usage_error(code, err, "no such file")


# --------------------------------------------------------------------------- certify


def test_certify_table_and_machine_formats(capsys, files):
    code, out, err = run(capsys, "certify", files[2], "--k", "1,8,100", "--epsilon", "0.5")
    assert code == 0 and err == ""
    assert out.startswith("CertifyResult(one-sided upper bounds, confidence_level=0.95")
    assert "certified leak@k <= 0.5: k=1; k=8" in out
    code, out, _ = run(capsys, "certify", files[2], "--k", "1,8", "--format", "csv",
                       "--bound", "union")
    got = pd.read_csv(io.StringIO(out))
    want = leakstats.certify(files[2], k=[1, 8], bound="union").to_frame()
    np.testing.assert_allclose(got["upper_bound"], want["upper_bound"])
    assert code == 0 and got["ci_method"].str.contains("union").all()


def test_certify_zero_leaks_no_warning(capsys, tmp_path):
    path = tmp_path / "zero.csv"
    pd.DataFrame({"prompt_id": range(100), "n_samples": 50, "n_leaked": 0}).to_csv(path,
                                                                                  index=False)
    code, out, err = run(capsys, "certify", path, "--k", "1,64", "--format", "json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert rows[0]["upper_bound"] == pytest.approx(1 - 0.05 ** (1 / 5000))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--k", "1", "--confidence-level", "0.5"], "confidence_level: 0.5 is below 0.75"),
        (["--k", "1", "--epsilon", "2"], "epsilon: 2.0 is not a number in (0, 1)"),
        (["--k", "1", "--bound", "x"], "argument --bound: invalid choice"),
        ([], "the following arguments are required: --k"),
    ],
)
def test_certify_bad_arguments(capsys, files, argv, message):
    code, _, err = run(capsys, "certify", files[0], *argv)
    assert_usage_error(code, err, message)


# --------------------------------------------------------------------------- plan


def test_plan_formats_match_the_api(capsys):
    code, out, _ = run(capsys, "plan", "certify", "--k", "1,128", "--prompts", "400",
                       "--epsilon", "0.01", "--p", "0", "--format", "csv")
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    want = leakstats.plan("certify", k=[1, 128], n_prompts=400, epsilon=0.01, p=0.0).to_frame()
    assert got["n_samples"].tolist() == want["n_samples"].tolist()
    code, out, _ = run(capsys, "plan", "compare", "--k", "8", "--samples", "100", "--leak-a",
                       "0.3", "--leak-b", "0.2", "--power", "0.9", "--comparisons", "3")
    assert code == 0 and out.startswith("PlanResult(goal='compare'")
    code, out, _ = run(capsys, "plan", "estimate", "--k", "4", "--prompts", "50",
                       "--half-width", "0.05", "--format", "json")
    assert code == 0 and json.loads(out)[0]["goal"] == "estimate"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "--half-width", "0.1"], "n_prompts, n_samples: give at least one"),
        (["estimate", "--prompts", "10", "--epsilon", "0.1"],
         "epsilon: not an option of goal 'estimate'"),
        (["certify", "--prompts", "10", "--epsilon", "0.01", "--p", "0.5"],
         "cannot be certified below epsilon"),
        (["guess"], "argument goal: invalid choice: 'guess'"),
    ],
)
def test_plan_bad_arguments(capsys, argv, message):
    code, _, err = run(capsys, "plan", *argv)
    assert_usage_error(code, err, message)
