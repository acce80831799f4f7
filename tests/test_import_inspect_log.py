"""inspect_ai logs read into records. Fixtures: logs written by inspect_ai 0.3.285 itself
(``tests/data/inspect_log``: ``eval(capitals(epochs), model="mockllm/model")``, a scripted
solver, scorers ``match()`` and a dict-valued ``overlap``), and logs built here in the layout of
``inspect_ai/log/_recorders/eval.py`` and ``json.py``, deflated as before April 2026."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from math import comb
from pathlib import Path

import pandas as pd
import pytest

import leakstats
from leakstats import DataValidationError, LeakstatsError
from leakstats.cli import main
from leakstats.core.errors import (
    InputNotFoundError,
    LeakstatsWarning,
    MissingDependencyError,
    UnreadableFileError,
)
from leakstats.records.importers import inspect_log
from leakstats.records.importers._ids import prompt_id_of
from leakstats.records.rules import RuleSyntaxError

DATA = Path(__file__).parent / "data" / "inspect_log"
REAL_EVAL = next((DATA / "eval").glob("*.eval"))  # epochs=4, temperature=0.7, top_p=0.9
REAL_JSON = next((DATA / "json").glob("*.json"))  # epochs=2, temperature=1.0


def unbiased(n: int, c: int, k: int) -> float:
    return 1 - comb(n - c, k) / comb(n, k)


def estimates(records: pd.DataFrame, by: list[str] | None = None) -> dict:
    table = leakstats.leak_at_k(records, k=[1, 2], by=by).to_frame()
    keys = by or []
    return {(*(getattr(r, c) for c in keys), r.k): r.estimate for r in table.itertuples()}



def sample(sid, epoch, *, value="C", completion="answer", input="Question?", target="t",
           scores=None, **extra) -> dict:
    """One EvalSample as inspect_ai serialises it (None fields left out)."""
    return {
        "id": sid, "epoch": epoch, "input": input, "target": target,
        "messages": [{"role": "user", "content": input if isinstance(input, str) else "q"}],
        "output": {"model": "m", "choices": [{"message": {"content": completion,
                                                          "role": "assistant"},
                                              "stop_reason": "stop"}],
                   "completion": completion},
        "scores": scores if scores is not None else {
            "match": {"value": value, "answer": completion, "explanation": completion,
                      "history": []}},
        "metadata": {}, "store": {}, "events": [], "model_usage": {}, "attachments": {},
        **extra,
    }


def log(samples, *, task="capitals", model="openai/gpt-x", status="success", config=None,
        model_config=None, **extra) -> dict:
    ids = list(dict.fromkeys(s["id"] for s in samples))
    return {
        "version": 2, "status": status,
        "eval": {"eval_id": "E1", "run_id": "R1", "created": "2025-05-01T10:00:00+00:00",
                 "task": task, "task_id": "T1", "task_version": 0,
                 "dataset": {"name": "d", "samples": len(ids), "sample_ids": ids,
                             "shuffled": False},
                 "model": model, "model_generate_config": model_config or {},
                 "config": {"epochs": max([s["epoch"] for s in samples], default=1)},
                 "packages": {"inspect_ai": "0.3.100"}},
        "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}],
                 "config": {"temperature": 1.0} if config is None else config},
        "results": {"total_samples": len(samples), "completed_samples": len(samples),
                    "scores": []},
        "stats": {"started_at": "", "completed_at": "", "model_usage": {}},
        "samples": samples, **extra,
    }


def write_json(path: Path, content: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
    return path


def write_eval(path: Path, content: dict, *, header: bool = True) -> Path:
    """The .eval zip: samples/<id>_epoch_<n>.json, summaries.json, header.json (or only
    _journal/start.json for a run that has not finished)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = content.get("samples") or []
    head = {k: v for k, v in content.items() if k != "samples"}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        zf.writestr("_journal/start.json", json.dumps(
            {"version": 2, "eval": head["eval"], "plan": head["plan"]}))
        for s in samples:
            zf.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        if header:
            zf.writestr("summaries.json", json.dumps([{"id": s["id"], "epoch": s["epoch"]}
                                                      for s in samples]))
            zf.writestr("header.json", json.dumps(head))
    return path


def outcomes(pattern: dict[str, str], **kwargs) -> list[dict]:
    """Samples of prompts ``{id: "CIC..."}``, one epoch per letter."""
    return [sample(sid, e, value=v, input=f"Question {sid}?", completion=f"{sid}-{e}", **kwargs)
            for sid, letters in pattern.items() for e, v in enumerate(letters, start=1)]



def test_a_json_log_written_by_inspect_gives_the_hand_computed_estimate():
    assert inspect_log.looks_like(REAL_JSON)
    records = leakstats.read(REAL_JSON, leaked="match == 'C'")
    # q1: "It is Paris" C, "Lyon" I; q2: "4" C, "5" I; q3: "blue" C, "blue" C
    assert records.groupby("prompt_id")["leaked"].sum().to_dict() == {"q1": 1, "q2": 1, "q3": 2}
    assert set(records["model"]) == {"mockllm/model"} and set(records["task"]) == {"capitals"}
    assert set(records["temperature"]) == {1.0} and "top_p" not in records
    assert records["sample_id"].tolist() == [0, 1] * 3
    q3 = records[records["prompt_id"] == "q3"].iloc[0]
    assert q3["prompt"] == "What colour is the sky?"  # the user message, not the system one
    assert (q3["target"], q3["text"]) == ("blue", "blue")
    assert records["overlap_hit"].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    est = estimates(records)
    assert est[(1,)] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3, abs=1e-12)
    assert est[(2,)] == pytest.approx(1.0, abs=1e-12)


def test_an_eval_log_written_by_inspect_reads_with_a_zstd_decoder():
    pytest.importorskip("zstandard")
    records = leakstats.read(REAL_EVAL, leaked="match == 'C'")
    assert records.groupby("prompt_id")["leaked"].sum().to_dict() == {"q1": 2, "q2": 1, "q3": 3}
    assert set(records["top_p"]) == {0.9} and set(records["temperature"]) == {0.7}
    est = estimates(records)
    assert est[(1,)] == pytest.approx((2 / 4 + 1 / 4 + 3 / 4) / 3, abs=1e-12)
    expected = (unbiased(4, 2, 2) + unbiased(4, 1, 2) + unbiased(4, 3, 2)) / 3
    assert est[(2,)] == pytest.approx(expected, abs=1e-12) and expected == pytest.approx(7 / 9)
    by_rule = leakstats.read(REAL_EVAL, leaked="overlap_hit == 1")
    assert by_rule["leaked"].tolist() == records["leaked"].tolist()


def test_a_damaged_zstd_member_is_named(tmp_path):
    pytest.importorskip("zstandard")
    data = bytearray(REAL_EVAL.read_bytes())
    with zipfile.ZipFile(REAL_EVAL) as zf:
        info = zf.getinfo("samples/q2_epoch_3.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 4: start + info.compress_size - 4] = bytes(info.compress_size - 8)
    damaged = tmp_path / REAL_EVAL.name
    damaged.write_bytes(bytes(data))
    with pytest.raises(UnreadableFileError, match=r"member 'samples/q2_epoch_3.json' cannot be "
                                                  r"read as JSON"):
        leakstats.read(damaged, leaked="match == 'C'")


def test_an_eval_log_in_zstd_without_a_decoder_says_how_to_read_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now fails
    assert inspect_log.looks_like(REAL_EVAL)  # the zip's directory is not compressed
    with pytest.raises(MissingDependencyError, match=r"zstd-compressed.*Fix: pip install "
                                                     r"'leakstats\[inspect\]' \(zstandard\)"
                                                     r".*inspect log convert"):
        leakstats.read(REAL_EVAL, leaked="match == 'C'")


# inspect_ai's event loop leaves anyio streams for the garbage collector: its warnings, not ours
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_logs_written_by_inspects_own_writer_in_both_formats(tmp_path):
    pytest.importorskip("inspect_ai")
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ChatMessageUser, ModelOutput
    from inspect_ai.scorer import match
    from inspect_ai.solver import solver

    table = {("a", 1): "x", ("a", 2): "y", ("a", 3): "x", (7, 1): "z", (7, 2): "x",
             (7, 3): "z"}

    @solver
    def scripted():
        async def solve(state, generate):
            state.output = ModelOutput.from_content("mockllm/model",
                                                    table[(state.sample_id, state.epoch)])
            return state
        return solve

    task = Task(dataset=[Sample(id="a", input="Say x", target="x"),
                         Sample(id=7, input=[ChatMessageUser(content="Say x too")],
                                target="x")],
                solver=scripted(), scorer=match(), epochs=3)
    for fmt in ("eval", "json"):
        eval(task, model="mockllm/model", log_dir=str(tmp_path / fmt), log_format=fmt,
             display="none", temperature=0.5)
        records = leakstats.read(tmp_path / fmt, leaked="match == 'C'")
        assert records.groupby("prompt_id")["leaked"].sum().to_dict() == {"a": 2, "7": 1}
        assert set(records["temperature"]) == {0.5}
        assert records[records["prompt_id"] == "7"]["prompt"].iloc[0] == "Say x too"
        est = estimates(records)
        assert est[(2,)] == pytest.approx((unbiased(3, 2, 2) + unbiased(3, 1, 2)) / 2)



@pytest.fixture
def logs(tmp_path):
    """./logs with two models on one task, one .eval (deflate) and one .json."""
    root = tmp_path / "logs"
    write_eval(root / "2025-05-01T10-00-00+00-00_capitals_T1.eval",
               log(outcomes({"q1": "CIII", "q2": "CCII", "3": "IIII"}), model="hf/base"))
    write_json(root / "2025-05-01T11-00-00+00-00_capitals_T2.json",
               log(outcomes({"q1": "IIII", "q2": "CIII", "3": "IIIC"}), model="hf/unlearned"))
    (root / "logs.json").write_text(json.dumps({"a.eval": {}}))  # inspect's listing: not a log
    return root


def test_a_log_folder_is_recognised_and_each_model_is_an_arm(logs):
    assert [p.suffix for p in inspect_log.find_files(logs)] == [".eval", ".json"]
    records = leakstats.read(logs, leaked="match == 'C'")
    assert set(records["run"]) == {"2025-05-01T10-00-00+00-00_capitals_T1",
                                   "2025-05-01T11-00-00+00-00_capitals_T2"}
    est = estimates(records, by=["model"])
    base = [unbiased(4, 1, 2), unbiased(4, 2, 2), 0.0]
    assert est[("hf/base", 1)] == pytest.approx((1 / 4 + 2 / 4 + 0) / 3, abs=1e-12)
    assert est[("hf/base", 2)] == pytest.approx(sum(base) / 3, abs=1e-12)
    assert est[("hf/unlearned", 2)] == pytest.approx(2 * unbiased(4, 1, 2) / 3, abs=1e-12)
    # the default arms (model, temperature) split them too, and format= forces the reader
    forced = leakstats.read(logs, leaked="match == 'C'", format="inspect")
    assert estimates(forced, by=["model"]) == est
    assert leakstats.leak_at_k(records, k=[1]).to_frame()["model"].tolist() == [
        "hf/base", "hf/unlearned"]


def test_the_command_line_prints_the_table_for_a_log_folder(logs, capsys):
    code = main(["estimate", str(logs), "--leaked", "match == 'C'", "--k", "1,2",
                 "--format", "csv"])
    assert code == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    row = table[(table["model"] == "hf/base") & (table["k"] == 1)].iloc[0]
    assert row["estimate"] == pytest.approx(0.25) and row["n_prompts"] == 3
    assert row["n_samples"] == 12


def test_a_folder_without_a_rule_lists_the_score_columns(logs):
    with pytest.raises(LeakstatsError, match=r"holds inspect_ai logs.*\['match'\].*Fix: read "
                                             r"it with leakstats.read\(path, leaked=\"match "
                                             r"== 'C'\"\)"):
        leakstats.read(logs)


def test_two_logs_of_one_arm_are_refused(tmp_path):
    for name in ("a", "b"):
        write_json(tmp_path / f"{name}.json", log(outcomes({"q1": "CI"})))
    with pytest.raises(DataValidationError, match=r"'.*a.json' and '.*b.json' are logs of the "
                                                  r"same arm \(task='capitals', model="
                                                  r"'openai/gpt-x', temperature=1.0\).*Fix: "
                                                  r"keep one log per arm"):
        leakstats.read(tmp_path, leaked="match == 'C'")


def test_a_config_set_in_some_logs_only_is_refused(tmp_path):
    write_json(tmp_path / "a.json", log(outcomes({"q1": "CI"}), model="m1"))
    write_json(tmp_path / "b.json", log(outcomes({"q1": "CI"}), model="m2", config={}))
    with pytest.raises(DataValidationError, match=r"'temperature' is set in the generate "
                                                  r"config of a.json but not of b.json"):
        leakstats.read(tmp_path, leaked="match == 'C'")


def test_the_plan_config_wins_over_the_model_config(tmp_path):
    path = write_json(tmp_path / "a.json", log(
        outcomes({"q1": "CI"}), config={"temperature": 0.3, "top_k": None},
        model_config={"temperature": 0.9, "top_p": 0.8, "top_k": 40, "seed": 3}))
    records = leakstats.read(path, leaked="match == 'C'")
    assert records[["temperature", "top_p", "top_k", "seed"]].iloc[0].tolist() == [
        0.3, 0.8, 40, 3]


def test_ids_that_name_different_inputs_fall_back_to_the_prompt_text(tmp_path):
    write_json(tmp_path / "a.json", log(outcomes({"1": "CI", "2": "II"}), model="m1"))
    shuffled = outcomes({"1": "CC", "2": "IC"})
    for s in shuffled:
        s["input"] = {"1": "Question 2?", "2": "Question 1?"}[s["id"]]
    write_json(tmp_path / "b.json", log(shuffled, model="m2"))
    with pytest.warns(LeakstatsWarning, match=r"task 'capitals': the sample ids 1, 2 name "
                                              r"different inputs.*identified by their text"):
        records = leakstats.read(tmp_path, leaked="match == 'C'")
    by_text = records.groupby(["model", "prompt"])["prompt_id"].first()
    assert by_text[("m1", "Question 1?")] == by_text[("m2", "Question 1?")] == prompt_id_of(
        "Question 1?")
    leaks = records.groupby(["model", "prompt"])["leaked"].sum()
    assert leaks[("m2", "Question 1?")] == 1 and leaks[("m2", "Question 2?")] == 2


def test_logs_of_several_tasks_are_separate_arms(tmp_path):
    write_json(tmp_path / "a.json", log(outcomes({"1": "CI", "2": "II"}), task="tofu"))
    write_json(tmp_path / "b.json", log(outcomes({"1": "II", "2": "CC"}), task="muse"))
    records = leakstats.read(tmp_path, leaked="match == 'C'")
    assert sorted(records["prompt_id"].unique()) == ["1", "2"]
    est = estimates(records, by=["task"])
    assert est[("tofu", 1)] == pytest.approx(0.25) and est[("muse", 1)] == pytest.approx(0.5)
    assert est[("tofu", 2)] == pytest.approx(0.5) and est[("muse", 2)] == pytest.approx(0.5)
    default = leakstats.leak_at_k(records, k=[1]).to_frame()  # 'task' is an arm column
    assert sorted(default["task"]) == ["muse", "tofu"]
    kept = leakstats.read(tmp_path, leaked="match == 'C'", where="task == 'tofu'")
    assert kept["leaked"].tolist() == [True, False, False, False]



def test_chat_inputs_targets_attachments_and_score_types(tmp_path):
    chat = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Part one."},
                                         {"type": "image", "image": "attachment://img"},
                                         {"type": "text", "text": "attachment://long"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "Part two."}]
    scores = {"judge": {"value": True}, "multi": {"value": [0.5, "C"]},
              "model": {"value": 0.25}, "pkg/rouge": {"value": {"f": 0.4, "p": None}}}
    s = sample(5, 1, input=chat, target=["Paris", "paris"], completion="", scores=scores,
               attachments={"long": "A long question.", "img": "data:..."})
    s["output"]["choices"][0]["message"]["content"] = [{"type": "reasoning", "reasoning": "."},
                                                       {"type": "text", "text": "Paris."}]
    path = write_json(tmp_path / "a.json", log([s, sample(5, 2, input=chat, scores={
        "judge": {"value": False}, "multi": {"value": [1, "I"]}, "model": {"value": 1},
        "pkg/rouge": {"value": {"f": 0.9, "p": 0.1}}}, attachments=s["attachments"])]))
    records = leakstats.read(path, leaked="judge == true or pkg_rouge_f >= 0.8")
    first = records.iloc[0]
    assert first["prompt"] == "Part one.\nA long question.\n\nPart two."
    assert (first["target"], first["text"], first["prompt_id"]) == ("Paris | paris", "Paris.",
                                                                     "5")
    assert records["judge"].dtype == bool and records["leaked"].tolist() == [True, True]
    assert records["multi_0"].tolist() == [0.5, 1.0] and records["multi_1"].tolist() == [
        "C", "I"]
    assert records["score_model"].tolist() == [0.25, 1.0]  # 'model' is the arm column
    assert records["pkg_rouge_p"].isna().tolist() == [True, False]
    assert leakstats.read(path, leaked="multi_1 == 'I'")["leaked"].tolist() == [False, True]



def test_logs_that_did_not_finish_are_left_out_with_a_warning(tmp_path):
    write_json(tmp_path / "ok.json", log(outcomes({"q1": "CI"}), model="m1"))
    write_json(tmp_path / "err.json", log(outcomes({"q1": "CC"}), model="m2", status="error",
                                          error={"message": "rate limit"}))
    write_eval(tmp_path / "run.eval", log(outcomes({"q1": "CC"}), model="m3"), header=False)
    with pytest.warns(LeakstatsWarning) as seen:
        records = leakstats.read(tmp_path, leaked="match == 'C'")
    messages = sorted(str(w.message) for w in seen)
    assert len(messages) == 2
    assert "err.json: the log's status is 'error' ('rate limit')" in messages[0]
    assert "run.eval: the log's status is 'started'" in messages[1]
    assert "inspect eval-retry" in messages[1]
    assert set(records["model"]) == {"m1"}


def test_only_unfinished_logs_is_an_error(tmp_path):
    path = write_json(tmp_path / "c.json", log(outcomes({"q1": "CI"}), status="cancelled"))
    with pytest.warns(LeakstatsWarning, match="'cancelled'"), pytest.raises(
            DataValidationError, match=r"none of its 1 log\(s\) finished successfully"):
        leakstats.read(path, leaked="match == 'C'")


def test_a_log_without_samples_is_left_out(tmp_path):
    path = write_json(tmp_path / "a.json", log([]))  # inspect eval --no-log-samples
    with pytest.warns(LeakstatsWarning, match=r"a.json: the log holds no usable samples \("
                                              r"log_samples=False"), pytest.raises(
            DataValidationError, match=r"none of its 1 log\(s\)"):
        leakstats.read(path, leaked="match == 'C'")


def test_samples_with_errors_are_left_out_and_epochs_renumbered(tmp_path):
    samples = outcomes({"q1": "CIC", "q2": "IIC"})
    samples[1]["error"] = {"message": "timeout", "traceback": "", "traceback_ansi": ""}
    samples[3]["invalidation"] = {"author": "me"}
    path = write_json(tmp_path / "a.json", log(samples))
    with pytest.warns(LeakstatsWarning, match=r"2 sample\(s\) ended with an error or were "
                                              r"invalidated.*q1 epoch 2 \(error: 'timeout'\), "
                                              r"q2 epoch 1 \(invalidated\)"):
        records = leakstats.read(path, leaked="match == 'C'")
    assert records["epoch"].tolist() == [1, 3, 2, 3] and records["sample_id"].tolist() == [
        0, 1, 0, 1]
    est = estimates(records)
    assert est[(1,)] == pytest.approx((1 + 0.5) / 2) and est[(2,)] == pytest.approx(1.0)


def test_samples_without_the_rules_score_are_left_out(tmp_path):
    samples = outcomes({"q1": "CII"})
    samples[2]["scores"] = {"other": {"value": 1}}
    samples[1].pop("scores")
    path = write_json(tmp_path / "a.json", log(samples))
    with pytest.warns(LeakstatsWarning, match=r"2 sample\(s\) have no value for \['match'\].*"
                                              r"sample q1 epoch 2, .*sample q1 epoch 3"):
        records = leakstats.read(path, leaked="match == 'C'")
    assert records["leaked"].tolist() == [True] and records["sample_id"].tolist() == [0]
    assert set(records) >= {"match", "other"}
    with pytest.raises(DataValidationError, match=r"no sample has a value for \['missing'\].*"
                                                  r"Fix: a rule over the score columns"):
        samples[0]["scores"]["missing"] = {"value": None}
        leakstats.read(write_json(tmp_path / "b.json", log(samples)), leaked="missing == 1")



def test_rules_are_checked(tmp_path):
    path = write_json(tmp_path / "a.json", log(outcomes({"q1": "CI"})))
    with pytest.raises(RuleSyntaxError, match="cannot parse the rule"):
        inspect_log.load(tmp_path / "missing.json", leaked="match ==")
    with pytest.raises(LeakstatsError, match=r"names 'macth', which is not a column"):
        leakstats.read(path, leaked="macth == 'C'")
    with pytest.raises(LeakstatsError, match=r"'match' holds text but the rule compares it "
                                             r"with the number 1"):
        leakstats.read(path, leaked="match == 1")
    with pytest.raises(LeakstatsError, match=r"inspect_ai logs take a rule string, got "
                                             r"function"):
        inspect_log.load(path, leaked=lambda r: True)


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(InputNotFoundError, match="no such file or directory"):
        inspect_log.load(tmp_path / "nope", leaked="match == 'C'")
    (tmp_path / "empty").mkdir()
    assert inspect_log.find_files(tmp_path / "empty") == []
    with pytest.raises(DataValidationError, match=r"no inspect_ai logs \(\*.eval, \*.json\)"):
        inspect_log.load(tmp_path / "empty", leaked="match == 'C'")


def test_damaged_logs_are_named(tmp_path):
    bad_zip = tmp_path / "x.eval"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    assert not inspect_log.looks_like(bad_zip)
    with pytest.raises(UnreadableFileError, match=r"x.eval: not a readable zip"):
        inspect_log.load(bad_zip, leaked="match == 'C'")
    other = tmp_path / "other.eval"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hi")
    assert not inspect_log.looks_like(other)
    with pytest.raises(DataValidationError, match=r"neither 'header.json' nor "
                                                  r"'_journal/start.json' \(members: readme"):
        inspect_log.load(other, leaked="match == 'C'")
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(log(outcomes({"q1": "C"})), indent=2)[:400])
    assert inspect_log.looks_like(cut)
    with pytest.raises(UnreadableFileError, match=r"cut.json: cannot be read as JSON"):
        inspect_log.load(cut, leaked="match == 'C'")
    broken = tmp_path / "broken.eval"
    write_eval(broken, log(outcomes({"q1": "C"})))
    with zipfile.ZipFile(broken, "a") as zf:
        zf.writestr("samples/q9_epoch_1.json", "{not json")
    with pytest.raises(UnreadableFileError, match=r"member 'samples/q9_epoch_1.json' cannot "
                                                  r"be read as JSON"):
        inspect_log.load(broken, leaked="match == 'C'")


def test_logs_that_are_not_inspects_shape_are_refused(tmp_path):
    no_model = log(outcomes({"q1": "C"}))
    del no_model["eval"]["model"]
    with pytest.raises(DataValidationError, match=r"no 'eval' object with \['model'\] "
                                                  r"\(fields there: \['config'"):
        inspect_log.load(write_json(tmp_path / "a.json", no_model), leaked="match == 'C'")
    with pytest.raises(DataValidationError, match=r"not an inspect_ai log.*fields there: None"):
        inspect_log.load(write_json(tmp_path / "b.json", {"results": {}}), leaked="x == 1")
    odd = log(outcomes({"q1": "C"}))
    odd["samples"].append({"epoch": 1})
    with pytest.raises(DataValidationError, match=r"samples\[1\]: not a sample"):
        inspect_log.load(write_json(tmp_path / "c.json", odd), leaked="match == 'C'")
    flat = log([sample("q1", 1, scores={"match": "C"})])
    with pytest.raises(DataValidationError, match=r"score 'match' is 'C', not an object"):
        inspect_log.load(write_json(tmp_path / "d.json", flat), leaked="match == 'C'")
    listed = log([sample("q1", 1, scores=["C"])])
    with pytest.raises(DataValidationError, match=r"'scores' is a list, not an object"):
        inspect_log.load(write_json(tmp_path / "e.json", listed), leaked="match == 'C'")
    clash = log([sample("q1", 1, scores={"a": {"value": {"b": 1}}, "a_b": {"value": 2}})])
    with pytest.raises(DataValidationError, match=r"both become the column 'a_b'"):
        inspect_log.load(write_json(tmp_path / "f.json", clash), leaked="a_b == 1")


def test_the_sniffer_tells_inspect_logs_from_other_json(tmp_path):
    assert inspect_log.looks_like(write_json(tmp_path / "a.json", log(outcomes({"q": "C"}))))
    assert not inspect_log.looks_like(write_json(tmp_path / "lm.json", {"results": {}}))
    leakk = tmp_path / "g.json"
    leakk.write_text(json.dumps({"prompt": "q", "responses": []}) + "\n")
    assert not inspect_log.looks_like(leakk)
    assert not inspect_log.looks_like(tmp_path / "missing.eval")
    assert not inspect_log.looks_like(tmp_path)
    txt = tmp_path / "a.txt"
    txt.write_text(json.dumps(log(outcomes({"q": "C"}))))
    assert not inspect_log.looks_like(txt)
    compact = write_json(tmp_path / "c.json", log(outcomes({"q": "C"})))
    compact.write_text(json.dumps(log(outcomes({"q": "C"}))))  # one line, as json.dumps
    assert inspect_log.looks_like(compact)
