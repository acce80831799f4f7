"""inspect_ai evaluation logs (``.eval`` and ``.json``) as leakstats records.

Format (repository UKGovernmentBEIS/inspect_ai): ``src/inspect_ai/log/_log.py`` (``EvalLog``,
``EvalSpec``, ``EvalPlan``, ``EvalSample``), ``model/_model_output.py`` (``completion``,
``choices``), ``model/_chat_message.py`` (``role``, ``content``: text or typed parts),
``scorer/_metric.py`` (``Score``: ``value`` is ``"C"``/``"I"``/``"P"``/``"N"``, a number, a
bool, a list or a dict), ``log/_recorders/eval.py`` and ``json.py`` (the two layouts),
``log/_recorders/file.py`` (file names), ``log/_condense.py`` (``attachment://`` references).

A ``.json`` log is one ``EvalLog``: ``version``, ``status`` (``started``/``success``/
``cancelled``/``error``), ``eval`` (``task``, ``model``, ``model_generate_config``,
``dataset``...), ``plan`` (its ``config``: the run's generate config), ``results``, ``stats``,
``samples``. A ``.eval`` log is a zip of ``header.json`` (the same without samples, written at
the end), ``samples/<id>_epoch_<n>.json``, ``summaries.json``, ``reductions.json`` and, while
running, ``_journal/start.json``; members are deflated (inspect_ai before April 2026) or zstd
(since: read by Python 3.14 or the ``zstandard`` package). inspect writes them to ``./logs/``
as ``<created>_<task>_<task_id>.eval``.

One row per sample and epoch. ``prompt_id`` is the sample ``id`` as text (the dataset's own
id; inspect compares ids by ``str``); inspect numbers samples by position when the dataset has
no ids, so a task whose ids carry different inputs in different logs is identified by
prompt-text hashes instead (with a warning).
``sample_id`` numbers a prompt's epochs 0..n-1 within a run, ``epoch`` keeps inspect's number.
``prompt``: the input (its user messages' text for a chat); ``target`` (a list joined by
``" | "``); ``text``: the output's ``completion``. Arms: ``task``, ``model``, ``temperature``,
``top_p``, ``top_k``, ``seed`` (the plan's generate config over the model's) and ``run`` (the
file name without suffix). Score values: a scalar under the scorer's name (``match``), a dict
as ``<scorer>_<key>``, a list as ``<scorer>_<i>``; a name taken by a column above gets
``score_`` in front. Left out with a warning: logs whose status is not ``success``, samples
with an ``error`` or ``invalidation``, samples without a score the rule uses. Two logs of one
task, model and generate config are refused: repeats to pool and variants to compare (solver,
task arguments) look alike there.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import (
    DataValidationError,
    InputNotFoundError,
    LeakstatsError,
    LeakstatsWarning,
    MissingDependencyError,
    UnreadableFileError,
    warn,
)
from leakstats.records.importers._ids import prompt_ids_of
from leakstats.records.rules import RULE_FIX, evaluate_on, parse_rule

__all__ = ["find_files", "load", "looks_like"]

HEADER = "header.json"
START = "_journal/start.json"
SAMPLES_DIR = "samples/"
#: The zip compression method number of zstd.
ZIP_ZSTD = 93
#: Generate-config fields that become columns (the first three are arm columns).
CONFIG_FIELDS = ("temperature", "top_p", "top_k", "seed")
_OWN = ("prompt_id", "sample_id", "leaked", "text", "prompt", "target", "model", "task",
        "run", "epoch", "inspect_id", *CONFIG_FIELDS)
_JSON_HEAD = re.compile(r'\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:\s*"(\w+)"\s*,'
                        r'\s*"eval"\s*:\s*\{')
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
ATTACHMENT = "attachment://"


def _shown(items: list) -> str:
    return ", ".join(map(str, items[:5])) + (f" and {len(items) - 5} more" * (len(items) > 5))


def looks_like(path: Path) -> bool:
    """Whether ``path`` is an inspect_ai log: a zip with ``header.json`` or
    ``_journal/start.json`` (``.eval``), or JSON opening with ``version``, ``status`` and
    ``eval`` (``.json``). Reads at most 4 KiB or the zip's directory; never raises."""
    try:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".eval":
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
            return HEADER in names or START in names
        if suffix == ".json":
            with open(path, encoding="utf-8", errors="replace") as fh:
                return _JSON_HEAD.match(fh.read(4096)) is not None
    except Exception:  # noqa: BLE001 - a sniffer never raises
        return False
    return False


def find_files(root: Path) -> list[Path]:
    """The inspect_ai logs (``*.eval``, ``*.json``) below the folder ``root``, sorted."""
    try:
        found = [*Path(root).rglob("*.eval"), *Path(root).rglob("*.json")]
    except OSError:
        return []
    return sorted(p for p in found if p.is_file() and looks_like(p))



def _zstd_bytes(path: Path, info: zipfile.ZipInfo) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise MissingDependencyError(
            f"{path}: member {info.filename!r} is zstd-compressed (inspect_ai writes .eval "
            f"logs so since April 2026) and Python {sys.version_info.major}."
            f"{sys.version_info.minor} reads zstd only from 3.14 on. Fix: pip install "
            f"'leakstats[inspect]' (zstandard), or convert the log with `inspect log convert "
            f"{path.name} --to json --output-dir <folder>` and read the .json."
        ) from None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)  # a damaged header gives bytes whose CRC check fails
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        rest = fh.read(info.compress_size)
    parts, decompressor = [], zstandard.ZstdDecompressor()
    try:
        while rest:  # inspect_ai may write several zstd frames into one member
            obj = decompressor.decompressobj()
            parts.append(obj.decompress(rest))
            rest = obj.unused_data if obj.eof else b""
    except zstandard.ZstdError as exc:
        raise zipfile.BadZipFile(f"zstd: {exc}") from None
    return b"".join(parts)


def _member(path: Path, zf: zipfile.ZipFile, name: str) -> Any:
    info = zf.getinfo(name)
    try:
        if info.compress_type == ZIP_ZSTD and sys.version_info < (3, 14):
            data = _zstd_bytes(path, info)
            if zlib.crc32(data) != info.CRC:
                raise zipfile.BadZipFile("CRC check failed")
        else:
            data = zf.read(info)
        return json.loads(data)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as exc:
        if isinstance(exc, LeakstatsError):
            raise
        raise UnreadableFileError(
            f"{path}: member {name!r} cannot be read as JSON ({exc}). Fix: the log is damaged "
            f"or was cut short; re-run the evaluation or read the other logs alone."
        ) from None


def _read_eval(path: Path) -> tuple[dict, list[tuple[str, dict]]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFileError(
            f"{path}: not a readable zip ({exc}). Fix: an .eval log is a zip written by "
            f"inspect_ai; check that the file is complete.") from None
    with zf:
        names = zf.namelist()
        if HEADER in names:
            header = _member(path, zf, HEADER)
        elif START in names:  # still running, or stopped before it could finish
            header = {**_member(path, zf, START), "status": "started"}
        else:
            raise DataValidationError(
                f"{path}: the zip has neither {HEADER!r} nor {START!r} (members: "
                f"{_shown(names)}). Fix: pass an .eval log written by inspect_ai.")
        members = [n for n in names if n.startswith(SAMPLES_DIR) and n.endswith(".json")]
        samples = [(f"member {n!r}", _member(path, zf, n)) for n in members]
    return header, samples


def _read_json(path: Path) -> tuple[dict, list[tuple[str, dict]]]:
    try:
        with open(path, encoding="utf-8") as fh:
            log = json.load(fh)
    except (ValueError, OSError) as exc:
        raise UnreadableFileError(
            f"{path}: cannot be read as JSON ({exc}). Fix: the log is damaged or was cut "
            f"short; re-run the evaluation.") from None
    samples = (log.get("samples") if isinstance(log, dict) else None) or []
    return log, [(f"samples[{i}]", s) for i, s in enumerate(samples)]


def _read_log(path: Path) -> tuple[dict, list[tuple[str, dict]]]:
    header, samples = (_read_eval if path.suffix.lower() == ".eval" else _read_json)(path)
    spec = header.get("eval") if isinstance(header, dict) else None
    missing = [k for k in ("task", "model") if not isinstance((spec or {}).get(k), str)]
    if missing:
        raise DataValidationError(
            f"{path}: not an inspect_ai log: no 'eval' object with {missing} (fields there: "
            f"{sorted(spec) if isinstance(spec, dict) else None}). Fix: pass a log written by "
            f"inspect_ai.", column=missing[0])
    for where, sample in samples:
        if not isinstance(sample, dict) or "id" not in sample or "epoch" not in sample:
            raise DataValidationError(
                f"{path}, {where}: not a sample (expected an object with 'id' and 'epoch', "
                f"found {str(sample)[:80]!r}). Fix: the log is damaged; re-run it.")
    return header, samples



def _resolve(text: Any, attachments: dict) -> str:
    if isinstance(text, str) and text.startswith(ATTACHMENT):
        return attachments.get(text[len(ATTACHMENT):], text)
    return text if isinstance(text, str) else ""


def _content_text(content: Any, attachments: dict) -> str:
    if isinstance(content, str):
        return _resolve(content, attachments)
    if isinstance(content, list):
        return "\n".join(_resolve(part.get("text"), attachments) for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _prompt(sample: dict) -> str:
    attachments = sample.get("attachments") or {}
    value = sample.get("input")
    if isinstance(value, list):
        users = [m for m in value if isinstance(m, dict) and m.get("role") == "user"]
        return "\n\n".join(_content_text(m.get("content"), attachments) for m in users)
    return _content_text(value, attachments)


def _completion(sample: dict) -> str:
    attachments = sample.get("attachments") or {}
    output = sample.get("output") or {}
    text = _resolve(output.get("completion"), attachments)
    choices = output.get("choices") or []
    if not text and choices and isinstance(choices[0], dict):
        text = _content_text((choices[0].get("message") or {}).get("content"), attachments)
    return text


def _column(name: str) -> str:
    name = _UNSAFE.sub("_", name)
    name = name if re.match(r"[A-Za-z_]", name) else f"_{name}"
    return f"score_{name}" if name in _OWN else name


def _score_values(path: Path, where: str, scores: Any) -> dict[str, Any]:
    """The columns of one sample's ``scores``: ``{scorer: {"value": ...}}`` flattened."""
    out: dict[str, Any] = {}
    if scores is None:
        return out
    if not isinstance(scores, dict):
        raise DataValidationError(
            f"{path}, {where}: 'scores' is a {type(scores).__name__}, not an object. Fix: the "
            f"log is damaged; re-run its scoring (inspect score).", column="scores")
    for scorer, score in scores.items():
        if not isinstance(score, dict) or "value" not in score:
            raise DataValidationError(
                f"{path}, {where}: score {scorer!r} is {str(score)[:80]!r}, not an object with "
                f"a 'value'. Fix: the log is damaged; re-run its scoring (inspect score).",
                column=str(scorer))
        value = score["value"]
        if isinstance(value, dict):
            items = {f"{scorer}_{k}": v for k, v in value.items()}
        elif isinstance(value, list):
            items = {f"{scorer}_{i}": v for i, v in enumerate(value)}
        else:
            items = {str(scorer): value}
        for key, item in items.items():
            column = _column(key)
            if column in out:
                raise DataValidationError(
                    f"{path}, {where}: two score values both become the column {column!r} "
                    f"(scorers {sorted(scores)}). Fix: rename one of the scorers.",
                    column=column)
            out[column] = item
    return out


def _sample_row(path: Path, where: str, sample: dict) -> dict[str, Any]:
    target = sample.get("target")
    return {
        "inspect_id": str(sample["id"]),
        "epoch": int(sample["epoch"]),
        "prompt": _prompt(sample),
        "target": " | ".join(map(str, target)) if isinstance(target, list) else target,
        "text": _completion(sample),
        **_score_values(path, where, sample.get("scores")),
    }



def _arm(path: Path, header: dict) -> dict[str, Any]:
    spec = header["eval"]
    plan = (header.get("plan") or {}).get("config") or {}
    model = spec.get("model_generate_config") or {}
    arm: dict[str, Any] = {"model": spec["model"], "task": spec["task"], "run": path.stem}
    for key in CONFIG_FIELDS:  # the run's config merges over the model's (plan wins)
        value = plan.get(key) if plan.get(key) is not None else model.get(key)
        if value is not None:
            arm[key] = value
    return arm


def _kept_samples(path: Path, samples: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The samples without an error or an invalidation; a warning names the others."""
    kept, dropped = [], []
    for where, sample in samples:
        error = sample.get("error")
        if error is not None or sample.get("invalidation") is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            why = "invalidated" if error is None else f"error: {str(message)[:60]!r}"
            dropped.append(f"{sample['id']} epoch {sample['epoch']} ({why})")
        else:
            kept.append((where, sample))
    if dropped:
        warn(f"{path}: {len(dropped)} sample(s) ended with an error or were invalidated and "
             f"are left out: {_shown(dropped)}. Their prompts keep their other epochs.",
             LeakstatsWarning)
    return kept


def _log_frame(path: Path) -> pd.DataFrame | None:
    """The rows of one log with its arm columns, or None (with a warning) when it did not
    finish successfully."""
    header, samples = _read_log(path)
    status = header.get("status")
    if status != "success":
        error = (header.get("error") or {}).get("message")
        why = f" ({str(error)[:80]!r})" if error else ""
        warn(f"{path}: the log's status is {status!r}{why}, not 'success', so the run is "
             f"incomplete; it is left out. Fix: finish it with `inspect eval-retry "
             f"{path.name}` and read the new log.", LeakstatsWarning)
        return None
    samples = _kept_samples(path, samples)
    if not samples:
        warn(f"{path}: the log holds no usable samples (log_samples=False, or every "
             f"sample failed); it is left out.", LeakstatsWarning)
        return None
    order = {str(i): n for n, i in enumerate((header["eval"].get("dataset") or {})
                                              .get("sample_ids") or [])}
    samples.sort(key=lambda s: (order.get(str(s[1]["id"]), len(order)), str(s[1]["id"]),
                                int(s[1]["epoch"])))
    frame = pd.DataFrame([_sample_row(path, where, s) for where, s in samples])
    arm = _arm(path, header)
    for name, value in reversed(arm.items()):
        frame.insert(0, name, value)
    frame.attrs.update(path=path, arm=arm)
    return frame



def _check_arms(frames: list[pd.DataFrame]) -> None:
    """Refuse logs that are one arm twice, and config columns set in some logs only."""
    arms = [(f.attrs["path"], f.attrs["arm"]) for f in frames]
    for key in CONFIG_FIELDS[:3]:
        have, lack = ([p.name for p, arm in arms if (key in arm) == want] for want in (1, 0))
        if have and lack:
            raise DataValidationError(
                f"{key!r} is set in the generate config of {_shown(have)} but not of "
                f"{_shown(lack)} (the provider's default, which the log does not record), so "
                f"their arms cannot be told apart or matched. Fix: read these groups of logs "
                f"separately (one folder each), or re-run with --{key.replace('_', '-')} set.",
                column=key)
    seen: dict[tuple, Path] = {}
    for path, arm in arms:
        key = tuple((k, arm[k]) for k in ("task", "model", *CONFIG_FIELDS[:3]) if k in arm)
        if key in seen:
            raise DataValidationError(
                f"'{seen[key]}' and '{path}' are logs of the same arm ("
                f"{', '.join(f'{k}={v!r}' for k, v in key)}); whether they are repeats to pool "
                f"or variants to compare (another solver or task arguments) is not something "
                f"leakstats can tell. Fix: keep one log per arm in the folder (move the others "
                f"out), or read each file alone and concatenate them with a column that tells "
                f"them apart.", column="run")
        seen[key] = path


def _prompt_ids(frames: list[pd.DataFrame]) -> None:
    """Set ``prompt_id`` on each frame: the sample id, or a hash of the prompt text for a
    task whose ids name different inputs in different logs."""
    tasks = sorted({f.attrs["arm"]["task"] for f in frames})
    for task in tasks:
        group = [f for f in frames if f.attrs["arm"]["task"] == task]
        both = pd.concat([f[["inspect_id", "prompt"]] for f in group]).drop_duplicates()
        clash = both[both.duplicated("inspect_id", keep=False)]
        for frame in group:
            frame["prompt_id"] = frame["inspect_id"]
        if not clash.empty:
            ids = sorted(clash["inspect_id"].unique().tolist())
            warn(f"task {task!r}: the sample ids {_shown(ids)} name different inputs in "
                 f"different logs (inspect numbers samples by position when the dataset gives "
                 f"no ids); the prompts of this task are identified by their text instead.",
                 LeakstatsWarning)
            for frame in group:
                firsts = frame.drop_duplicates("inspect_id")
                by_id = dict(zip(firsts["inspect_id"], prompt_ids_of(firsts["prompt"]),
                                 strict=True))
                frame["prompt_id"] = frame["inspect_id"].map(by_id)


def _example_rule(frame: pd.DataFrame, columns: list[str]) -> str:
    name = columns[0] if columns else "match"
    values = frame[name].dropna().unique().tolist() if columns else ["C"]
    if values and all(isinstance(v, str) for v in values):
        return f"{name} == '{'C' if 'C' in values else values[0]}'"
    return f"{name} >= 1"


def _apply_rule(source: Path, frame: pd.DataFrame, rule: str, scores: list[str]) -> pd.DataFrame:
    fields = parse_rule(rule).fields()
    evaluate_on(rule, frame.head(0), argument="leaked")  # names unknown columns, wrong types
    unscored = frame[fields].isna().any(axis=1).to_numpy()
    if unscored.all():
        raise DataValidationError(
            f"{source}: no sample has a value for {fields}, which the rule {rule!r} uses. "
            f"Fix: a rule over the score columns the logs hold: {scores}.", column=fields[0])
    if unscored.any():
        lost = frame[unscored]
        spots = [f"{r.run} sample {r.inspect_id} epoch {r.epoch}" for r in lost.itertuples()]
        warn(f"{source}: {len(lost)} sample(s) have no value for {fields}, which the rule "
             f"{rule!r} uses (not scored by that scorer), and are left out: {_shown(spots)}.",
             LeakstatsWarning)
        frame = frame[~unscored].reset_index(drop=True)
    frame["leaked"] = evaluate_on(rule, frame, argument="leaked")
    return frame


def load(path: Path, *, leaked: str | None) -> pd.DataFrame:
    """Records (one row per sample and epoch) from an inspect_ai log or a folder of logs.

    Parameters
    ----------
    path : Path
        A ``.eval`` or ``.json`` log, or a folder (such as ``./logs``) searched for them.
    leaked : str or None
        A leak rule over the score columns, e.g. ``"match == 'C'"``; None raises an error
        that lists the score columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``task``, the generate-config columns that are set, ``run``,
        ``prompt_id``, ``sample_id``, ``epoch``, ``leaked``, ``prompt``, ``target``, ``text``,
        ``inspect_id`` and one column per score value.
    """
    if leaked is not None and not isinstance(leaked, str):
        raise LeakstatsError(f"argument 'leaked': inspect_ai logs take a rule string, got "
                             f"{type(leaked).__name__}. Fix: {RULE_FIX}")
    if leaked is not None:
        parse_rule(leaked)  # syntax errors before any file is read
    source = Path(path).expanduser()
    if not source.exists():
        raise InputNotFoundError(f"no such file or directory: '{source}'. Fix: check the path.")
    files = [source] if source.is_file() else find_files(source)
    if not files:
        raise DataValidationError(
            f"'{source}': no inspect_ai logs (*.eval, *.json) below it. Fix: pass the log "
            f"folder inspect wrote (./logs by default, or --log-dir).")
    frames = [f for f in map(_log_frame, files) if f is not None]
    if not frames:
        raise DataValidationError(
            f"'{source}': none of its {len(files)} log(s) finished successfully with usable "
            f"samples (see the warnings). Fix: finish the runs (inspect eval-retry) and read "
            f"the new logs.")
    _check_arms(frames)
    _prompt_ids(frames)
    frame = pd.concat(frames, ignore_index=True)
    scores = [c for c in frame.columns if c not in _OWN]
    for col in scores:  # numbers and booleans with gaps (unscored samples) as float
        values = frame[col].dropna()
        if frame[col].dtype == object and len(values) and values.map(
                lambda v: isinstance(v, bool | int | float)).all():
            frame[col] = frame[col].astype(bool if len(values) == len(frame) and values.map(
                lambda v: isinstance(v, bool)).all() else np.float64)
    if leaked is None:
        raise LeakstatsError(
            f"'{source}' holds inspect_ai logs, whose samples carry scores ({scores}); which "
            f"samples leaked is a rule over them. Fix: read it with leakstats.read(path, "
            f"leaked=\"{_example_rule(frame, scores)}\") (CLI: --leaked "
            f"\"{_example_rule(frame, scores)}\").")
    frame = _apply_rule(source, frame, leaked, scores)
    frame["sample_id"] = frame.groupby(["run", "prompt_id"], sort=False).cumcount().astype(
        np.int64)
    arms = [c for c in ("model", "task", *CONFIG_FIELDS, "run") if c in frame.columns]
    head = [*arms, "prompt_id", "sample_id", "epoch", "leaked", "prompt", "target", "text",
            "inspect_id"]
    return frame[[*head, *scores]]
