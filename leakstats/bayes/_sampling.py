"""PyMC, imported on demand, and its NUTS run with the package's settings and quiet output."""

from __future__ import annotations

import warnings

NUTS_SAMPLERS = ("pymc", "numpyro", "nutpie", "blackjax")


def _import_pymc():
    """(pymc, pytensor.tensor, arviz), with ArviZ's refactor notice silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
        import pymc as pm
        import pytensor.tensor as pt
    return pm, pt, az


def run_nuts(model, *, draws: int, tune: int, chains: int, target_accept: float, seed: int,
             sampler: str, cores: int | None = None):
    """NUTS on a PyMC model, quietly (the caller reports diagnostics in its own words).

    With ``sampler="pymc"`` the chains run in ``cores`` processes (default: min(chains, 2));
    NumPyro runs them one after another on one CPU device.
    """
    import logging

    pm, _, _ = _import_pymc()
    kwargs = dict(draws=draws, tune=tune, chains=chains, target_accept=target_accept,
                  random_seed=seed, progressbar=False, compute_convergence_checks=False,
                  nuts_sampler=sampler)
    if sampler == "pymc":
        kwargs["cores"] = min(chains, 2) if cores is None else cores
    elif sampler == "numpyro":
        kwargs["nuts_sampler_kwargs"] = {"chain_method": "sequential"}
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)  # e.g. JAX's device notices
            return pm.sample(**kwargs)
    finally:
        logger.setLevel(level)
