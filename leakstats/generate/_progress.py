"""The run's progress bar: tqdm on stderr when asked for and installed, else one that shows
nothing."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, *, total: int, initial: int):
    """A bar counting samples from ``initial`` to ``total`` (samples/s and ETA)."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        return _NoBar()
    return tqdm(total=total, initial=initial, unit="sample", dynamic_ncols=True,
                desc="generate", file=sys.stderr)
