"""`leakstats generate`: a run on a tiny model, resume, and the bad-input paths."""

import json

import pytest

from leakstats.cli import build_parser, main
from leakstats.generate import read_store, store_manifest


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from leakstats.generate.testing import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny"))


def base(tiny, out, *extra):
    return ("generate", "--model", tiny, "--prompts", "fictitious", "--limit", 3, "--n", 4,
            "--temperature", "0.7,1.0", "--max-new-tokens", 5, "--out", out, "--no-progress",
            "--threads", 1, *extra)


def test_generate_writes_a_store_that_estimate_reads(capsys, tmp_path, tiny):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, *base(tiny, out, "--judge", "rouge:0.3", "--judge", "exact",
                                          "--seed", 5, "--stop", "\n\n"))
    assert code == 0, err
    assert "wrote 24 samples" in err and "samples/s" in err
    assert "rougeL_recall>=0.3" in stdout
    records = read_store(out)
    assert len(records) == 3 * 2 * 4 * 2
    config = store_manifest(out)["config"]
    assert config["seed"] == 5 and config["stop"] == ["\n\n"] and config["n"] == 4
    code, stdout, err = run(capsys, "estimate", out / "records", "--k", "1,2", "--format", "csv")
    assert code == 0 and "ci_low" in stdout
    # resuming a complete store does nothing, and says so
    code, _, err = run(capsys, *base(tiny, out, "--judge", "rouge:0.3", "--judge", "exact",
                                     "--seed", 5, "--stop", "\n\n", "--resume"))
    assert code == 0 and "wrote 0 samples (6 prompt x arm groups were already there)" in err


def test_existing_store_and_config_mismatch_are_refused(capsys, tmp_path, tiny):
    out = tmp_path / "run"
    assert run(capsys, *base(tiny, out))[0] == 0
    code, _, err = run(capsys, *base(tiny, out))
    assert code == 2 and "already holds a leakstats store" in err and "--resume" in err
    code, _, err = run(capsys, *base(tiny, out, "--resume", "--seed", 9))
    assert code == 2 and "seed: store has 0, this run has 9" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, *base(tiny, out, "--overwrite", "--seed", 9))
    assert code == 0 and store_manifest(out)["config"]["seed"] == 9


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (("--judge", "bleu"), "unknown judge 'bleu'"),
        (("--n", 0), "n: 0 is not an integer >= 1"),
        (("--limit", 0), "--limit: expected a positive number of prompts"),
        (("--top-p", 2), "top_p: 2.0 is not a number in (0, 1]"),
    ],
)
def test_bad_values_exit_2_with_a_message(capsys, tmp_path, tiny, extra, match):
    code, _, err = run(capsys, *base(tiny, tmp_path / "run", *extra))
    assert code == 2 and match in err


def test_unknown_prompt_set_and_bad_numbers(capsys, tmp_path):
    code, _, err = run(capsys, "generate", "--prompts", "nope:set", "--out", tmp_path / "o")
    assert code == 2 and "neither a file nor a known prompt set" in err
    code, _, err = run(capsys, "generate", "--prompts", "fictitious", "--out", tmp_path / "o",
                       "--temperature", "hot")
    assert code == 2 and "expected comma-separated floats" in err


def test_prompts_from_a_file(capsys, tmp_path, tiny):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps({"question": f"Q{i}?", "answer": f"A{i}"})
                              for i in range(2)) + "\n")
    code, _, err = run(capsys, "generate", "--model", tiny, "--prompts", path, "--n", 2,
                       "--max-new-tokens", 3, "--out", tmp_path / "o", "--no-progress",
                       "--threads", 1, "--no-logprobs", "--no-reference-logprobs")
    assert code == 0, err
    records = read_store(tmp_path / "o")
    assert records["prompt_id"].unique().tolist() == ["qa-0000", "qa-0001"]
    assert records["token_logprobs"].isna().all() and records["reference_logprob"].isna().all()


def test_help_lists_generate():
    text = build_parser().format_help()
    assert "generate" in text
