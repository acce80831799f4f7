"""The leakstats command line: main() in-process, and `python -m leakstats` once."""

import argparse
import io
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import leakstats  # noqa: E402
from leakstats import cli  # noqa: E402
from leakstats.cli import main  # noqa: E402
from leakstats.estimate import intervals  # noqa: E402
from leakstats.report import tables  # noqa: E402


def make_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["npo"] * 3 + ["ga"] * 3,
            "temperature": [1.0] * 6,
            "prompt_id": ["p1", "p2", "p3"] * 2,
            "n_samples": [16] * 6,
            "n_leaked": [0, 1, 3, 2, 2, 5],
        }
    )


def make_records(counts: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {"method": r.method, "temperature": r.temperature, "prompt_id": r.prompt_id,
         "leaked": s < r.n_leaked}
        for r in counts.itertuples()
        for s in range(r.n_samples)
    ]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def counts_csv(tmp_path):
    path = tmp_path / "counts.csv"
    make_counts().to_csv(path, index=False)
    return path


@pytest.fixture
def records_parquet(tmp_path):
    path = tmp_path / "records.parquet"
    make_records(make_counts()).to_parquet(path, index=False)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, pattern):
    assert code == 2
    assert "Traceback" not in err
    assert pattern in err, err


# --------------------------------------------------------------------------- success paths


def test_estimate_table(capsys, counts_csv):
    code, out, err = run(capsys, "estimate", counts_csv, "--k", "1,4,16")
    assert code == 0 and err == ""
    expected = tables.format_table(leakstats.leak_at_k(counts_csv, k=[1, 4, 16]).to_frame())
    assert out == expected + "\n"
    assert out.startswith("population: prompts, confidence level: 0.95\n")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_estimate_machine_formats_match_the_api(capsys, records_parquet, fmt):
    code, out, _ = run(capsys, "estimate", records_parquet, "--k", "1,8", "--format", fmt)
    assert code == 0
    got = pd.read_csv(io.StringIO(out)) if fmt == "csv" else pd.DataFrame(json.loads(out))
    want = leakstats.leak_at_k(make_counts(), k=[1, 8]).to_frame()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_estimate_paper_formats(capsys, counts_csv, fmt):
    code, out, _ = run(capsys, "estimate", counts_csv, "--k", "1", "--format", fmt, "--digits", 3)
    assert code == 0
    assert (r"\toprule" in out) if fmt == "latex" else out.startswith("| method |")


def test_estimate_options_reach_leak_at_k(capsys, records_parquet):
    argv = ["estimate", records_parquet, "--k", "2", "--format", "csv", "--by", "method"]
    code, out, _ = run(capsys, *argv, "--population", "superpopulation", "--ci-method", "wald",
                       "--confidence-level", "0.9")  # fmt: skip
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    assert list(got.columns[:2]) == ["method", "k"]
    assert set(got["confidence_level"]) == {0.9}
    assert set(got["population"]) == {"superpopulation"}
    assert got["ci_method"].str.startswith("wald").all()


def test_estimate_by_empty_is_one_arm(capsys, records_parquet):
    code, out, _ = run(capsys, "estimate", records_parquet, "--k", "1", "--by", "", "--format",
                       "csv")  # fmt: skip
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    assert list(got.columns[:1]) == ["k"] and len(got) == 1
    assert got["n_samples"].iloc[0] == 96


def test_estimate_bootstrap_seed_reproducible(capsys, counts_csv):
    argv = ["estimate", counts_csv, "--k", "1,4", "--ci-method", "bootstrap", "--n-resamples", "50",
            "--seed", "7", "--format", "csv"]  # fmt: skip
    first = run(capsys, *argv)
    second = run(capsys, *argv)
    assert first[0] == 0 and first == second


def test_output_file_and_overwrite_rule(capsys, counts_csv, tmp_path):
    target = tmp_path / "table.tex"
    code, out, err = run(capsys, "estimate", counts_csv, "--k", "1", "--format", "latex",
                         "--output", target)  # fmt: skip
    assert code == 0 and out == ""
    assert "wrote the table" in err
    text = target.read_text()
    assert text.endswith("\\end{tabular}\n")
    code, _, err = run(capsys, "estimate", counts_csv, "--k", "4", "--output", target)
    assert_usage_error(code, err, "leakstats: error: --output: ")
    assert "already exists" in err and "--overwrite" in err
    assert target.read_text() == text
    code, _, _ = run(capsys, "estimate", counts_csv, "--k", "4", "--output", target, "--overwrite")
    assert code == 0 and target.read_text() != text


def test_plot_file_and_overwrite_rule(capsys, counts_csv, tmp_path):
    png = tmp_path / "curve.png"
    assert run(capsys, "estimate", counts_csv, "--k", "1,4,16", "--plot", png)[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    before = png.read_bytes()
    code, out, err = run(capsys, "estimate", counts_csv, "--k", "1", "--plot", png)
    assert_usage_error(code, err, "--plot: ")
    assert out == "" and png.read_bytes() == before  # refused before doing any work
    svg = tmp_path / "curve.svg"
    svg.write_text("old")
    assert run(capsys, "estimate", counts_csv, "--k", "1", "--plot", svg, "--overwrite")[0] == 0
    assert b"<svg" in svg.read_bytes()[:1000]


def test_existing_plot_stops_the_output_too(capsys, counts_csv, tmp_path):
    (tmp_path / "curve.png").write_bytes(b"x")
    code, _, err = run(capsys, "estimate", counts_csv, "--k", "1", "--output",
                       tmp_path / "t.txt", "--plot", tmp_path / "curve.png")  # fmt: skip
    assert_usage_error(code, err, "already exists")
    assert not (tmp_path / "t.txt").exists()


def test_degenerate_data_warns_on_stderr(capsys, tmp_path):
    path = tmp_path / "zero.csv"
    make_counts().assign(n_leaked=0).to_csv(path, index=False)
    code, out, err = run(capsys, "estimate", path, "--k", "1")
    assert code == 0 and out.startswith("population")
    assert err.count("leakstats: warning: No sample leaked") == 2  # one per arm


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"leakstats {leakstats.__version__}\n"
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "estimate" in out
    code, out, _ = run(capsys, "estimate", "--help")
    assert code == 0 and "--confidence-level" in out and "--overwrite" in out


def _choices(command: str, option: str) -> tuple:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if option in a.option_strings)
    return tuple(action.choices)


def test_cli_choices_are_the_library_vocabulary():
    from leakstats.certify import CERTIFY_METHODS
    from leakstats.compare.api import CORRECTIONS, MISSING, TESTS
    from leakstats.plan import GOALS

    assert _choices("estimate", "--population") == intervals.POPULATIONS
    assert _choices("estimate", "--ci-method") == intervals.CI_METHODS
    assert _choices("estimate", "--format") == tables.FORMATS
    assert _choices("certify", "--bound") == CERTIFY_METHODS
    assert _choices("compare", "--test") == (*TESTS, "glmm")
    assert _choices("compare", "--correction") == CORRECTIONS
    assert _choices("compare", "--missing") == MISSING
    sub = next(a for a in cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    goal = next(a for a in sub.choices["plan"]._actions if a.dest == "goal")
    assert tuple(goal.choices) == GOALS


def test_old_option_names_warn_and_still_work(capsys, counts_csv):
    code, out, err = run(capsys, "estimate", counts_csv, "--k", "1", "--method", "wald",
                         "--format", "csv")
    assert code == 0 and "--method is renamed --ci-method" in err
    assert "wald" in out
    code, new, _ = run(capsys, "estimate", counts_csv, "--k", "1", "--ci-method", "wald",
                       "--format", "csv")
    assert new == out


def test_only_leakstats_errors_are_exit_2(monkeypatch, capsys, counts_csv):
    import leakstats.estimate.api as api

    def broken(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(api, "leak_at_k", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        cli.main(["estimate", str(counts_csv), "--k", "1"])

    def refuses(*args, **kwargs):
        raise leakstats.LeakstatsError("k: bad. Fix: pass k=1.")

    monkeypatch.setattr(api, "leak_at_k", refuses)
    code, _, err = run(capsys, "estimate", counts_csv, "--k", "1")
    assert code == 2 and "leakstats: error: k: bad. Fix: pass k=1." in err


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "1,x"], "argument --k: expected comma-separated positive integers"),
        (["--k", ""], "argument --k: expected comma-separated positive integers"),
        (["--k", "0"], "leakstats: error: k: 0 is not a positive integer"),
        (["--k", "32"], "leakstats: error: k: leak@k for k=[32] exceeds"),
        (["--k", "1", "--confidence-level", "1.5"], "confidence_level: 1.5 is not a number"),
        (["--k", "1", "--confidence-level", "high"], "argument --confidence-level: expected"),
        (["--k", "1", "--by", "judge"], "unknown arm column 'judge'"),
        (["--k", "1", "--ci-method", "exact"], "argument --ci-method: invalid choice: 'exact'"),
        (["--k", "1", "--population", "all"], "argument --population: invalid choice"),
        (["--k", "1", "--format", "html"], "argument --format: invalid choice: 'html'"),
        (["--k", "1", "--n-resamples", "5", "--ci-method", "bootstrap"],
         "n_resamples: 5 is not an integer"),
        (["--k", "1", "--digits", "-1"], "digits: -1 is not an integer >= 0"),
        (["--k", "1", "--plot", "curve.bmpx"], "--plot: cannot tell a supported image format"),
        ([], "the following arguments are required: --k"),
    ],
)
def test_estimate_bad_arguments(capsys, counts_csv, extra, message):
    code, out, err = run(capsys, "estimate", counts_csv, *extra)
    assert_usage_error(code, err, message)
    assert out == ""


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "estimate", tmp_path / "nope.csv", "--k", "1")
    assert_usage_error(code, err, "leakstats: error: no such file or directory")


def test_bad_tables(capsys, tmp_path):
    neither = tmp_path / "neither.csv"
    pd.DataFrame({"prompt_id": ["a"], "score": [1]}).to_csv(neither, index=False)
    code, _, err = run(capsys, "estimate", neither, "--k", "1")
    assert_usage_error(code, err, "cannot tell a records table from a counts table")
    bad = tmp_path / "bad.csv"
    make_counts().assign(n_leaked=[0, 1, 3, 2, 2, 50]).to_csv(bad, index=False)
    code, _, err = run(capsys, "estimate", bad, "--k", "1")
    assert_usage_error(code, err, "leakstats: error: column 'n_leaked'")
    text = tmp_path / "counts.txt"
    text.write_text("x")
    code, _, err = run(capsys, "estimate", text, "--k", "1")
    assert_usage_error(code, err, "leakstats: error: ")


def test_missing_output_folder(capsys, counts_csv, tmp_path):
    code, _, err = run(capsys, "estimate", counts_csv, "--k", "1", "--output",
                       tmp_path / "no" / "t.csv")  # fmt: skip
    assert_usage_error(code, err, "--output: the folder")


def test_no_command(capsys):
    code, _, err = run(capsys)
    assert_usage_error(code, err, "the following arguments are required: COMMAND")
    code, _, err = run(capsys, "frobnicate")
    assert_usage_error(code, err, "invalid choice: 'frobnicate'")


# --------------------------------------------------------------------------- entry points


def test_python_m_leakstats(counts_csv):
    done = subprocess.run(
        [sys.executable, "-m", "leakstats", "estimate", str(counts_csv), "--k", "1,4",
         "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4


def test_help_is_light():
    code = (
        "import sys; from leakstats import cli; cli.build_parser().format_help(); "
        "heavy = {'numpy', 'pandas', 'scipy', 'matplotlib'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
