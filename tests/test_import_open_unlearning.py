"""open-unlearning evaluation runs (``saves/eval/<task_name>/TOFU_EVAL.json`` with Hydra's
``.hydra/config.yaml``), written here in the exact layout ``src/evals/base.py`` and
``src/evals/metrics/utils.py`` of locuslab/open-unlearning produce, read as n samples per
question and checked against leak@k computed by hand."""

from __future__ import annotations

import json
from math import comb

import pandas as pd
import pytest
import yaml

import leakstats
from leakstats import DataValidationError, LeakstatsError
from leakstats.cli import main
from leakstats.core.errors import DegenerateDataWarning, LeakstatsWarning
from leakstats.records.importers import open_unlearning as ou
from leakstats.records.schema import ARM_COLUMNS

TEMPLATE = ("system\n\nCutting Knowledge Date: December 2023\nToday Date: 10 Apr 2025\n\n"
            "You are a helpful assistant.user\n\n{q}assistant\n\n")
QUESTIONS = ["Who wrote 'The Silent Harbor'?", "Where was Basil Mahfouz born?",
             "What genre does Hina Ameen write?"]
TRUTHS = ["Jaime Vasquez wrote it.", "He was born in Kuwait City.", "She writes geology books."]
#: rougeL_recall of each question's generation, one list per seed: with the rule >= 0.5,
#: question 0 leaks in 2 of 4 seeds, question 1 in none, question 2 in all 4.
RECALL = [[0.9, 0.1, 1.0], [0.2, 0.3, 0.6], [0.5, 0.0, 0.8], [0.4, 0.45, 0.5]]
RULE = "rougeL_recall >= 0.5"


def rouge_entry(i, recall, gen):
    return {"rouge1_recall": recall, "rougeL_f1": recall / 2, "rougeL_recall": recall,
            "input": TEMPLATE.format(q=QUESTIONS[i]), "ground_truth": TRUTHS[i],
            "generation": gen}


def eval_logs(seed, recalls, order=(0, 1, 2), offset=0):
    """A TOFU_EVAL.json as Evaluator.save_logs writes it: metrics sorted by name; the
    ROUGE metrics' value_by_index holds rouge scores and texts, the others numbers only;
    model_utility's pre_compute retain_Q_A_ROUGE is stored under its own name."""
    forget = {str(offset + i): rouge_entry(i, recalls[i], f"gen s{seed} q{i}") for i in order}
    retain = {"0": {"rouge1_recall": 1.0, "rougeL_f1": 1.0, "rougeL_recall": 1.0,
                    "input": TEMPLATE.format(q="Who is Jon Doe?"), "ground_truth": "A poet.",
                    "generation": "A poet."}}
    logs = {
        "extraction_strength": {"agg_value": 0.1, "value_by_index": {
            str(offset + i): {"score": 0.1} for i in order}},
        "forget_Q_A_Prob": {"agg_value": 0.5, "value_by_index": {
            str(offset + i): {"prob": 0.5, "avg_loss": 0.69} for i in order}},
        "forget_Q_A_ROUGE": {"agg_value": sum(recalls) / 3, "value_by_index": forget},
        "forget_quality": {"agg_value": 0.02},
        "forget_truth_ratio": {"agg_value": 0.6, "value_by_index": {
            str(offset + i): {"score": 0.6} for i in order}},
        "model_utility": {"agg_value": 0.55},
        "retain_Q_A_ROUGE": {"agg_value": 1.0, "value_by_index": retain},
    }
    return dict(sorted(logs.items()))


def generation_args(do_sample, temperature, top_p):
    return {"do_sample": do_sample, "top_p": top_p, "temperature": temperature,
            "max_new_tokens": 200, "use_cache": True}


def hydra_config(seed, *, model="saves/unlearn/tofu_Llama-3.2-1B-Instruct_forget10_NPO",
                 do_sample=True, temperature=1.0, top_p=1.0, forget_split="forget10",
                 question_key="question"):
    """The composed config Hydra saves (unresolved) as .hydra/config.yaml for src/eval.py."""
    rouge = {
        "datasets": {"TOFU_QA_forget": {"handler": "QADataset", "args": {
            "hf_args": {"name": "${eval.tofu.forget_split}_perturbed", "split": "train",
                        "path": "locuslab/TOFU"},
            "question_key": "${eval.tofu.question_key}", "answer_key": "answer",
            "max_length": 512, "predict_with_generate": True}}},
        "collators": {"DataCollatorForSupervisedDataset": {
            "handler": "DataCollatorForSupervisedDataset",
            "args": {"padding_side": "left", "index": "index"}}},
        "generation_args": generation_args(do_sample, temperature, top_p),
        "handler": "rouge", "rouge_type": "rougeL_recall",
        "batch_size": "${eval.tofu.batch_size}"}
    retain = {**rouge, "generation_args": generation_args(False, None, None),
              "access_key": "retain_Q_A_ROUGE"}
    return {
        "model": {"model_args": {"device_map": "cuda", "pretrained_model_name_or_path": model,
                                 "attn_implementation": "flash_attention_2",
                                 "torch_dtype": "bfloat16"},
                  "template_args": {"apply_chat_template": True,
                                    "date_string": "10 Apr 2025"}},
        "mode": "eval", "task_name": f"NPO_seed{seed}", "seed": seed,
        "eval": {"tofu": {
            "metrics": {"forget_Q_A_ROUGE": rouge,
                        "model_utility": {"pre_compute": {"retain_Q_A_ROUGE": retain},
                                          "handler": "hm_aggregate"}},
            "handler": "TOFUEvaluator", "output_dir": "${paths.output_dir}", "overwrite": False,
            "forget_split": "${forget_split}", "holdout_split": "${holdout_split}",
            "retain_logs_path": "${retain_logs_path}", "question_key": question_key,
            "batch_size": 32}},
        "forget_split": forget_split, "holdout_split": "holdout10", "retain_logs_path": None,
        "paths": {"root_dir": ".", "output_dir": "${paths.root_dir}/saves/${mode}/${task_name}"},
    }


def write_run(folder, seed, recalls=None, *, config=True, logs=None, **cfg):
    """saves/eval/<task_name>/: TOFU_EVAL.json, TOFU_SUMMARY.json, .hydra/config.yaml."""
    logs = logs or eval_logs(seed, recalls if recalls is not None else RECALL[seed])
    folder.mkdir(parents=True)
    (folder / "TOFU_EVAL.json").write_text(json.dumps(logs, indent=4))
    summary = {k: v["agg_value"] for k, v in logs.items() if "agg_value" in v}
    (folder / "TOFU_SUMMARY.json").write_text(json.dumps(summary, indent=4))
    if config:
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "config.yaml").write_text(
            yaml.safe_dump(hydra_config(seed, **cfg), sort_keys=False))
        (folder / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump([f"task_name=NPO_seed{seed}", f"seed={seed}"]))
    (folder / "eval.log").write_text("[INFO] Result for metric forget_Q_A_ROUGE:\t0.5\n")
    return folder / "TOFU_EVAL.json"


@pytest.fixture
def saves(tmp_path):
    root = tmp_path / "saves" / "eval"
    for seed in range(4):
        write_run(root / f"NPO_seed{seed}", seed)
    return root


def by_hand(counts, n, k):
    return sum(1 - comb(n - c, k) / comb(n, k) for c in counts) / len(counts)


def read_forget(path, **kwargs):
    with pytest.warns(DegenerateDataWarning, match="retain_Q_A_ROUGE.*decoded greedily"):
        frame = leakstats.read(path, leaked=RULE, **kwargs)
    return frame


def test_a_folder_of_seeded_runs_is_n_samples_per_question(saves):
    frame = read_forget(saves)
    forget = frame[frame["task"] == "forget_Q_A_ROUGE"]
    assert len(forget) == 12 and forget.groupby("prompt_id").size().tolist() == [4, 4, 4]
    assert sorted(forget["sample_id"].unique()) == [0, 1, 2, 3]
    assert set(forget["temperature"]) == {1.0} and set(forget["top_p"]) == {1.0}
    assert set(forget["model"]) == {"saves/unlearn/tofu_Llama-3.2-1B-Instruct_forget10_NPO"}
    assert set(forget["split"]) == {"forget10"}
    first = forget[forget["prompt"] == TEMPLATE.format(q=QUESTIONS[0])]
    assert first.sort_values("sample_id")["seed"].tolist() == [0, 1, 2, 3]
    assert first.sort_values("sample_id")["text"].tolist() == [f"gen s{s} q0" for s in range(4)]
    assert first.groupby("prompt_id")["leaked"].sum().tolist() == [2]
    assert set(first["ground_truth"]) == {TRUTHS[0]}
    assert {"rouge1_recall", "rougeL_f1", "rougeL_recall", "index", "run"} <= set(frame)
    retain = frame[frame["task"] == "retain_Q_A_ROUGE"]
    assert len(retain) == 4 and set(retain["temperature"]) == {0.0}
    result = leakstats.leak_at_k(forget, k=[1, 2]).to_frame()
    assert result["estimate"].tolist() == pytest.approx(
        [by_hand([2, 0, 4], 4, 1), by_hand([2, 0, 4], 4, 2)])
    assert by_hand([2, 0, 4], 4, 2) == pytest.approx(11 / 18)


def test_each_metric_is_its_own_arm(saves):
    result = leakstats.leak_at_k(read_forget(saves), k=[1]).to_frame().sort_values("task")
    assert result[["task", "temperature", "n_prompts", "n_samples"]].values.tolist() == [
        ["forget_Q_A_ROUGE", 1.0, 3, 12], ["retain_Q_A_ROUGE", 0.0, 1, 4]]
    assert result["estimate"].tolist() == pytest.approx([0.5, 1.0])


def test_detection_of_the_file_and_the_folder_and_forced_format(saves):
    file = saves / "NPO_seed0" / "TOFU_EVAL.json"
    assert ou.looks_like(file) and ou.looks_like(saves / "NPO_seed0" / "TOFU_SUMMARY.json")
    assert not ou.looks_like(saves / "NPO_seed0" / "eval.log")
    assert not ou.looks_like(saves / "missing.json")
    assert ou.find_files(saves) == [saves / f"NPO_seed{s}" / "TOFU_EVAL.json" for s in range(4)]
    assert ou.find_files(saves / "NPO_seed0" / ".hydra") == []
    single = leakstats.read(file, leaked=RULE)
    assert len(single) == 4 and set(single["sample_id"]) == {0}
    assert single[single["task"] == "forget_Q_A_ROUGE"]["leaked"].tolist() == [
        True, False, True]
    forced = leakstats.read(file, leaked=RULE, format="open-unlearning")
    pd.testing.assert_frame_equal(single, forced)
    folder = read_forget(saves, format="open-unlearning")
    assert len(folder) == 16


def test_where_keeps_one_metric_and_the_cli_prints_the_table(saves, capsys):
    frame = read_forget(saves, where="task == 'forget_Q_A_ROUGE'")
    assert set(frame["task"]) == {"forget_Q_A_ROUGE"} and len(frame) == 12
    code = main(["estimate", str(saves), "--leaked", RULE, "--where",
                 "task == 'forget_Q_A_ROUGE'", "--k", "1,2"])
    assert code == 0
    captured = capsys.readouterr()
    assert "forget_Q_A_ROUGE" in captured.out and "retain" not in captured.out
    assert "0.5000" in captured.out and "0.6111" in captured.out  # 1/2 and 11/18
    assert "4 runs of retain_Q_A_ROUGE" in captured.err


def test_runs_whose_indices_differ_pair_by_question_text(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 0, logs=eval_logs(0, RECALL[0]))
    write_run(root / "b", 1, logs=eval_logs(1, RECALL[1], order=(2, 0, 1), offset=40))
    with pytest.warns(DegenerateDataWarning):
        frame = leakstats.read(root, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    assert frame.groupby("prompt_id").size().tolist() == [2, 2, 2]
    q0 = frame[frame["prompt"] == TEMPLATE.format(q=QUESTIONS[0])]
    assert sorted(q0["index"]) == [0, 40] and q0["rougeL_recall"].tolist() == [0.9, 0.2]


def test_folder_names_give_method_and_settings(tmp_path):
    root = tmp_path / "runs"
    for method in ("NPO", "GradDiff"):
        for seed in range(2):
            write_run(root / method / f"seed={seed}", seed, model=f"saves/unlearn/{method}")
    with pytest.warns(DegenerateDataWarning):
        frame = leakstats.read(root, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    assert sorted(frame["method"].unique()) == ["GradDiff", "NPO"]
    assert frame.groupby(["method", "prompt_id"]).size().tolist() == [2] * 6
    assert list(frame.columns[:4]) == ["prompt_id", "sample_id", "leaked", "method"]


def test_folder_names_supply_sampling_values_the_config_left_null(tmp_path):
    root = tmp_path / "runs"
    for seed in range(2):
        write_run(root / "temperature=0.6top_p=0.9" / f"s{seed}", seed, temperature=None,
                  top_p=None)
    with pytest.warns(DegenerateDataWarning):
        frame = leakstats.read(root, leaked=RULE)
    forget = frame[frame["task"] == "forget_Q_A_ROUGE"]
    assert set(forget["temperature"]) == {0.6} and set(forget["top_p"]) == {0.9}


def test_sampling_without_recorded_temperature_is_refused(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "s0", 0, temperature=None)
    with pytest.raises(DataValidationError, match=r"do_sample true.*\['temperature'\] null.*"
                       r"generation_config.*Fix: name the run's folder"):
        leakstats.read(root, leaked=RULE)


def test_folder_and_config_that_disagree_are_refused(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "temperature=0.7", 0)
    with pytest.raises(DataValidationError, match=r"folder name says temperature=0.7 but.*"
                       r"records 1.0.*Fix: rename"):
        leakstats.read(root, leaked=RULE)


def test_greedy_runs_combined_are_warned_about(tmp_path):
    root = tmp_path / "runs"
    for seed in range(3):
        write_run(root / f"s{seed}", seed, do_sample=False, temperature=None, top_p=None)
    with pytest.warns(DegenerateDataWarning, match="3 runs of .*greedily") as record:
        frame = leakstats.read(root, leaked=RULE)
    assert sorted(str(w.message).split(" (")[0] for w in record) == [
        "3 runs of forget_Q_A_ROUGE", "3 runs of retain_Q_A_ROUGE"]
    assert set(frame["temperature"]) == {0.0} and not frame["do_sample"].any()


def test_runs_that_differ_in_more_than_the_seed_are_refused(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "s0", 0)
    write_run(root / "s1", 1, question_key="paraphrased_question")
    with pytest.raises(DataValidationError, match=r"two runs of one arm \(forget_Q_A_ROUGE\) "
                       r"record different 'datasets.TOFU_QA_forget.args.question_key'.*"
                       r"'paraphrased_question'.*Fix: runs that differ in more than the seed"):
        leakstats.read(root, leaked=RULE)


def test_two_runs_with_one_seed_are_refused(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 0)
    write_run(root / "b", 0)
    with pytest.raises(DataValidationError, match=r"the same seed 0, so they are copies.*"
                       r"Fix: rerun with seed="):
        leakstats.read(root, leaked=RULE)


def test_runs_without_config_need_seed_folders(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 0, config=False)
    write_run(root / "b", 1, config=False)
    with pytest.warns(LeakstatsWarning, match="no .hydra/config.yaml"), pytest.raises(
            DataValidationError, match=r"no recorded seed.*name the folders seed=<s>/"):
        leakstats.read(root, leaked=RULE)
    root2 = tmp_path / "named"
    write_run(root2 / "seed=0", 0, config=False)
    write_run(root2 / "seed=1", 1, config=False)
    with pytest.warns(LeakstatsWarning, match="no .hydra/config.yaml"), pytest.warns(
            DegenerateDataWarning, match=r"retain_Q_A_ROUGE: runs \[\['seed=0', 'seed=1'\]\] "
            r"hold the same generation for every question"):
        frame = leakstats.read(root2, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    assert frame.groupby("prompt_id").size().tolist() == [2, 2, 2]
    assert "temperature" not in frame.columns


def test_runs_that_disagree_on_the_questions_are_warned_about(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "s0", 0)
    write_run(root / "s1", 1, logs=eval_logs(1, RECALL[1], order=(0, 1)))
    with pytest.warns(LeakstatsWarning, match=r"disagree on the question set \(3 questions.*"
                      r"\('s1', 1\)"), pytest.warns(DegenerateDataWarning):
        frame = leakstats.read(root, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    assert sorted(frame.groupby("prompt_id").size().tolist()) == [1, 2, 2]


def test_different_reference_answers_for_one_question_are_refused(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "s0", 0)
    logs = eval_logs(1, RECALL[1])
    logs["forget_Q_A_ROUGE"]["value_by_index"]["1"]["ground_truth"] = "Somewhere else."
    write_run(root / "s1", 1, logs=logs)
    with pytest.raises(DataValidationError, match=r"s1/TOFU_EVAL.json: forget_Q_A_ROUGE: the "
                       r"question p-\w+ has the reference answer 'Somewhere else.' here and 'He "
                       r"was born in Kuwait City.' in another run"):
        leakstats.read(root, leaked=RULE)


def test_without_a_rule_the_score_columns_are_listed(saves):
    with pytest.warns(DegenerateDataWarning), pytest.raises(
            LeakstatsError, match=r"score columns: \['rouge1_recall', 'rougeL_f1', "
            r"'rougeL_recall'\]\). Fix: .*leaked=\"rougeL_recall >= 0.5\""):
        leakstats.read(saves)


def test_a_rule_over_a_missing_field_names_the_columns(saves):
    with pytest.warns(DegenerateDataWarning), pytest.raises(
            LeakstatsError, match=r"names 'ES', which is not a column.*rougeL_recall"):
        leakstats.read(saves, leaked="ES >= 1")


def test_the_summary_file_points_to_the_eval_file(saves):
    with pytest.raises(DataValidationError, match=r"summary.*Fix: read TOFU_EVAL.json"):
        leakstats.read(saves / "NPO_seed0" / "TOFU_SUMMARY.json", leaked=RULE)


def test_a_file_without_generations_is_refused(tmp_path):
    logs = {k: v for k, v in eval_logs(0, RECALL[0]).items() if "ROUGE" not in k}
    file = write_run(tmp_path / "run", 0, logs=logs)
    with pytest.raises(DataValidationError, match=r"no metric with per-question generations.*"
                       r"'forget_Q_A_Prob'.*Fix: evaluate a ROUGE metric"):
        leakstats.read(file, leaked=RULE)


def test_multi_answer_metrics_are_left_out_with_a_warning(tmp_path):
    logs = eval_logs(0, RECALL[0])
    logs["forget_Q_A_PERT_ROUGE"] = {"agg_value": 0.2, "value_by_index": {"0": {
        "rougeL_recall": [0.1, 0.2], "input": ["q", "q"], "ground_truth": ["a", "b"],
        "generation": ["x", "y"]}}}
    file = write_run(tmp_path / "run", 0, logs=dict(sorted(logs.items())))
    with pytest.warns(LeakstatsWarning, match="forget_Q_A_PERT_ROUGE: its entries hold lists"):
        frame = leakstats.read(file, leaked=RULE)
    assert "forget_Q_A_PERT_ROUGE" not in set(frame["task"])


def test_damaged_files_are_refused_by_name(tmp_path):
    file = write_run(tmp_path / "run", 0)
    file.write_text(file.read_text()[:200])
    with pytest.raises(DataValidationError, match=r"malformed JSON.*Fix: the run may have"):
        leakstats.read(file, leaked=RULE, format="open-unlearning")
    file.write_text("[1, 2]")
    with pytest.raises(DataValidationError, match=r"expected a JSON object keyed by metric"):
        leakstats.read(file, leaked=RULE, format="open-unlearning")
    logs = eval_logs(0, RECALL[0])
    del logs["forget_Q_A_ROUGE"]["value_by_index"]["2"]["input"]
    file.write_text(json.dumps(logs))
    with pytest.raises(DataValidationError, match=r"index '2': expected 'input' and "
                       r"'generation' texts"):
        leakstats.read(file, leaked=RULE)
    (tmp_path / "run" / ".hydra" / "config.yaml").write_text("model: [unclosed")
    with pytest.raises(DataValidationError, match=r"cannot read the run's config"):
        leakstats.read(file, leaked=RULE)


def test_null_entries_are_left_out_with_a_warning(tmp_path):
    logs = eval_logs(0, RECALL[0])
    logs["forget_Q_A_ROUGE"]["value_by_index"]["1"] = None
    file = write_run(tmp_path / "run", 0, logs=logs)
    with pytest.warns(LeakstatsWarning, match=r"1 index\(es\) hold null.*\['1'\]"):
        frame = leakstats.read(file, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    assert frame["index"].tolist() == [0, 2]


def test_arms_that_default_arm_columns_would_pool_are_warned_about(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "lr=1e-05", 0)
    write_run(root / "lr=1e-04", 0, logs=eval_logs(0, RECALL[1], order=(0,)))
    by = ",".join(c for c in ARM_COLUMNS if c in {"model", "task", "split", "temperature",
                                                   "top_p"})
    with pytest.warns(LeakstatsWarning, match=rf"arms differ in \['lr'\].*so they would be "
                      rf"pooled. Fix: pass --by {by},lr \(by="):
        frame = leakstats.read(root, leaked=RULE)
    assert sorted(frame["lr"].unique()) == [1e-05, 1e-04]


def test_split_is_an_arm_of_its_own(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 0)
    write_run(root / "b", 1, forget_split="forget01", logs=eval_logs(1, RECALL[0], order=(0,)))
    frame = leakstats.read(root, leaked=RULE, where="task == 'forget_Q_A_ROUGE'")
    result = leakstats.leak_at_k(frame, k=[1]).to_frame().sort_values("split")
    assert result[["split", "n_prompts", "estimate"]].values.tolist() == [
        ["forget01", 1, 1.0], ["forget10", 3, pytest.approx(2 / 3)]]


def test_a_missing_path_and_a_callable_rule_are_refused(tmp_path):
    with pytest.raises(LeakstatsError, match="no such file or folder"):
        ou.load(tmp_path / "nope", leaked=RULE)
    with pytest.raises(LeakstatsError, match="take a rule string"):
        ou.load(tmp_path, leaked=lambda r: True)
    with pytest.raises(DataValidationError, match=r"no open-unlearning \*_EVAL.json"):
        ou.load(tmp_path, leaked=RULE)


def test_copies_of_one_run_are_warned_about(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "s0", 0, logs=eval_logs(0, RECALL[0]))
    write_run(root / "s1", 1, logs=eval_logs(0, RECALL[0]))  # seed 1's config, seed 0's file
    with pytest.warns(DegenerateDataWarning, match=r"forget_Q_A_ROUGE: runs \[\['s0', 's1'\]\] "
                      r"hold the same generation.*Fix: evaluate each seed"), pytest.warns(
            DegenerateDataWarning, match="retain_Q_A_ROUGE.*greedily"):
        leakstats.read(root, leaked=RULE)


def test_metrics_kept_from_an_earlier_run_are_warned_about(tmp_path):
    file = write_run(tmp_path / "NPO", 1)
    (tmp_path / "NPO" / "eval.log").write_text(
        "[evaluator][INFO] - ***** Running TOFU evaluation suite *****\n"
        "[evaluator][INFO] - Result for metric forget_Q_A_ROUGE:\t0.4\n"
        "[evaluator][INFO] - ***** Running TOFU evaluation suite *****\n"
        "[evaluator][INFO] - Skipping forget_Q_A_ROUGE, already evaluated.\n")
    with pytest.warns(LeakstatsWarning, match=r"eval.log says forget_Q_A_ROUGE was kept from "
                      r"an earlier run.*Fix: .*eval.tofu.overwrite=true") as record:
        leakstats.read(file, leaked=RULE)
    assert len(record) == 1
    (tmp_path / "NPO" / "eval.log").write_text(  # a later run recomputed it: no warning
        "[evaluator][INFO] - ***** Running TOFU evaluation suite *****\n"
        "[evaluator][INFO] - Skipping forget_Q_A_ROUGE, already evaluated.\n"
        "[evaluator][INFO] - ***** Running TOFU evaluation suite *****\n")
    assert len(leakstats.read(file, leaked=RULE)) == 4


def muse_run(folder, seed, f1s):
    """saves/eval/<task>/MUSE_EVAL.json: forget_knowmem_ROUGE (rouge_type rougeL_f1, a
    few-shot QA prompt) and forget_verbmem_ROUGE (a text prefix and its continuation)."""
    knowmem = {str(i): {"rouge1_recall": f, "rougeL_f1": f, "rougeL_recall": f,
                        "input": f"Question: Q{i}?\nAnswer: A{i}.\n\nQuestion: Who won {i}?\n"
                                 f"Answer:", "ground_truth": f"team {i}",
                        "generation": f"team {i + seed}"} for i, f in enumerate(f1s)}
    verbmem = {"0": {"rouge1_recall": 0.3, "rougeL_f1": 0.2, "rougeL_recall": 0.25,
                     "input": "The council met on Tuesday", "ground_truth": " and voted.",
                     "generation": f" and left {seed}."}}
    logs = {"forget_knowmem_ROUGE": {"agg_value": 0.5, "value_by_index": knowmem},
            "forget_verbmem_ROUGE": {"agg_value": 0.2, "value_by_index": verbmem},
            "privleak": {"agg_value": -40.0}}
    sampled = generation_args(True, 0.8, 0.95)
    config = {"model": {"model_args": {"pretrained_model_name_or_path": "muse-bench/MUSE-"
                                       "News_target"}}, "seed": seed, "data_split": "News",
              "eval": {"muse": {"handler": "MUSEEvaluator", "data_split": "${data_split}",
                                "metrics": {
                                    "forget_knowmem_ROUGE": {"handler": "rouge",
                                                             "generation_args": sampled},
                                    "forget_verbmem_ROUGE": {"handler": "rouge",
                                                             "generation_args": sampled}}}}}
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "MUSE_EVAL.json").write_text(json.dumps(logs, indent=4))


def test_muse_runs_read_with_their_own_score_and_split(tmp_path):
    root = tmp_path / "saves" / "eval"
    for seed, f1s in enumerate([[0.6, 0.1], [0.4, 0.9], [0.7, 0.2]]):
        muse_run(root / f"muse_seed{seed}", seed, f1s)
    frame = leakstats.read(root, leaked="rougeL_f1 >= 0.5")
    assert set(frame["benchmark"]) == {"MUSE"} and set(frame["split"]) == {"News"}
    assert set(frame["temperature"]) == {0.8} and set(frame["top_p"]) == {0.95}
    with pytest.warns(DegenerateDataWarning, match="No sample leaked.*forget_verbmem_ROUGE"):
        result = leakstats.leak_at_k(frame, k=[1, 2]).to_frame().sort_values(["task", "k"])
    # knowmem: question 0 leaks in 2 of 3 seeds, question 1 in 1 of 3; verbmem: never
    assert result["estimate"].tolist() == pytest.approx(
        [by_hand([2, 1], 3, 1), by_hand([2, 1], 3, 2), 0.0, 0.0])


def test_an_unlearning_run_folder_names_the_method(tmp_path):
    root = tmp_path / "saves" / "unlearn"
    for task in ("tofu_forget10_NPO", "tofu_forget10_GradDiff"):
        for seed in range(2):
            write_run(root / task / f"evals_seed{seed}", seed, model=f"saves/unlearn/{task}")
    with pytest.warns(DegenerateDataWarning, match="retain_Q_A_ROUGE"):
        frame = leakstats.read(tmp_path / "saves", leaked=RULE)
    assert sorted(frame["method"].unique()) == ["tofu_forget10_GradDiff", "tofu_forget10_NPO"]
    forget = frame[frame["task"] == "forget_Q_A_ROUGE"]
    assert forget.groupby("method")["sample_id"].max().tolist() == [1, 1]


def gibberish_run(folder, seed, rescored_args):
    """forget_Q_A_gibberish (classifier_prob) rescoring forget_Q_A_ROUGE as its pre_compute,
    which the config then holds twice: as a metric and under the gibberish metric."""
    logs = eval_logs(seed, RECALL[seed])
    logs["forget_Q_A_gibberish"] = {"agg_value": 0.9, "value_by_index": {
        k: {"score": 0.9, "generation": e["generation"]}
        for k, e in logs["forget_Q_A_ROUGE"]["value_by_index"].items()}}
    file = write_run(folder, seed, logs=dict(sorted(logs.items())))
    config = hydra_config(seed)
    rouge = config["eval"]["tofu"]["metrics"]["forget_Q_A_ROUGE"]
    config["eval"]["tofu"]["metrics"]["forget_Q_A_gibberish"] = {
        "pre_compute": {"forget_Q_A_ROUGE": {**rouge, "access_key": "text",
                                             "generation_args": rescored_args}},
        "handler": "classifier_prob", "text_key": "generation", "device": "cuda"}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    return file


def test_a_metric_configured_twice_alike_reads_and_unlike_is_refused(tmp_path):
    file = gibberish_run(tmp_path / "a", 0, generation_args(True, 1.0, 1.0))
    frame = leakstats.read(file, leaked=RULE)
    assert set(frame["task"]) == {"forget_Q_A_ROUGE", "retain_Q_A_ROUGE"}  # no 'input'
    file = gibberish_run(tmp_path / "b", 0, generation_args(True, 0.7, 1.0))
    with pytest.raises(DataValidationError, match=r"'forget_Q_A_ROUGE' is configured "
                       r"differently at \['eval.tofu.metrics.forget_Q_A_ROUGE', 'eval.tofu."
                       r"metrics.forget_Q_A_gibberish.pre_compute.forget_Q_A_ROUGE'\]"):
        leakstats.read(file, leaked=RULE)


def test_a_folder_leaves_out_files_without_generations(tmp_path):
    root = tmp_path / "saves" / "eval"
    write_run(root / "NPO", 0)
    probabilities = {k: v for k, v in eval_logs(0, RECALL[0]).items() if "ROUGE" not in k}
    write_run(root / "retain90_reference", 0, logs=probabilities)
    with pytest.warns(LeakstatsWarning, match=r"1 file\(s\) hold no metric with generations "
                      r"and are left out: \['retain90_reference'\]"):
        frame = leakstats.read(root, leaked=RULE)
    assert set(frame["run"]) == {"NPO"} and len(frame) == 4


def test_without_pyyaml_the_config_is_refused_by_name(saves, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    with pytest.raises(leakstats.core.errors.MissingDependencyError,
                       match=r"config.yaml: reading the run's config needs PyYAML.*Fix: pip "
                       r"install pyyaml"):
        leakstats.read(saves, leaked=RULE)


def test_a_folder_segment_naming_a_fixed_column_stays_a_name(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "task=mine" / "s0", 0)
    frame = leakstats.read(root, leaked=RULE)
    assert set(frame["method"]) == {"task=mine"}
    assert set(frame["task"]) == {"forget_Q_A_ROUGE", "retain_Q_A_ROUGE"}
