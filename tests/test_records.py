"""Tests of leakstats.records.api: validation, counts(), file round-trips, the Leak@k importer."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakstats.core.errors import DataValidationError, DegenerateDataWarning, LeakstatsError
from leakstats.records.api import (
    ARM_COLUMNS,
    TableTypeError,
    arm_columns,
    as_counts,
    counts,
    read_counts,
    read_leakk_jsonl,
    read_records,
    read_table,
    validate_counts,
    validate_records,
    write_table,
)

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "leakk_sample.jsonl"


def records_frame() -> pd.DataFrame:
    """Two methods x two temperatures, unequal samples per prompt (hand-counted below)."""
    rows = [
        # method, temperature, prompt_id, sample_id, leaked
        ("npo", 1.0, "p2", 0, True),
        ("npo", 1.0, "p1", 0, False),
        ("npo", 1.0, "p1", 1, True),
        ("npo", 1.0, "p1", 2, True),
        ("npo", 0.7, "p1", 0, False),
        ("npo", 0.7, "p2", 0, False),
        ("npo", 0.7, "p2", 1, False),
        ("ga", 1.0, "p1", 0, True),
        ("ga", 1.0, "p1", 1, True),
        ("ga", 0.7, "p2", 0, True),
        ("ga", 0.7, "p2", 1, False),
        ("ga", 0.7, "p2", 2, False),
        ("ga", 0.7, "p2", 3, True),
    ]
    frame = pd.DataFrame(rows, columns=["method", "temperature", "prompt_id", "sample_id",
                                        "leaked"])
    frame["score"] = np.linspace(0.0, 1.0, len(frame))
    return frame


EXPECTED_COUNTS = pd.DataFrame(
    [
        ("ga", 0.7, "p2", 4, 2),
        ("ga", 1.0, "p1", 2, 2),
        ("npo", 0.7, "p1", 1, 0),
        ("npo", 0.7, "p2", 2, 0),
        ("npo", 1.0, "p1", 3, 2),
        ("npo", 1.0, "p2", 1, 1),
    ],
    columns=["method", "temperature", "prompt_id", "n_samples", "n_leaked"],
).astype({"n_samples": np.int64, "n_leaked": np.int64})


# --------------------------------------------------------------------------- arm columns


def test_arm_columns_default_follows_arm_columns_order():
    frame = pd.DataFrame({"judge": ["j"], "temperature": [1.0], "prompt_id": [1],
                          "method": ["m"], "seed": [0], "leaked": [True]})
    assert arm_columns(frame) == ["method", "temperature", "judge"]
    assert ARM_COLUMNS[0] == "method"


@pytest.mark.parametrize(
    ("by", "expected"),
    [("method", ["method"]), ([], []), ((), []), (["temperature", "method"],
                                                 ["temperature", "method"]), (["seed"], ["seed"])],
)
def test_arm_columns_explicit(by, expected):
    frame = pd.DataFrame({"method": ["m"], "temperature": [1.0], "seed": [0],
                          "prompt_id": [1], "leaked": [True]})
    assert arm_columns(frame, by) == expected


@pytest.mark.parametrize(
    ("by", "match"),
    [
        ("foo", r"unknown arm column 'foo'.*available columns are .*'method'.*Fix: pass by="),
        (["method", "method"], r"'method' is named twice.*Fix"),
        (["prompt_id"], r"'prompt_id' cannot be an arm column.*Fix: drop"),
        (3, r"argument 'by'.*int.*Fix"),
        ([1], r"argument 'by'.*Fix"),
    ],
)
def test_arm_columns_errors(by, match):
    frame = pd.DataFrame({"method": ["m"], "prompt_id": [1], "leaked": [True]})
    with pytest.raises(LeakstatsError, match=match):
        arm_columns(frame, by)


def test_unknown_by_reported_by_counts():
    with pytest.raises(DataValidationError, match=r"unknown arm column 'temp'.*Fix") as info:
        counts(records_frame(), by=["method", "temp"])
    assert info.value.column == "temp"


# --------------------------------------------------------------------------- validate_records


@pytest.mark.parametrize(
    "values",
    [
        [True, False, True],
        pd.array([True, False, True], dtype="boolean"),
        [1, 0, 1],
        pd.array([1, 0, 1], dtype="Int64"),
        [1.0, 0.0, 1.0],
        np.array([True, False, np.True_], dtype=object),
        np.array(["true", False, "1"], dtype=object),
        pd.array(["True", "false", "1"], dtype="string"),
        ["1", "0", "True"],
        pd.Categorical(["true", "false", "true"]),
    ],
    ids=["bool", "boolean", "int", "Int64", "float", "object-bool", "object-mixed",
         "string", "str", "categorical"],
)
def test_validate_records_accepts_boolean_forms(values):
    frame = pd.DataFrame({"prompt_id": ["a", "a", "b"], "leaked": values})
    before = frame.copy()
    out = validate_records(frame)
    assert out["leaked"].dtype == np.dtype(bool)
    assert out["leaked"].tolist() == [True, False, True]
    pdt.assert_frame_equal(frame, before)  # input untouched
    assert out is not frame


@pytest.mark.parametrize(
    "values",
    [[0.7, 1.0, 0.0], ["yes", "no", "true"], [2, 1, 0], np.array([1, True, "0"], dtype=object),
     ["TRUE", "false", "0"], pd.to_datetime(["2024-01-01"] * 3)],
    ids=["fraction", "yes-no", "two", "object-int", "upper", "datetime"],
)
def test_validate_records_rejects_non_boolean(values):
    frame = pd.DataFrame({"prompt_id": ["a", "a", "b"], "leaked": values})
    with pytest.raises(DataValidationError, match=r"column 'leaked'.*not (a )?boolean"
                       r"(?s:.*)Offending rows(?s:.*)Fix: convert") as info:
        validate_records(frame)
    assert info.value.column == "leaked"
    assert 0 in info.value.rows


@pytest.mark.parametrize(
    "values",
    [[True, np.nan, False], [True, None, False], pd.array([True, pd.NA, False], "boolean")],
    ids=["nan", "none", "pd.NA"],
)
def test_validate_records_rejects_missing_leaked(values):
    frame = pd.DataFrame({"prompt_id": ["a", "a", "b"], "leaked": values})
    with pytest.raises(DataValidationError, match=r"column 'leaked': missing(?s:.*)Fix: drop"):
        validate_records(frame)


@pytest.mark.parametrize("column", ["prompt_id", "method"])
def test_validate_records_rejects_missing_keys(column):
    frame = pd.DataFrame({"method": ["a", "b", "c"], "prompt_id": ["p", "q", "r"],
                          "leaked": [True, False, True]})
    frame.loc[1, column] = None
    with pytest.raises(DataValidationError,
                       match=rf"column '{column}': missing value(?s:.*)Fix: fill in") as info:
        validate_records(frame)
    assert info.value.rows == [1]


def test_nan_in_unused_arm_column_is_fine():
    frame = pd.DataFrame({"method": ["a", None], "prompt_id": ["p", "q"], "leaked": [1, 0]})
    assert len(validate_records(frame, by=[])) == 2


def test_validate_records_type_empty_missing():
    with pytest.raises(TableTypeError, match=r"expected a pandas DataFrame.*got list.*Fix"):
        validate_records([{"prompt_id": 1, "leaked": True}])
    assert issubclass(TableTypeError, TypeError) and issubclass(TableTypeError, ValueError)
    with pytest.raises(DataValidationError, match=r"records table is empty.*Fix"):
        validate_records(pd.DataFrame({"prompt_id": [], "leaked": []}))
    with pytest.raises(DataValidationError,
                       match=r"\['leaked'\] missing.*columns present are \['prompt_id', "
                             r"'label'\].*Fix: add or rename"):
        validate_records(pd.DataFrame({"prompt_id": [1], "label": [True]}))


def test_validate_records_duplicate_samples():
    frame = records_frame()
    frame = pd.concat([frame, frame.iloc[[2, 5]]], ignore_index=True)
    with pytest.raises(DataValidationError, match=r"column 'sample_id': duplicate \('method', "
                       r"'temperature', 'prompt_id', 'sample_id'\)(?s:.*)drop_duplicates"
                       r"(?s:.*)unique sample_id") as info:
        validate_records(frame)
    assert sorted(info.value.rows) == [2, 5, 13, 14]
    # The same sample ids in different arms are fine, unless the arms are pooled.
    validate_records(records_frame())
    with pytest.raises(DataValidationError, match=r"duplicate \('prompt_id', 'sample_id'\)"):
        validate_records(records_frame(), by=[])


def test_error_shows_at_most_five_rows():
    frame = pd.DataFrame({"prompt_id": range(8), "leaked": [0.5] * 8})
    with pytest.raises(DataValidationError, match=r"in 8 row\(s\)(?s:.*)and 3 more row") as info:
        validate_records(frame)
    assert info.value.rows == [0, 1, 2, 3, 4]


def test_error_excerpt_leaves_out_generated_text():
    frame = pd.DataFrame({"prompt_id": ["a", "b"], "leaked": [True, "maybe"],
                          "text": ["SECRET-TEXT " * 50] * 2, "score": [0.9, 0.1]})
    with pytest.raises(DataValidationError, match=r"maybe(?s:.*)Fix") as info:
        validate_records(frame)
    assert "SECRET-TEXT" not in str(info.value) and "0.1" in str(info.value)


def test_counts_duplicate_hint_names_other_columns():
    table = pd.concat([EXPECTED_COUNTS.assign(seed=0), EXPECTED_COUNTS.assign(seed=1)])
    with pytest.raises(DataValidationError, match=r"duplicate \('method', 'temperature', "
                       r"'prompt_id'\)(?s:.*)other columns in the table: \['seed'\]"):
        counts(table)
    keys = ["method", "temperature", "seed", "prompt_id"]
    expected = table.sort_values(keys)[[*keys, "n_samples", "n_leaked"]].reset_index(drop=True)
    pdt.assert_frame_equal(counts(table, by=keys[:3]), expected)


def test_validate_records_keeps_other_columns():
    frame = records_frame().assign(text=list("abcdefghijklm"))
    out = validate_records(frame)
    pdt.assert_frame_equal(out.drop(columns="leaked"), frame.drop(columns="leaked"))


# --------------------------------------------------------------------------- validate_counts


def counts_frame(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({"method": ["a", "a", "b"], "prompt_id": ["p", "q", "p"],
                          "n_samples": [10, 5, 8], "n_leaked": [3, 0, 8]})
    for column, values in changes.items():
        frame[column] = values
    return frame


def test_validate_counts_coerces_to_int64():
    frame = counts_frame(n_samples=[10.0, 5.0, 8.0], n_leaked=["3", "0", "8"])
    before = frame.copy()
    out = validate_counts(frame)
    assert out["n_samples"].dtype == np.int64 and out["n_leaked"].dtype == np.int64
    assert out["n_leaked"].tolist() == [3, 0, 8]
    pdt.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"n_samples": [10, np.nan, 8]}, r"'n_samples': missing value(?s:.*)Fix:.*fill in"),
        ({"n_leaked": [2.5, 0, 1]}, r"'n_leaked': value is not a whole number(?s:.*)Fix"),
        ({"n_samples": [10, -5, 8], "n_leaked": [3, -6, 8]},
         r"'n_samples': negative count(?s:.*)Fix"),
        ({"n_leaked": [3, 6, 8]}, r"'n_leaked': n_leaked is larger than n_samples(?s:.*)"
                                  r"Fix:.*swapped"),
        ({"n_samples": [10, 0, 8], "n_leaked": [3, 0, 8]},
         r"'n_samples': prompt with no samples(?s:.*)Fix: drop these rows"),
        ({"n_samples": ["10", "x", "8"]}, r"'n_samples': value is not a number(?s:.*)to_numeric"),
        ({"n_samples": [np.inf, 5, 8]}, r"'n_samples': value is not a whole number"),
        ({"n_samples": [True, True, True]}, r"'n_samples': booleans(?s:.*)Fix:.*records table"),
        ({"prompt_id": ["p", "p", "p"], "method": ["a", "a", "a"]},
         r"column 'prompt_id': duplicate \('method', 'prompt_id'\)(?s:.*)Fix: name the "
         r"column.*by="),
        ({"prompt_id": ["p", None, "p"]}, r"'prompt_id': missing value(?s:.*)Fix"),
    ],
)
def test_validate_counts_errors(changes, match):
    with pytest.raises(DataValidationError, match=match):
        validate_counts(counts_frame(**changes))


def test_validate_counts_table_errors():
    with pytest.raises(TableTypeError, match=r"got dict"):
        validate_counts({"prompt_id": [1]})
    with pytest.raises(DataValidationError, match=r"counts table is empty.*Fix"):
        validate_counts(counts_frame().iloc[:0])
    with pytest.raises(DataValidationError, match=r"\['n_leaked'\] missing.*columns present"):
        validate_counts(counts_frame().drop(columns="n_leaked"))
    with pytest.raises(DataValidationError, match=r"duplicate \('prompt_id'\)(?s:.*)other columns"
                       r" in the table: \['method'\]"):
        validate_counts(counts_frame(), by=[])


# --------------------------------------------------------------------------- counts()


def test_counts_hand_computed():
    frame = records_frame()
    before = frame.copy()
    out = counts(frame)
    pdt.assert_frame_equal(out, EXPECTED_COUNTS)
    assert isinstance(out.index, pd.RangeIndex)
    pdt.assert_frame_equal(frame, before)
    shuffled = frame.sample(frac=1.0, random_state=np.random.default_rng(1))
    pdt.assert_frame_equal(counts(shuffled), EXPECTED_COUNTS)


def test_counts_by_subsets_and_single_arm():
    frame = records_frame().drop(columns="sample_id")  # sample ids repeat across temperatures
    out = counts(frame, by="method")
    assert out.to_dict("list") == {"method": ["ga", "ga", "npo", "npo"],
                                   "prompt_id": ["p1", "p2", "p1", "p2"],
                                   "n_samples": [2, 4, 4, 3], "n_leaked": [2, 2, 2, 1]}
    single = counts(frame, by=[])
    assert single.columns.tolist() == ["prompt_id", "n_samples", "n_leaked"]
    assert single["n_samples"].tolist() == [6, 7] and single["n_leaked"].tolist() == [4, 3]
    swapped = counts(frame, by=["temperature", "method"])
    assert swapped.columns.tolist()[:2] == ["temperature", "method"]
    assert swapped["temperature"].tolist() == [0.7, 0.7, 0.7, 1.0, 1.0, 1.0]


def test_counts_idempotent_and_counts_input():
    once = counts(records_frame())
    pdt.assert_frame_equal(counts(once), once)
    messy = once.iloc[::-1].assign(note="x", n_samples=once["n_samples"][::-1].astype(float))
    messy.index = [10, 11, 12, 13, 14, 15]
    pdt.assert_frame_equal(counts(messy), once)  # extra columns dropped, sorted, int64


def test_as_counts_returns_arms():
    table, arms = as_counts(records_frame())
    assert arms == ["method", "temperature"]
    pdt.assert_frame_equal(table, EXPECTED_COUNTS)
    assert as_counts(EXPECTED_COUNTS, by=["temperature", "method"])[1] == ["temperature",
                                                                          "method"]
    assert as_counts(records_frame().drop(columns="sample_id"), by=[])[1] == []
    with pytest.raises(DataValidationError, match=r"'sample_id': duplicate \('prompt_id', "
                       r"'sample_id'\)(?s:.*)name the column that tells them apart in by="):
        as_counts(records_frame(), by=[])


def test_counts_keeps_arm_dtypes():
    frame = records_frame()
    frame["method"] = pd.Categorical(frame["method"], categories=["npo", "ga"])
    frame["top_k"] = np.int32(50)
    out = counts(frame)
    assert isinstance(out["method"].dtype, pd.CategoricalDtype)
    assert out["method"].tolist()[:4] == ["npo"] * 4  # category order, as groupby sorts
    assert out["top_k"].dtype == np.int32 and out["temperature"].dtype == np.float64
    reference = (frame.groupby(["method", "temperature", "top_k", "prompt_id"], sort=True,
                               dropna=False, observed=True)["leaked"]
                 .agg(n_samples="size", n_leaked="sum").reset_index())
    pdt.assert_frame_equal(out, reference.astype({"n_leaked": np.int64}))


def test_counts_integer_prompt_ids_and_no_sample_id():
    frame = pd.DataFrame({"prompt_id": [10, 2, 10, 2, 2], "leaked": [1, 0, 0, 0, 1]})
    out = counts(frame)
    assert out.to_dict("list") == {"prompt_id": [2, 10], "n_samples": [3, 2],
                                   "n_leaked": [1, 1]}


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"prompt_id": [1], "leaked": [True], "n_samples": [1], "n_leaked": [1]}),
         r"cannot tell a records table from a counts table.*Fix: keep the columns of one kind"),
        (pd.DataFrame({"prompt_id": [1], "label": [True]}),
         r"cannot tell.*columns present: \['prompt_id', 'label'\]\). Fix: a records table has"),
        # a counts table whose count column is named 'leaked' (it was read as records)
        (pd.DataFrame({"prompt_id": [0, 1, 2, 3], "n_samples": 100, "leaked": [1, 0, 0, 1]}),
         r"Fix: if it is a counts table.*rename\(columns=\{'leaked': 'n_leaked'\}\)"),
        (pd.DataFrame({"prompt_id": [0], "n_leaked": [1]}),
         r"a counts table needs both 'n_samples' and 'n_leaked': add \['n_samples'\]"),
    ],
)
def test_counts_kind_errors(frame, match):
    with pytest.raises(DataValidationError, match=match):
        counts(frame)


def test_counts_rejects_other_types():
    with pytest.raises(TableTypeError, match=r"argument 'data'.*got int.*Fix"):
        counts(3)


def test_counts_from_path(tmp_path):
    path = write_table(records_frame(), tmp_path / "records.parquet")
    pdt.assert_frame_equal(counts(path), EXPECTED_COUNTS)
    pdt.assert_frame_equal(counts(str(path)), EXPECTED_COUNTS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([0.5, 1.0]),
                  st.integers(0, 6), st.booleans()),
        min_size=1, max_size=60,
    ),
    st.sampled_from([None, [], ["method"], ["temperature"]]),
)
def test_counts_property_totals(rows, by):
    frame = pd.DataFrame(rows, columns=["method", "temperature", "prompt_id", "leaked"])
    out, arms = as_counts(frame, by=by)
    assert out["n_samples"].sum() == len(frame)
    assert out["n_leaked"].sum() == frame["leaked"].sum()
    assert (out["n_samples"] > 0).all() and (out["n_leaked"] <= out["n_samples"]).all()
    keys = [*arms, "prompt_id"]
    assert not out.duplicated(keys).any()
    assert out[keys].equals(out[keys].sort_values(keys).reset_index(drop=True))
    reference = frame.groupby(keys)["leaked"].agg(["size", "sum"]).reset_index()
    assert out["n_samples"].tolist() == reference["size"].tolist()
    assert out["n_leaked"].tolist() == reference["sum"].tolist()


# --------------------------------------------------------------------------- files


def rich_records() -> pd.DataFrame:
    frame = records_frame()
    frame["score"] = [1 / 3, 0.1 + 0.2, 1e-300, 2.5, 0.0, 1.0, 0.4, 0.123456789012345678,
                      np.pi, -0.0, 7.0, 1e10, 0.5]
    # (no empty string: CSV cannot tell one from a missing value)
    frame["text"] = ['a, "quoted"', "line\nbreak", "unicodé ✓", " ", "x", "y", "z", "w", "v",
                     "u", "t", "s", "r"]
    return frame


@pytest.mark.parametrize("name", ["t.parquet", "t.pq", "t.csv", "t.csv.gz", "t.jsonl",
                                  "t.ndjson", "t.jsonl.gz", "t.jsonl.bz2"])
def test_round_trip_records_and_counts(tmp_path, name):
    frame = rich_records()
    path = write_table(frame, tmp_path / name)
    assert path == tmp_path / name and path.exists()
    back = read_records(path)
    pdt.assert_frame_equal(back, frame, check_exact=True)
    assert back["leaked"].dtype == np.dtype(bool)
    table = counts(frame)
    pdt.assert_frame_equal(read_counts(write_table(table, tmp_path / ("c" + name))), table)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("format", ["parquet", "csv", "jsonl"])
def test_format_override(tmp_path, format):
    path = write_table(counts(records_frame()), tmp_path / "table.dat", format=format)
    pdt.assert_frame_equal(read_counts(path, format=format), EXPECTED_COUNTS)


def test_read_table_passes_dataframes_as_copies():
    frame = records_frame()
    out = read_table(frame)
    assert out is not frame
    pdt.assert_frame_equal(out, frame)


def test_read_table_errors(tmp_path):
    missing = tmp_path / "nope.parquet"
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet.*Fix: check the path"):
        read_table(missing)
    odd = tmp_path / "table.xlsx"
    odd.write_text("x")
    with pytest.raises(LeakstatsError, match=r"cannot tell the format.*'\.xlsx'.*Fix:.*format="):
        read_table(odd)
    with pytest.raises(LeakstatsError, match=r"argument 'format': unknown format 'excel'.*Fix"):
        read_table(odd, format="excel")
    bad = tmp_path / "t.parquet.gz"
    bad.write_text("x")
    with pytest.raises(LeakstatsError, match=r"Parquet with an outer gzip layer.*Fix"):
        read_table(bad)
    with pytest.raises(LeakstatsError, match=r"is a directory.*Fix"):
        read_table(tmp_path, format="csv")
    with pytest.raises(TableTypeError, match=r"argument 'source'.*got int"):
        read_table(5)


def test_read_records_validates_files(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("prompt_id,leaked\np1,yes\np2,no\n")
    with pytest.raises(DataValidationError, match=r"column 'leaked'.*not a boolean"):
        read_records(path)
    path.write_text("prompt_id,n_samples,n_leaked\np1,3,4\n")
    with pytest.raises(DataValidationError, match=r"n_leaked is larger"):
        read_counts(path)


def test_read_parquet_directory(tmp_path):
    frame = rich_records()
    folder = tmp_path / "store"
    write_table(frame.iloc[:6], folder / "part-0.parquet")
    write_table(frame.iloc[6:], folder / "part-1.parquet")
    back = read_records(folder)
    pdt.assert_frame_equal(back.sort_values("score").reset_index(drop=True),
                           frame.sort_values("score").reset_index(drop=True))


def test_read_empty_jsonl(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert read_table(path).empty
    with pytest.raises(DataValidationError, match=r"missing from the records table"):
        read_records(path)


def test_write_refuses_overwrite(tmp_path):
    path = write_table(EXPECTED_COUNTS, tmp_path / "c.csv")
    with pytest.raises(FileExistsError, match=r"c\.csv' already exists.*overwrite=True"):
        write_table(EXPECTED_COUNTS, path)
    write_table(EXPECTED_COUNTS.iloc[:2], path, overwrite=True)
    assert len(read_table(path)) == 2
    with pytest.raises(IsADirectoryError, match=r"is a directory.*Fix"):
        write_table(EXPECTED_COUNTS, tmp_path)
    with pytest.raises(TableTypeError, match=r"argument 'frame'.*got list"):
        write_table([1], tmp_path / "x.csv")


def test_write_is_atomic(tmp_path):
    path = write_table(EXPECTED_COUNTS, tmp_path / "c.jsonl")
    original = path.read_bytes()
    broken = EXPECTED_COUNTS.assign(note=[object()] * len(EXPECTED_COUNTS))
    broken.loc[0, "note"] = "fine"  # the first row serialises, the second fails mid-file
    with pytest.raises(TypeError, match="cannot write a value of type object"):
        write_table(broken, path, overwrite=True)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["c.jsonl"]


def test_write_creates_parents_and_uses_umask(tmp_path):
    path = write_table(EXPECTED_COUNTS, tmp_path / "a" / "b" / "c.parquet")
    assert path.exists()
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# --------------------------------------------------------------------------- Leak@k importer

RULES = {
    "ES == 1": [1, 0, 0, 0, 0, 0, 0, 0],
    "rougeL_recall >= 0.4": [1, 0, 1, 0, 1, 1, 1, 0],
    "rougeL_recall >= 0.4 and ES >= 0.5": [1, 0, 1, 0, 0, 0, 1, 0],
    "exact_match == 1 or rougeL_recall > 0.9": [1, 0, 0, 0, 0, 1, 0, 0],
    # 'and' binds tighter than 'or'
    "ES >= 0.5 or rougeL_recall > 0.9 and exact_match == 1": [1, 0, 1, 0, 0, 0, 1, 0],
    "(ES >= 0.5 or rougeL_recall > 0.9) and exact_match == 1": [1, 0, 0, 0, 0, 0, 0, 0],
    "(rougeL_recall >= 0.4 or ES >= 0.5) and not exact_match == 1": [0, 0, 1, 0, 1, 1, 1, 0],
    "0.4 <= rougeL_recall AND ES < 5e-1": [0, 0, 0, 0, 1, 1, 0, 0],
    "exact_match != false": [1, 0, 0, 0, 0, 0, 0, 0],
}


@pytest.mark.parametrize(("rule", "expected"), list(RULES.items()))
def test_leakk_rules(rule, expected):
    out = read_leakk_jsonl(SAMPLE, leaked=rule)
    assert out["leaked"].tolist() == [bool(v) for v in expected]


def test_leakk_columns_and_values():
    out = read_leakk_jsonl(SAMPLE, leaked="ES == 1", method="npo")
    assert out.columns.tolist() == ["method", "prompt_id", "sample_id", "leaked", "text",
                                    "prompt", "ground_truth", "rougeL_recall", "ES",
                                    "exact_match"]
    import hashlib

    ids = ["p-" + hashlib.sha256(q.encode()).hexdigest()[:12] for q in out["prompt"]]
    assert out["prompt_id"].tolist() == ids and out["prompt_id"].nunique() == 3
    assert out["sample_id"].tolist() == [0, 1, 2, 0, 0, 1, 2, 3]
    assert out["method"].unique().tolist() == ["npo"]
    assert out["text"].iloc[5] == 'Her first novel is The Glass River, "a classic".'
    assert out["ground_truth"].tolist()[3] == "Lyon"
    assert out["exact_match"].dtype == np.float64 and out["ES"].iloc[2] == 0.6
    table = counts(out).set_index("prompt_id")
    assert table.loc[out["prompt_id"].unique(), "n_samples"].tolist() == [3, 1, 4]


def test_leakk_callable_rule():
    out = read_leakk_jsonl(SAMPLE, leaked=lambda r: r["ES"] > 0.35)
    assert out["leaked"].tolist() == [True, False, True, False, False, True, True, False]
    numpy_bool = read_leakk_jsonl(SAMPLE, leaked=lambda r: np.float64(r["ES"]) > 0.35)
    pdt.assert_frame_equal(numpy_bool, out)


def test_leakk_callable_errors():
    with pytest.raises(DataValidationError, match=r"line 1: response 0: the leaked= callable "
                       r"returned 1\.0 of type float, not a bool.*Fix: make it return"):
        read_leakk_jsonl(SAMPLE, leaked=lambda r: r["ES"])
    with pytest.raises(KeyError) as info:
        read_leakk_jsonl(SAMPLE, leaked=lambda r: r["BLEU"] > 0)
    assert any("line 1, response 0" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ("ES >== 1", r"position 5: unexpected character '='"),
        ("ES >= 1 and or", r"position 12: expected a field name, 'not' or '\(', found 'or'"),
        ("ES >= ", r"position 6: expected a number or 'text', found the end of the rule"),
        ("ES >= 1 and", r"position 11: expected a field name, 'not' or '\(', found the end"),
        ("(ES >= 1", r"position 8: expected '\)'"),
        ("ES ~ 1", r"position 3: unexpected character '~'"),
        ("ES >= abc", r"expected a number or 'text', found 'abc'"),
        ("ES >= 1 ES", r"expected 'and', 'or' or the end of the rule, found 'ES'"),
        ("   ", r"the rule '   ' is empty"),
        ("__import__('os') == 1", r"position 10: expected a comparison operator .*found '\('"),
        ("ES >= 'high'", r"position 3: text can only be compared with == or !=, not >="),
        ("ES 1", r"position 3: expected a comparison operator \(==, !=, >=, <=, >, <\), found '1'"),
    ],
)
def test_leakk_rule_syntax_errors(rule, match):
    with pytest.raises(LeakstatsError, match=match + r"(?s:.*)\^(?s:.*)Fix: write comparisons"
                       if rule.strip() else match + r".*Fix"):
        read_leakk_jsonl(SAMPLE, leaked=rule)


def test_leakk_rule_error_points_at_position():
    with pytest.raises(LeakstatsError) as info:
        read_leakk_jsonl(SAMPLE, leaked="ES >= 0.5 and rougeL_recall >")
    assert "  ES >= 0.5 and rougeL_recall >\n" + " " * 31 + "^" in str(info.value)


def write_lines(path: Path, objects: list) -> Path:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n"
                            for o in objects))
    return path


def line(*responses, **extra) -> dict:
    return {"prompt": "Q", "ground_truth": "A", "responses": list(responses), **extra}


def test_leakk_missing_field(tmp_path):
    with pytest.raises(DataValidationError, match=r"field 'BLEU' used by the rule 'BLEU >= 0\.5'"
                       r" is missing in 8 response\(s\) \(line 1 response 0, line 1 response 1"
                       r".*fields present there: \['ES', 'exact_match', 'response', "
                       r"'rougeL_recall'\].*Fix: choose a rule over fields"):
        read_leakk_jsonl(SAMPLE, leaked="BLEU >= 0.5")
    path = write_lines(tmp_path / "x.jsonl", [
        line({"response": "a", "ES": 1.0, "rougeL_recall": 0.1}),
        line({"response": "b", "rougeL_recall": 0.2},
             {"response": "c", "ES": None, "rougeL_recall": 0.3}),
    ])
    with pytest.raises(DataValidationError, match=r"line 2: field 'ES'.* is missing in 2 "
                       r"response\(s\) \(line 2 response 0, line 2 response 1\); fields "
                       r"present there: \['response', 'rougeL_recall'\]") as info:
        read_leakk_jsonl(path, leaked="rougeL_recall > 0 and ES >= 0.5")
    assert info.value.column == "ES"
    assert read_leakk_jsonl(path, leaked="rougeL_recall > 0.15")["leaked"].tolist() == [
        False, True, True]


def test_leakk_non_numeric_field(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", [
        line({"response": "a", "label": "yes", "ES": True}, {"response": "b", "label": 1}),
    ])
    with pytest.raises(DataValidationError, match=r"field 'label'.*is not a number"):
        read_leakk_jsonl(path, leaked="label == 1")
    out = read_leakk_jsonl(path, leaked=lambda r: r.get("ES", False) is True)
    assert out["label"].tolist() == ["yes", 1] and out["leaked"].tolist() == [True, False]
    assert out["ES"].tolist()[0] == 1.0 and np.isnan(out["ES"].tolist()[1])


@pytest.mark.parametrize(
    ("objects", "match"),
    [
        ([line({"response": "a", "ES": 1}), '{"prompt": "Q", "responses": [}'],
         r"line 2: malformed JSON.*Fix: repair or remove"),
        ([{"prompt": "Q", "ground_truth": "A"}],
         r"line 1: the object has no 'responses' field \(fields present: \['ground_truth', "
         r"'prompt'\]\).*Fix"),
        ([line(), {"prompt": "Q", "responses": "text"}], r"line 2:.*'responses' is a str"),
        (["[1, 2]"], r"line 1: expected a JSON object, found list"),
        ([line("just text")], r"line 1: response 0 is a str, not an object.*Fix"),
        ([line()], r"no responses in the file.*Fix"),
        ([line({"response": "a", "ES": 1}, prompt_id="p1"), line({"response": "b", "ES": 0})],
         r"line 2: no 'prompt_id', while other lines have one.*Fix: give every line"),
    ],
)
def test_leakk_file_errors(tmp_path, objects, match):
    path = write_lines(tmp_path / "x.jsonl", objects)
    with pytest.raises(DataValidationError, match=match):
        read_leakk_jsonl(path, leaked="ES == 1")


def test_leakk_ids_blank_lines_gzip_and_empty_prompts(tmp_path):
    objects = [line({"response": "a", "ES": 1}, id="q7"), "",
               line({"response": "b", "ES": 0}, {"response": "c", "ES": 1}, id="q3"),
               line(id="q9")]
    path = tmp_path / "x.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects))
    with pytest.warns(DegenerateDataWarning, match=r"1 line\(s\) have no responses.*\[4\]"):
        out = read_leakk_jsonl(path, leaked="ES == 1")
    assert out["prompt_id"].tolist() == ["q7", "q3", "q3"]
    assert out["leaked"].tolist() == [True, False, True]


def test_leakk_duplicate_ids_and_reserved_names(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", [line({"response": "a", "ES": 1}, prompt_id=1),
                                              line({"response": "b", "ES": 0}, prompt_id=1)])
    with pytest.raises(DataValidationError, match=r"duplicate \('prompt_id', 'sample_id'\)"):
        read_leakk_jsonl(path, leaked="ES == 1")
    path = write_lines(tmp_path / "y.jsonl", [line({"response": "a", "ES": 1, "leaked": 0})])
    out = read_leakk_jsonl(path, leaked="ES == 1")
    assert out["leaked"].tolist() == [True] and out["response_leaked"].tolist() == [0.0]


def test_leakk_argument_errors(tmp_path):
    with pytest.raises(LeakstatsError, match=r"argument 'leaked': expected a rule string or a "
                       r"callable, got float.*Fix"):
        read_leakk_jsonl(SAMPLE, leaked=0.5)
    with pytest.raises(LeakstatsError, match=r"argument 'method'.*Fix"):
        read_leakk_jsonl(SAMPLE, leaked="ES == 1", method=3)
    with pytest.raises(FileNotFoundError, match=r"absent\.jsonl"):
        read_leakk_jsonl(tmp_path / "absent.jsonl", leaked="ES == 1")


def test_leakk_ids_survive_a_dropped_line(tmp_path):
    """Ids come from the prompt text: with line 2 dropped (the authors' phase-2 script skips
    lines that raise), every other prompt keeps its id and pairs with itself."""
    lines = SAMPLE.read_text().splitlines()
    short = tmp_path / "evaluated.jsonl"
    short.write_text("\n".join([lines[0], lines[2]]) + "\n")
    full = read_leakk_jsonl(SAMPLE, leaked="ES == 1").drop_duplicates("prompt_id")
    part = read_leakk_jsonl(short, leaked="ES == 1").drop_duplicates("prompt_id")
    mapping = dict(zip(full["prompt"], full["prompt_id"], strict=True))
    assert [mapping[q] for q in part["prompt"]] == part["prompt_id"].tolist()


def test_leakk_repeated_prompts_stay_apart(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", [line({"response": "a", "ES": 1}),
                                              line({"response": "b", "ES": 0})])
    out = read_leakk_jsonl(path, leaked="ES == 1")
    assert out["prompt_id"].nunique() == 2 and out["prompt_id"].iloc[1].endswith("#2")
