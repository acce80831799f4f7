"""Time and check the demo's model stages on SmolLM2-135M-Instruct (CPU), per preset.

Runs, with the settings of ``leakstats.unlearn.PRESETS[preset]``:

1. fine-tune on forget + retain facts ("finetuned": should memorise them);
2. fine-tune on the retain facts only ("retrain": the honest reference);
3. unlearn the forget facts from the fine-tuned model with grad_ascent, grad_diff and npo;
4. RULE from the preset's base method (sampling its model at T = 1, rounds as in the preset);
5. greedy answers of every model, scored with ROUGE-L recall against the reference.

Prints seconds per stage (wall; the training stages run in one process, as in the demo, so
the frozen lower blocks' hidden states are computed once) and the mean greedy ROUGE-L recall
on the forget and retain facts per model, and writes everything to ``<out>/unlearn_check.json``.
Stages are cached in ``<out>`` (delete it, or pass --fresh, to time them again).

What should hold (issue 7): finetuned forget ROUGE-L high (>= 0.6), retrain low, each
unlearning method near retrain on forget, and grad_diff / npo keeping retain ROUGE-L high.

Run:  nice -n 10 python benchmarks/unlearn_check.py --preset default [--threads 2]
      [--out runs/unlearn_check] [--fresh] [--set unlearn.npo.lr=2e-5 ...] [--no-greedy]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _override(preset: dict, assignments: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides (TrainConfig fields, RULE options, facts counts)."""
    from leakstats.unlearn import TrainConfig

    preset = json.loads(json.dumps(preset, default=lambda c: {"__cfg__": c.to_dict()}))

    def revive(node):
        if isinstance(node, dict):
            if "__cfg__" in node:
                return TrainConfig.from_dict(node["__cfg__"])
            return {k: revive(v) for k, v in node.items()}
        return node

    preset = revive(preset)
    for item in assignments:
        path, _, text = item.partition("=")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        keys = path.split(".")
        parent, node = None, preset
        for key in keys[:-1]:
            parent, node = node, node[key]
        if isinstance(node, TrainConfig):
            parent[keys[-2]] = dataclasses.replace(node, **{keys[-1]: value})
        else:
            node[keys[-1]] = value
    return preset


def _describe(value):
    if dataclasses.is_dataclass(value):
        return {k: v for k, v in value.to_dict().items() if v is not None}
    if isinstance(value, dict):
        return {k: _describe(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=["default", "quick"])
    parser.add_argument("--out", default=None, help="run folder (default runs/unlearn_<preset>)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--fresh", action="store_true", help="delete the run folder first")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a preset value, e.g. unlearn.npo.lr=2e-5")
    parser.add_argument("--overwrite", action="store_true",
                        help="retrain stages whose settings changed (default: raise)")
    parser.add_argument("--no-greedy", action="store_true", help="skip the greedy check")
    parser.add_argument("--no-rule", action="store_true", help="skip RULE")
    parser.add_argument("--greedy-retain", type=int, default=None, metavar="N",
                        help="greedy-answer only the first N retain facts (default: all)")
    parser.add_argument("--greedy-models", default=None,
                        help="comma-separated models to greedy-answer (default: all)")
    parser.add_argument("--base", action="store_true",
                        help="also greedy-answer the untouched base model")
    args = parser.parse_args()

    import pandas as pd
    import torch
    import transformers

    from leakstats.unlearn import (
        METHODS,
        PRESETS,
        finetune,
        greedy_answers,
        read_stage,
        rule,
        select_facts,
        unlearn,
    )

    transformers.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    preset = _override(PRESETS[args.preset], args.set)
    out = Path(args.out or f"runs/unlearn_{args.preset}")
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    facts = select_facts(**preset["facts"])
    load = os.getloadavg()
    print(f"preset {args.preset}: {_describe(preset)}")
    print(f"facts: {facts['split'].value_counts().to_dict()}, threads {args.threads}, "
          f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)

    seconds: dict[str, float] = {}
    models: dict[str, Path] = {}

    def stage(name: str, fn):
        t = time.perf_counter()
        path = fn()
        seconds[name] = time.perf_counter() - t
        models[name] = Path(path)
        print(f"  {name:<12} {seconds[name]:7.1f} s  -> {path}", flush=True)
        return path

    progress = sys.stderr.isatty()
    ft = stage("finetuned", lambda: finetune(None, facts, out=out / "finetuned",
                                             config=preset["finetune"], progress=progress,
                                             overwrite=args.overwrite))
    stage("retrain", lambda: finetune(None, facts, out=out / "retrain", splits=("retain",),
                                      config=preset["finetune"], progress=progress,
                                      overwrite=args.overwrite))
    for method in METHODS:
        stage(method, lambda m=method: unlearn(ft, facts, out=out / m, method=m,
                                               config=preset["unlearn"][m],
                                               progress=progress, overwrite=args.overwrite))
    if not args.no_rule:
        settings = dict(preset["rule"])
        base = settings.pop("method")
        stage("rule", lambda: rule(models[base], facts, out=out / "rule", method=base,
                                   progress=progress, overwrite=args.overwrite,
                                   **settings))
    training = sum(seconds.values())
    print(f"training stages total: {training:.1f} s", flush=True)

    greedy_rows = []
    greedy_seconds: dict[str, float] = {}
    if not args.no_greedy:
        targets = dict(models)
        if args.base:
            targets = {"base": None, **targets}
        if args.greedy_models:
            targets = {k: v for k, v in targets.items() if k in args.greedy_models.split(",")}
        greedy_facts = facts
        if args.greedy_retain is not None:
            greedy_facts = select_facts(facts, retain=args.greedy_retain)
        for name, path in targets.items():
            t = time.perf_counter()
            table = greedy_answers(path, greedy_facts, split=("forget", "retain"),
                                   **preset["greedy"])
            greedy_seconds[name] = time.perf_counter() - t
            means = table.groupby("split")[["rouge_l_recall", "keyword_recall"]].mean()
            row = {"model": name,
                   "forget_rougeL": means.loc["forget", "rouge_l_recall"],
                   "retain_rougeL": means.loc["retain", "rouge_l_recall"],
                   "forget_keywords": means.loc["forget", "keyword_recall"],
                   "retain_keywords": means.loc["retain", "keyword_recall"],
                   "greedy_s": greedy_seconds[name]}
            greedy_rows.append(row)
            print(f"  greedy {name:<12} ROUGE-L forget {row['forget_rougeL']:.3f} retain "
                  f"{row['retain_rougeL']:.3f} | keywords forget {row['forget_keywords']:.3f} "
                  f"retain {row['retain_keywords']:.3f} ({greedy_seconds[name]:.1f} s)",
                  flush=True)
            table.to_csv(out / f"greedy_{name}.csv", index=False)

    nll = {name: read_stage(path).get("eval_after", {}) for name, path in models.items()
           if read_stage(path) is not None}
    rule_summary = json.loads((out / "rule" / "rule.json").read_text()) \
        if (out / "rule" / "rule.json").is_file() else None
    end = os.getloadavg()
    result = {
        "preset": args.preset, "settings": _describe(preset), "threads": args.threads,
        "seconds": seconds, "training_seconds": training, "greedy_seconds": greedy_seconds,
        "greedy": greedy_rows, "answer_nll": nll,
        "rule_rounds": None if rule_summary is None else [
            {k: r[k] for k in ("round", "n_samples", "n_leaked", "leak_rate",
                               "prompts_with_leak", "new_pairs", "seconds")}
            for r in rule_summary["rounds"]],
        "load_average": {"start": load, "end": end},
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "torch": torch.__version__, "transformers": transformers.__version__,
    }
    (out / "unlearn_check.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print(pd.DataFrame([{"stage": k, "seconds": round(v, 1)} for k, v in seconds.items()])
          .to_string(index=False))
    if greedy_rows:
        print(pd.DataFrame(greedy_rows).round(3).to_string(index=False))
    print("answer NLL after each stage:", json.dumps(nll, default=lambda x: round(x, 3)))
    if result["rule_rounds"]:
        print("RULE rounds:", json.dumps(result["rule_rounds"], default=str))
    print(f"load average at end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}; {result['uptime']}")


if __name__ == "__main__":
    main()
