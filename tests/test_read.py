"""leakstats.read and the CLI's --leaked / --where / --input-format: any input, one call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import leakstats
from leakstats import DataValidationError, LeakstatsError
from leakstats.cli import main

ROOT = Path(__file__).resolve().parents[1]
LEAKK = ROOT / "tests" / "data" / "leakk_sample.jsonl"
DEMO = ROOT / "data" / "demo"
PLAIN = "judge == 'keywords_any>=1' and temperature == 1"


def test_the_readme_table_from_the_shipped_results_folder(capsys):
    # README: leak@8 at T = 1 with the keyword judge, per model
    readme = {"original": (1.000, 0.832, 1.000), "retrain": (0.000, 0.000, 0.168),
              "grad_ascent": (0.400, 0.191, 0.639), "grad_diff": (0.500, 0.272, 0.728),
              "npo": (0.500, 0.272, 0.728), "npo+rule": (0.000, 0.000, 0.168)}
    with pytest.warns(leakstats.DegenerateDataWarning):
        table = leakstats.leak_at_k(leakstats.read(DEMO, where=PLAIN), k=[1, 8]).to_frame()
    got = table[table["k"] == 8].set_index("method")
    for model, (est, lo, hi) in readme.items():
        row = got.loc[model]
        assert (round(row["estimate"], 3), round(row["ci_low"], 3), round(row["ci_high"], 3)) \
            == (est, lo, hi), model
    assert main(["estimate", str(DEMO), "--where", PLAIN, "--k", "1,8", "--format", "csv"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert len(out) == 12 and set(out["judge"]) == {"keywords_any>=1"}


def test_leakk_files_from_the_cli_with_leaked(tmp_path, capsys):
    as_json = tmp_path / "generations_n200_evaluated.json"  # JSON Lines despite the suffix
    shutil.copy(LEAKK, as_json)
    want = leakstats.leak_at_k(leakstats.read_leakk_jsonl(LEAKK, leaked="ES >= 0.5"),
                               k=1).to_frame()
    for path in (LEAKK, as_json):
        assert main(["estimate", str(path), "--k", "1", "--leaked", "ES >= 0.5", "--format",
                     "csv"]) == 0
        out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
        assert out["estimate"].iloc[0] == pytest.approx(want["estimate"].iloc[0], abs=1e-12)
    assert main(["estimate", str(as_json), "--k", "1"]) == 2
    assert "is a Leak@k per-prompt file" in capsys.readouterr().err


def test_leaked_rule_on_a_table():
    scores = pd.DataFrame({"prompt_id": [1, 1, 2, 2], "rougeL_recall": [0.9, 0.1, 0.5, 0.0]})
    records = leakstats.read(scores, leaked="rougeL_recall >= 0.4")
    assert records["leaked"].tolist() == [True, False, True, False]
    assert leakstats.leak_at_k(records).to_frame()["estimate"].iloc[0] == 0.5


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"where": "judge == 'nobody'"}, "no row of the .* matches"),
    ({"where": "temperature == '1'"}, "holds numbers but the rule compares it with the text"),
    ({"where": "judge == 1"}, "holds text but the rule compares it with the number 1"),
    ({"where": "Judge == 'x'"}, "names 'Judge', which is not a column"),
    ({"where": "judge >= 'a'"}, "text can only be compared with == or !="),
    ({"leaked": "score >= 0.5"}, "already has a 'leaked' column"),
    ({"format": "excel"}, "format: 'excel'"),
])
def test_read_refuses_by_name(kwargs, match):
    with pytest.raises(LeakstatsError, match=match):
        leakstats.read(DEMO, **kwargs)


def test_read_refuses_a_folder_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataValidationError, match=r"neither a leakstats store.*\['notes.txt'\]"):
        leakstats.read(tmp_path)


def test_input_format_forces_the_reader(tmp_path, capsys):
    path = tmp_path / "records.data"
    pd.DataFrame({"prompt_id": [1, 2], "leaked": [True, False]}).to_csv(path, index=False)
    assert main(["estimate", str(path), "--k", "1", "--input-format", "csv"]) == 0
    assert "0.5" in capsys.readouterr().out
    assert main(["estimate", str(path), "--k", "1"]) == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_compare_and_certify_take_the_input_options(capsys):
    assert main(["compare", str(DEMO), "--where", PLAIN, "--k", "8", "--baseline", "retrain",
                 "--format", "csv"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert set(out["method_b"]) == {"retrain"} and len(out) == 5
    assert main(["certify", str(DEMO), "--where", PLAIN + " and method == 'npo+rule'",
                 "--k", "1,8", "--format", "csv"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out["upper_bound"].round(3).tolist() == [0.019, 0.168]  # README: certified bounds


def test_a_folder_of_parquet_files_reads_as_one_table(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        pd.DataFrame({"prompt_id": [i], "leaked": [bool(i)]}).to_parquet(parts / f"{i}.parquet")
    assert leakstats.read(parts)["prompt_id"].tolist() == [0, 1]
    assert leakstats.leak_at_k(parts).to_frame()["estimate"].iloc[0] == 0.5


def test_the_analyses_read_paths_like_read(capsys):
    # a results folder given to leak_at_k directly (it was read as a Parquet dataset of its
    # three tables)
    with pytest.warns(leakstats.DegenerateDataWarning):
        direct = leakstats.leak_at_k(DEMO, k=1).to_frame()
    with pytest.warns(leakstats.DegenerateDataWarning):
        via_read = leakstats.leak_at_k(leakstats.read(DEMO), k=1).to_frame()
    pd.testing.assert_frame_equal(direct, via_read)
    with pytest.raises(LeakstatsError, match="is a Leak@k per-prompt file"):
        leakstats.leak_at_k(LEAKK)


def test_backtest_and_compare_read_paths_like_read(tmp_path):
    records = leakstats.example_records()
    path = leakstats.write_table(records, tmp_path / "r.csv")
    kwargs = dict(fit_n=8, k=[16], family=["beta"], n_resamples=50, rng=0)
    import warnings

    with warnings.catch_warnings():  # few leaking prompts in some arms: said, not at issue here
        warnings.simplefilter("ignore", leakstats.DegenerateDataWarning)
        from_path = leakstats.backtest(path, **kwargs).to_frame()
        from_frame = leakstats.backtest(records, **kwargs).to_frame()
    pd.testing.assert_frame_equal(from_path, from_frame)
    one = records[records["method"] == records["method"].iloc[0]].drop(columns="method")
    a = leakstats.write_table(one, tmp_path / "a.csv")
    res = leakstats.compare({"x": a, "y": one}, k=1, rng=0).to_frame()
    assert res["estimate"].iloc[0] == 0.0  # the same records read from a file and a frame
