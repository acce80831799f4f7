"""Type checks of the results a renderer receives, by the class's import path.

Presentation never imports the analysis modules that define the results (they import it, in
their ``plot`` and ``to_latex`` methods): the check compares the dotted path of each class in
the object's method resolution order, so subclasses pass as with :func:`isinstance`.
"""

from __future__ import annotations

from leakstats.core.errors import LeakstatsError


def is_instance(obj, path: str) -> bool:
    """Whether ``obj`` is an instance of the class at dotted ``path`` (or of a subclass)."""
    return any(f"{c.__module__}.{c.__qualname__}" == path for c in type(obj).__mro__)


def expect(obj, path: str, *, argument: str, public: str, fix: str):
    """Return ``obj`` if it is an instance of the class at ``path``; else raise
    :class:`LeakstatsError` naming the argument, the expected public class and the fix."""
    if not is_instance(obj, path):
        raise LeakstatsError(
            f"argument '{argument}': expected {public}, got {type(obj).__name__}. Fix: {fix}."
        )
    return obj
