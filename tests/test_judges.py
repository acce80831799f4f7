"""Judges: scores, labels, thresholds, specs, re-judging; torch only for NLI."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakstats.generate import judges
from leakstats.generate.judges import (
    CallableJudge,
    ContainmentJudge,
    KeywordJudge,
    MultipleChoice,
    NLIJudge,
    RegexJudge,
    RougeJudge,
    make_judge,
    rejudge,
    relabel,
    tokenize,
)

REF = {"reference": "Ilsa Varenko was born in Tromsø, Norway in 1962."}


def test_rouge_recall_keeps_non_ascii_words():
    # rouge-score's default tokenizer drops "Tromsø" and every non-Latin word
    assert tokenize("Tromsø 東京") == ["tromsø", "東", "京"]
    score = RougeJudge().score(["She was born in Tromsø."], [{"reference": "Tromsø"}])
    assert score.tolist() == [1.0]
    cjk = RougeJudge().score(["我住在东京"], [{"reference": "东京"}])
    assert cjk.tolist() == [1.0]


def test_rouge_recall_precision_f1_against_hand_counts():
    text, ref = "born in Tromsø in 1962 indeed", "born in Tromsø Norway"
    # LCS("born in tromsø norway", "born in tromsø in 1962 indeed") = 3 tokens
    recall, precision, f1 = (RougeJudge(measure=m).score([text], [{"reference": ref}])[0]
                             for m in ("recall", "precision", "f1"))
    assert recall == pytest.approx(3 / 4) and precision == pytest.approx(3 / 6)
    assert f1 == pytest.approx(2 * recall * precision / (recall + precision))
    scores, labels = RougeJudge(threshold=0.75).judge([text], [{"reference": ref}])
    assert labels.tolist() == [True] and RougeJudge(threshold=0.76).labels(scores).tolist() == [
        False]


def test_containment_and_exact_match_normalise():
    item = {"reference": "Tromsø, Norway"}
    assert ContainmentJudge().score(["born in TROMSØ norway!"], [item]).tolist() == [1.0]
    assert ContainmentJudge().score(["born in Tromsøy Norway"], [item]).tolist() == [0.0]
    assert ContainmentJudge(mode="exact").score(["tromsø norway.", "in Tromsø, Norway"],
                                                [item] * 2).tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("C", 2), ("The answer is (C).", 2), ("answer: c", 2), ("B. green", 1), ("blue", 2),
     ("I am not sure", None), ("red or blue", None), ("A) red", 0)],
)
def test_multiple_choice_extraction(text, expected):
    choices = ["red", "green", "blue", "black"]
    assert MultipleChoice().extract(text, choices) == expected
    score = MultipleChoice().score([text], [{"choices": choices, "answer": 2}])[0]
    assert score == float(expected == 2)


def test_keywords_and_regex():
    judge = KeywordJudge(keywords=("Tromsø", "1962"))
    assert judge.score(["Tromsø, 1962", "Tromsø"], [{}, {}]).tolist() == [1.0, 0.5]
    assert KeywordJudge(keywords=("x", "1962"), require="any").score(["1962"], [{}]).tolist() == [
        1.0]
    per_item = KeywordJudge().score(["born 1962"], [{"keywords": ["1962", "Oslo"]}])
    assert per_item.tolist() == [0.5]
    regex = RegexJudge(pattern=r"\b19[0-9]{2}\b")
    assert regex.score(["in 1962", "in 2062"], [{}, {}]).tolist() == [1.0, 0.0]
    templated = RegexJudge(pattern="born in {reference}")
    assert templated.score(["born in Tromsø (Norway)"], [{"reference": "Tromsø (Norway)"}]) == 1


def test_callable_judge_and_make_judge_specs():
    judge = make_judge(lambda text, item: item["reference"].split()[0] in text)
    assert judge.judge(["Ilsa!", "nobody"], [REF, REF])[1].tolist() == [True, False]
    assert judge.name == "<lambda>>=0.5"
    specs = {"rouge": "rougeL_recall>=0.4", "rouge:0.1": "rougeL_recall>=0.1",
             "rouge-f1:0.5": "rougeL_f1>=0.5", "contains": "contains>=1",
             "exact": "exact_match>=1", "mc": "choice_correct>=1",
             "keyword:a|b": "keywords_all>=1", "keyword-any:a": "keywords_any>=1",
             "regex:a+": "regex>=1", "nli:m@0.9": "nli_entailment>=0.9"}
    for spec, name in specs.items():
        assert make_judge(spec).name == name
    rouge = make_judge("rouge")
    assert make_judge(rouge) is rouge
    assert rouge.spec()["judge"] == "RougeJudge" and rouge.spec()["threshold"] == 0.4


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: make_judge("bleu"), "unknown judge 'bleu'"),
        (lambda: make_judge("rouge:high"), "'high' is not a threshold number"),
        (lambda: make_judge(""), "expected a judge spec"),
        (lambda: make_judge("keyword:"), "names no keyword"),
        (lambda: RougeJudge(threshold=float("nan")), "threshold: nan is not a finite number"),
        (lambda: RougeJudge(measure="f2"), "argument 'measure'"),
        (lambda: ContainmentJudge(mode="fuzzy"), "argument 'mode'"),
        (lambda: KeywordJudge(keywords="abc"), "argument 'keywords'"),
        (lambda: KeywordJudge(require="most"), "argument 'require'"),
        (lambda: RegexJudge(pattern="(unclosed"), "not a valid regular expression"),
        (lambda: RegexJudge(), "non-empty regular expression"),
        (lambda: NLIJudge(), "the NLI judge needs a model"),
        (lambda: CallableJudge(fn=3), "argument 'fn'"),
        (lambda: RougeJudge().judge(["a", "b"], [REF]), "2 texts but 1 items"),
        (lambda: RougeJudge().score(["a"], [{"prompt": "q"}]), "item 0 has no 'reference'"),
        (lambda: MultipleChoice().score(["A"], [{"choices": ["x"]}]), "has no 'answer'"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def records_frame():
    return pd.DataFrame({
        "prompt_id": ["q1", "q1", "q2"], "text": ["born in Tromsø", "no", "Norway in 1962"],
        "reference": ["born in Tromsø, Norway"] * 3, "judge": ["rougeL_recall>=0.4"] * 3,
        "score": [0.75, 0.0, 0.5], "leaked": [True, False, True],
    })


def test_relabel_uses_the_stored_scores():
    out = relabel(records_frame(), 0.6)
    assert out["leaked"].tolist() == [True, False, False]
    assert out["judge"].unique().tolist() == ["rougeL_recall>=0.6"]
    mixed = pd.concat([records_frame(), records_frame().assign(judge="contains>=1")])
    with pytest.raises(ValueError, match="2 kinds of judge"):
        relabel(mixed, 0.5)
    out = relabel(mixed, 0.5, judge="contains>=1")
    assert sorted(out["judge"].unique()) == ["contains>=0.5", "rougeL_recall>=0.4"]
    with pytest.raises(ValueError, match="no rows with judge == 'nope'"):
        relabel(mixed, 0.5, judge="nope")
    with pytest.raises(ValueError, match="no 'score' column"):
        relabel(records_frame().drop(columns="score"), 0.5)


def test_rejudge_rescores_texts_with_references_from_the_prompts():
    records = records_frame()
    out = rejudge(records, "contains")
    assert out["leaked"].tolist() == [False, False, False]
    prompts = pd.DataFrame({"prompt_id": ["q1", "q2"], "reference": ["Tromsø", "1962"]})
    out = rejudge(records.drop(columns="reference"), "contains", prompts)
    assert out["leaked"].tolist() == [True, False, True]
    with pytest.raises(ValueError, match="not in the prompt set"):
        rejudge(records, "contains", prompts.head(1))
    with pytest.raises(ValueError, match="no 'text' column"):
        rejudge(records.drop(columns="text"), "exact")


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=40), ref=st.text(min_size=1, max_size=20),
       threshold=st.floats(0, 1))
def test_scores_are_in_unit_interval_and_labels_monotone_in_threshold(text, ref, threshold):
    item = [{"reference": ref, "choices": ["a", "b"], "answer": 0, "keywords": [ref or "x"]}]
    for judge in (RougeJudge(), ContainmentJudge(), MultipleChoice(), KeywordJudge()):
        score = judge.score([text], item)[0]
        assert 0.0 <= score <= 1.0
        if judge.with_threshold(threshold).labels([score])[0]:
            assert judge.with_threshold(threshold / 2).labels([score])[0]


def test_nli_judge_with_a_tiny_classifier(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from leakstats.generate.testing import tiny_model

    folder = tiny_model(tmp_path / "lm")  # reuse its tokenizer for a tiny classifier
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, num_labels=3,
        id2label={0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"},
        label2id={"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2},
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = transformers.LlamaForSequenceClassification(config)
    model.save_pretrained(tmp_path / "nli")
    tokenizer.save_pretrained(tmp_path / "nli")
    judge = make_judge(f"nli:{tmp_path / 'nli'}@0.3")
    scores, labels = judge.judge(["born in Tromsø", "no idea", "x"], [REF] * 3)
    assert scores.shape == (3,) and ((scores > 0) & (scores < 1)).all()
    assert (labels == (scores >= 0.3)).all()
    again = judge.with_threshold(0.9).score(["born in Tromsø"], [REF])
    assert again[0] == pytest.approx(scores[0], abs=1e-6)
    config.id2label = {0: "a", 1: "b", 2: "c"}
    model.config.id2label = config.id2label
    model.save_pretrained(tmp_path / "bad")
    tokenizer.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="has no 'entailment' label"):
        NLIJudge(model=str(tmp_path / "bad")).score(["a"], [REF])


def test_the_module_lists_its_judges():
    assert {"RougeJudge", "NLIJudge", "make_judge", "relabel"} <= set(judges.__all__)
    assert np.isclose(RougeJudge().with_threshold(0.2).threshold, 0.2)


def test_every_public_name_is_importable_from_the_package():
    import leakstats

    assert set(judges.__all__) == {
        "CallableJudge", "ContainmentJudge", "Judge", "KeywordJudge", "MultipleChoice",
        "NLIJudge", "RegexJudge", "RougeJudge", "make_judge", "normalize_text", "relabel",
        "rejudge", "tokenize",
    }
    for name in judges.__all__:
        assert getattr(judges, name).__module__.startswith("leakstats.generate.judges.")
    assert leakstats.make_judge is judges.make_judge and leakstats.relabel is judges.relabel
    assert all(issubclass(getattr(judges, n), judges.Judge) for n in judges.__all__
               if n.endswith(("Judge", "Choice")))
