"""Hostile input: every case gives the right number or a clear refusal (names the column,
argument or file and says the fix), never a plausible wrong number."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats import DataValidationError, LeakstatsError

# --------------------------------------------------------------------------- table shape


def test_a_counts_table_with_its_count_named_leaked_is_refused():
    # counts 1/0/0/1 of 100: read as records this gave leak@1 = 0.5 (truth 0.005)
    table = pd.DataFrame({"prompt_id": [0, 1, 2, 3], "n_samples": 100, "leaked": [1, 0, 0, 1]})
    with pytest.raises(DataValidationError, match=r"rename\(columns=\{'leaked': 'n_leaked'\}\)"):
        leakstats.leak_at_k(table)
    fixed = table.rename(columns={"leaked": "n_leaked"})
    assert leakstats.leak_at_k(fixed).to_frame()["estimate"].iloc[0] == pytest.approx(0.005)


# --------------------------------------------------------------------------- ids


def test_csv_ids_keep_their_identity(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("prompt_id,leaked\n007,True\n7,False\n7,False\n", encoding="utf-8")
    table = leakstats.counts(path).set_index("prompt_id")
    assert table.loc["007", "n_samples"] == 1 and table.loc["7", "n_samples"] == 2


def test_ids_round_trip_through_our_own_csv(tmp_path):
    records = pd.DataFrame(
        {"prompt_id": ["007", "7", "7", "x1"], "leaked": [True, False, True, False]}
    )
    path = leakstats.write_table(records, tmp_path / "r.csv")
    back = leakstats.read_table(path)
    assert back["prompt_id"].tolist() == ["007", "7", "7", "x1"]
    assert leakstats.counts(path)["n_samples"].tolist() == [1, 2, 1]


def test_integer_ids_stay_integers_through_csv(tmp_path):
    records = pd.DataFrame({"prompt_id": [3, 10, 10], "leaked": [True, False, True]})
    back = leakstats.read_table(leakstats.write_table(records, tmp_path / "r.csv"))
    assert back["prompt_id"].dtype == np.int64 and back["prompt_id"].tolist() == [3, 10, 10]


@pytest.mark.parametrize("ids", [[7, "7"], [7, 7.0, "a"], [1, "1", "2"]])
def test_ids_that_read_the_same_are_refused(ids):
    table = pd.DataFrame({"prompt_id": pd.Series(ids, dtype=object), "leaked": True})
    with pytest.raises(DataValidationError, match="(?s)column 'prompt_id'.*several forms.*Fix"):
        leakstats.counts(table)


def test_list_valued_ids_are_refused():
    table = pd.DataFrame(
        {"prompt_id": pd.Series([[1, 2], [3]], dtype=object), "leaked": [True, False]}
    )
    with pytest.raises(DataValidationError, match="(?s)column 'prompt_id'.*a list.*Fix"):
        leakstats.counts(table)


# --------------------------------------------------------------------------- huge counts


def test_counts_above_2_to_the_32_are_exact():
    n = 2**33  # the packed distinct-pairs key overflowed int64 here: 0.5 instead of 0.75
    table = pd.DataFrame(
        {"prompt_id": [0, 1], "n_samples": [n, n + 1], "n_leaked": [n // 2, n + 1]}
    )
    assert leakstats.leak_at_k(table).to_frame()["estimate"].iloc[0] == pytest.approx(0.75)


@pytest.mark.parametrize("value", [10**12 + 1, np.uint64(2**63 + 5), 1e15])
def test_counts_above_the_limit_are_refused_as_too_large(value):
    column = pd.Series([value, 3], dtype=np.asarray(value).dtype)
    table = pd.DataFrame({"prompt_id": [0, 1], "n_samples": column, "n_leaked": [1, 1]})
    with pytest.raises(DataValidationError, match="column 'n_samples': count above 1e\\+12"):
        leakstats.leak_at_k(table)


# --------------------------------------------------------------------------- unnamed arms


def _split_records(rng, extra: str = "algo"):
    return pd.DataFrame(
        {
            extra: np.repeat(["a", "b"], 40),
            "prompt_id": np.tile(np.repeat(range(4), 10), 2),
            "leaked": rng.random(80) < 0.3,
        }
    )


def test_records_split_by_an_unknown_column_are_refused():
    records = _split_records(np.random.default_rng(0))
    with pytest.raises(DataValidationError, match=r"column 'algo'.*by=\['algo'\]"):
        leakstats.leak_at_k(records)
    by = leakstats.leak_at_k(records, by="algo").to_frame()
    assert by["algo"].tolist() == ["a", "b"]
    pooled = leakstats.leak_at_k(records.drop(columns="algo")).to_frame()
    assert pooled["n_samples"].iloc[0] == 80


def test_a_per_sample_column_is_not_an_arm():
    rng = np.random.default_rng(1)
    records = pd.DataFrame(
        {
            "prompt_id": np.repeat(range(5), 8),
            "leaked": rng.random(40) < 0.4,
            "finish_reason": rng.choice(["eos", "length"], 40),
            "label": rng.choice(["yes", "no", "maybe"], 40),
            "sample_id": np.tile(range(8), 5),
        }
    )
    assert leakstats.leak_at_k(records).to_frame()["n_samples"].iloc[0] == 40


def test_the_score_the_labels_were_made_from_is_not_an_arm():
    # an inspect_ai judge at epochs=4 with 2 "C" and 2 "I" in every prompt: balanced like an
    # arm, but each value has one label, so it is the labels' own score
    records = pd.DataFrame({"prompt_id": np.repeat(range(5), 4),
                            "match": np.tile(["C", "I", "C", "I"], 5)})
    records["leaked"] = records["match"] == "C"
    assert leakstats.leak_at_k(records, k=1).to_frame()["estimate"].iloc[0] == 0.5
    # a hidden arm that happens to decide nothing is still refused
    records["algo"] = np.tile(["a", "a", "b", "b"], 5)
    with pytest.raises(DataValidationError, match="column 'algo'"):
        leakstats.leak_at_k(records, k=1)


# --------------------------------------------------------------------------- plan


def test_plan_refuses_an_impossible_spread():
    with pytest.raises(LeakstatsError, match=r"spread: 0.9 is not possible.*at most.*0.5"):
        leakstats.plan(
            "estimate", k=1, n_samples=10, half_width=0.02, population="superpopulation", spread=0.9
        )
    with pytest.raises(LeakstatsError, match="spread: 0.45 is not possible"):
        leakstats.plan(
            "estimate",
            k=1,
            n_samples=10,
            half_width=0.02,
            leak=0.1,
            population="superpopulation",
            spread=0.45,
        )


# --------------------------------------------------------------------------- files kept


def _stage(config):
    from leakstats.demo._stages import Stage

    def go(folder, deps):
        (folder / "table.csv").write_text(f"config {config}\n")
        (folder / "sub").mkdir(exist_ok=True)
        (folder / "sub" / "x.json").write_text("{}")
        return {"table": "table.csv"}

    return Stage("report", {"v": config}, go)


def test_demo_deletes_only_its_own_outputs(tmp_path):
    from leakstats.demo._stages import RunFolder

    out = tmp_path / "run"
    RunFolder(out).run(_stage(1))
    notes = out / "report" / "NOTES.md"
    notes.write_text("mine")
    with pytest.raises(LeakstatsError, match=r"files the demo did not write \(report/NOTES.md\)"):
        RunFolder(out).run(_stage(2))  # a changed configuration reruns the stage
    assert notes.read_text() == "mine" and (out / "report" / "table.csv").exists()
    with pytest.raises(LeakstatsError, match="report/NOTES.md"):
        RunFolder(out, fresh=True)
    assert notes.read_text() == "mine"
    notes.rename(tmp_path / "NOTES.md")
    RunFolder(out, fresh=True)
    assert not (out / "report").exists() and (out / "demo.json").exists()
    RunFolder(out).run(_stage(3))
    assert (out / "report" / "table.csv").read_text() == "config 3\n"


def test_cli_never_writes_over_its_input(tmp_path, capsys):
    from leakstats.cli import main

    path = tmp_path / "counts.csv"
    pd.DataFrame({"prompt_id": [0, 1], "n_samples": 10, "n_leaked": [1, 2]}).to_csv(
        path, index=False
    )
    before = path.read_text()
    for argv in (
        ["estimate", str(path), "--k", "1", "--output", str(path), "--overwrite"],
        ["certify", str(path), "--k", "1", "--output", str(path), "--overwrite"],
        ["compare", str(path), str(path), "--output", str(path), "--overwrite"],
        ["estimate", str(path), "--k", "1", "--plot", str(path), "--overwrite"],
    ):
        assert main(argv) == 2
        assert "is an input of this command" in capsys.readouterr().err
        assert path.read_text() == before


# --------------------------------------------------------------------------- tracebacks


COUNTS = pd.DataFrame({"prompt_id": [0, 1], "n_samples": 10, "n_leaked": [1, 2]})


@pytest.mark.parametrize(
    ("k", "match"),
    [
        (float("nan"), "k: nan is not a positive integer"),
        (float("inf"), "k: inf is not a positive integer"),
        (1e30, "k: 1e\\+30 is above 1e\\+18"),
        ([1, np.nan], "k: nan is not a positive integer"),
        (0, "k: 0 is not a positive integer"),
        (2.5, "k: 2.5 is not a positive integer"),
        ("8", "k: '8' is not an integer"),
        ([], "k: empty"),
    ],
)
def test_bad_k_is_named(k, match):
    with pytest.raises(LeakstatsError, match=match):
        leakstats.leak_at_k(COUNTS, k=k)


@pytest.mark.parametrize("rng", ["abc", -1, 1.5, [1, -2], True])
@pytest.mark.parametrize(
    "call",
    [
        lambda rng: leakstats.leak_at_k(COUNTS, k=1, rng=rng),
        lambda rng: leakstats.leak_at_k(COUNTS, k=1, ci_method="bootstrap", rng=rng),
        lambda rng: leakstats.compare({"a": COUNTS, "b": COUNTS}, k=1, rng=rng),
        lambda rng: leakstats.extrapolate(COUNTS, k=[100], rng=rng),
    ],
)
def test_bad_seeds_are_named(call, rng):
    with pytest.raises(LeakstatsError, match=r"rng: .* is not a seed. Fix: pass rng=0"):
        call(rng)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '{"prompt_id": 1, "leaked": true}\n{"prompt_id": 2, "leaked": \n',
            r"line 2 is not valid JSON \(Expecting value, column 28\)",
        ),
        ("[1, 2]\n[3, 4]\n", r"line 1 is a JSON list, not an object"),
        ('{"prompt_id": 1, "leaked": true}\n"text"\n', r"line 2 is a JSON str, not an object"),
    ],
)
def test_broken_jsonl_names_the_line(tmp_path, text, match):
    path = tmp_path / "r.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(leakstats.DataValidationError, match=match):
        leakstats.leak_at_k(path)


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("empty.csv", b"", "as csv: EmptyDataError"),
        ("bad.parquet", b"PAR1 not really", "as parquet: ArrowInvalid"),
        ("empty.parquet", b"", "as parquet"),
        ("half.parquet", None, "as parquet"),
    ],
)
def test_damaged_files_are_named(tmp_path, name, data, match):
    path = tmp_path / name
    if data is None:
        whole = leakstats.write_table(COUNTS, tmp_path / "whole.parquet").read_bytes()
        data = whole[: len(whole) // 2]
    path.write_bytes(data)
    with pytest.raises(leakstats.DataValidationError, match=f"cannot read '.*{name}' {match}"):
        leakstats.leak_at_k(path)


def test_write_table_refuses_infinity_in_jsonl(tmp_path):
    frame = pd.DataFrame({"prompt_id": [1, 2], "score": [0.5, np.inf]})
    with pytest.raises(DataValidationError, match="column 'score': infinite value"):
        leakstats.write_table(frame, tmp_path / "o.jsonl")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_a_deeply_nested_rule_is_refused(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{"ES": 1}\n', encoding="utf-8")
    rule = "(" * 5000 + "ES == 1" + ")" * 5000
    with pytest.raises(LeakstatsError, match="deeper than 50 levels"):
        leakstats.read_leakk_jsonl(path, leaked=rule)
    with pytest.raises(LeakstatsError, match="deeper than 50 levels"):
        leakstats.read_leakk_jsonl(path, leaked="not " * 60 + "ES == 1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "{csv}", "--k", "1", "--seed", "-1"], "argument --seed: expected an integer"),
        (
            ["estimate", "{csv}", "--k", "1", "--seed", "abc"],
            "argument --seed: expected an integer",
        ),
        (["compare", "{csv}", "{csv}", "--seed", "-3"], "argument --seed: expected an integer"),
        (["estimate", "{dir}/missing.csv", "--k", "1"], "no such file or directory"),
        (["estimate", "{dir}/broken.jsonl", "--k", "1"], "line 1 is not valid JSON"),
        (["estimate", "{dir}/list.jsonl", "--k", "1"], "line 1 is a JSON list"),
        (["estimate", "{csv}", "--k", "nan"], "argument --k: expected comma-separated"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    from leakstats.cli import main

    csv = tmp_path / "c.csv"
    COUNTS.to_csv(csv, index=False)
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    (tmp_path / "list.jsonl").write_text("[1]\n")
    code = main([a.format(csv=csv, dir=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "prompt_id,leaked,leaked\n1,True,False\n2,False,True\n",
            r"names column\(s\) \['leaked'\] more than once",
        ),
        ("prompt_id\tleaked\n1\tTrue\n", "looks tab-separated"),
        ("prompt_id;leaked\n1;True\n", "looks semicolon-separated"),
    ],
)
def test_ambiguous_csv_files_are_refused(tmp_path, text, match):
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError, match=match):
        leakstats.leak_at_k(path)


def test_a_csv_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffprompt_id,leaked\n1,True\n2,False\n".encode())
    assert leakstats.leak_at_k(path).to_frame()["estimate"].iloc[0] == 0.5


# --------------------------------------------------------------------------- round trips

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT_IDS = st.from_regex(r"0[0-9]{1,3}|[a-z][a-z0-9_-]{0,6}|[1-9][0-9]{0,3}", fullmatch=True)


@st.composite
def records_tables(draw):
    n = draw(st.integers(1, 25))
    if draw(st.booleans()):
        ids = draw(st.lists(_TEXT_IDS, min_size=n, max_size=n))
    else:
        ids = draw(st.lists(st.integers(0, 10**15), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "method": draw(
                st.lists(st.sampled_from(["npo", "ga", "retrain"]), min_size=n, max_size=n)
            ),
            "temperature": draw(st.lists(st.sampled_from([0.7, 1.0, 1.3]), min_size=n, max_size=n)),
            "prompt_id": pd.Series(ids, dtype=object if isinstance(ids[0], str) else np.int64),
            "sample_id": np.arange(n, dtype=np.int64),
            "leaked": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "score": draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n)),
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=records_tables(), fmt=st.sampled_from(["parquet", "csv", "jsonl"]))
def test_tables_round_trip_with_ids_dtypes_and_counts_intact(tmp_path, table, fmt):
    path = leakstats.write_table(table, tmp_path / f"t.{fmt}", overwrite=True)
    back = leakstats.read_table(path)
    assert back.columns.tolist() == table.columns.tolist()
    # ids: the same identities in every format (CSV has no types: canonical integers come
    # back as numbers, other text as text)
    assert [str(v) for v in back["prompt_id"]] == [str(v) for v in table["prompt_id"]]
    if fmt != "csv" or table["prompt_id"].dtype == np.int64:
        assert back["prompt_id"].map(type).tolist() == table["prompt_id"].map(type).tolist()
    for col in ("sample_id", "leaked", "temperature"):
        assert back[col].dtype == table[col].dtype, col
        assert back[col].tolist() == table[col].tolist()
    np.testing.assert_allclose(back["score"], table["score"], rtol=0 if fmt != "csv" else 1e-15)

    def key(c):
        return (
            c.assign(prompt_id=c["prompt_id"].map(str))
            .sort_values(["method", "temperature", "prompt_id"])
            .reset_index(drop=True)
        )

    pd.testing.assert_frame_equal(key(leakstats.counts(back)), key(leakstats.counts(table)))


# --------------------------------------------------------------------------- every public entry

_R = pd.DataFrame(
    {
        "method": np.repeat(["a", "b"], 20),
        "prompt_id": list(range(20)) * 2,
        "n_samples": 10,
        "n_leaked": np.tile([0, 1, 2, 3], 10),
    }
)

API_CASES = [
    (
        "leak_at_k population",
        lambda: leakstats.leak_at_k(_R, population="all"),
        "population: 'all'",
    ),
    (
        "leak_at_k ci_method",
        lambda: leakstats.leak_at_k(_R, ci_method="exact"),
        "ci_method: 'exact'",
    ),
    (
        "leak_at_k level 0",
        lambda: leakstats.leak_at_k(_R, confidence_level=0),
        "confidence_level: 0",
    ),
    (
        "leak_at_k level str",
        lambda: leakstats.leak_at_k(_R, confidence_level="0.9"),
        "confidence_level: '0.9'",
    ),
    (
        "leak_at_k by unknown",
        lambda: leakstats.leak_at_k(_R, by="Method"),
        "unknown arm column 'Method'",
    ),
    (
        "leak_at_k by schema",
        lambda: leakstats.leak_at_k(_R, by="prompt_id"),
        "cannot be an arm column",
    ),
    ("leak_at_k by twice", lambda: leakstats.leak_at_k(_R, by=["method", "method"]), "named twice"),
    ("leak_at_k k > n", lambda: leakstats.leak_at_k(_R, k=11), "exceeds the number of samples"),
    (
        "leak_at_k n_resamples",
        lambda: leakstats.leak_at_k(_R, ci_method="bootstrap", n_resamples=5),
        "n_resamples: 5",
    ),
    (
        "leak_at_k cp-eb superpop",
        lambda: leakstats.leak_at_k(_R, population="superpopulation", ci_method="cp-eb"),
        "'cp-eb' is the fixed-prompt interval",
    ),
    ("leak_at_k missing file", lambda: leakstats.leak_at_k("/nonexistent/x.csv"), "no such file"),
    ("leak_at_k data int", lambda: leakstats.leak_at_k(3), "argument 'data'"),
    (
        "counts n_leaked > n",
        lambda: leakstats.counts(_R.assign(n_leaked=11)),
        "n_leaked is larger than n_samples",
    ),
    (
        "counts zero samples",
        lambda: leakstats.counts(_R.assign(n_samples=0, n_leaked=0)),
        "prompt with no samples",
    ),
    (
        "counts duplicate prompt",
        lambda: leakstats.counts(_R.drop(columns="method")),
        "one prompt has several rows",
    ),
    (
        "counts bool counts",
        lambda: leakstats.counts(_R.assign(n_leaked=True)),
        "booleans where counts are expected",
    ),
    ("counts empty", lambda: leakstats.counts(_R.iloc[:0]), "empty (0 rows)"),
    ("certify bound", lambda: leakstats.certify(_R, k=1, bound="hoeffding"), "bound: 'hoeffding'"),
    ("certify low level", lambda: leakstats.certify(_R, k=1, confidence_level=0.6), "below 0.75"),
    ("certify epsilon 1", lambda: leakstats.certify(_R, k=1, epsilon=1), "epsilon: 1 is not"),
    ("compare test", lambda: leakstats.compare(_R, test="t-test"), "test: 't-test'"),
    ("compare correction", lambda: leakstats.compare(_R, correction="fdr"), "correction: 'fdr'"),
    ("compare missing", lambda: leakstats.compare(_R, missing="skip"), "missing: 'skip'"),
    (
        "compare baseline",
        lambda: leakstats.compare(_R, baseline="retrain"),
        "baseline: 'retrain' is not one of the methods",
    ),
    ("compare n_resamples", lambda: leakstats.compare(_R, n_resamples=10), "n_resamples: 10"),
    (
        "compare no method",
        lambda: leakstats.compare(_R.drop(columns="method")),
        "several rows in one arm",
    ),
    (
        "compare score superpop",
        lambda: leakstats.compare(_R, test="score", population="superpopulation"),
        "fixed-prompt difference interval",
    ),
    ("extrapolate family", lambda: leakstats.extrapolate(_R, family="gamma"), "family: 'gamma'"),
    ("extrapolate families", lambda: leakstats.extrapolate(_R, family=[]), "family: empty"),
    ("extrapolate n_resamples", lambda: leakstats.extrapolate(_R, n_resamples=3), "n_resamples: 3"),
    (
        "extrapolate bayes_options",
        lambda: leakstats.extrapolate(_R, bayes_options=[1]),
        "bayes_options",
    ),
    ("plan goal", lambda: leakstats.plan("guess", k=1), "goal"),
    ("plan half_width", lambda: leakstats.plan("estimate", k=1, n_samples=10), "half_width"),
    (
        "plan power",
        lambda: leakstats.plan("compare", k=1, n_prompts=100, leak_a=0.3, leak_b=0.2, power=1.5),
        "power: 1.5",
    ),
    (
        "plan leak",
        lambda: leakstats.plan("estimate", k=1, n_samples=10, half_width=0.1, leak=2),
        "leak: 2",
    ),
    (
        "format_table format",
        lambda: leakstats.format_table(leakstats.leak_at_k(_R), "html"),
        "format: 'html'",
    ),
    (
        "format_table digits",
        lambda: leakstats.format_table(leakstats.leak_at_k(_R), digits=-2),
        "digits: -2",
    ),
    ("read_table format", lambda: leakstats.read_table(_R.to_dict()), "argument 'source'"),
    (
        "read_table bad format",
        lambda: leakstats.read_table(__file__, format="xlsx"),
        "unknown format 'xlsx'",
    ),
    ("write_table exists", None, "already exists"),
    (
        "write_report k",
        lambda: leakstats.write_report(_R, Path(tempfile.mkdtemp()) / "r", k=0),
        "k: 0 is not a positive integer",
    ),
    (
        "write_report extrapolate_k",
        lambda: leakstats.write_report(_R, Path(tempfile.mkdtemp()) / "r", extrapolate_k=[0]),
        "extrapolate_k: k: 0",
    ),
    (
        "write_report plots",
        lambda: leakstats.write_report(_R, Path(tempfile.mkdtemp()) / "r", plots="no"),
        "plots: 'no' is not True or False",
    ),
    ("write_table not a frame", lambda: leakstats.write_table([1], "x.csv"), "DataFrame"),
    ("make_judge empty", lambda: leakstats.make_judge(""), "judge spec"),
    ("make_judge unknown", lambda: leakstats.make_judge("telepathy"), "telepathy"),
    ("load_prompts unknown", lambda: leakstats.load_prompts("tofu:forget99"), "forget99"),
    (
        "read_store not a store",
        lambda: leakstats.read_store("/nonexistent"),
        "not a leakstats store",
    ),
    ("DecodingConfig top_k", lambda: leakstats.DecodingConfig(top_k=-1), "top_k: -1"),
    (
        "DecodingConfig temperature",
        lambda: leakstats.DecodingConfig(temperature=float("nan")),
        "temperature: nan",
    ),
]


@pytest.mark.parametrize(("name", "call", "match"), API_CASES, ids=[c[0] for c in API_CASES])
def test_every_public_entry_refuses_bad_input_by_name(name, call, match, tmp_path):
    if call is None:  # write_table over an existing file without overwrite
        target = tmp_path / "t.csv"
        target.write_text("mine")
        call = lambda: leakstats.write_table(_R, target)  # noqa: E731
    with pytest.raises(LeakstatsError) as info:
        call()
    assert match in str(info.value)
    assert "Fix" in str(info.value), str(info.value)


CLI_CASES = [
    (["extrapolate", "{csv}", "--family", "exp"], "argument --family"),
    (["extrapolate", "{csv}", "--repeats", "2"], "--repeats: repeats are backtest repeats"),
    (["report", "{csv}", "--out", "{dir}"], "never writes over its input"),
    (["report", "{csv}"], "the following arguments are required: --out"),
    (["estimate", "{csv}", "--k", "1", "--population", "all"], "argument --population"),
    (["estimate", "{csv}", "--k", "1", "--ci-method", "exact"], "argument --ci-method"),
    (["estimate", "{csv}", "--k", "1", "--confidence-level", "2"], "confidence_level: 2.0"),
    (["estimate", "{csv}", "--k", "1", "--confidence-level", "x"], "--confidence-level"),
    (["estimate", "{csv}", "--k", "1", "--format", "html"], "argument --format"),
    (["estimate", "{csv}", "--k", "1", "--plot", "{dir}/p.bmpx"], "--plot"),
    (["estimate", "{csv}", "--k", "1", "--output", "{dir}/no/such/t.csv"], "does not exist"),
    (["estimate", "{csv}", "--k", "1", "--by", "Method"], "unknown arm column 'Method'"),
    (["estimate", "{csv}", "--k", "99"], "exceeds the number of samples"),
    (["certify", "{csv}", "--k", "1", "--bound", "x"], "argument --bound"),
    (["certify", "{csv}", "--k", "1", "--confidence-level", "0.6"], "below 0.75"),
    (["certify", "{csv}", "--k", "1", "--epsilon", "x"], "argument --epsilon"),
    (["compare", "{csv}", "--test", "t"], "argument --test"),
    (["compare", "{csv}", "--correction", "fdr"], "argument --correction"),
    (["compare", "{csv}", "{csv}"], "duplicate method name"),
    (["compare", "{csv}", "--n-resamples", "3"], "n_resamples: 3"),
    (["plan", "estimate", "--k", "1", "--samples", "10"], "half_width"),
    (
        ["plan", "compare", "--k", "1", "--prompts", "100", "--leak-a", "2", "--leak-b", "0.1"],
        "leak_a: 2.0",
    ),
    (["plan", "guess"], "argument goal"),
    (["generate", "--prompts", "{dir}/none.jsonl", "--out", "{dir}/s"], "none.jsonl"),
    (["generate", "--prompts", "fictitious", "--n", "0", "--out", "{dir}/s"], "n: 0"),
    (["generate", "--prompts", "fictitious", "--out", "{csv}"], "is a file"),
]


@pytest.mark.parametrize(
    ("argv", "message"), CLI_CASES, ids=[" ".join(a[:1] + a[2:4]) for a, _ in CLI_CASES]
)
def test_cli_user_errors_name_the_flag(tmp_path, capsys, argv, message):
    from leakstats.cli import main

    csv = tmp_path / "c.csv"
    COUNTS.to_csv(csv, index=False)
    code = main([a.format(csv=csv, dir=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("p.jsonl", '{"prompt": "q", "reference": "a"}\n{"prompt": \n', "line 2 is not valid JSON"),
        ("p.csv", "", "as csv: EmptyDataError"),
        ("p.parquet", "xx", "as parquet"),
        ("p.json", "[1, 2", "as a JSON array of objects or as JSON Lines"),
    ],
)
def test_damaged_prompt_files_are_named(tmp_path, name, data, match):
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    with pytest.raises(DataValidationError, match=f"'.*{name}'.*{match}"):
        leakstats.load_prompts(path)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("tofu:retain90:paraphrased", "has no paraphrased questions"),
        ("tofu:forget20", "'tofu' has no option 'forget20'; its options are"),
        ("muse:knowmen", "'muse' has no option 'knowmen'"),
        ("fictitious:forget:retain", r"names \['forget', 'retain'\], of which only one"),
        ("wmdp:bio:cyber", r"names \['bio', 'cyber'\]"),
        ("fictitious:paraphrase", "has no option 'paraphrase'"),
    ],
)
def test_prompt_set_specs_are_checked(spec, match):
    # unknown options used to be ignored, loading the default set without a word
    with pytest.raises(LeakstatsError, match=match):
        leakstats.load_prompts(spec)


def test_a_tampered_demo_marker_cannot_delete_outside_its_stage(tmp_path):
    import json

    from leakstats.demo._stages import RunFolder

    out = tmp_path / "run"
    RunFolder(out).run(_stage(1))
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    marker = out / "stages" / "report.json"
    data = json.loads(marker.read_text())
    data["files"].append("../../precious.txt")
    marker.write_text(json.dumps(data))
    RunFolder(out, fresh=True)
    assert precious.read_text() == "mine" and not (out / "report").exists()
