"""The Leak@k authors' output tree, in the exact layout their pipeline writes, read in one
command and checked against their formula."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leakstats
from leakstats import DataValidationError, LeakstatsError
from leakstats.cli import main

METHODS = ("NPO", "GradDiff", "SimNPO")
CONFIGS = ("temperature=1.0top_p=1.0", "temperature=0.8top_p=1.0")
N, P, KS = 20, 12, (1, 2, 4, 8, 16)
PREFIX = "system\n\nCutting Knowledge Date: December 2023\n\nYou are a helpful assistant.user\n\n"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def build_tree(root, seed=0):
    """saves/eval/<Method>/forget/<config>/generations_n20{,_evaluated,_llm_judge}.json as
    whole_eval.py and LLM_judge.py write them (phase 1 responses with rougeL_recall; phase 2
    adds CS, ES and per-line Best/Avg; the LLM judge adds LLM_judge, at T = 0.8 only)."""
    rng = np.random.default_rng(seed)
    for m, method in enumerate(METHODS):
        for config in CONFIGS:
            folder = root / method / "forget" / config
            folder.mkdir(parents=True)
            p = rng.beta(0.4, 2.0 + m, P)
            base, evaluated, judged = [], [], []
            for i in range(P):
                es = (rng.random(N) < p[i]).astype(float)
                responses = [{"response": f"answer {i}-{j}", "rougeL_recall": float(rng.random())}
                             for j in range(N)]
                line = {"prompt": PREFIX + f"Question {i} about author {i % 5}?",
                        "ground_truth": f"truth {i}", "responses": responses}
                base.append(line)
                ev = [{**r, "CS": float(rng.random()), "ES": float(e)}
                      for r, e in zip(responses, es, strict=True)]
                evaluated.append({**line, "responses": ev, "Best CS": 1.0, "Avg CS": 0.5,
                                  "Best ES": float(es.max()), "Avg ES": float(es.mean())})
                judged.append({**line, "responses": [
                    {**r, "LLM_judge": int(rng.random() < p[i])} for r in responses]})
            write_jsonl(folder / "generations_n20.json", base)
            write_jsonl(folder / "generations_n20_evaluated.json", evaluated)
            if config.startswith("temperature=0.8"):
                write_jsonl(folder / "generations_n20_llm_judge.json", judged)
    return root


def authors_leak_at_k(path, k):
    """Their phase-3 aggregation, written out: n responses, c with ES == 1, pass@k."""
    total, entries = 0.0, 0
    for line in path.read_text().splitlines():
        data = json.loads(line)
        n = len(data["responses"])
        c = sum(1 for r in data["responses"] if r.get("ES") == 1)
        total += 0.0 if k > n else 1.0 - (0 if n - c < k else math.comb(n - c, k)) / math.comb(n, k)
        entries += 1
    return total / entries


@pytest.fixture
def tree(tmp_path):
    return build_tree(tmp_path / "saves" / "eval")


def test_the_tree_gives_the_authors_numbers_in_one_command(tree, capsys):
    code = main(["estimate", str(tree), "--leaked", "ES == 1", "--by", "method,temperature",
                 "--k", ",".join(map(str, KS)), "--format", "csv"])
    assert code == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(table) == len(METHODS) * len(CONFIGS) * len(KS)
    for row in table.itertuples():
        config = f"temperature={row.temperature:.1f}top_p=1.0"
        path = tree / row.method / "forget" / config / "generations_n20_evaluated.json"
        assert row.estimate == pytest.approx(authors_leak_at_k(path, row.k), abs=1e-12)
        assert row.n_prompts == P and row.n_samples == P * N


def test_the_folder_names_become_columns_and_judges_merge(tree):
    with pytest.warns(leakstats.LeakstatsWarning, match="the folder is left out"):
        records = leakstats.read(tree, leaked="ES == 1 or LLM_judge == 1")
    assert set(records["temperature"]) == {0.8}  # only there do both judges exist
    assert set(records["method"]) == set(METHODS) and set(records["split"]) == {"forget"}
    assert set(records["top_p"]) == {1.0} and {"CS", "ES", "LLM_judge"} <= set(records)
    assert len(records) == len(METHODS) * P * N
    # the LLM judge ran at T = 0.8 only: folders without it are left out, with a word
    with pytest.warns(leakstats.LeakstatsWarning, match=r"temperature=1.0top_p=1.0: no judge "
                                                       r"file there has \['LLM_judge'\]"):
        judged = leakstats.read(tree, leaked="LLM_judge == 1")
    assert set(judged["temperature"]) == {0.8}


def test_a_dropped_line_never_mispairs_prompts(tree):
    path = tree / "NPO" / "forget" / CONFIGS[0] / "generations_n20_evaluated.json"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # phase 2 skipped line 4
    with pytest.warns(leakstats.LeakstatsWarning, match=r"1 prompt\(s\) lack \['ES'\].*lines "
                                                       r"\[4\]"):
        records = leakstats.read(tree, leaked="ES == 1", where="temperature == 1")
    ids = records.drop_duplicates(["method", "prompt_id"]).groupby("method")["prompt_id"].apply(
        set)
    assert len(ids["NPO"]) == P - 1 and ids["NPO"] < ids["GradDiff"]  # same ids, one fewer
    with pytest.raises(DataValidationError, match="prompt"):  # compare names what is missing
        leakstats.compare(records, k=1)
    dropped = leakstats.compare(records, k=1, missing="drop").dropped()
    assert len(dropped) >= 1


def test_judge_files_that_disagree_are_refused(tree):
    path = tree / "GradDiff" / "forget" / CONFIGS[1] / "generations_n20_llm_judge.json"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[2]["responses"] = rows[2]["responses"][:-1]
    write_jsonl(path, rows)
    with pytest.raises(DataValidationError, match="19 responses where another file"):
        leakstats.read(tree, leaked="ES == 1")


def test_a_tree_needs_a_rule(tree, capsys):
    with pytest.raises(LeakstatsError,
                       match=r"generation files.*Fix: read it with leakstats.read\(path, leaked="):
        leakstats.read(tree)
    assert main(["estimate", str(tree), "--k", "1"]) == 2
    assert "--leaked" in capsys.readouterr().err


# --------------------------------------------------------------------------- published sums

PUBLISHED = Path(__file__).parent / "data" / "leakk_published"


def their_summary(path, k_values=(1, 2, 4, 8, 16), total_entries=400):
    """Their pass@k.py aggregation, written out: the first 400 lines, lines without
    'responses' skipped, k > n scored 0, and the sum divided by 400 whatever was read."""
    sums = dict.fromkeys(k_values, 0.0)
    for i, line in enumerate(path.read_text().splitlines()):
        if i >= total_entries:
            break
        data = json.loads(line)
        if "responses" not in data:
            continue
        n = len(data["responses"])
        c = sum(1 for r in data["responses"] if r.get("ES") == 1)
        for k in k_values:
            sums[k] += 0.0 if k > n else 1.0 - (
                0 if n - c < k else math.comb(n - c, k)) / math.comb(n, k)
    return {str(k): s / total_entries for k, s in sums.items()}


def test_published_summary_file_reads_as_published():
    table = leakstats.read_leakk_summary(PUBLISHED)
    assert table[["method", "split", "temperature", "top_p"]].drop_duplicates().values.tolist() \
        == [["NPO", "forget", 1.0, 1.0]]
    assert table["k"].tolist() == [1, 2, 4, 8, 16, 32, 64, 128]
    assert table["published"].iloc[0] == 0.35328749999999975  # as written, not rounded
    assert (table["source"] == "NPO/forget/temperature=1.0top_p=1.0/rougeL_summary.json").all()


def test_published_summaries_match_leakstats_on_400_prompts_and_say_why_not_otherwise(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "eval" / "NPO" / "forget" / "temperature=1.0top_p=1.0"
    folder.mkdir(parents=True)
    lines = [{"prompt": f"Q{i}?", "ground_truth": "a", "responses": [
        {"response": f"r{j}", "ES": float(rng.random() < 0.3)} for j in range(20)]}
        for i in range(400)]
    gen = folder / "generations_n20.json"
    write_jsonl(gen, lines)
    (folder / "rougeL_summary.json").write_text(json.dumps(their_summary(gen)))
    (folder / "rougeL_summary copy.json").write_text("{}")  # a stray copy is not read
    published = leakstats.read_leakk_summary(tmp_path / "eval")
    ours = leakstats.leak_at_k(leakstats.read(tmp_path / "eval", leaked="ES == 1"),
                               k=[1, 2, 4, 8, 16]).to_frame()
    np.testing.assert_allclose(published["published"], ours["estimate"], rtol=1e-12)
    # one line fewer: their sum is still divided by 400, the mean over the 399 prompts is not
    write_jsonl(gen, lines[:-1])
    (folder / "rougeL_summary.json").write_text(json.dumps(their_summary(gen)))
    published = leakstats.read_leakk_summary(tmp_path / "eval")
    ours = leakstats.leak_at_k(leakstats.read(tmp_path / "eval", leaked="ES == 1"),
                               k=[1, 2, 4, 8, 16]).to_frame()
    np.testing.assert_allclose(published["published"], ours["estimate"] * 399 / 400, rtol=1e-12)


@pytest.mark.parametrize(("content", "match"), [
    ("[1, 2]", "expected an object of k -> leak@k"),
    ('{"one": 0.3}', "entry 'one'"),
    ('{"1": 1.5}', "entry '1': 1.5"),
    ('{"1": 0.3', "not readable as JSON"),
])
def test_bad_published_summaries_are_named(tmp_path, content, match):
    path = tmp_path / "rougeL_summary.json"
    path.write_text(content)
    with pytest.raises(DataValidationError, match=match):
        leakstats.read_leakk_summary(path)


def test_published_summary_paths(tmp_path):
    with pytest.raises(leakstats.LeakstatsError, match="no such file or folder"):
        leakstats.read_leakk_summary(tmp_path / "nope")
    with pytest.raises(leakstats.LeakstatsError, match="holds no rougeL_summary.json"):
        leakstats.read_leakk_summary(tmp_path)


def test_forget_and_retain_folders_are_separate_arms_by_default(tmp_path):
    root = tmp_path / "eval"
    for split, rate in (("forget", 1.0), ("retain", 0.0)):
        folder = root / "NPO" / split / "temperature=1.0top_p=1.0"
        folder.mkdir(parents=True)
        write_jsonl(folder / "generations_n4_evaluated.json", [
            {"prompt": f"{split} Q{i}?", "responses": [{"response": "r", "ES": rate}] * 4}
            for i in range(3)])
    with pytest.warns(leakstats.DegenerateDataWarning):
        table = leakstats.leak_at_k(leakstats.read(root, leaked="ES == 1"), k=1).to_frame()
    assert table[["split", "estimate"]].values.tolist() == [["forget", 1.0], ["retain", 0.0]]
