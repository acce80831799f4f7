"""Comparing methods: paired tests and difference intervals between arms."""

from leakstats.compare.api import CompareResult, compare  # noqa: F401
