"""Loading one split of a Hugging Face Hub dataset, with its failures told apart.

``datasets.load_dataset`` fails in three ways that need different fixes, and each gets its own
error here:

- the ``datasets`` package is missing or cannot be imported:
  :class:`DatasetsNotInstalledError` (a :class:`MissingDependencyError` and a
  :class:`PromptSetUnavailableError`): install ``leakstats[datasets]``;
- the hub cannot be reached (no network, firewall, ``HF_HUB_OFFLINE=1`` with nothing cached,
  the hub answering 429 or 5xx):
  :class:`PromptSetUnavailableError`: save a copy where the hub is reachable, load it with
  ``from_files``. ``datasets`` reports these as the built-in ``ConnectionError`` ("Couldn't reach
  ... on the Hub", ``src/datasets/load.py`` in huggingface/datasets), wrapping
  ``huggingface_hub``'s ``OfflineModeIsEnabled`` / ``LocalEntryNotFoundError`` and the
  ``requests`` / ``httpx`` connection and timeout errors; all of these are recognised anywhere
  in the exception's chain;
- anything else (a config or split the hub does not have, a gated or renamed dataset, a schema
  change): :class:`PromptSetLoadError`, whose message starts with the original exception's type
  and message, chained to it (``raise ... from exc``).

A loaded split missing a column the prompt set needs raises :class:`DataValidationError`
naming the columns it has.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsError, MissingDependencyError

__all__ = [
    "DatasetsNotInstalledError",
    "PromptSetLoadError",
    "PromptSetUnavailableError",
    "is_network_error",
    "load_hub_split",
]

#: Exception class names (anywhere in an exception's MRO) that mean "the hub was not reached":
#: huggingface_hub, requests, urllib3 and httpx spell them so.
_NETWORK_NAMES = frozenset({
    "OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectTimeout", "ReadTimeout",
    "Timeout", "TimeoutException", "ConnectError", "NetworkError", "NewConnectionError",
    "MaxRetryError", "NameResolutionError", "ProxyError", "ConnectionError",
})
#: HTTP statuses that mean the hub is down or throttling, not that the request was wrong.
_UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class PromptSetUnavailableError(LeakstatsError):
    """A prompt set could not be loaded from the Hugging Face Hub: the hub was not reached, or
    the ``datasets`` package is missing."""


class DatasetsNotInstalledError(MissingDependencyError, PromptSetUnavailableError):
    """The ``datasets`` package (extra ``leakstats[datasets]``) is missing or cannot be
    imported."""


class PromptSetLoadError(LeakstatsError):
    """The hub answered but loading failed (unknown config or split, gated or missing dataset,
    changed schema); the message starts with the original error, which is chained."""


def _chain(exc: BaseException):
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend([item.__cause__, item.__context__])


def is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception in its cause/context chain) means the hub was not
    reached: ``ConnectionError``, ``TimeoutError``, a DNS failure, a ``huggingface_hub``,
    ``requests``, ``urllib3`` or ``httpx`` connection, timeout or offline-mode error, or an
    HTTP error whose ``response.status_code`` is 429, 500, 502, 503 or 504.

    Examples
    --------
    >>> is_network_error(ConnectionError("Couldn't reach 'x' on the Hub"))
    True
    >>> is_network_error(ValueError("BuilderConfig 'x' not found."))
    False
    """
    for item in _chain(exc):
        if isinstance(item, ConnectionError | TimeoutError | socket.gaierror | socket.herror):
            return True
        if any(cls.__name__ in _NETWORK_NAMES for cls in type(item).__mro__):
            return True
        if getattr(getattr(item, "response", None), "status_code", None) in _UNAVAILABLE_STATUSES:
            return True
    return False


def _import_datasets(repo: str, local: str):
    try:
        import datasets
    except ImportError as exc:
        raise DatasetsNotInstalledError(
            f"loading {repo} from the Hugging Face Hub needs the datasets package, which is "
            f"not installed or cannot be imported ({type(exc).__name__}: {exc}). Fix: pip "
            f"install 'leakstats[datasets]', or load a local copy with {local}."
        ) from exc
    return datasets


def _qualified(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def load_hub_split(
    repo: str, config: str, split: str, *, columns: Sequence[str], local: str
) -> pd.DataFrame:
    """One split of a hub dataset as a DataFrame, checked to have ``columns``.

    Parameters
    ----------
    repo, config, split : str
        As ``datasets.load_dataset(repo, config, split=split)`` takes them.
    columns : sequence of str
        The columns the prompt set reads.
    local : str
        The ``from_files(...)`` call that loads a saved copy of this split (shown in fixes).

    Raises
    ------
    DatasetsNotInstalledError, PromptSetUnavailableError, PromptSetLoadError
        See the module docstring.
    DataValidationError
        If the loaded split lacks one of ``columns``.
    """
    datasets = _import_datasets(repo, local)
    where = f"{repo} (config {config!r}, split {split!r})"
    save = (f"datasets.load_dataset({repo!r}, {config!r}, split={split!r})"
            f".to_json('{config}-{split}.jsonl')")
    try:
        data = datasets.load_dataset(repo, config, split=split)
    except Exception as exc:  # sorted below; nothing is swallowed
        if is_network_error(exc):
            raise PromptSetUnavailableError(
                f"could not reach the Hugging Face Hub to load {where}: {_qualified(exc)}: "
                f"{exc}. This machine is offline, the hub is blocked (firewall, proxy, "
                f"HF_HUB_OFFLINE=1 / HF_DATASETS_OFFLINE=1 with nothing cached) or the hub is "
                f"down or throttling (HTTP 429/5xx: retry later). Fix: where the "
                f"hub is reachable run {save}, copy the file here and load it with {local}."
            ) from exc
        raise PromptSetLoadError(
            f"{_qualified(exc)}: {exc} (while loading {where} from the Hugging Face Hub; the "
            f"hub was reached). The dataset on the hub may have changed (config or split "
            f"renamed, schema changed), be gated (log in: huggingface-cli login, or set "
            f"HF_TOKEN), or the datasets version be too old. Fix: act on the error above, or "
            f"save a copy with {save} and load it with {local}."
        ) from exc
    frame = _to_frame(data)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{where}: no column(s) {missing} (columns present: "
            f"{list(map(str, frame.columns))}); the dataset's schema differs from the one this "
            f"prompt set reads. Fix: save the split ({save}), rename its columns and load it "
            f"with {local}, or with from_files(path, question=..., answer=...).",
            column=missing[0],
        )
    return frame


def _to_frame(data) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if hasattr(data, "to_pandas"):  # a datasets.Dataset
        return data.to_pandas().reset_index(drop=True)
    return pd.DataFrame(list(data))
