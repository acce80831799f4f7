"""lm-evaluation-harness ``--log_samples`` output, in the layout and line format that
lm_eval/loggers/evaluation_tracker.py and lm_eval/evaluator.py write, read in one call and
checked against leak@k computed by hand."""

from __future__ import annotations

import hashlib
import io
import json
from math import comb

import pandas as pd
import pytest

import leakstats
from leakstats import DataValidationError, LeakstatsError
from leakstats.cli import main
from leakstats.core.errors import InputNotFoundError, LeakstatsWarning
from leakstats.records.importers import lm_eval

RUN_A = "2026-03-01T10-00-00.123456"
RUN_B = "2026-03-02T09-30-00.654321"
TASK = "tofu_qa"
SAMPLED = {"until": ["\n\n"], "do_sample": True, "temperature": 1.0, "top_p": 1.0,
           "max_gen_toks": 64}
DOCS = [({"question": "Capital of France?", "answer": "Paris"}, "Paris"),
        ({"question": "Colour of the sky?", "answer": "blue"}, "blue"),
        ({"question": "The answer to everything?", "answer": "42"}, "42")]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def doc_hash(doc: dict) -> str:
    return sha(json.dumps(doc, indent=2, ensure_ascii=False))


def sample_line(doc_id, doc, target, gens, *, kwargs=SAMPLED, filter="none", filtered=None,
                metrics=None):
    """One line as save_results_samples writes it (arguments as gen_args_i / arg_j, resps
    and filtered_resps as str lists, target str, per-doc metrics at the top level)."""
    prompt = f"Question: {doc['question']}\nAnswer:"
    metrics = {"exact_match": float(gens[0].strip() == target)} if metrics is None else metrics
    return {"doc_id": doc_id, "doc": doc, "target": str(target),
            "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": kwargs}},
            "resps": [list(gens)], "filtered_resps": [gens[0] if filtered is None else filtered],
            "filter": filter, "metrics": list(metrics), "doc_hash": doc_hash(doc),
            "prompt_hash": sha(prompt), "target_hash": sha(str(target)), **metrics}


def write_run(folder, task, run, lines, *, model_name=None, repeats=4, kwargs=SAMPLED):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_{task}_{run}.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    if model_name is not None:
        results = {
            "results": {task: {"alias": task, "exact_match,none": 0.5,
                               "exact_match_stderr,none": "N/A"}},
            "group_subtasks": {task: []},
            "configs": {task: {"task": task, "output_type": "generate_until",
                               "repeats": repeats, "generation_kwargs": kwargs,
                               "filter_list": [{"name": "none",
                                                "filter": [{"function": "take_first"}]}]}},
            "versions": {task: 1.0}, "n-shot": {task: 0},
            "n-samples": {task: {"original": 3, "effective": 3}},
            "config": {"model": "hf", "model_args": f"pretrained={model_name}"},
            "task_hashes": {task: "0" * 64}, "model_source": "hf", "model_name": model_name,
            "model_name_sanitized": model_name.replace("/", "__"),
        }
        (folder / f"results_{run}.json").write_text(json.dumps(results, indent=2))
    return path


def gens_with(target, hits, n=4):
    """n generations, the first ``hits`` of which contain the target (one in another case)."""
    out = [f"I think it is {target.upper() if j == 1 else target}." for j in range(hits)]
    return out + [f"No idea ({j})." for j in range(n - hits)]


#: generations containing the target, per doc, for the two models (n = 4 each)
HITS = {"EleutherAI/pythia-14m": (2, 0, 4), "unlearned/npo-14m": (1, 0, 2)}


def leak(n, c, k):
    return 1 - comb(n - c, k) / comb(n, k)


WANT = {m: {k: sum(leak(4, c, k) for c in hits) / 3 for k in (1, 2)} for m, hits in HITS.items()}


@pytest.fixture
def out(tmp_path):
    root = tmp_path / "lm_eval_out"
    for model, hits in HITS.items():
        lines = [sample_line(i, doc, t, gens_with(t, h)) for i, ((doc, t), h)
                 in enumerate(zip(DOCS, hits, strict=True))]
        write_run(root / model.replace("/", "__"), TASK, RUN_A, lines, model_name=model)
    return root


def test_hand_computed_numbers_match_by_hand():
    assert WANT["EleutherAI/pythia-14m"] == pytest.approx({1: 0.5, 2: 11 / 18})
    assert WANT["unlearned/npo-14m"] == pytest.approx({1: 0.25, 2: 4 / 9})


def test_the_output_folder_is_recognised_and_gives_leak_at_k(out):
    records = leakstats.read(out, leaked="contains_target == 1")
    assert len(records) == 2 * 3 * 4
    assert set(records["model"]) == set(HITS)
    assert set(records["task"]) == {TASK} and set(records["run"]) == {RUN_A}
    assert set(records["temperature"]) == {1.0} and set(records["top_p"]) == {1.0}
    assert records.groupby(["model", "prompt_id"])["sample_id"].apply(list).map(
        lambda s: s == [0, 1, 2, 3]).all()
    assert set(records["prompt_id"]) == {"doc-" + doc_hash(d)[:12] for d, _ in DOCS}
    table = leakstats.leak_at_k(records, k=[1, 2]).to_frame().set_index(["model", "k"])
    for model, want in WANT.items():
        for k, value in want.items():
            assert table.loc[(model, k), "estimate"] == pytest.approx(value, abs=1e-12)


def test_a_samples_file_is_recognised_and_format_forces_it(out):
    file = next((out / "unlearned__npo-14m").glob("samples_*.jsonl"))
    assert lm_eval.looks_like(file)
    assert lm_eval.find_files(out) == sorted(out.rglob("samples_*.jsonl"))
    auto = leakstats.read(file, leaked="contains_target == 1")
    forced = leakstats.read(file, leaked="contains_target == 1", format="lm-eval")
    pd.testing.assert_frame_equal(auto, forced)
    assert set(auto["model"]) == {"unlearned/npo-14m"}  # from results_<run>.json
    assert auto["leaked"].tolist() == [True, False, False, False] + [False] * 4 + \
        [True, True, False, False]
    est = leakstats.leak_at_k(auto, k=[1, 2]).to_frame().set_index("k")["estimate"]
    assert est.to_dict() == pytest.approx(WANT["unlearned/npo-14m"], abs=1e-12)
    assert auto["text"].iloc[0] == "I think it is Paris." and auto["target"].iloc[0] == "Paris"
    assert auto["prompt"].iloc[0] == "Question: Capital of France?\nAnswer:"


def test_the_cli_gives_the_table_in_one_command(out, capsys):
    code = main(["estimate", str(out), "--leaked", "contains_target == 1", "--k", "1,2",
                 "--format", "csv"])
    assert code == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index(["model", "k"])
    for model, want in WANT.items():
        for k, value in want.items():
            assert table.loc[(model, k), "estimate"] == pytest.approx(value, abs=1e-6)


def test_looks_like_is_false_for_other_files_and_never_raises(out, tmp_path):
    results = next(out.rglob("results_*.json"))
    leakk = tmp_path / "leakk.jsonl"
    leakk.write_text(json.dumps({"prompt": "q", "responses": [{"response": "a"}]}) + "\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    for path in (results, leakk, broken, empty, tmp_path / "absent.jsonl", tmp_path):
        assert lm_eval.looks_like(path) is False
    assert lm_eval.find_files(tmp_path / "nothing_here") == []


def test_without_a_results_file_the_model_is_the_folder_name(tmp_path):
    lines = [sample_line(0, *DOCS[0], gens_with("Paris", 1))]
    file = write_run(tmp_path / "org__model-x", TASK, RUN_A, lines)
    records = leakstats.read(file, leaked="exact_target == 1")
    assert set(records["model"]) == {"org__model-x"}


def test_exact_and_contains_target_definitions(tmp_path):
    gens = ["  PARIS ", "Paris, France", "paris\n", "Lyon"]
    lines = [sample_line(0, *DOCS[0], gens),
             sample_line(1, {"question": "Two names?"}, ["Ann", "Bob"], ["bob", "Carl"] * 2)]
    records = leakstats.read(write_run(tmp_path / "m", TASK, RUN_A, lines),
                             leaked="exact_target == 1")
    first = records[records["doc_id"] == 0]
    assert first["exact_target"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert first["contains_target"].tolist() == [1.0, 1.0, 1.0, 0.0]
    second = records[records["doc_id"] == 1]  # target str(['Ann', 'Bob']): any item counts
    assert second["target"].iloc[0] == "['Ann', 'Bob']"
    assert second["exact_target"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_greedy_decoding_is_temperature_zero_with_truncation_off(tmp_path):
    greedy = {"until": ["\n"], "do_sample": False}
    lines = [sample_line(0, *DOCS[0], ["Paris"] * 2, kwargs=greedy)]
    records = leakstats.read(write_run(tmp_path / "m", TASK, RUN_A, lines),
                             leaked="exact_target == 1")
    assert records["temperature"].tolist() == [0.0, 0.0]
    assert "top_p" not in records  # not recorded anywhere
    sampled = [sample_line(0, *DOCS[0], ["Paris", "Lyon"], kwargs={**SAMPLED, "top_k": -1})]
    write_run(tmp_path / "m", TASK, RUN_B, sampled)
    records = leakstats.read(tmp_path, leaked="exact_target == 1")
    arms = records.groupby(["temperature", "top_p", "top_k"])["leaked"].mean()
    assert arms.to_dict() == {(0.0, 1.0, 0.0): 1.0, (1.0, 1.0, 0.0): 0.5}


def test_a_per_document_metric_labels_only_single_generations(tmp_path, out):
    with pytest.raises(LeakstatsError, match="a metric lm-eval computes once per document"):
        leakstats.read(out, leaked="exact_match == 1")
    single = [sample_line(i, d, t, [g]) for i, ((d, t), g)
              in enumerate(zip(DOCS, ["Paris", "red", "42"], strict=True))]
    records = leakstats.read(write_run(tmp_path / "m", TASK, RUN_A, single),
                             leaked="exact_match == 1")
    assert records["leaked"].tolist() == [True, False, True]


def gsm8k_like(tmp_path, keep_all=True):
    """Two filters, the same generations: per-generation extraction (no take_first) and
    majority vote."""
    lines = []
    for i, ((doc, t), hits) in enumerate(zip(DOCS, (2, 0, 4), strict=True)):
        gens = gens_with(t, hits)
        extracted = [t if j < hits else "x" for j in range(4)]
        lines.append(sample_line(i, doc, t, gens, filter="extract",
                                 filtered=extracted if keep_all else extracted[0]))
        lines.append(sample_line(i, doc, t, gens, filter="maj@4", filtered=[t]))
    return write_run(tmp_path / "m", TASK, RUN_A, lines)


def test_a_rule_over_the_generations_reads_them_once_under_several_filters(tmp_path):
    records = leakstats.read(gsm8k_like(tmp_path), leaked="contains_target == 1")
    assert len(records) == 3 * 4 and "filter" not in records and "exact_match" not in records
    assert leakstats.leak_at_k(records, k=1).to_frame()["estimate"].iloc[0] == 0.5


def test_a_rule_over_the_filter_output_reads_the_filters_that_have_it(tmp_path):
    with pytest.warns(LeakstatsWarning, match=r"filters \['maj@4'\] leave one output per "
                                              r"document.*left out"):
        records = leakstats.read(gsm8k_like(tmp_path), leaked="filtered_exact_target == 1")
    assert len(records) == 12 and set(records["filter"]) == {"extract"}
    assert records["leaked"].sum() == 6
    assert records["filtered_text"].tolist()[:4] == ["Paris", "Paris", "x", "x"]
    with pytest.raises(LeakstatsError, match="one output per document, not one per generation"):
        leakstats.read(gsm8k_like(tmp_path / "b", keep_all=False),
                       leaked="filtered_exact_target == 1")


def test_a_rule_over_filtered_output_under_two_per_generation_filters_warns(tmp_path):
    lines = []
    for name in ("strict", "loose"):
        lines += [sample_line(i, doc, t, gens_with(t, h), filter=name,
                              filtered=[t if j < h else "x" for j in range(4)])
                  for i, ((doc, t), h) in enumerate(zip(DOCS, (2, 0, 4), strict=True))]
    path = write_run(tmp_path / "m", TASK, RUN_A, lines)
    with pytest.warns(LeakstatsWarning, match=r"filters \['strict', 'loose'\].*--by "
                                              r"model,filter"):
        records = leakstats.read(path, leaked="filtered_exact_target == 1")
    assert len(records) == 24
    with pytest.raises(DataValidationError, match="column 'filter': it splits every prompt"):
        with pytest.warns(LeakstatsWarning):
            leakstats.leak_at_k(leakstats.read(path, leaked="filtered_exact_target == 1"))
    table = leakstats.leak_at_k(records, k=1, by=["model", "filter"]).to_frame()
    assert table["estimate"].tolist() == pytest.approx([0.5, 0.5], abs=1e-12)


def test_runs_with_the_same_decoding_keep_the_latest_and_say_so(tmp_path):
    folder = tmp_path / "m"
    old = write_run(folder, TASK, RUN_A, [sample_line(0, *DOCS[0], gens_with("Paris", 4))])
    new = write_run(folder, TASK, RUN_B, [sample_line(0, *DOCS[0], gens_with("Paris", 1))])
    with pytest.warns(LeakstatsWarning, match="2 runs of task 'tofu_qa'.*latest") as caught:
        records = leakstats.read(tmp_path, leaked="contains_target == 1")
    assert str(new) in str(caught[0].message) and str(old) in str(caught[0].message)
    assert set(records["run"]) == {RUN_B} and records["leaked"].sum() == 1
    cold = {**SAMPLED, "temperature": 0.5}
    write_run(folder, TASK, "2026-03-03T08-00-00", [
        sample_line(0, *DOCS[0], gens_with("Paris", 3), kwargs=cold)])
    with pytest.warns(LeakstatsWarning, match="2 runs"):
        records = leakstats.read(tmp_path, leaked="contains_target == 1")
    table = leakstats.leak_at_k(records, k=1).to_frame().set_index("temperature")
    assert table["estimate"].to_dict() == pytest.approx({0.5: 0.75, 1.0: 0.25}, abs=1e-12)


def test_several_tasks_are_separate_arms(tmp_path):
    folder = tmp_path / "m"
    write_run(folder, "task_a", RUN_A, [sample_line(0, *DOCS[0], gens_with("Paris", 1))])
    write_run(folder, "task_b", RUN_A, [sample_line(0, *DOCS[1], gens_with("blue", 3))])
    records = leakstats.read(tmp_path, leaked="contains_target == 1")
    table = leakstats.leak_at_k(records, k=1).to_frame()  # task is a default arm column
    assert table.set_index("task")["estimate"].to_dict() == pytest.approx(
        {"task_a": 0.25, "task_b": 0.75}, abs=1e-12)


def test_a_repeated_document_is_a_second_prompt(tmp_path):
    lines = [sample_line(0, *DOCS[0], gens_with("Paris", 1)),
             sample_line(7, *DOCS[0], gens_with("Paris", 3))]
    records = leakstats.read(write_run(tmp_path / "m", TASK, RUN_A, lines),
                             leaked="contains_target == 1")
    base = "doc-" + doc_hash(DOCS[0][0])[:12]
    assert records.groupby("doc_id")["prompt_id"].first().to_dict() == {0: base,
                                                                        7: base + "#2"}


def test_without_a_rule_the_score_columns_are_listed(out, capsys):
    with pytest.raises(LeakstatsError, match=r"score columns: \['contains_target', "
                                             r"'exact_target'.*'exact_match'\].*Fix: "):
        leakstats.read(out)
    assert main(["estimate", str(out), "--k", "1"]) == 2
    assert "contains_target == 1" in capsys.readouterr().err


def bad_line(tmp_path, line: str, name=f"samples_{TASK}_{RUN_A}.jsonl"):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / name
    good = json.dumps(sample_line(0, *DOCS[0], ["Paris"]))
    path.write_text(good + "\n" + line + "\n")
    return path


MC = {**sample_line(0, *DOCS[0], ["x"]),
      "arguments": {"gen_args_0": {"arg_0": "Q", "arg_1": " A"},
                    "gen_args_1": {"arg_0": "Q", "arg_1": " B"}},
      "resps": [[["-1.5", "False"]], [["-0.2", "True"]]],
      "filtered_resps": [["-1.5", "False"], ["-0.2", "True"]]}


@pytest.mark.parametrize(("line", "error", "match"), [
    ("{oops", DataValidationError, r"line 2: malformed JSON.*Fix: "),
    ("[1, 2]", DataValidationError, r"line 2: not a harness sample \(found list.*Fix: "),
    (json.dumps(MC), DataValidationError,
     r"line 2: 'resps' is .* for 2 request\(s\).*multiple-choice.*Fix: read the samples of "
     r"generation tasks"),
    (json.dumps({**sample_line(1, *DOCS[1], ["x"]), "resps": [["-12.5"]],
                 "filtered_resps": ["-12.5"], "arguments": {"gen_args_0": {"arg_0": "text"}}}),
     DataValidationError, r"line 2: 'resps' is \[\[\"-12.5\"\]\] for 1 request\(s\)"),
    (json.dumps({**sample_line(1, *DOCS[1], ["x"]), "arguments": "??"}), DataValidationError,
     r"line 2: 'arguments' is '\?\?'.*Fix: "),
    (json.dumps({k: v for k, v in sample_line(1, *DOCS[1], ["x"]).items()
                 if k not in ("doc", "doc_hash")}), DataValidationError,
     r"line 2: neither 'doc_hash' nor 'doc'.*Fix: "),
    (json.dumps(sample_line(1, *DOCS[1], ["x"], kwargs={"do_sample": True,
                                                        "temperature": "hot"})),
     DataValidationError, r"line 2: generation kwarg temperature='hot' is not a number"),
    (json.dumps(sample_line(0, *DOCS[0], ["Lyon"], filter="other")), DataValidationError,
     r"line 2: doc_id 0 under filter 'other' has other generations than under 'none' "
     r"\(line 1\).*Fix: "),
    (json.dumps(sample_line(1, *DOCS[1], ["x"], kwargs={**SAMPLED, "top_k": 5})),
     DataValidationError, r"top_k is recorded .* some runs but not of 1 sampled generation"
     r"\(s\), e.g. model .*doc_id 0.*Fix: "),
])
def test_bad_lines_are_refused_by_file_and_line(tmp_path, line, error, match):
    path = bad_line(tmp_path, line)
    with pytest.raises(error, match=match) as caught:
        lm_eval.load(path, leaked="contains_target == 1")
    assert str(path) in str(caught.value)


def test_bad_rules_and_paths_are_refused(tmp_path, out):
    with pytest.raises(LeakstatsError, match=r"names 'rouge', which is not a column; the "
                                             r"score columns are \['contains_target'"):
        leakstats.read(out, leaked="rouge >= 0.5")
    with pytest.raises(LeakstatsError, match="expected a rule string .* got function"):
        lm_eval.load(out, leaked=lambda r: True)
    (tmp_path / "m_empty").mkdir()
    with pytest.raises(InputNotFoundError, match=r"no lm-evaluation-harness samples file.*"
                                                 r"--log_samples"):
        lm_eval.load(tmp_path / "m_empty", leaked="contains_target == 1")
    with pytest.raises(InputNotFoundError, match="no such file or directory"):
        lm_eval.load(tmp_path / "absent", leaked="contains_target == 1")
    empty = tmp_path / f"samples_{TASK}_{RUN_A}.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataValidationError, match=r"no samples in the file.*Fix: "):
        lm_eval.load(empty, leaked="contains_target == 1")
    metric = bad_line(tmp_path / "x", json.dumps(sample_line(
        1, *DOCS[1], ["blue"], metrics={"exact_match": None})), name="s.jsonl")
    with pytest.raises(LeakstatsError, match=r"'exact_match', which has no value for 1 "
                                             r"generation\(s\) \(the value is missing"):
        lm_eval.load(metric, leaked="exact_match == 1")


def test_a_broken_results_file_is_named(out):
    results = next((out / "unlearned__npo-14m").glob("results_*.json"))
    results.write_text("{")
    with pytest.raises(DataValidationError, match=r"results_.*does not parse.*Fix: "):
        leakstats.read(results.parent, leaked="contains_target == 1")
