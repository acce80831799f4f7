"""format_table: the five output formats and their bad-input paths."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats import LeakstatsError
from leakstats.report.tables import FORMATS, format_table


@pytest.fixture
def counts():
    return pd.DataFrame(
        {
            "method": ["npo_v1"] * 3 + ["grad%ascent"] * 3,
            "temperature": [1.0] * 6,
            "prompt_id": ["p1", "p2", "p3"] * 2,
            "n_samples": [16] * 6,
            "n_leaked": [0, 1, 3, 2, 2, 5],
        }
    )


@pytest.fixture
def result(counts):
    return leakstats.leak_at_k(counts, k=[1, 4, 16])


@pytest.fixture
def frame(result):
    return result.to_frame()


def small_frame(**extra):
    """A hand-made result table (leak_at_k(...) is not needed for the layout checks)."""
    data = {
        "method": ["a_b", "c&d"],
        "k": [8, 8],
        "estimate": [0.123, 0.5],
        "se": [0.01, float("nan")],
        "ci_low": [0.101, 0.25],
        "ci_high": [0.146, 0.75],
        "confidence_level": [0.95, 0.95],
        "ci_method": ["cp-effective", "cp-effective"],
        "n_prompts": [10, 10],
        "n_samples": [100, 100],
        "population": ["prompts", "prompts"],
    }
    data.update(extra)
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- "table"


def test_table_layout(frame):
    text = format_table(frame)
    lines = text.splitlines()
    assert lines[0] == "population: prompts, confidence level: 0.95"
    header = lines[1].split()
    assert header[:5] == ["method", "temperature", "k", "estimate", "95%"]
    assert header[6:] == ["se", "n_prompts", "n_samples", "ci_method"]
    assert len(lines) == 2 + len(frame)
    for line, row in zip(lines[2:], frame.itertuples(), strict=True):
        assert line.startswith(row.method)
        assert f"[{row.ci_low:.4f}, {row.ci_high:.4f}]" in line
        assert f"{row.estimate:.4f}" in line
        assert row.ci_method in line
    assert not text.endswith("\n")


def test_table_is_the_repr(result, frame):
    assert repr(result).endswith(format_table(frame))
    assert format_table(result) == format_table(frame)


def test_table_digits(frame):
    row = frame.iloc[0]
    assert f"[{row.ci_low:.2f}, {row.ci_high:.2f}]" in format_table(frame, digits=2)
    assert f"[{row.ci_low:.0f}, {row.ci_high:.0f}]" in format_table(frame, digits=0)


def test_table_single_arm_and_missing_se():
    frame = small_frame().drop(columns="method")
    lines = format_table(frame).splitlines()
    assert lines[1].split()[0] == "k"
    assert "NA" in lines[3]


def test_table_varying_level_and_population():
    frame = small_frame(confidence_level=[0.9, 0.99], population=["prompts", "superpopulation"])
    lines = format_table(frame).splitlines()
    # level and population vary: they are columns; the one interval method is said above
    assert lines[0] == "interval: cp-effective"
    assert lines[1].split()[:4] == ["method", "k", "estimate", "CI"]
    assert "level" in lines[1] and "population" in lines[1] and "ci_method" not in lines[1]
    assert "90%" in lines[2] and "99%" in lines[3] and "superpopulation" in lines[3]


def test_table_states_a_constant_interval_method_once():
    frame = small_frame()
    lines = format_table(frame).splitlines()
    assert lines[0].endswith("interval: cp-effective") and "ci_method" not in lines[1]
    mixed = small_frame(ci_method=["cp-effective", "bootstrap"])
    lines = format_table(mixed).splitlines()
    assert "interval" not in lines[0] and "ci_method" in lines[1]
    assert "bootstrap" in lines[3]


def test_table_empty():
    assert format_table(small_frame().iloc[:0]) == "(no rows)"


# --------------------------------------------------------------------------- csv / json


def test_csv_round_trip(frame):
    text = format_table(frame, "csv")
    back = pd.read_csv(io.StringIO(text))
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_json_records(frame):
    records = json.loads(format_table(frame, "json"))
    assert len(records) == len(frame)
    assert list(records[0]) == list(frame.columns)
    assert records[0]["estimate"] == frame["estimate"].iloc[0]  # full precision
    assert records[0]["n_prompts"] == 3 and isinstance(records[0]["n_prompts"], int)


def test_json_nan_as_null():
    frame = small_frame(ci_high=[0.146, float("inf")])
    records = json.loads(format_table(frame, "json"))
    assert records[1]["se"] is None and records[1]["ci_high"] is None
    assert records[0]["se"] == 0.01


# --------------------------------------------------------------------------- latex


def test_latex_booktabs_and_cell():
    text = format_table(small_frame(), "latex", digits=3)
    lines = text.splitlines()
    assert lines[0].startswith("% ")
    assert lines[1] == r"\begin{tabular}{lrlrr}"
    assert lines[2:5] == [
        r"\toprule",
        r"method & $k$ & leak@$k$ [95\% CI] & prompts & samples \\",
        r"\midrule",
    ]
    assert lines[5] == r"a\_b & 8 & 0.123 [0.101, 0.146] & 10 & 100 \\"
    assert lines[6] == r"c\&d & 8 & 0.500 [0.250, 0.750] & 10 & 100 \\"
    assert lines[7:] == [r"\bottomrule", r"\end{tabular}"]


def test_latex_caption_note():
    note = format_table(small_frame(), "latex").splitlines()[0]
    assert "95\\% confidence intervals" in note
    assert "interval method: cp-effective" in note
    assert "population: prompts" in note


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("a_b", r"a\_b"), ("5%", r"5\%"), ("x&y", r"x\&y"), ("#1", r"\#1"), ("$2", r"\$2")],
)
def test_latex_escapes_specials(raw, escaped):
    text = format_table(small_frame(method=[raw, "plain"]), "latex")
    assert text.splitlines()[5].startswith(escaped + " & ")


def test_latex_escapes_column_names_and_keeps_arm_order(frame):
    frame = frame.rename(columns={"temperature": "top_p"})
    text = format_table(frame, "latex")
    assert text.splitlines()[3].startswith(r"method & top\_p & $k$ & ")
    body = text.splitlines()[5:-2]
    assert len(body) == len(frame)  # one row per arm x k, in the table's order
    assert body[0].startswith(r"grad\%ascent & 1.0 & 1 & ")
    assert body[3].startswith(r"npo\_v1 & 1.0 & 1 & ")


def test_latex_varying_method_and_level():
    frame = small_frame(ci_method=["wald", "bootstrap"], confidence_level=[0.9, 0.95])
    lines = format_table(frame, "latex").splitlines()
    assert lines[3].endswith(r"level & prompts & samples & interval \\")
    assert lines[5].endswith(r"90\% & 10 & 100 & wald \\")
    assert "interval methods: wald, bootstrap" in lines[0]


def test_latex_needs_no_jinja2(monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # any import of jinja2 now fails
    assert r"\toprule" in format_table(small_frame(), "latex")


# --------------------------------------------------------------------------- markdown


def test_markdown_pipe_table(frame):
    text = format_table(frame, "markdown")
    table, note = text.split("\n\n")
    lines = table.splitlines()
    assert lines[0].startswith("| method | temperature | k | estimate | 95% CI | se |")
    assert set(lines[1]) <= set("|-:") and lines[1].count("|") == lines[0].count("|")
    assert len(lines) == 2 + len(frame)
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    assert note.startswith("leak@k estimates with 95% confidence intervals")


def test_markdown_escapes_pipes():
    text = format_table(small_frame(method=["a|b", "c"]), "markdown")
    assert r"| a\|b |" in text


# --------------------------------------------------------------------------- bad input


def test_all_formats_give_text(frame):
    for fmt in FORMATS:
        assert isinstance(format_table(frame, fmt), str)


@pytest.mark.parametrize("fmt", ["html", "TABLE", None, 3])
def test_unknown_format(frame, fmt):
    with pytest.raises(
        LeakstatsError, match=r"format: .* is not one of 'table', 'csv', 'json', 'latex'"
    ):
        format_table(frame, fmt)


@pytest.mark.parametrize("digits", [-1, 1.5, True, "4"])
def test_bad_digits(frame, digits):
    with pytest.raises(LeakstatsError, match=r"digits: .* is not an integer >= 0"):
        format_table(frame, digits=digits)


def test_missing_columns(frame):
    with pytest.raises(
        LeakstatsError, match=r"missing required column\(s\) \['ci_low', 'ci_high'\]"
    ):
        format_table(frame.drop(columns=["ci_low", "ci_high"]))


@pytest.mark.parametrize("bad", [[1, 2], {"k": [1]}, pd.Series([1.0]), np.zeros(3)])
def test_not_a_table(bad):
    with pytest.raises(LeakstatsError, match=r"argument 'frame': expected a result table"):
        format_table(bad)


def test_numbers_round_as_documented():
    frame = small_frame(estimate=[0.12345, 1 / 3])
    text = format_table(frame, "markdown", digits=3)
    assert "| 0.123 |" in text and "| 0.333 |" in text


def test_latex_escapes_comparison_signs_for_the_default_font_encoding():
    frame = small_frame(method=["keywords_any>=1", "a<b"])
    body = format_table(frame, "latex").splitlines()
    assert r"keywords\_any\textgreater{}=1 & 8" in body[5]
    assert r"a\textless{}b & 8" in body[6]
