"""``leakstats report`` / ``leakstats.study.write_report``: a report folder from any input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats.cli import main
from leakstats.core.errors import InputNotFoundError, OutputExistsError
from leakstats.study import write_report

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PLAIN = "judge == 'keywords_any>=1' and temperature == 1"


def _records(prompts_b=range(6)) -> pd.DataFrame:
    rows = []
    for method, every, prompts in (("a", 2, range(6)), ("b", 5, prompts_b)):
        for pid in prompts:
            for s in range(4):  # a leaks on every 2nd sample, b on every 5th
                rows.append({"method": method, "prompt_id": pid, "sample_id": s,
                             "leaked": (4 * pid + s) % every == 0})
    return pd.DataFrame(rows)


def test_report_of_the_shipped_run(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(DEMO), "--where", PLAIN, "--out", str(out), "--k", "1,8",
                 "--baseline", "retrain"]) == 0
    assert "wrote the report to" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "leakstats-report" and manifest["options"]["where"] == PLAIN
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted([*manifest["files"], "manifest.json"])
    assert {"figures/leak_curve.png", "figures/compare.png"} <= set(written)
    text = (out / "report.md").read_text()
    for section in ("## Input", "## leak@k", "## Certified upper bounds", "## Methods compared",
                    "## Warnings"):
        assert section in text
    with pytest.warns(leakstats.DegenerateDataWarning):
        want = leakstats.leak_at_k(leakstats.read(DEMO, where=PLAIN), k=[1, 8]).to_frame()
    got = pd.read_csv(out / "tables" / "leak_at_k.csv")
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["ci_high"], want["ci_high"], rtol=1e-12)
    assert "| npo | 1.0 | 1.0 | keywords_any>=1 | 8 | 0.5000 | [0.2720, 0.7280] |" in text
    assert "No sample leaked in arm method='retrain'" in text.split("## Warnings")[1]


def test_report_extrapolation_lists_arms_it_could_not_fit(tmp_path):
    data = _records()
    data.loc[data["method"] == "b", "leaked"] = False
    with pytest.warns(leakstats.DegenerateDataWarning) as caught:
        write_report(data, tmp_path / "r", k=[1, 2], extrapolate_k=[50], plots=False)
    assert any("No sample leaked in arm method='b'" in str(w.message) for w in caught)
    text = (tmp_path / "r" / "report.md").read_text()
    assert "## Extrapolation to large k" in text
    assert "Not extrapolated:\n- method=b: No sample leaked" in text
    assert not any((tmp_path / "r" / "figures").iterdir())


def test_report_says_when_methods_cannot_be_compared(tmp_path):
    data = _records(prompts_b=range(3, 9))  # half the prompts are not shared
    with pytest.warns(leakstats.LeakstatsWarning, match="the methods were not compared"):
        write_report(data, tmp_path / "r", k=[1], plots=False)
    assert "Not compared: " in (tmp_path / "r" / "report.md").read_text()


def test_report_folder_safety(tmp_path):
    data = _records()
    out = tmp_path / "r"
    write_report(data, out, k=[1], plots=False)
    with pytest.raises(OutputExistsError, match="exists. Fix: pass overwrite=True"):
        write_report(data, out, k=[1], plots=False)
    write_report(data, out, k=[2], plots=False, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["options"]["k"] == [2]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"does not list \(\['notes.txt'\]\)"):
        write_report(data, out, k=[1], plots=False, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    other = tmp_path / "theirs"
    other.mkdir()
    (other / "paper.tex").write_text("x")
    with pytest.raises(OutputExistsError, match="not a leakstats report folder"):
        write_report(data, other, k=[1], plots=False, overwrite=True)
    with pytest.raises(InputNotFoundError, match="does not exist"):
        write_report(data, tmp_path / "no" / "r", k=[1], plots=False)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary folder is left behind


def test_report_never_writes_over_or_into_its_input(tmp_path, capsys):
    source = tmp_path / "records.parquet"
    _records().to_parquet(source)
    for target in (source, tmp_path):
        assert main(["report", str(source), "--out", str(target), "--no-plots",
                     "--overwrite"]) == 2
        assert "never writes over its input" in capsys.readouterr().err
    assert main(["report", str(DEMO), "--out", str(DEMO / "rep")]) == 2
    assert "never writes over its input" in capsys.readouterr().err
    assert not (DEMO / "rep").exists()


def test_report_bad_input_is_refused_before_writing(tmp_path, capsys):
    assert main(["report", str(DEMO), "--where", "judge == 'nope'", "--out",
                 str(tmp_path / "r")]) == 2
    assert "no row of the" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    with pytest.raises(leakstats.LeakstatsError, match="format: 'xml' is not one of"):
        write_report(_records(), tmp_path / "r", format="xml")
