"""open-unlearning evaluation output (github.com/locuslab/open-unlearning): the
``<BENCH>_EVAL.json`` of ``src/eval.py`` runs, one generation per question per run.

Their files that define the format: ``src/evals/base.py`` (``Evaluator``: ``<output_dir>/
<NAME>_EVAL.json``, NAME ``TOFU``/``MUSE``, ``{metric: {"agg_value", "value_by_index":
{"<index>": {...}}}}`` sorted by metric; ``<NAME>_SUMMARY.json`` holds ``{metric: agg_value}``;
a metric already in the file is kept, logged as ``Skipping <metric>, already evaluated.``,
unless ``overwrite=true``); ``src/evals/metrics/base.py`` (``pre_compute`` metrics such as
``model_utility``'s ``retain_Q_A_ROUGE`` are stored under their own names);
``src/evals/metrics/utils.py`` (``eval_text_similarity`` of the ``rouge`` handler in
``memorization.py``: entries ``rouge1_recall``, ``rougeL_f1``, ``rougeL_recall``, ``input`` (the
decoded prompt, chat template included), ``ground_truth``, ``generation``; multi-answer datasets
such as ``forget_Q_A_PERT_ROUGE`` store lists, ``dict_transpose``); ``src/data/utils.py``
(``add_dataset_index``: ``<index>`` is the question's row in its dataset split). Probability,
truth-ratio, ES/EM and MIA metrics store numbers only; ``classifier_prob`` (``*_gibberish``)
stores ``score`` and ``generation``. ``configs/generation/default.yaml`` (each ROUGE metric's
``generation_args``: ``do_sample: False``, ``top_p``/``temperature`` null), ``configs/eval.yaml``
(``seed``, ``task_name``), ``configs/paths/default.yaml`` and ``configs/hydra/eval.yaml`` (the
run folder ``saves/eval/<task_name>``, where Hydra saves the unresolved ``.hydra/config.yaml``).

Records: each metric with ``input`` and ``generation`` is read, named in the ``task`` arm column
(Hydra's ``task_name`` names the run: ``run``); ``model``, ``temperature``/``top_p`` (0.0/1.0 if
greedy), ``split``, ``seed`` from the config, ``key=value`` and ``method`` from folder names; runs
equal in all but the seed are one arm's samples, by seed; a prompt is its ``input``'s hash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core import errors
from leakstats.core.errors import DataValidationError, DegenerateDataWarning, LeakstatsWarning, warn
from leakstats.records.importers._ids import prompt_ids_of
from leakstats.records.rules import evaluate_on, parse_rule
from leakstats.records.schema import ARM_COLUMNS

__all__ = ["find_files", "load", "looks_like"]

EVAL_FILE = re.compile(r"(?P<bench>.+)_EVAL\.json")
SUMMARY_FILE = re.compile(r"(?P<bench>.+)_SUMMARY\.json")
TEXT_FIELDS = ("input", "ground_truth", "generation")
#: Config keys that differ between the seeds of one arm without changing the samples.
IGNORED_KEYS = tuple("batch_size device_map device output_dir overwrite retain_logs_path "
                     "use_cache reference_logs attn_implementation access_key".split())
#: Columns of the records table the score fields must not overwrite.
RESERVED = tuple("prompt_id sample_id leaked text prompt ground_truth task method model split "
                 "temperature top_p seed run benchmark do_sample max_new_tokens index".split())
_PAIR = re.compile(r"([A-Za-z_]+)=([^=]+?)(?=[A-Za-z_]+=|$)")
_HEAD = re.compile(r'\s*\{\s*"[^"]*"\s*:\s*\{')
_REF = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
_EXAMPLE_RULE = "rougeL_recall >= 0.5"
_NOT_FOLDER = ("prompt_id", "sample_id", "leaked", "text", "prompt", "ground_truth", "index")


def _fail(where: Any, what: str, fix: str, column: str | None = None) -> None:
    raise DataValidationError(f"{where}: {what}. Fix: {fix}", column=column)


def looks_like(path: Path) -> bool:
    """Whether ``path`` is an open-unlearning ``*_EVAL.json`` (its first metric is an object;
    ``agg_value`` or ``value_by_index`` within the first 64 KiB) or a ``*_SUMMARY.json``."""
    try:
        path = Path(path)
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except (OSError, ValueError):
        return False
    if SUMMARY_FILE.fullmatch(path.name):
        return bool(re.match(r'\s*\{\s*("[^"]*"\s*:\s*[-\dNI]|\})', head))
    return bool(_HEAD.match(head)) and ('"agg_value"' in head or '"value_by_index"' in head)


def find_files(root: Path) -> list[Path]:
    """The ``*_EVAL.json`` files below ``root`` (Hydra's ``.hydra`` folders skipped)."""
    return sorted(p for p in Path(root).rglob("*_EVAL.json")
                  if ".hydra" not in p.parts and p.is_file() and looks_like(p))


def _get(cfg: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(cfg, dict) or key not in cfg:
            return None
        cfg = cfg[key]
    return cfg


def _resolve(value: Any, cfg: dict, depth: int = 0) -> Any:
    """``${a.b}`` interpolations of Hydra's unresolved config, looked up in ``cfg``; others
    (resolvers such as ``${now:...}``, missing keys) stay as written."""
    if not isinstance(value, str) or "${" not in value or depth > 10:
        return value
    whole = _REF.fullmatch(value)
    if whole:
        found = _get(cfg, whole.group(1))
        return value if found is None else _resolve(found, cfg, depth + 1)
    return _REF.sub(lambda m: str(_resolve(_get(cfg, m.group(1)), cfg, depth + 1))
                    if _get(cfg, m.group(1)) is not None else m.group(0), value)


def _flat(tree: Any, cfg: dict, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key not in IGNORED_KEYS:
                _flat(value, cfg, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = _resolve(tree, cfg)
    return out


def _metric_configs(node: Any, metric: str, where: str = "eval") -> list[tuple[str, dict]]:
    """Every place below ``eval`` where ``metric`` is configured (a dict with a handler)."""
    if not isinstance(node, dict):
        return []
    return [found for key, value in node.items() for found in (
        [(f"{where}.{key}", value)] if key == metric and isinstance(value, dict)
        and "handler" in value else []) + _metric_configs(value, metric, f"{where}.{key}")]


def _config_of(file: Path, top: Path | None) -> tuple[Path | None, dict | None]:
    """The run's ``.hydra/config.yaml``: beside the file, or one or two folders up (an
    unlearning run's ``evals`` / ``checkpoint-N/evals``), never above ``top``."""
    folder = file.parent
    for _ in range(3):
        candidate = folder / ".hydra" / "config.yaml"
        if candidate.is_file():
            try:
                import yaml
            except ImportError as exc:
                raise errors.MissingDependencyError(
                    f"{candidate}: reading the run's config needs PyYAML, which is not "
                    f"installed. Fix: pip install pyyaml.") from exc
            try:
                cfg = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError, yaml.YAMLError) as exc:
                cfg = exc
            if not isinstance(cfg, dict):
                _fail(candidate, f"cannot read the run's config (found {cfg!r:.200})",
                      "restore the config Hydra wrote for this run, or remove it (the "
                      "generation settings are then unknown).")
            return candidate, cfg
        if top is not None and folder == top or folder.parent == folder:
            break
        folder = folder.parent
    return None, None


@dataclass
class _Run:
    file: Path
    name: str
    benchmark: str
    logs: dict
    config_path: Path | None
    config: dict | None
    folder: dict[str, Any] = field(default_factory=dict)
    resumed: set[str] = field(default_factory=set)


def _resumed(file: Path, bench: str) -> set[str]:
    """Metrics the folder's last run kept from an earlier run (``eval.log``, after its last
    ``Running <bench> evaluation suite``: ``Skipping <metric>, already evaluated.``)."""
    try:
        text = (file.parent / "eval.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    last = text.rsplit(f"Running {bench} evaluation suite", 1)[-1]
    return set(re.findall(r"Skipping ([^\s']+), already evaluated", last))


def _read_logs(file: Path) -> dict:
    if SUMMARY_FILE.fullmatch(file.name):
        bench = SUMMARY_FILE.fullmatch(file.name).group("bench")
        _fail(file, "this is open-unlearning's summary (one aggregate number per metric, no "
              "generations)", f"read {bench}_EVAL.json beside it, or the whole folder.")
    try:
        logs = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(file, f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
              if isinstance(exc, json.JSONDecodeError) else f"cannot read the file ({exc})",
              "the run may have stopped while writing it; rerun its evaluation.")
    if not isinstance(logs, dict):
        _fail(file, f"expected a JSON object keyed by metric, found {type(logs).__name__}",
              "pass an open-unlearning <BENCH>_EVAL.json.")
    return logs


def _folder_values(root: Path, file: Path) -> dict[str, Any]:
    """``key=value`` segments of the folders from ``root`` down to the run folder, and
    ``method`` from the plain segments above the run folder."""
    parts = file.parent.relative_to(root).parts or (file.parent.name,)
    values: dict[str, Any] = {}
    plain = []
    for i, part in enumerate(parts):
        pairs = _PAIR.findall(part)
        if pairs and "".join(f"{k}={v}" for k, v in pairs) == part and not {
                k for k, _ in pairs} & {"task", "run", "benchmark", *_NOT_FOLDER}:
            for key, text in pairs:
                try:
                    number = float(text)
                    values[key] = int(number) if key == "seed" and number.is_integer() else number
                except ValueError:
                    values[key] = text
        elif i < len(parts) - 1 and part not in ("saves", "eval", "unlearn", "evals"):
            plain.append(part)
    if plain:
        values.setdefault("method", "/".join(plain))
    return values


def _runs(path: Path) -> tuple[Path, list[_Run]]:
    if path.is_file():
        root, files = path.parent, [path]
    else:
        root, files = path, find_files(path)
        if not files:
            _fail(path, "no open-unlearning *_EVAL.json below this folder",
                  "point at the run folder (saves/eval/<task_name>) or a folder of them.")
    runs = []
    for file in files:
        match = EVAL_FILE.fullmatch(file.name)
        config_path, config = _config_of(file, None if path.is_file() else root)
        bench = match.group("bench") if match else file.stem
        runs.append(_Run(file=file, name=str(file.relative_to(root).parent)
                         if file.parent != root else file.parent.name, benchmark=bench,
                         logs=_read_logs(file), config_path=config_path, config=config,
                         folder=_folder_values(root, file), resumed=_resumed(file, bench)))
    return root, runs


def _settings(run: _Run, metric: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arm columns of ``metric`` in ``run`` and the config it must share with the arm's
    other runs."""
    cfg, where = run.config, run.config_path
    values: dict[str, Any] = {}
    signature: dict[str, Any] = {}
    if cfg is not None:
        places = _metric_configs(cfg.get("eval"), metric)
        flats = {p: _flat(c, cfg, "", {}) for p, c in places}
        if len({json.dumps(f, sort_keys=True, default=str) for f in flats.values()}) > 1:
            _fail(where, f"metric {metric!r} is configured differently at {list(flats)}, so "
                  f"which settings made its generations is unknown",
                  "give the metric one configuration (remove it from the other metric's "
                  "pre_compute) and rerun, or import a run with one configuration.")
        gen = next(iter(flats.values()), {})
        signature.update(gen, **_flat(cfg.get("model") or {}, cfg, "model", {}))
        bench_cfg = _get(cfg, f"eval.{run.benchmark.lower()}") or {}
        signature.update({f"eval.{k}": _resolve(v, cfg) for k, v in bench_cfg.items()
                          if not isinstance(v, dict) and k not in IGNORED_KEYS})
        sample = gen.get("generation_args.do_sample")
        if places:
            values["do_sample"] = bool(sample)
            values.update({k: gen[f"generation_args.{k}"] for k in ("temperature", "top_p",
                           "max_new_tokens") if gen.get(f"generation_args.{k}") is not None})
            if not sample:
                values.update(temperature=0.0, top_p=1.0)
        found = {"model": _get(cfg, "model.model_args.pretrained_model_name_or_path"),
                 "split": bench_cfg.get("forget_split", bench_cfg.get("data_split")),
                 "seed": cfg.get("seed", _get(cfg, "trainer.args.seed"))}
        values.update({k: _resolve(v, cfg) if k == "seed" else str(_resolve(v, cfg))
                       for k, v in found.items() if v is not None})
    for key, value in run.folder.items():
        if key in ("temperature", "top_p") and values.get("do_sample") is False:
            continue  # a greedy metric of a run whose folder names its sampled metric's values
        if key in values and values[key] != value:
            _fail(run.file.parent, f"the folder name says {key}={value} but the run's config "
                  f"{where} records {values[key]!r}", "rename the folder to agree with the "
                  "config, or drop the segment.", column=key)
        values.setdefault(key, value)
    lacking = [k for k in ("temperature", "top_p") if k not in values]
    if values.get("do_sample") and lacking:
        _fail(where, f"metric {metric!r} sampled (do_sample true) with {lacking} null: "
              f"transformers then takes them from the model's generation_config.json, which "
              f"the run does not record", f"name the run's folder with the values used, e.g. "
              f"'temperature=0.6top_p=0.9/', or rerun with "
              f"eval.{run.benchmark.lower()}.metrics.{metric}.generation_args.temperature=1.0 "
              f"and ...top_p=1.0.", column=lacking[0])
    return values, signature


def _generation_metrics(run: _Run) -> tuple[dict[str, dict], list[str]]:
    """The metrics of ``run`` whose entries carry ``input`` and ``generation``; the names of
    those left out because their entries hold lists (several answers per question)."""
    keep, lists = {}, []
    for metric, block in run.logs.items():
        entries = block.get("value_by_index") if isinstance(block, dict) else None
        if not isinstance(entries, dict):
            continue
        first = next((e for e in entries.values() if isinstance(e, dict)), None)
        if first is None or "generation" not in first or "input" not in first:
            continue
        if isinstance(first["generation"], list):
            lists.append(metric)
        else:
            keep[metric] = entries
    return keep, lists


def _index_key(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.lstrip("-").isdigit() else (1, key)


def _rows(run: _Run, metric: str, entries: dict) -> tuple[pd.DataFrame, list[str]]:
    """One row per question of ``metric`` in ``run`` (in index order), and its score names."""
    where = f"{run.file}, metric {metric!r}"
    skipped = [k for k, e in entries.items() if e is None]
    if skipped:
        warn(f"{where}: {len(skipped)} index(es) hold null instead of an evaluation "
             f"({skipped[:5]}); they are left out.", LeakstatsWarning)
    items = sorted(((k, e) for k, e in entries.items() if e is not None),
                   key=lambda item: _index_key(item[0]))
    for key, entry in items:
        if not isinstance(entry, dict) or not all(
                isinstance(entry.get(f), str) for f in ("input", "generation")):
            shown = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            _fail(f"{where}, index {key!r}", f"expected 'input' and 'generation' texts, found "
                  f"{shown}", "rerun the metric's evaluation; the entry is damaged.",
                  column="text")
    frame = pd.DataFrame({
        "index": [_index_key(k)[1] for k, _ in items],
        "prompt": [e["input"] for _, e in items],
        "ground_truth": [e.get("ground_truth") for _, e in items],
        "text": [e["generation"] for _, e in items],
    })
    names = []
    for name in dict.fromkeys(f for _, e in items for f in e if f not in TEXT_FIELDS):
        raw = [e.get(name) for _, e in items]
        column = f"{metric}_{name}" if name in RESERVED else name
        if all(v is None or isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
            frame[column] = np.array([np.nan if v is None else v for v in raw], dtype=float)
            names.append(column)
        else:
            frame[column] = raw
    frame.insert(0, "prompt_id", prompt_ids_of(frame["prompt"]))
    return frame, names


def _number_samples(items: list[tuple[dict, dict, _Run, pd.DataFrame]]) -> list[pd.DataFrame]:
    """Group (settings, signature, run, rows) into arms (equal settings but the seed), check
    each arm's runs against each other, and mark each row with its arm and its run's rank."""
    arms: dict[str, list] = {}
    for item in items:
        arm = {k: v for k, v in item[0].items() if k != "seed"}
        arm.update(task=item[3]["task"].iloc[0], benchmark=item[2].benchmark)
        key = json.dumps(arm, sort_keys=True, default=str)
        arms.setdefault(key, []).append(item)
    frames = []
    for arm, members in enumerate(arms.values()):
        members.sort(key=lambda m: (_index_key(str(m[0].get("seed"))), m[2].name))
        values, signature, first = members[0][0], members[0][1], members[0][2]
        judge = members[0][3]["task"].iloc[0]
        seeds: dict[Any, _Run] = {}
        for other_values, other_sig, run, _ in members:
            diff = sorted(k for k in signature.keys() | other_sig.keys()
                          if signature.get(k) != other_sig.get(k))
            if diff:
                k = diff[0]
                _fail(f"{run.file} and {first.file}", f"two runs of one arm ({judge}) record "
                      f"different {k!r}: {other_sig.get(k)!r} and {signature.get(k)!r} "
                      f"({len(diff)} key(s) differ: {diff[:5]})", "runs that differ in more "
                      "than the seed are different arms: put each setting in its own "
                      f"key=value folder (e.g. {k.rsplit('.', 1)[-1]}=<value>/), or import "
                      "them separately.", column=k.rsplit(".", 1)[-1])
            seed = other_values.get("seed")
            if seed in seeds:
                what = f"the same seed {seed!r}" if seed is not None else "no recorded seed"
                _fail(f"{run.file} and {seeds[seed].file}", f"two runs of one arm ({judge}) "
                      f"have {what}, so they are copies, not independent samples",
                      "rerun with seed=<a new seed> (the `seed` of open-unlearning's "
                      "eval.yaml), or remove the duplicate run; without a config, name the "
                      "folders seed=<s>/.", column="seed")
            seeds[seed] = run
        _check_questions(members, judge)
        if len(members) > 1 and values.get("do_sample") is False:
            warn(f"{len(members)} runs of {judge} ({first.name} ...) decoded greedily "
                 f"(do_sample false): their samples are identical, not independent draws, so "
                 f"leak@k equals leak@1. Sample with generation_args.do_sample=true and a "
                 f"temperature for leak@k.", DegenerateDataWarning)
        for rank, (_, _, _, rows) in enumerate(members):
            frames.append(rows.assign(_arm=arm, _rank=rank))
    return frames


def _check_questions(members: list, judge: str) -> None:
    """Warn when the runs of one arm lack questions or are copies of each other; refuse two
    reference answers for one question."""
    copies: dict[int, list[str]] = {}
    for m in members:
        pairs = frozenset(zip(m[3]["prompt_id"], m[3]["text"], strict=True))
        copies.setdefault(hash(pairs), []).append(m[2].name)
    copied = [names for names in copies.values() if len(names) > 1]
    if copied and members[0][0].get("do_sample") is not False:
        warn(f"{judge}: runs {copied[:3]} hold the same generation for every question: "
             f"copies of one run are not independent samples (open-unlearning keeps a "
             f"metric already in <BENCH>_EVAL.json unless eval.<bench>.overwrite=true). "
             f"Fix: evaluate each seed into its own folder.", DegenerateDataWarning)
    sets = [set(m[3]["prompt_id"]) for m in members]
    union = set().union(*sets)
    short = [(m[2].name, len(union - s)) for m, s in zip(members, sets, strict=True)
             if s != union]
    if short:
        warn(f"{judge}: the runs of one arm disagree on the question set ({len(union)} "
             f"questions in all; (run, questions it lacks): {short[:5]}); those questions "
             f"have fewer samples.", LeakstatsWarning)
    truths: dict[str, Any] = {}
    for m in members:
        for pid, truth in zip(m[3]["prompt_id"], m[3]["ground_truth"], strict=True):
            if truths.setdefault(pid, truth) != truth:
                _fail(m[2].file, f"{judge}: the question {pid} has the reference answer "
                      f"{truth!r} here and {truths[pid]!r} in another run of the arm",
                      "import runs evaluated on the same dataset together.",
                      column="ground_truth")


def load(path: Path, *, leaked: str | None) -> pd.DataFrame:
    """Records (one row per generation) from one ``<BENCH>_EVAL.json`` or a folder of them."""
    if leaked is not None and not isinstance(leaked, str):
        raise errors.LeakstatsError(f"argument 'leaked': open-unlearning files take a rule "
                                    f"string, not a {type(leaked).__name__}. Fix: write e.g. "
                                    f"\"{_EXAMPLE_RULE}\".")
    _ = leaked is None or parse_rule(leaked)  # a syntax error before reading the files
    path = Path(path).expanduser()
    if not path.exists():
        raise errors.InputNotFoundError(f"no such file or folder: '{path}'. Fix: check the path.")
    _, runs = _runs(path)
    items, dropped, scores, settings, empty = [], {}, {}, {}, []
    for run in runs:
        metrics, lists = _generation_metrics(run)
        for metric in lists:
            dropped.setdefault(metric, []).append(run.name)
        empty += [] if metrics else [run]
        for metric, entries in metrics.items():
            if metric in run.resumed and run.config is not None:
                warn(f"{run.file}: eval.log says {metric} was kept from an earlier run ('Skipping"
                     f" {metric}, already evaluated'); .hydra/config.yaml describes the last run "
                     f"only, so its seed and generation settings may not be those of these "
                     f"generations. Fix: evaluate each seed into its own folder, or rerun with "
                     f"eval.{run.benchmark.lower()}.overwrite=true.", LeakstatsWarning)
            values, signature = _settings(run, metric)
            rows, names = _rows(run, metric, entries)
            scores.update(dict.fromkeys(names))
            settings.update(dict.fromkeys(values))
            rows = rows.assign(task=metric, **values, run=run.name, benchmark=run.benchmark)
            items.append((values, signature, run, rows))
    for metric, names in dropped.items():
        warn(f"{metric}: its entries hold lists (several reference answers per question, "
             f"each with its own generation) in {len(names)} run(s) ({names[:3]}); it is "
             f"left out: a leak rule needs one reference per sample.", LeakstatsWarning)
    if empty and (path.is_file() or len(empty) == len(runs)):
        _fail(empty[0].file, f"no metric with per-question generations ('input' and "
              f"'generation' in value_by_index); metrics present: {sorted(empty[0].logs)[:10]}",
              "evaluate a ROUGE metric (TOFU forget_Q_A_ROUGE, MUSE forget_knowmem_ROUGE ...), "
              "with generation_args.do_sample=true for leak@k.")
    if empty:
        warn(f"{path}: {len(empty)} file(s) hold no metric with generations and are left out: "
             f"{[r.name for r in empty][:5]}.", LeakstatsWarning)
    if not any(r.config is not None for r in runs):
        warn(f"{path}: no .hydra/config.yaml with the {len(runs)} run(s); the generation "
             f"settings (temperature, top_p) are unknown and the arms come from key=value "
             f"folder names only.", LeakstatsWarning)
    frame = pd.concat(_number_samples(items), ignore_index=True)
    return _finish(frame, leaked, path, list(scores), [k for k in settings if k != "seed"])


def _finish(frame: pd.DataFrame, leaked: str | None, path: Path, scores: list[str],
            settings: list[str]) -> pd.DataFrame:
    for col in [c for c in settings if frame[c].isna().any()][:1]:
        runs = sorted(frame.loc[frame[col].isna(), "run"].unique())[:5]
        _fail(path, f"{col!r} is recorded for some runs but not for {runs}, so their arms cannot"
              f" be told apart", f"give every run its value: restore its .hydra/config.yaml, or "
              f"name its folder {col}=<value>/.", column=col)
    frame = frame.sort_values(["_arm", "prompt_id", "_rank"], kind="stable")
    frame["sample_id"] = frame.groupby(["_arm", "prompt_id"], sort=False).cumcount()
    defaults = [c for c in ARM_COLUMNS if c in frame.columns]
    extra = [c for c in ("benchmark", *settings) if c not in ARM_COLUMNS and c != "do_sample"
             and frame.groupby(defaults)[c].nunique(dropna=False).max() > 1]
    if extra:
        warn(f"{path}: arms differ in {extra}, which leakstats does not take as arm columns "
             f"by default ({list(ARM_COLUMNS)}), so they would be pooled. Fix: pass --by "
             f"{','.join(defaults + extra)} (by=[...]), or --where to keep one.",
             LeakstatsWarning)
    frame = frame.drop(columns=["_arm", "_rank"]).reset_index(drop=True)
    if leaked is None:
        raise errors.LeakstatsError(
            f"'{path}' holds open-unlearning scores; which generations leaked is a rule over "
            f"them (score columns: {scores}). Fix: read it with leakstats.read(path, "
            f"leaked=\"{_EXAMPLE_RULE}\") (CLI: --leaked \"{_EXAMPLE_RULE}\").")
    frame["leaked"] = evaluate_on(leaked, frame, argument="leaked")
    first = ["prompt_id", "sample_id", "leaked", *defaults]
    return frame[[*first, *[c for c in frame.columns if c not in first]]]
