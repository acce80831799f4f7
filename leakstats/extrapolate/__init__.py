"""Extrapolation of leak@k to k far beyond the samples, from fitted mixing laws."""

from leakstats.extrapolate.api import (  # noqa: F401
    BacktestResult,
    ExtrapolationResult,
    backtest,
    extrapolate,
)
