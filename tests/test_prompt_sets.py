"""Prompt sets: the shipped fictitious facts, local files, and the hub loaders (faked)."""

import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from leakstats.generate import prompts as benchmarks
from leakstats.generate.prompts import (
    PromptSetUnavailableError,
    fictitious_facts,
    from_files,
    load_muse,
    load_prompts,
    load_tofu,
    load_wmdp,
    validate_prompts,
)


def test_fictitious_facts_are_tofu_like_and_split():
    everything = fictitious_facts(split="all")
    forget, retain = fictitious_facts(), fictitious_facts(split="retain")
    assert len(everything) == 50 and len(forget) == 20 and len(retain) == 30
    assert set(forget["person"]).isdisjoint(retain["person"])
    assert everything["prompt_id"].is_unique
    for row in everything.itertuples():
        assert row.prompt.endswith("?") and row.person in row.reference
        assert all(k in row.reference for k in row.keywords)
    para = fictitious_facts(paraphrased=True)
    assert (para["prompt"] != para["question"]).all()
    assert (para["reference"] == forget["reference"]).all()


def test_fictitious_facts_file_matches_its_script():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the script
    try:
        import make_fictitious_facts
    finally:
        sys.path.pop(0)
    lines = benchmarks.fictitious_facts_path().read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == make_fictitious_facts.rows()


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_from_files_layouts(tmp_path):
    qa = write_jsonl(tmp_path / "forget10.jsonl", [
        {"question": "Q1?", "answer": "A1", "paraphrased_question": "Q1 again?"},
        {"question": "Q2?", "answer": "A2", "paraphrased_question": "Q2 again?"}])
    table = from_files(qa)
    assert table["prompt_id"].tolist() == ["forget10-0000", "forget10-0001"]
    assert table["prompt"].tolist() == ["Q1?", "Q2?"] and table["reference"].tolist() == ["A1",
                                                                                          "A2"]
    para = from_files(qa, paraphrased=True, name="tofu")
    assert para["prompt"].tolist() == ["Q1 again?", "Q2 again?"]
    assert para["prompt_id"][0] == "tofu-0000"
    verbmem = write_jsonl(tmp_path / "verbmem.jsonl", [{"prompt": "Once upon", "gt": "a time"}])
    assert from_files(verbmem)["reference"].tolist() == ["a time"]
    folder = tmp_path / "wmdp"
    folder.mkdir()
    pd.DataFrame({"question": ["Which?"], "choices": [["a", "b", "c", "d"]],
                  "answer": [3]}).to_parquet(folder / "test.parquet")
    wmdp = from_files(folder)
    assert wmdp.loc[0, "reference"] == "d" and wmdp.loc[0, "answer"] == 3
    assert "D. d" in wmdp.loc[0, "prompt"] and wmdp.loc[0, "choices"] == ["a", "b", "c", "d"]
    custom = write_jsonl(tmp_path / "c.jsonl", [{"q": "x?", "a": "y", "key": 7}])
    table = from_files(custom, question="q", answer="a", id="key")
    assert table["prompt_id"].tolist() == [7]
    csv = tmp_path / "p.csv"
    pd.DataFrame({"prompt": ["x"], "reference": ["y"]}).to_csv(csv, index=False)
    assert from_files(csv)["prompt"].tolist() == ["x"]


@pytest.mark.parametrize(
    ("rows", "kwargs", "error", "match"),
    [
        ([{"foo": 1}], {}, ValueError, "cannot tell the layout"),
        ([{"question": "q"}], {"format": "qa"}, ValueError, "no column 'answer'"),
        ([{"question": "q", "answer": "a"}], {"format": "csv"}, ValueError,
         "unknown layout 'csv'"),
        ([{"question": "q", "answer": "a", "id": 1}, {"question": "r", "answer": "b", "id": 1}],
         {"id": "id"}, ValueError, "'prompt_id' repeats"),
    ],
)
def test_from_files_bad_inputs(tmp_path, rows, kwargs, error, match):
    path = write_jsonl(tmp_path / "x.jsonl", rows)
    with pytest.raises(error, match=match):
        from_files(path, **kwargs)


def test_missing_files_and_prompt_tables(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        from_files(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .jsonl"):
        from_files(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['reference'\]"):
        validate_prompts(pd.DataFrame({"prompt_id": [1], "prompt": ["q"]}))
    with pytest.raises(ValueError, match="no rows"):
        validate_prompts(pd.DataFrame({"prompt_id": [], "prompt": [], "reference": []}))
    with pytest.raises(ValueError, match="'prompt' is missing in 1 row"):
        validate_prompts(pd.DataFrame({"prompt_id": [1], "prompt": [None], "reference": ["a"]}))
    with pytest.raises(ValueError, match="expected a prompt table"):
        validate_prompts([1, 2])


class FakeHub:
    """Stands in for the datasets package."""

    def __init__(self, tables=None, error=None):
        self.tables, self.error, self.calls = tables or {}, error, []

    def load_dataset(self, repo, config, split):
        self.calls.append((repo, config, split))
        if self.error is not None:
            raise self.error
        return self.tables[(repo, config, split)]


def install(monkeypatch, hub):
    module = types.ModuleType("datasets")
    module.load_dataset = hub.load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)


def test_hub_loaders_map_columns(monkeypatch):
    qa = pd.DataFrame({"question": ["Q?"], "answer": ["A"], "paraphrased_question": ["Q'?"]})
    hub = FakeHub({
        ("locuslab/TOFU", "forget01", "train"): qa,
        ("locuslab/TOFU", "forget05_perturbed", "train"): qa,
        ("muse-bench/MUSE-News", "knowmem", "forget_qa"): qa,
        ("muse-bench/MUSE-Books", "verbmem", "retain"): pd.DataFrame({"prompt": ["P"],
                                                                       "gt": ["G"]}),
        ("cais/wmdp", "wmdp-cyber", "test"): pd.DataFrame(
            {"question": ["Which?"], "choices": [["a", "b", "c", "d"]], "answer": [0]}),
    })
    install(monkeypatch, hub)
    assert load_tofu("forget01")["prompt_id"].tolist() == ["tofu-forget01-0000"]
    para = load_tofu("forget05", paraphrased=True)
    assert para["prompt"].tolist() == ["Q'?"] and para["source"][0] == "tofu-forget05-paraphrased"
    assert load_muse()["reference"].tolist() == ["A"]
    assert load_muse("verbmem", corpus="books", split="retain")["prompt"].tolist() == ["P"]
    assert load_wmdp("cyber")["reference"].tolist() == ["a"]
    assert load_prompts("wmdp:cyber")["answer"].tolist() == [0]
    assert load_prompts("tofu:forget01")["prompt"].tolist() == ["Q?"]
    assert load_prompts("muse:verbmem:books:retain")["reference"].tolist() == ["G"]


def test_unreachable_hub_gives_a_clear_error(monkeypatch):
    install(monkeypatch, FakeHub(error=ConnectionError("Failed to resolve 'huggingface.co'")))
    with pytest.raises(PromptSetUnavailableError,
                       match=r"(?s)could not load locuslab/TOFU.*ConnectionError.*from_files"):
        load_tofu("forget10")
    with pytest.raises(PromptSetUnavailableError, match="format='wmdp'"):
        load_wmdp("bio")


def test_missing_datasets_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ModuleNotFoundError, match="needs the datasets package.*from_files"):
        load_muse()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: load_tofu("forget20"), "argument 'split': expected one of"),
        (lambda: load_muse("rawmem"), "argument 'task'"),
        (lambda: load_muse(corpus="wiki"), "argument 'corpus'"),
        (lambda: load_wmdp("physics"), "argument 'subject'"),
        (lambda: fictitious_facts(split="test"), "argument 'split'"),
        (lambda: load_prompts(3), "expected a prompt set name"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_prompts_specs(tmp_path):
    assert len(load_prompts("fictitious")) == 20
    assert len(load_prompts("fictitious:retain:paraphrased")) == 30
    table = load_prompts(fictitious_facts())
    assert len(table) == 20
    path = write_jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}])
    assert load_prompts(str(path))["prompt"].tolist() == ["q"]
    with pytest.raises(FileNotFoundError, match="neither a file nor a known prompt set"):
        load_prompts("squad")
