"""Old argument names that keep working for one release, with a DeprecationWarning.

leakstats names an option after what it chooses (``ci_method``, ``bound``, ``family``,
``n_resamples``), never after a data column (``method`` is the arm column of the unlearning
method). :func:`renamed_arguments` maps the old keyword names of a function onto the new ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from leakstats.core.errors import LeakstatsError, warn

__all__ = ["REMOVED_IN", "renamed_arguments", "renamed_attribute"]

REMOVED_IN = "0.3"

F = TypeVar("F", bound=Callable[..., Any])


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Decorate a function so that each old keyword name still works, with a warning.

    Passing an old name emits a :class:`DeprecationWarning` naming the new one and calls the
    function with the new name; passing both names raises :class:`LeakstatsError`. The
    function's signature (``inspect.signature``) is that of the new names.

    >>> @renamed_arguments(n_boot="n_resamples")
    ... def f(*, n_resamples=10):
    ...     return n_resamples
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(n_boot=5), caught[0].category.__name__
    (5, 'DeprecationWarning')
    """

    def decorate(func: F) -> F:
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise LeakstatsError(
                        f"argument {old!r}: it is the old name of {new!r} and both were given. "
                        f"Fix: pass only {new}=..."
                    )
                warn(
                    f"{name}(): argument {old!r} is renamed {new!r}; the old name stops "
                    f"working in leakstats {REMOVED_IN}. Fix: pass {new}=...",
                    DeprecationWarning)
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__renamed_arguments__ = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that returns attribute ``new``, with a DeprecationWarning.

    >>> class R:
    ...     families = ("beta",)
    ...     methods = renamed_attribute("methods", "families")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     R().methods, caught[0].category.__name__
    (('beta',), 'DeprecationWarning')
    """

    def get(self: Any) -> Any:
        warn(
            f"{type(self).__name__}.{old} is renamed {type(self).__name__}.{new}; the old name "
            f"stops working in leakstats {REMOVED_IN}.",
            DeprecationWarning)
        return getattr(self, new)

    return property(get, doc=f"Deprecated name of :attr:`{new}`.")
