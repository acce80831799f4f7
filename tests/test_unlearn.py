"""leakstats.unlearn on a tiny random Llama: fine-tuning, unlearning, NPO, RULE, caching."""

import inspect
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("rouge_score")

from leakstats.core.errors import DataValidationError, LeakstatsError  # noqa: E402
from leakstats.generate.testing import tiny_model  # noqa: E402
from leakstats.unlearn import (  # noqa: E402
    METHODS,
    PRESETS,
    StageMismatchError,
    TrainConfig,
    _engine,
    answer_nll,
    finetune,
    greedy_answers,
    load_facts,
    read_stage,
    rule,
    select_facts,
    unlearn,
)

#: the tiny byte-level model sees ~200-token examples; one step on 4 of them takes ~10 ms
FAST = dict(batch_size=2, max_length=512)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny") / "model", layers=3, hidden_size=32)


@pytest.fixture(scope="module")
def facts():
    table = load_facts()
    # two forget and two retain facts (short answers keep the tests fast)
    return pd.concat([table[table["split"] == "forget"].head(2),
                      table[table["split"] == "retain"].head(2)]).reset_index(drop=True)


@pytest.fixture(scope="module")
def finetuned(tiny, facts, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "finetuned"
    return finetune(tiny, facts, out=out, config=TrainConfig(steps=40, lr=1e-2, **FAST),
                    progress=False)


def nll(model, facts, split):
    return float(answer_nll(model, facts, split=split, max_length=512)["nll"].mean())


# --------------------------------------------------------------------------- import, data


def test_import_does_not_import_torch():
    code = ("import sys, leakstats.unlearn\n"
            "from leakstats.unlearn import finetune, unlearn, rule, greedy_answers, PRESETS\n"
            "print([m for m in ('torch', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_load_facts_default_and_files(tmp_path):
    table = load_facts()
    assert len(table) == 50 and table["split"].value_counts().to_dict() == {
        "retain": 30, "forget": 20}
    assert {"prompt_id", "split", "question", "answer", "person", "keywords"} <= set(table)
    path = tmp_path / "facts.csv"
    table.drop(columns="keywords").head(3).to_csv(path, index=False)
    assert load_facts(path)["prompt_id"].tolist() == table["prompt_id"].head(3).tolist()


@pytest.mark.parametrize(("frame", "match"), [
    (pd.DataFrame({"prompt_id": [1], "split": ["forget"], "question": ["Q"]}),
     r"missing column\(s\) \['answer'\]"),
    (pd.DataFrame(columns=["prompt_id", "split", "question", "answer"]), "no rows"),
    (pd.DataFrame({"prompt_id": [1, 1], "split": ["forget"] * 2, "question": ["Q"] * 2,
                   "answer": ["A"] * 2}), r"'prompt_id' repeats \['1'\]"),
    (pd.DataFrame({"prompt_id": [1, 2], "split": ["forget"] * 2, "question": ["Q", "Q"],
                   "answer": ["A", " "]}), r"'answer' is missing or empty in 1 row\(s\)"),
])
def test_load_facts_bad_tables(frame, match):
    with pytest.raises(DataValidationError, match=match):
        load_facts(frame)


def test_load_facts_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_facts(tmp_path / "nope.jsonl")
    with pytest.raises(LeakstatsError, match="expected a path, a DataFrame or None, got int"):
        load_facts(3)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(LeakstatsError, match=r"cannot read .*'\.txt'"):
        load_facts(tmp_path / "f.txt")


def test_select_facts():
    table = select_facts(forget=4, retain=6)
    assert table["split"].value_counts().to_dict() == {"retain": 6, "forget": 4}
    assert table["prompt_id"].iloc[0] == "ff-01-1"
    with pytest.raises(LeakstatsError, match="asked for 21 forget facts, the table has 20"):
        select_facts(forget=21)
    with pytest.raises(LeakstatsError, match="argument 'retain': 0 is not an integer >= 1"):
        select_facts(retain=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"lr": 0}, "'lr': 0 is not a number > 0"),
    ({"epochs": 0}, "'epochs': 0 is not an integer >= 1"),
    ({"steps": 2.5}, "'steps': 2.5 is not an integer >= 1"),
    ({"beta": -1.0}, "'beta'"),
    ({"batch_size": True}, "'batch_size'"),
    ({"retain_weight": float("nan")}, "'retain_weight'"),
    ({"train_layers": 0}, "'train_layers': 0 is not an integer >= 1"),
])
def test_train_config_bad_values(kwargs, match):
    with pytest.raises(LeakstatsError, match=match):
        TrainConfig(**kwargs)


def test_train_config_round_trip():
    config = TrainConfig(epochs=2, lr=3e-4, train_layers=2, threads=1)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert "threads" not in config.identity()
    with pytest.raises(LeakstatsError, match=r"unknown field\(s\) \['lr_'\]"):
        TrainConfig.from_dict({"lr_": 1})


def test_presets_are_complete():
    params = inspect.signature(rule).parameters
    for name in ("default", "quick"):
        preset = PRESETS[name]
        assert isinstance(preset["finetune"], TrainConfig)
        assert set(preset["unlearn"]) == set(METHODS)
        assert all(isinstance(c, TrainConfig) for c in preset["unlearn"].values())
        assert set(preset["rule"]) <= set(params) and preset["rule"]["method"] in METHODS
        assert len(select_facts(**preset["facts"])) == sum(preset["facts"].values())


# --------------------------------------------------------------------------- training


def test_finetune_lowers_the_loss(tiny, facts, finetuned):
    info = read_stage(finetuned)
    losses = [row["loss"] for row in info["history"]]
    assert losses[-1] < 0.5 * losses[0]
    for split in ("forget", "retain"):
        assert nll(finetuned, facts, split) < 0.7 * nll(tiny, facts, split)
    assert info["steps"] == 40 and info["identity"]["splits"] == ["forget", "retain"]
    assert set(info["eval_after"]) == {"forget_nll", "retain_nll"}
    assert (finetuned / "model.safetensors").is_file() and info["sparse_logits"]


def test_finetune_uses_the_generation_prompt_format(tiny):
    from leakstats.generate.hf import HFBackend
    from leakstats.generate.models import load_hf

    lm, tokenizer, _ = load_hf(tiny)
    encoder = _engine._Encoder(lm, tokenizer)
    example = encoder([("Who is Ada?", "A poet.")], 512, ["x"])[0]
    prompt = HFBackend(lm, tokenizer).encode_prompt("Who is Ada?")
    assert list(example.ids[: example.n_prompt]) == prompt
    assert tokenizer.decode(list(example.ids[example.n_prompt:])) == "A poet.<|im_end|>"


def test_stage_is_cached(tiny, facts, finetuned, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("retrained")

    monkeypatch.setattr(_engine, "train", boom)
    config = TrainConfig(steps=40, lr=1e-2, **FAST, threads=1)  # threads: not identity
    assert finetune(tiny, facts, out=finetuned, config=config) == finetuned


def test_config_mismatch_raises_and_overwrite_retrains(tiny, facts, tmp_path):
    out = tmp_path / "ft"
    finetune(tiny, facts, out=out, config=TrainConfig(steps=1, lr=1e-3, **FAST),
             progress=False)
    with pytest.raises(StageMismatchError, match=r"config\.lr: 0\.001 -> 0\.002.*overwrite"):
        finetune(tiny, facts, out=out, config=TrainConfig(steps=1, lr=2e-3, **FAST))
    with pytest.raises(StageMismatchError, match="facts"):
        finetune(tiny, facts.head(3), out=out, config=TrainConfig(steps=1, lr=1e-3, **FAST))
    finetune(tiny, facts, out=out, config=TrainConfig(steps=1, lr=2e-3, **FAST),
             overwrite=True, progress=False)
    assert read_stage(out)["config"]["lr"] == 2e-3


def test_foreign_folders_are_never_touched(tiny, facts, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="not a leakstats model folder"):
            finetune(tiny, facts, out=folder, config=TrainConfig(steps=1, **FAST),
                     overwrite=overwrite)
    assert (folder / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileExistsError, match="is a file"):
        finetune(tiny, facts, out=folder / "notes.txt", config=TrainConfig(steps=1, **FAST))


def test_grad_ascent_raises_forget_nll(finetuned, facts, tmp_path):
    out = unlearn(finetuned, facts, out=tmp_path / "ga", method="grad_ascent",
                  config=TrainConfig(steps=6, lr=3e-3, **FAST), progress=False)
    assert nll(out, facts, "forget") > nll(finetuned, facts, "forget") + 0.5
    history = read_stage(out)["history"]
    assert history[-1]["forget_nll"] > history[0]["forget_nll"]
    assert "retain_nll" not in history[0]  # plain gradient ascent sees no retain data


def test_grad_diff_keeps_retain_better_than_grad_ascent(finetuned, facts, tmp_path):
    config = TrainConfig(steps=8, lr=3e-3, **FAST)
    base = nll(finetuned, facts, "retain")
    change = {}
    for method in ("grad_ascent", "grad_diff"):
        out = unlearn(finetuned, facts, out=tmp_path / method, method=method, config=config,
                      progress=False)
        change[method] = abs(nll(out, facts, "retain") - base)
    assert change["grad_diff"] < 0.5 * change["grad_ascent"]


def test_npo_starts_at_two_over_beta_log_two(finetuned, facts, tmp_path):
    out = unlearn(finetuned, facts, out=tmp_path / "npo", method="npo",
                  config=TrainConfig(steps=3, lr=1e-3, beta=0.5, **FAST), progress=False)
    first = read_stage(out)["history"][0]
    assert first["forget_loss"] == pytest.approx(2 / 0.5 * math.log(2), rel=1e-6)
    assert first["loss"] == pytest.approx(first["forget_loss"] + first["retain_nll"], rel=1e-6)


def test_npo_loss_gradient_matches_finite_differences():
    gen = torch.Generator().manual_seed(0)
    logp = (-5 * torch.rand(4, generator=gen, dtype=torch.float64)).requires_grad_(True)
    ref = -5 * torch.rand(4, generator=gen, dtype=torch.float64)
    beta = 0.3
    loss = _engine.npo_loss(logp, ref, beta)
    (grad,) = torch.autograd.grad(loss, logp)
    eps = 1e-6
    numeric = torch.stack([
        (_engine.npo_loss(logp.detach() + eps * e, ref, beta)
         - _engine.npo_loss(logp.detach() - eps * e, ref, beta)) / (2 * eps)
        for e in torch.eye(4, dtype=torch.float64)])
    assert torch.allclose(grad, numeric, atol=1e-8)
    closed = 2 / 4 * torch.sigmoid(beta * (logp.detach() - ref))  # d/dlogp of the mean
    assert torch.allclose(grad, closed, atol=1e-12)


def test_npo_gradient_at_step_zero_is_sequence_gradient_ascent(finetuned, facts):
    from leakstats.generate.models import load_hf

    lm, tokenizer, _ = load_hf(finetuned)
    lm.train()
    encoder = _engine._Encoder(lm, tokenizer)
    scorer = _engine._Scorer(lm, encoder.pad)
    rows = facts[facts["split"] == "forget"]
    examples = encoder(list(zip(rows["question"], rows["answer"], strict=True)), 512,
                       list(rows["prompt_id"]))
    params = [p for p in lm.parameters() if p.requires_grad]

    def grads(loss_fn):
        logp = scorer.score(examples)
        return torch.autograd.grad(loss_fn(logp), params, allow_unused=True)

    npo = grads(lambda logp: _engine.npo_loss(logp, logp.detach(), beta=0.1))
    ascent = grads(lambda logp: logp.mean())  # descent on logp = ascent on the NLL
    for a, b in zip(npo, ascent, strict=True):
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_train_layers_trains_only_the_upper_blocks(tiny, facts, tmp_path):
    import safetensors.torch as st

    out = finetune(tiny, facts, out=tmp_path / "top",
                   config=TrainConfig(steps=3, lr=1e-2, train_layers=1, **FAST),
                   progress=False)
    before, after = st.load_file(tiny / "model.safetensors"), st.load_file(
        out / "model.safetensors")
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed and all(k.startswith(("model.layers.2.", "model.norm.")) for k in changed)
    assert read_stage(out)["sparse_logits"]


def test_split_scorer_matches_the_full_model(tiny, facts):
    from leakstats.generate.models import load_hf

    lm, tokenizer, _ = load_hf(tiny)
    encoder = _engine._Encoder(lm, tokenizer)
    examples = encoder(list(zip(facts["question"], facts["answer"], strict=True)), 512,
                       list(facts["prompt_id"]))
    with torch.no_grad():
        split = _engine._Scorer(lm, encoder.pad, train_layers=2).score(examples)
        expected = []
        for e in examples:
            logits = lm(input_ids=torch.tensor([e.ids])).logits[0].log_softmax(-1)
            expected.append(sum(float(logits[p - 1, e.ids[p]])
                                for p in range(e.n_prompt, len(e.ids))))
    assert np.allclose(split.numpy(), expected, rtol=1e-4)


# --------------------------------------------------------------------------- bad inputs


def test_unlearn_bad_inputs(finetuned, facts, tmp_path):
    config = TrainConfig(steps=1, **FAST)
    with pytest.raises(LeakstatsError, match=r"unknown unlearning method 'rmu'.*grad_ascent"):
        unlearn(finetuned, facts, out=tmp_path / "x", method="rmu", config=config)
    forget_only = facts[facts["split"] == "forget"]
    with pytest.raises(DataValidationError, match=r"split\(s\) \['retain'\] have no rows"):
        unlearn(finetuned, forget_only, out=tmp_path / "x", method="npo", config=config)
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['answer'\]"):
        unlearn(finetuned, facts.drop(columns="answer"), out=tmp_path / "x", config=config)
    with pytest.raises(LeakstatsError, match="item 0 is .*not a \\(question, text\\) pair"):
        unlearn(finetuned, facts, out=tmp_path / "x", config=config, forget_extra=[("Q", "")])
    with pytest.raises(LeakstatsError, match="argument 'out': expected a folder path"):
        unlearn(finetuned, facts, out=3, config=config)
    with pytest.raises(LeakstatsError, match=r"more than max_length=20.*max_length="):
        unlearn(finetuned, facts, out=tmp_path / "x", config=TrainConfig(max_length=20))
    with pytest.raises(LeakstatsError, match="the model has 3"):
        unlearn(finetuned, facts, out=tmp_path / "y", method="grad_ascent",
                config=TrainConfig(steps=1, train_layers=9, **FAST), progress=False)
    with pytest.raises(LeakstatsError, match="expected a TrainConfig"):
        unlearn(finetuned, facts, out=tmp_path / "x", config="fast")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_finetune_bad_splits(tiny, facts, tmp_path):
    with pytest.raises(DataValidationError, match=r"split\(s\) \['test'\] have no rows"):
        finetune(tiny, facts, out=tmp_path / "x", splits=("test",))
    with pytest.raises(LeakstatsError, match="no split given"):
        finetune(tiny, facts, out=tmp_path / "x", splits=())


# --------------------------------------------------------------------------- RULE


def _always(text, item):
    return True


def test_rule_adds_leaks_and_writes_round_summaries(finetuned, facts, tmp_path):
    config = TrainConfig(steps=1, lr=1e-3, **FAST)
    out = tmp_path / "rule"
    final = rule(finetuned, facts, out=out, rounds=2, n=3, max_new_tokens=6, judge=_always,
                 config=config, progress=False)
    assert final == out / "round_2" / "model"
    summaries = [json.loads((out / f"round_{r}" / "summary.json").read_text())
                 for r in (1, 2)]
    for s in summaries:
        assert (s["n_prompts"], s["n_samples"], s["n_leaked"], s["leak_rate"]) == (2, 6, 6, 1.0)
    assert summaries[1]["forget_extra_total"] == summaries[0]["new_pairs"] + \
        summaries[1]["new_pairs"]
    assert summaries[1]["model_in"] == str(out / "round_1" / "model")
    extra = read_stage(final)["forget_extra"]
    assert len(extra) == summaries[1]["forget_extra_total"] > 0
    questions = set(facts.loc[facts["split"] == "forget", "question"])
    assert {q for q, _ in extra} <= questions
    state = json.loads((out / "rule.json").read_text())
    assert state["status"] == "complete" and len(state["rounds"]) == 2


def test_rule_with_a_judge_that_never_fires_unlearns_the_plain_forget_set(
        finetuned, facts, tmp_path):
    final = rule(finetuned, facts, out=tmp_path / "rule", rounds=1, n=2, max_new_tokens=4,
                 judge="rouge:1.0", config=TrainConfig(steps=1, **FAST), progress=False)
    summary = json.loads((tmp_path / "rule" / "round_1" / "summary.json").read_text())
    assert summary["new_pairs"] == 0 and read_stage(final)["forget_extra"] == []


def test_rule_uses_given_samples_and_is_cached(finetuned, facts, tmp_path, monkeypatch):
    forget = facts[facts["split"] == "forget"]
    samples = pd.DataFrame({
        "prompt_id": list(forget["prompt_id"]) * 2 + ["someone-else"],
        "text": [forget["answer"].iloc[0], forget["answer"].iloc[1], "no idea", "hm", "x"],
    })
    kwargs = dict(out=tmp_path / "rule", rounds=1, config=TrainConfig(steps=1, **FAST),
                  samples=samples, progress=False)
    final = rule(finetuned, facts, **kwargs)
    summary = json.loads((tmp_path / "rule" / "round_1" / "summary.json").read_text())
    assert (summary["n_samples"], summary["n_leaked"], summary["new_pairs"]) == (4, 2, 2)
    assert not (tmp_path / "rule" / "round_1" / "samples").exists()

    def boom(*args, **kwargs):
        raise AssertionError("retrained")

    monkeypatch.setattr(_engine, "train", boom)
    assert rule(finetuned, facts, **kwargs) == final
    with pytest.raises(StageMismatchError, match="n: 16 -> 5"):
        rule(finetuned, facts, **{**kwargs, "n": 5})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"rounds": 0}, "rounds: 0 is not an integer >= 1"),
    ({"n": 0}, "n: 0 is not an integer >= 1"),
    ({"method": "rmu"}, "unknown unlearning method 'rmu'"),
    ({"temperature": 0}, "temperature: 0 is not a number > 0"),
    ({"top_p": 1.5}, r"top_p: 1.5 is not a number in \(0, 1\]"),
    ({"seed": -1}, "seed: -1 is not an integer >= 0"),
    ({"judge": "bogus"}, "unknown judge 'bogus'"),
])
def test_rule_bad_inputs(finetuned, facts, tmp_path, kwargs, match):
    with pytest.raises(LeakstatsError, match=match):
        rule(finetuned, facts, out=tmp_path / "r", **kwargs)
    assert not (tmp_path / "r").exists()


def test_rule_bad_samples(finetuned, facts, tmp_path):
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['text'\]"):
        rule(finetuned, facts, out=tmp_path / "r", samples=pd.DataFrame({"prompt_id": [1]}),
             config=TrainConfig(steps=1, **FAST), progress=False)
    with pytest.raises(DataValidationError, match="no sample has a forget prompt_id"):
        rule(finetuned, facts, out=tmp_path / "s", config=TrainConfig(steps=1, **FAST),
             samples=pd.DataFrame({"prompt_id": ["x"], "text": ["y"]}), progress=False)
    with pytest.raises(LeakstatsError, match="expected a records DataFrame or a store folder"):
        rule(finetuned, facts, out=tmp_path / "t", samples=[1, 2])
    assert not any((tmp_path / d).exists() for d in "rst")


# --------------------------------------------------------------------------- evaluation


def test_greedy_answers(finetuned, facts):
    table = greedy_answers(finetuned, facts, split=("forget", "retain"), max_new_tokens=8)
    assert list(table.columns) == ["prompt_id", "split", "question", "answer", "output",
                                   "rouge_l_recall", "keyword_recall"]
    assert len(table) == 4 and table["rouge_l_recall"].between(0, 1).all()
    assert table["keyword_recall"].between(0, 1).all()
    no_keywords = greedy_answers(finetuned, facts.drop(columns="keywords"), max_new_tokens=2)
    assert "keyword_recall" not in no_keywords
    again = greedy_answers(finetuned, facts, split=("forget", "retain"), max_new_tokens=8,
                           batch_size=1)
    assert again["output"].tolist() == table["output"].tolist()  # padding changes nothing
    with pytest.raises(LeakstatsError, match="max_new_tokens: 0 is not an integer >= 1"):
        greedy_answers(finetuned, facts, max_new_tokens=0)


def test_batched_sampler_matches_shapes_and_is_seeded(finetuned):
    from leakstats.generate import DecodingConfig, SampleJob
    from leakstats.generate.hf import HFBackend
    from leakstats.unlearn._sampling import BatchedSampler

    sampler = BatchedSampler(HFBackend.from_pretrained(finetuned))
    config = DecodingConfig(temperature=0.9)
    jobs = [SampleJob(tuple(sampler.encode_prompt(q)), config, 3, 5, 7)
            for q in ("Who is Ada?", "Where was Ilsa Varenko born?")]
    first = sampler.sample(jobs, logprobs=False, raw_logprobs=False)
    again = sampler.sample(jobs, logprobs=False, raw_logprobs=False)
    assert [b.text for b in first] == [b.text for b in again]
    assert [len(b) for b in first] == [3, 3]
    assert all(len(t) <= 7 for b in first for t in b.token_ids)
    assert all(r in ("eos", "length") for b in first for r in b.finish_reason)
    with_lp = sampler.sample(jobs[:1])  # log-probs asked: the per-prompt backend answers
    assert with_lp[0].token_logprobs is not None


def test_batched_sampler_shared_prompt_cache_changes_nothing(finetuned, monkeypatch):
    from leakstats.generate import DecodingConfig, SampleJob
    from leakstats.generate.hf import HFBackend
    from leakstats.unlearn._sampling import BatchedSampler

    sampler = BatchedSampler(HFBackend.from_pretrained(finetuned))
    jobs = [SampleJob(tuple(sampler.encode_prompt(q)), DecodingConfig(), 4, 11, 10)
            for q in ("Hi", "Where was Ilsa Varenko born, and when?")]  # unequal lengths
    shared = sampler.sample(jobs, logprobs=False, raw_logprobs=False)
    monkeypatch.setattr(BatchedSampler, "_prompt_cache", lambda self, ids, mask, n: None)
    plain = sampler.sample(jobs, logprobs=False, raw_logprobs=False)
    assert [b.text for b in shared] == [b.text for b in plain]


def test_npo_raises_forget_nll(finetuned, facts, tmp_path):
    out = unlearn(finetuned, facts, out=tmp_path / "npo", method="npo",
                  config=TrainConfig(steps=6, lr=3e-3, retain_weight=0.0, **FAST),
                  progress=False)
    assert nll(out, facts, "forget") > nll(finetuned, facts, "forget") + 0.5
    losses = [row["forget_loss"] for row in read_stage(out)["history"]]
    assert losses[-1] < losses[0]
