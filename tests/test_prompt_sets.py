"""Prompt sets: the shipped fictitious facts, local files, and the hub loaders (faked)."""

import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from leakstats.generate import prompts as benchmarks
from leakstats.generate._hub import is_network_error
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
    assert table["prompt"].tolist() == ["Q1?", "Q2?"]
    assert table["reference"].tolist() == ["A1", "A2"]
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


# ------------------------------------------- the stand-in hub, with the schemas of the hub
# TOFU configs hold one split, "train"; *_perturbed add paraphrased_question/_answer and
# perturbed_answer (list of str). MUSE knowmem: question, answer; verbmem: prompt, gt. WMDP:
# question, choices (4 str), answer (int64). See leakstats/generate/prompt_sets.py.
TOFU_PLAIN = ("full", "forget01", "forget05", "forget10", "retain90", "retain95", "retain99",
              "holdout01", "holdout05", "holdout10")
TOFU_PERTURBED = ("forget01_perturbed", "forget05_perturbed", "forget10_perturbed",
                  "retain_perturbed")


def tofu_rows(config):
    rows = [{"question": f"{config} Q{i}?", "answer": f"{config} A{i}."} for i in range(2)]
    if config.endswith("_perturbed"):
        for i, row in enumerate(rows):
            row.update(paraphrased_answer=f"{config} A{i} again.",
                       paraphrased_question=f"{config} Q{i}, put differently?",
                       perturbed_answer=[f"wrong {i}a", f"wrong {i}b", f"wrong {i}c"])
    return rows


def muse_knowmem(corpus):
    sizes = {"forget_qa": 3, "retain_qa": 2, "forget_qa_icl": 2, "retain_qa_icl": 2}
    return {s: [{"answer": f"{corpus} {s} A{i}", "question": f"{corpus} {s} Q{i}?"}
                for i in range(n)] for s, n in sizes.items()}


def wmdp_rows(subject):
    return [{"answer": 2, "question": f"{subject}: which one?", "choices": ["w", "x", "y", "z"]},
            {"answer": 0, "question": f"{subject}: and now?", "choices": ["p", "q", "r", "s"]}]


def hub_content():
    content = {"locuslab/TOFU": {c: {"train": tofu_rows(c)} for c in TOFU_PLAIN + TOFU_PERTURBED},
               "cais/wmdp": {f"wmdp-{s}": {"test": wmdp_rows(s)} for s in ("bio", "cyber",
                                                                           "chem")}}
    for corpus in ("News", "Books"):
        content[f"muse-bench/MUSE-{corpus}"] = {
            "knowmem": muse_knowmem(corpus.lower()),
            "verbmem": {"forget": [{"prompt": f"{corpus} passage", "gt": f"{corpus} rest"}]},
        }
    return content


class FakeDataset:
    """What datasets.load_dataset(..., split=...) returns: a datasets.Dataset."""

    def __init__(self, rows):
        self.rows, self.column_names = rows, list(rows[0])

    def to_pandas(self):
        return pd.DataFrame(self.rows)


class FakeHub:
    """Stands in for datasets; raises what it raises for a missing config or split."""

    def __init__(self, content=None, error=None):
        self.content = hub_content() if content is None else content
        self.error, self.calls = error, []

    def load_dataset(self, path, name=None, split=None, **kwargs):
        self.calls.append((path, name, split))
        if self.error is not None:
            raise self.error
        configs = self.content[path]
        if name not in configs:
            raise ValueError(f"BuilderConfig '{name}' not found. Available: {list(configs)}")
        if split not in configs[name]:
            raise ValueError(f'Unknown split "{split}". Should be one of {list(configs[name])}.')
        return FakeDataset(configs[name][split])


def install(monkeypatch, hub):
    module = types.ModuleType("datasets")
    module.load_dataset = hub.load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return hub


@pytest.fixture
def hub(monkeypatch):
    return install(monkeypatch, FakeHub())


# --------------------------------------------------------------------------- TOFU


@pytest.mark.parametrize("split", benchmarks.TOFU_SPLITS)
def test_every_tofu_split(hub, split):
    table = load_prompts(f"tofu:{split}")
    assert hub.calls == [("locuslab/TOFU", split, "train")]
    assert table["prompt_id"].tolist() == [f"tofu-{split}-0000", f"tofu-{split}-0001"]
    assert table["prompt"].tolist() == [f"{split} Q0?", f"{split} Q1?"]
    assert table["reference"].tolist() == [f"{split} A0.", f"{split} A1."]
    assert (table["split"] == split).all() and (table["source"] == f"tofu-{split}").all()
    assert list(table.columns) == ["prompt_id", "prompt", "reference", "split", "source"]


@pytest.mark.parametrize(("split", "config"), [
    ("forget01", "forget01_perturbed"), ("forget05", "forget05_perturbed"),
    ("forget10", "forget10_perturbed"), ("retain_perturbed", "retain_perturbed")])
def test_tofu_paraphrased_questions(hub, split, config):
    table = load_prompts(f"tofu:paraphrased:{split}")  # options in any order
    assert hub.calls == [("locuslab/TOFU", config, "train")]
    assert table["prompt"].tolist() == [f"{config} Q0, put differently?",
                                        f"{config} Q1, put differently?"]
    assert table["question"].tolist() == [f"{config} Q0?", f"{config} Q1?"]
    assert table["reference"].tolist() == [f"{config} A0.", f"{config} A1."]  # not paraphrased
    assert table["prompt_id"][1] == f"tofu-{split}-paraphrased-0001"


def test_tofu_defaults_and_function(hub):
    assert load_prompts("tofu")["prompt_id"][0] == "tofu-forget10-0000"
    assert load_tofu("holdout05")["prompt"][0] == "holdout05 Q0?"
    assert [c[1] for c in hub.calls] == ["forget10", "holdout05"]


@pytest.mark.parametrize("spec", ["tofu:retain90:paraphrased", "tofu:holdout10:paraphrased"])
def test_tofu_paraphrased_refused_where_the_hub_has_none(hub, spec):
    with pytest.raises(ValueError, match=r"(?s)has no paraphrased questions.*'forget01', "
                       r"'forget05', 'forget10', 'retain_perturbed'.*Fix: drop paraphrased"):
        load_prompts(spec)
    with pytest.raises(ValueError, match="has no paraphrased questions"):
        load_tofu(spec.split(":")[1], paraphrased=True)
    assert hub.calls == []


# --------------------------------------------------------------------------- MUSE


def test_muse_knowmem_few_shot_prefix_is_muses(hub):
    table = load_prompts("muse")
    assert hub.calls == [("muse-bench/MUSE-News", "knowmem", "forget_qa"),
                         ("muse-bench/MUSE-News", "knowmem", "forget_qa_icl")]
    prefix = ("Question: news forget_qa_icl Q0?\nAnswer: news forget_qa_icl A0\n\n"
              "Question: news forget_qa_icl Q1?\nAnswer: news forget_qa_icl A1\n\n")
    assert table["prompt"].tolist() == [
        prefix + f"Question: news forget_qa Q{i}?\nAnswer: " for i in range(3)]
    assert table["reference"].tolist() == [f"news forget_qa A{i}" for i in range(3)]
    assert table["question"].tolist() == [f"news forget_qa Q{i}?" for i in range(3)]
    assert table["prompt_id"].tolist() == [f"muse-news-knowmem-forget-{i:04d}" for i in range(3)]
    assert (table["split"] == "forget").all()


def test_muse_books_retain_and_zero_shot(hub):
    table = load_prompts("muse:retain:books:knowmem")
    assert hub.calls[-1] == ("muse-bench/MUSE-Books", "knowmem", "retain_qa_icl")
    assert table.loc[1, "prompt"] == (
        "Question: books retain_qa_icl Q0?\nAnswer: books retain_qa_icl A0\n\n"
        "Question: books retain_qa_icl Q1?\nAnswer: books retain_qa_icl A1\n\n"
        "Question: books retain_qa Q1?\nAnswer: ")
    zero = load_prompts("muse:knowmem:zero-shot")
    assert hub.calls[-1] == ("muse-bench/MUSE-News", "knowmem", "forget_qa")  # no icl split
    assert zero["prompt"][0] == "Question: news forget_qa Q0?\nAnswer: "
    assert load_muse(few_shot=False)["prompt"].equals(zero["prompt"])


def test_muse_verbmem(hub):
    table = load_prompts("muse:verbmem:books")
    assert hub.calls == [("muse-bench/MUSE-Books", "verbmem", "forget")]
    assert table.loc[0, ["prompt_id", "prompt", "reference", "split"]].tolist() == [
        "muse-books-verbmem-forget-0000", "Books passage", "Books rest", "forget"]


@pytest.mark.parametrize(("call", "match"), [
    (lambda: load_prompts("muse:verbmem:retain"),
     r"'muse:verbmem:retain': MUSE verbmem has no split 'retain' on the hub: its splits are "
     r"\['forget'\]"),
    (lambda: load_muse("verbmem", split="retain"), "its splits are \\['forget'\\]"),
    (lambda: load_prompts("muse:verbmem:zero-shot"), "verbmem prompts are passages"),
    (lambda: load_muse("knowmem", split="holdout"), "its splits are \\['forget', 'retain'\\]"),
])
def test_muse_splits_the_hub_lacks_are_refused_up_front(hub, call, match):
    with pytest.raises(ValueError, match=match):
        call()
    assert hub.calls == []


# --------------------------------------------------------------------------- WMDP


@pytest.mark.parametrize("subject", ["bio", "cyber", "chem"])
def test_wmdp_multiple_choice(hub, subject):
    table = load_prompts(f"wmdp:{subject}")
    assert hub.calls == [("cais/wmdp", f"wmdp-{subject}", "test")]
    assert table.loc[0, "prompt"] == (
        "The following is a multiple choice question. Answer with the letter of the correct "
        f"option.\n\n{subject}: which one?\nA. w\nB. x\nC. y\nD. z\nAnswer:")
    assert table["reference"].tolist() == ["y", "p"] and table["answer"].tolist() == [2, 0]
    assert table.loc[1, "choices"] == ["p", "q", "r", "s"]
    assert table["prompt_id"].tolist() == [f"wmdp-{subject}-0000", f"wmdp-{subject}-0001"]
    assert load_prompts(f"wmdp:mc:{subject}").equals(table)


@pytest.mark.parametrize("subject", ["bio", "cyber", "chem"])
def test_wmdp_open_generation(hub, subject):
    table = load_prompts(f"wmdp:{subject}:generate")
    assert table["prompt"].tolist() == [f"{subject}: which one?", f"{subject}: and now?"]
    assert table["reference"].tolist() == ["y", "p"]
    assert table["prompt_id"][0] == f"wmdp-{subject}-generate-0000"
    assert load_wmdp(subject, mode="generate").equals(table)


def test_judges_fit_the_wmdp_modes(hub):
    from leakstats.generate.judges import make_judge

    mc, gen = load_wmdp("bio"), load_wmdp("bio", mode="generate")
    items = mc.to_dict("records")
    assert make_judge("mc").score(["Answer: C", "B"], items).tolist() == [1.0, 0.0]
    assert make_judge("contains").score(["It is y.", "q"], gen.to_dict("records")).tolist() == [
        1.0, 0.0]


# --------------------------------------------------------------------------- specs


@pytest.mark.parametrize(("spec", "match"), [
    ("tofu:forget20", r"'tofu' has no option 'forget20'; its options are \['forget01'"),
    ("tofu:forget10:", "has no option ''"),
    ("muse:wiki", r"'muse' has no option 'wiki'.*muse\[:knowmem\|verbmem\]\[:news\|books\]"),
    ("wmdp:physics", r"its options are \['bio', 'cyber', 'chem', 'mc', 'generate'\]"),
    ("wmdp:bio:cyber", r"names \['bio', 'cyber'\], of which only one can apply \(the subject\)"),
    ("wmdp:mc:generate", r"only one can apply \(the mode\)"),
    ("muse:news:books", r"only one can apply \(the corpus\)"),
    ("tofu:paraphrased:paraphrased", "repeats 'paraphrased'"),
    ("fictitious:test", "'fictitious' has no option 'test'"),
    ("fictitious:forget10", "'fictitious' has no option 'forget10'"),
    (" ", "argument 'prompts': empty"),
])
def test_every_spec_option_is_checked(hub, spec, match):
    with pytest.raises(ValueError, match=match):
        load_prompts(spec)
    assert hub.calls == []


@pytest.mark.parametrize(("call", "match"), [
    (lambda: load_tofu("forget20"), r"argument 'split': expected one of \['forget01'"),
    (lambda: load_muse("rawmem"), "argument 'task'"),
    (lambda: load_muse(corpus="wiki"), "argument 'corpus'"),
    (lambda: load_wmdp("physics"), "argument 'subject'"),
    (lambda: load_wmdp(mode="open"), r"argument 'mode': expected one of \['mc', 'generate'\]"),
    (lambda: fictitious_facts(split="test"), "argument 'split'"),
    (lambda: load_prompts(3), "expected a prompt set name"),
])
def test_bad_arguments(hub, call, match):
    with pytest.raises(ValueError, match=match):
        call()
    assert hub.calls == []


def test_load_prompts_files_tables_and_unknown_sets(tmp_path):
    assert len(load_prompts("fictitious")) == 20
    assert len(load_prompts(fictitious_facts())) == 20
    path = write_jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}])
    assert load_prompts(str(path))["prompt"].tolist() == ["q"]
    with pytest.raises(FileNotFoundError, match=r"(?s)neither a file nor a known prompt set.*"
                       r"tofu\[:forget01\|.*\|holdout10\]\[:paraphrased\].*wmdp\[:bio\|cyber"):
        load_prompts("squad")


# --------------------------------------------------------------------------- hub errors


def test_missing_datasets_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ModuleNotFoundError,
                       match=r"needs the datasets package.*pip install 'leakstats\[datasets\]'"
                       r".*from_files\(path, format='muse-knowmem', icl="):
        load_muse()
    with pytest.raises(PromptSetUnavailableError, match="leakstats.datasets"):
        load_prompts("wmdp:chem")
    with pytest.raises(benchmarks.DatasetsNotInstalledError):
        load_tofu()


# named like httpx.ConnectError, requests.exceptions.ConnectionError (an OSError, not the
# built-in ConnectionError) and huggingface_hub.errors.OfflineModeIsEnabled
ConnectError = type("ConnectError", (Exception,), {})
RequestsConnectionError = type("ConnectionError", (OSError,), {})
OfflineModeIsEnabled = type("OfflineModeIsEnabled", (Exception,), {})


class HfHubHTTPError(Exception):
    """Like huggingface_hub's HTTP errors: the response rides along."""

    def __init__(self, status):
        super().__init__(f"{status} Server Error")
        self.response = types.SimpleNamespace(status_code=status)


def chained(outer, inner):
    outer.__cause__ = inner  # what `raise outer from inner` records
    return outer


@pytest.mark.parametrize("error", [
    ConnectionError("Couldn't reach 'locuslab/TOFU' on the Hub (LocalEntryNotFoundError)"),
    TimeoutError("timed out"),
    ConnectError("[Errno -3] Temporary failure in name resolution"),
    RequestsConnectionError("Max retries exceeded"),
    chained(RuntimeError("download failed"), OfflineModeIsEnabled("offline mode is enabled")),
    chained(ValueError("no data"), HfHubHTTPError(503)),
])
def test_unreachable_hub_says_so(monkeypatch, error):
    install(monkeypatch, FakeHub(error=error))
    with pytest.raises(PromptSetUnavailableError,
                       match=r"(?s)could not reach the Hugging Face Hub to load locuslab/TOFU "
                       r"\(config 'forget10', split 'train'\).*offline.*Fix: where the hub is "
                       r"reachable run datasets.load_dataset\('locuslab/TOFU', 'forget10', "
                       r"split='train'\).*from_files\(path, format='tofu', "
                       r"name='tofu-forget10'\)") as info:
        load_tofu()
    assert info.value.__cause__ is error
    assert type(error).__name__ in str(info.value)
    assert not is_network_error(HfHubHTTPError(404))
    assert not isinstance(info.value, ModuleNotFoundError)


class DatasetNotFoundError(FileNotFoundError):
    """Like datasets.exceptions.DatasetNotFoundError (gated or missing dataset)."""


def test_other_hub_errors_are_shown_as_themselves(monkeypatch):
    content = hub_content()
    del content["locuslab/TOFU"]["forget10"]  # the hub renamed a config
    hub = FakeHub(content)
    install(monkeypatch, hub)
    with pytest.raises(benchmarks.PromptSetLoadError,
                       match=r"^ValueError: BuilderConfig 'forget10' not found. Available: "
                       r"\['full'.*while loading locuslab/TOFU \(config 'forget10', split "
                       r"'train'\).*Fix:") as info:
        load_tofu("forget10")
    assert isinstance(info.value.__cause__, ValueError)
    assert not isinstance(info.value, PromptSetUnavailableError)
    gated = DatasetNotFoundError("Dataset 'cais/wmdp' is a gated dataset on the Hub.")
    install(monkeypatch, FakeHub(error=gated))
    with pytest.raises(benchmarks.PromptSetLoadError,
                       match=r"test_prompt_sets.DatasetNotFoundError: Dataset 'cais/wmdp' is a "
                       r"gated dataset.*huggingface-cli login") as info:
        load_wmdp("bio")
    assert info.value.__cause__ is gated


def test_schema_change_names_the_missing_column(monkeypatch):
    content = hub_content()
    for row in content["locuslab/TOFU"]["forget05_perturbed"]["train"]:
        del row["paraphrased_question"]
    install(monkeypatch, FakeHub(content))
    with pytest.raises(ValueError, match=r"locuslab/TOFU \(config 'forget05_perturbed', split "
                       r"'train'\): no column\(s\) \['paraphrased_question'\] \(columns present: "
                       r"\['question', 'answer', 'paraphrased_answer', 'perturbed_answer'\]\)"):
        load_tofu("forget05", paraphrased=True)


def test_wmdp_answer_outside_the_choices(monkeypatch):
    content = hub_content()
    content["cais/wmdp"]["wmdp-bio"]["test"][1]["answer"] = 4
    install(monkeypatch, FakeHub(content))
    with pytest.raises(ValueError, match=r"1 row\(s\) have an answer index outside their "
                       r"choices \(first: row 1, answer 4, 4 choices\)"):
        load_wmdp("bio")


# --------------------------------------------------------------------------- local copies


def test_local_copies_give_the_hub_prompts(hub, tmp_path):
    knowmem = hub.content["muse-bench/MUSE-News"]["knowmem"]
    qa = write_jsonl(tmp_path / "forget_qa.jsonl", knowmem["forget_qa"])
    icl = write_jsonl(tmp_path / "forget_qa_icl.jsonl", knowmem["forget_qa_icl"])
    local = from_files(qa, format="muse-knowmem", icl=icl, name="muse-news-knowmem-forget")
    assert local.equals(load_muse().drop(columns="split"))
    zero = from_files(qa, format="muse-knowmem", name="muse-news-knowmem-forget")
    assert zero.equals(load_muse(few_shot=False).drop(columns="split"))
    assert from_files(qa, format="qa")["prompt"][0] == "news forget_qa Q0?"  # bare question
    wmdp = write_jsonl(tmp_path / "bio.jsonl", hub.content["cais/wmdp"]["wmdp-bio"]["test"])
    table = from_files(wmdp, format="wmdp-generate", name="wmdp-bio-generate")
    assert table.equals(load_wmdp("bio", mode="generate").drop(columns="split"))
    tofu = write_jsonl(tmp_path / "f.jsonl",
                       hub.content["locuslab/TOFU"]["forget10_perturbed"]["train"])
    para = from_files(tofu, format="tofu", paraphrased=True, name="tofu-forget10-paraphrased")
    assert para["prompt"].equals(load_tofu(paraphrased=True)["prompt"])
    with pytest.raises(ValueError, match="only the muse-knowmem layout has a few-shot prefix"):
        from_files(qa, format="qa", icl=icl)

