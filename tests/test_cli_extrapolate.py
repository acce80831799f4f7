"""``leakstats extrapolate``: predictions beyond n and the backtest, from any input."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats.cli import main


@pytest.fixture(scope="module")
def counts_csv(tmp_path_factory):
    rng = np.random.default_rng(7)
    frames = []
    for method, zero in (("npo", 0.5), ("ga", 0.2)):
        p = np.where(rng.random(60) < zero, 0.0, rng.beta(0.6, 6, 60))
        frames.append(pd.DataFrame({"method": method, "prompt_id": range(60), "n_samples": 32,
                                    "n_leaked": rng.binomial(32, p)}))
    path = tmp_path_factory.mktemp("ex") / "counts.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_extrapolate_matches_the_library(counts_csv, capsys):
    args = ["extrapolate", str(counts_csv), "--k", "100,1000", "--n-resamples", "50",
            "--seed", "3", "--family", "zi-beta"]
    assert main([*args, "--format", "csv"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out))
    want = leakstats.extrapolate(counts_csv, k=[100, 1000], family="zi-beta", n_resamples=50,
                                 rng=3).to_frame()
    assert got["method"].tolist() == want["method"].tolist()
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["ci_high"], want["ci_high"], rtol=1e-12)


def test_extrapolate_table_names_the_chosen_law_and_plots_every_arm(counts_csv, tmp_path,
                                                                    capsys):
    plot = tmp_path / "curve.png"
    assert main(["extrapolate", str(counts_csv), "--k", "1000", "--n-resamples", "50",
                 "--seed", "1", "--where", "method == 'npo' or method == 'ga'",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    rows = [line.split() for line in lines[2:4]]
    assert [r[0] for r in rows] == ["ga", "npo"]
    # the chosen law, once above the table when both arms chose the same, else per row
    assert lines[0].endswith(" selected") or all(r[-1] == "selected" for r in rows)
    assert "\nlaw choice: beta unless another law's AIC is lower by its margin (" in out
    assert out.rstrip().endswith("in every resample (Buckland et al. 1997)")
    assert plot.stat().st_size > 10_000


def test_backtest_summary_in_every_format(counts_csv, capsys):
    base = ["extrapolate", str(counts_csv), "--backtest", "8", "--k", "16,32",
            "--family", "beta", "--n-resamples", "50", "--seed", "0"]
    assert main([*base, "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # per law and k, pooled over the two arms (n = 2 comparisons each)
    assert lines[0] == "| law | k | n | mae | bias | rmse | coverage | mean_width |"
    assert len(lines) == 2 + 2 and lines[2].startswith("| beta | 16 | 2 |")
    assert main([*base, "--format", "latex"]) == 0
    assert r"\begin{tabular}" in capsys.readouterr().out


def test_extrapolate_bad_options(counts_csv, capsys):
    assert main(["extrapolate", str(counts_csv), "--repeats", "3"]) == 2
    assert "--repeats: repeats are backtest repeats" in capsys.readouterr().err
    assert main(["extrapolate", str(counts_csv), "--family", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["extrapolate", str(counts_csv), "--where", "method == 'x'"]) == 2
    assert "no row of the 120 matches" in capsys.readouterr().err
