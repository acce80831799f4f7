"""Bayesian layer: hierarchical (zero-inflated) beta-binomial model of per-prompt leak rates.

Model, per arm (see docs/bayes.md):

    pi0              ~ Beta(1, 1)                  share of prompts that never leak (p = 0)
    logit(mu)        ~ Normal(-3, 2.5)             mean leak probability of the leaking prompts
    log(kappa)       ~ Normal(1, 2.5)              concentration; a = mu kappa, b = (1 - mu) kappa
    p_i              =  0 with probability pi0, else ~ Beta(a, b)
    c_i | p_i        ~ Binomial(n_i, p_i)

p_i is integrated out: the likelihood is evaluated once per distinct (arm, n, c) triple and
weighted by its multiplicity, so fitting costs the same for 1,000 or 100,000 prompts. Arms get
independent parameters (an ``arm`` dimension) in one PyMC model and one NUTS run. Per-prompt
posteriors and leak@k at any k, also far beyond n, follow in closed form per posterior draw
(:mod:`leakstats.bayes._math`).

PyMC and ArviZ are imported only when a model is fitted.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leakstats.bayes import _math as bm
from leakstats.bayes._density import LogDensity
from leakstats.core.checks import check_choice, check_int, check_level, parse_k
from leakstats.core.errors import DegenerateDataWarning, LeakstatsError, LeakstatsWarning
from leakstats.estimate.result import RESULT_COLUMNS

NUTS_SAMPLERS = ("pymc", "numpyro", "nutpie", "blackjax")


class ConvergenceWarning(LeakstatsWarning):
    """The sampler's diagnostics (R-hat, ESS, divergences) are out of bounds."""


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors of the beta-binomial model (per arm).

    ``logit_mu`` and ``log_kappa`` are (mean, sd) of normal priors on logit(mu) and log(kappa);
    ``pi0`` is (alpha, beta) of a beta prior on the zero-inflation share.
    The defaults put 95% prior mass on mu in [3.6e-4, 0.88] (rare to frequent leaks), kappa in
    [1.5e-4, 4.9e4] (all-or-nothing to homogeneous prompts) and pi0 uniform. The log(kappa)
    sd was 1.5, then 2.5, until 2026-11-29: with rare leaks the data say little about kappa,
    those priors decided it, and the credible intervals of leak@k undercovered when the truth
    had a large kappa (e.g. mu = 1e-3, kappa = 50; docs/bayes.md, "The model").
    """

    logit_mu: tuple[float, float] = (-3.0, 2.5)
    log_kappa: tuple[float, float] = (1.0, 5.0)
    pi0: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        for name in ("logit_mu", "log_kappa", "pi0"):
            value = getattr(self, name)
            ok = (
                isinstance(value, tuple | list)
                and len(value) == 2
                and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in value)
                and value[1] > 0
                and (name != "pi0" or value[0] > 0)
            )
            if not ok:
                raise LeakstatsError(
                    f"priors.{name}: {value!r} is not a pair of finite numbers with a positive "
                    f"second entry{' and first entry' if name == 'pi0' else ''}. Fix: e.g. "
                    f"Priors({name}={getattr(Priors, name)!r})."
                )


def _import_pymc():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ's refactor notice
        import arviz as az
        import pymc as pm
        import pytensor.tensor as pt
    return pm, pt, az


class BetaBinomialModel:
    """Hierarchical (zero-inflated) beta-binomial model of per-prompt leak probabilities.

    Parameters
    ----------
    zero_inflated : bool, default True
        Include the share pi0 of prompts that never leak. ``False`` gives the plain
        beta-binomial model (Kazdan et al. 2025).
    priors : Priors, optional
        Prior settings; see :class:`Priors`.
    draws, tune, chains : int
        NUTS draws kept per chain, warm-up iterations per chain, and chains.
    target_accept : float, default 0.95
        NUTS target acceptance rate (high, because pi0 and the beta's left tail trade off).
    nuts_sampler : {"pymc", "numpyro", "nutpie", "blackjax"}
        NUTS implementation, passed to :func:`pymc.sample`; the last three need their packages.
        PyMC's own is the default: on the 2-core benchmark machine it fitted in half the time
        of NumPyro's (docs/benchmarks.md).
    rng : None, int or numpy.random.Generator
        Seed for the sampler and for the posterior simulations.

    Attributes (after :meth:`fit`)
    ------------------------------
    idata_ : arviz.InferenceData
        Posterior of ``mu``, ``kappa``, ``pi0`` (and ``a``, ``b``) with an ``arm`` dimension.
    counts_ : pandas.DataFrame
        The validated counts the model was fitted to.
    arms_ : list of str
        The arm columns; ``arm_labels_`` the arms in model order.

    Examples
    --------
    >>> import leakstats
    >>> model = leakstats.BetaBinomialModel(draws=300, tune=300, chains=2, rng=1)
    >>> model = model.fit(leakstats.example_records().query("method == 'npo'"))  # doctest: +SKIP
    >>> model.to_frame(k=[1, 128, 10_000])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        zero_inflated: bool = True,
        priors: Priors | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        target_accept: float = 0.95,
        nuts_sampler: str = "pymc",
        rng=None,
    ):
        if not isinstance(zero_inflated, bool):
            raise LeakstatsError(f"zero_inflated: {zero_inflated!r} is not True or False.")
        if priors is not None and not isinstance(priors, Priors):
            raise LeakstatsError(
                f"priors: expected a leakstats.Priors, got {type(priors).__name__}. "
                "Fix: priors=leakstats.Priors(logit_mu=(-3, 2.5))."
            )
        self.zero_inflated = zero_inflated
        self.priors = priors or Priors()
        self.draws = check_int("draws", draws, 10)
        self.tune = check_int("tune", tune, 10)
        self.chains = check_int("chains", chains, 1)
        if not (isinstance(target_accept, numbers.Real) and 0.5 <= target_accept < 1):
            raise LeakstatsError(f"target_accept: {target_accept!r} is not in [0.5, 1). "
                                 "Fix: e.g. target_accept=0.95.")
        self.target_accept = float(target_accept)
        self.nuts_sampler = check_choice("nuts_sampler", nuts_sampler, NUTS_SAMPLERS)
        self.rng = rng

    # ------------------------------------------------------------------ fitting
    def fit(self, data, *, by=None) -> BetaBinomialModel:
        """Fit the model to records or counts (one set of parameters per arm); returns self."""
        from leakstats.records.api import as_counts

        counts, arms = as_counts(data, by=by)
        pairs, labels, prompt_pair = _distinct_triples(counts, arms)
        for arm_index, label in enumerate(labels):
            _check_arm_data(counts[prompt_pair["arm"] == arm_index], label)
        self.counts_ = counts
        self.arms_ = arms
        self.arm_labels_ = labels
        self._pairs = pairs
        self._prompt_pair = prompt_pair
        self.idata_ = self._sample(pairs, len(labels))
        self._generator = np.random.default_rng(_child_seed(self.rng, 1))
        self._warn_diagnostics()
        return self

    def _build(self, pairs: pd.DataFrame, n_arms: int):
        pm, pt, _ = _import_pymc()
        pr = self.priors
        coords = {"arm": [str(x) for x in range(n_arms)]}
        with pm.Model(coords=coords) as model:
            # Data containers (not constants): the compiled graph does not depend on the data,
            # so PyTensor's compilation cache serves every later fit.
            arm = pm.Data("arm_index", pairs["arm"].to_numpy().astype("int64"))
            n = pm.Data("n", pairs["n"].to_numpy().astype(float))
            c = pm.Data("c", pairs["c"].to_numpy().astype(float))
            w = pm.Data("w", pairs["w"].to_numpy().astype(float))
            const = pt.gammaln(n + 1) - pt.gammaln(c + 1) - pt.gammaln(n - c + 1)
            logit_mu = pm.Normal("logit_mu", pr.logit_mu[0], pr.logit_mu[1], dims="arm")
            log_kappa = pm.Normal("log_kappa", pr.log_kappa[0], pr.log_kappa[1], dims="arm")
            mu = pm.math.invlogit(logit_mu)
            kappa = pt.exp(log_kappa)
            a = (mu * kappa)[arm]
            b = ((1 - mu) * kappa)[arm]
            ll = (
                const
                + pt.gammaln(c + a) + pt.gammaln(n - c + b) - pt.gammaln(n + a + b)
                - pt.gammaln(a) - pt.gammaln(b) + pt.gammaln(a + b)
            )
            if self.zero_inflated:
                pi0 = pm.Beta("pi0", pr.pi0[0], pr.pi0[1], dims="arm")
                log_pi0 = pt.log(pi0)[arm]
                log_rest = pt.log1p(-pi0)[arm]
                ll = pt.where(pt.eq(c, 0), pt.logaddexp(log_pi0, log_rest + ll), log_rest + ll)
            pm.Potential("loglik", pt.sum(w * ll))
        return model

    def _sample(self, pairs: pd.DataFrame, n_arms: int):
        seed = _child_seed(self.rng, 0)
        options = dict(draws=self.draws, tune=self.tune, chains=self.chains,
                       target_accept=self.target_accept, seed=seed, sampler=self.nuts_sampler)
        if self.nuts_sampler == "pymc":
            idata = self._sample_density(pairs, n_arms, options)
        else:  # JAX/numba samplers need the model as a PyTensor graph
            idata = run_nuts(self._build(pairs, n_arms), **options)
        post = idata.posterior
        mu = 1 / (1 + np.exp(-post["logit_mu"]))
        kappa = np.exp(post["log_kappa"])
        post["mu"] = mu
        post["kappa"] = kappa
        post["a"] = mu * kappa
        post["b"] = (1 - mu) * kappa
        if not self.zero_inflated:
            post["pi0"] = 0.0 * mu
        return idata

    def _sample_density(self, pairs: pd.DataFrame, n_arms: int, options: dict):
        """NUTS on the hand-written density (:mod:`leakstats.bayes._density`).

        The same model as :meth:`_build`, with the log density and its gradient compiled by
        numba: PyMC compiles a graph of a few nodes instead of a few dozen C modules, which took
        most of a first fit's time on a machine with an empty compilation cache. Chains start at the
        posterior mode (plus PyMC's usual jitter), which keeps warm-up short for large data.
        """
        pm, _, _ = _import_pymc()
        from leakstats.bayes._density_op import DensityOp

        density = LogDensity(pairs["arm"], pairs["n"], pairs["c"], pairs["w"], n_arms,
                             self.priors, self.zero_inflated)
        with pm.Model() as model:
            theta = pm.Flat("theta", shape=density.size, initval=density.mode())
            pm.Potential("log_density", DensityOp(density)(theta)[0])
        idata = run_nuts(model, **options)
        parts = density.unpack(idata.posterior["theta"].to_numpy())
        post = idata.posterior.drop_dims("theta_dim_0")
        post = post.assign_coords(arm=[str(x) for x in range(n_arms)])
        dims = ("chain", "draw", "arm")
        post["logit_mu"] = (dims, parts["logit_mu"])
        post["log_kappa"] = (dims, parts["log_kappa"])
        if self.zero_inflated:
            post["pi0"] = (dims, 1 / (1 + np.exp(-parts["logit_pi0"])))
        idata.posterior = post
        return idata

    # ------------------------------------------------------------------ posterior access
    def _check_fitted(self):
        if not hasattr(self, "idata_"):
            raise LeakstatsError("This model is not fitted yet: call fit(data) first.")

    def _hyper(self, arm_index: int):
        """Flattened posterior draws (a, b, pi0) of one arm, each of shape (S,)."""
        post = self.idata_.posterior
        out = []
        for name in ("a", "b", "pi0"):
            values = post[name].isel(arm=arm_index).to_numpy().reshape(-1)
            out.append(np.asarray(values, dtype=float))
        return tuple(out)

    def _arm_pairs(self, arm_index: int) -> pd.DataFrame:
        return self._pairs[self._pairs["arm"] == arm_index]

    def leak_draws(self, k, *, population: str = "prompts", arm: int = 0) -> np.ndarray:
        """Posterior draws of benchmark leak@k for one arm (index into ``arm_labels_``).

        Returns an array of shape (draws x chains, len(k)).
        """
        self._check_fitted()
        ks = parse_k(k)
        check_choice("population", population, ("prompts", "superpopulation"))
        a, b, pi0 = self._hyper(arm)
        if population == "superpopulation":
            return bm.population_leak(a[:, None], b[:, None], pi0[:, None], ks[None, :])
        pairs = self._arm_pairs(arm)
        rng = np.random.default_rng(_child_seed(self.rng, 2 + arm))
        return bm.fixed_prompt_draws(
            pairs["c"].to_numpy(), pairs["n"].to_numpy(), pairs["w"].to_numpy(), a, b, pi0,
            ks, rng,
        )

    def to_frame(
        self, k=(1,), *, population: str = "prompts", confidence_level: float = 0.95
    ) -> pd.DataFrame:
        """Posterior leak@k per arm x k, in the columns of :func:`leakstats.leak_at_k`.

        ``estimate`` is the posterior mean, ``se`` the posterior sd, ``ci_low``/``ci_high`` the
        equal-tailed credible interval. k may exceed the number of samples (extrapolation by
        the fitted population model).
        """
        self._check_fitted()
        ks = parse_k(k)
        level = check_level(confidence_level)
        frames = []
        for arm_index, label in enumerate(self.arm_labels_):
            draws = self.leak_draws(ks, population=population, arm=arm_index)
            lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
            group = self.counts_[self._prompt_pair["arm"] == arm_index]
            frame = pd.DataFrame({
                "k": ks,
                "estimate": draws.mean(axis=0),
                "se": draws.std(axis=0, ddof=1),
                "ci_low": lo,
                "ci_high": hi,
                "confidence_level": level,
                "ci_method": f"bayes {self.model_name} (equal-tailed)",
                "n_prompts": len(group),
                "n_samples": int(group["n_samples"].sum()),
                "population": population,
            })
            for name, value in zip(self.arms_, label, strict=True):
                frame[name] = value
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)[[*self.arms_, "k", *RESULT_COLUMNS]]
        for name in self.arms_:
            table[name] = table[name].astype(self.counts_[name].dtype)
        return table

    @property
    def model_name(self) -> str:
        return "zi-beta-binomial" if self.zero_inflated else "beta-binomial"

    def prompt_posteriors(self, k=(1,), *, confidence_level: float = 0.95) -> pd.DataFrame:
        """Per-prompt posteriors: P(p = 0), mean and credible interval of p and of leak@k.

        One row per prompt and k: arm columns, ``prompt_id``, ``n_samples``, ``n_leaked``,
        ``p_zero``, ``p_mean``, ``p_low``, ``p_high``, ``k``, ``leak_mean``, ``leak_low``,
        ``leak_high``.
        """
        self._check_fitted()
        ks = parse_k(k)
        level = check_level(confidence_level)
        qs = [(1 - level) / 2, (1 + level) / 2]
        rows = []
        for arm_index in range(len(self.arm_labels_)):
            a, b, pi0 = self._hyper(arm_index)
            pairs = self._arm_pairs(arm_index)
            rng = np.random.default_rng(_child_seed(self.rng, 1000 + arm_index))
            A, B, Z = a[:, None], b[:, None], pi0[:, None]
            c = pairs["c"].to_numpy()[None, :].astype(float)
            n = pairs["n"].to_numpy()[None, :].astype(float)
            z = bm.zero_probability(c, n, A, B, Z)
            p_mean = ((1 - z) * (A + c) / (A + B + n)).mean(axis=0)
            p = bm.sample_prompt_p(np.broadcast_to(c, z.shape), n, A, B, Z, rng)
            p_lo, p_hi = np.quantile(p, qs, axis=0)
            theta = bm.leak_from_p(p, ks)  # (S, D, K)
            t_lo, t_hi = np.quantile(theta, qs, axis=0)
            t_mean = np.stack(
                [bm.prompt_moments(c, n, A, B, Z, kk)[0].mean(axis=0) for kk in ks], axis=-1
            )
            for j, kk in enumerate(ks):
                rows.append(pd.DataFrame({
                    "pair": pairs.index.to_numpy(),
                    "p_zero": z.mean(axis=0), "p_mean": p_mean, "p_low": p_lo, "p_high": p_hi,
                    "k": kk, "leak_mean": t_mean[:, j], "leak_low": t_lo[:, j],
                    "leak_high": t_hi[:, j],
                }))
        per_pair = pd.concat(rows, ignore_index=True)
        prompts = self.counts_.assign(pair=self._prompt_pair["pair"].to_numpy())
        out = prompts.merge(per_pair, on="pair", how="left").drop(columns="pair")
        return out.sort_values([*self.arms_, "k", "prompt_id"], ignore_index=True)

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk and tail ESS per parameter and arm, and divergences per arm."""
        self._check_fitted()
        _, _, az = _import_pymc()
        names = ["mu", "kappa"] + (["pi0"] if self.zero_inflated else [])
        post = self.idata_.posterior[names]
        rhat = az.rhat(post) if self.chains > 1 else post.isel(chain=0, draw=0) * np.nan
        bulk = az.ess(post, method="bulk")
        tail = az.ess(post, method="tail")
        div = self.idata_.sample_stats["diverging"].sum().item()
        rows = []
        for arm_index, label in enumerate(self.arm_labels_):
            for name in names:
                rows.append({
                    "arm": _label_text(self.arms_, label), "parameter": name,
                    "r_hat": float(rhat[name].isel(arm=arm_index)),
                    "ess_bulk": float(bulk[name].isel(arm=arm_index)),
                    "ess_tail": float(tail[name].isel(arm=arm_index)),
                    "divergences": int(div),
                })
        return pd.DataFrame(rows)

    def _warn_diagnostics(self) -> None:
        diag = self.diagnostics()
        problems = []
        if self.chains > 1:
            bad = diag[diag["r_hat"] > 1.01]
            for r in bad.itertuples():
                problems.append(f"R-hat of {r.parameter} for {r.arm} is {r.r_hat:.3f} (> 1.01): "
                                "the chains disagree")
        floor = 100 * self.chains  # Vehtari et al. (2021): 100 per chain, bulk and tail
        low = diag[(diag["ess_bulk"] < floor) | (diag["ess_tail"] < floor)]
        for r in low.itertuples():
            problems.append(f"effective sample size of {r.parameter} for {r.arm} is "
                            f"{min(r.ess_bulk, r.ess_tail):.0f}: too few independent draws")
        div = int(diag["divergences"].iloc[0]) if len(diag) else 0
        if div:
            problems.append(f"{div} divergent transition(s): the sampler missed part of the "
                            "posterior")
        if problems:
            warnings.warn(
                "The posterior may be unreliable: " + "; ".join(problems) + ". Fix: refit with "
                "more tune/draws or a higher target_accept, and check model.diagnostics().",
                ConvergenceWarning,
                stacklevel=3,
            )

    def loo(self) -> pd.Series:
        """PSIS-LOO expected log predictive density, per prompt left out (ArviZ's PSIS).

        Computed on distinct (n, c) pairs and weighted by their multiplicity: prompts with the
        same counts have the same leave-one-out density.
        """
        self._check_fitted()
        return _weighted_loo(self)[0]

    def ppc(self, *, draws: int = 200, confidence_level: float = 0.95) -> pd.DataFrame:
        """Posterior predictive check of the distribution of n_leaked, per arm.

        Statistics of the per-prompt counts (share of prompts with no leak, with every sample
        leaked, mean and sd of the leak rate c/n, and the share in bins of c/n), observed vs
        replicated from the posterior: predictive mean, interval and a two-sided posterior
        predictive p-value.
        """
        self._check_fitted()
        check_int("draws", draws, 10)
        level = check_level(confidence_level)
        return _ppc(self, draws, level)


def fit_bayes(
    data,
    *,
    zero_inflated: bool = True,
    by=None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    rng=None,
    **kwargs,
) -> BetaBinomialModel:
    """Fit the hierarchical (zero-inflated) beta-binomial model; see :class:`BetaBinomialModel`.

    Examples
    --------
    >>> import leakstats
    >>> fit = leakstats.fit_bayes(leakstats.example_records(), draws=500, rng=0)  # doctest: +SKIP
    >>> fit.to_frame(k=[1, 128, 10_000], population="superpopulation")  # doctest: +SKIP
    """
    model = BetaBinomialModel(
        zero_inflated=zero_inflated, draws=draws, tune=tune, chains=chains, rng=rng, **kwargs
    )
    return model.fit(data, by=by)


def compare_loo(models: dict) -> pd.DataFrame:
    """Compare fitted models by PSIS-LOO (e.g. zero-inflated vs plain beta-binomial).

    Returns one row per model: ``elpd_loo``, ``se``, ``elpd_diff`` and ``diff_se`` against the
    best model (paired over prompts), ``max_pareto_k``, and ``rank``. All models must have been
    fitted to the same counts.
    """
    if not isinstance(models, dict) or len(models) < 2:
        raise LeakstatsError("models: pass a dict of at least two fitted models, e.g. "
                             "{'zero-inflated': fit_zi, 'plain': fit_plain}.")
    pointwise = {}
    rows = {}
    reference = None
    for name, model in models.items():
        if not isinstance(model, BetaBinomialModel):
            raise LeakstatsError(f"models[{name!r}]: not a BetaBinomialModel.")
        model._check_fitted()
        summary, per_prompt = _weighted_loo(model)
        key = model.counts_[[*model.arms_, "prompt_id", "n_samples", "n_leaked"]]
        if reference is None:
            reference = key
        elif not key.reset_index(drop=True).equals(reference.reset_index(drop=True)):
            raise LeakstatsError(
                f"models[{name!r}] was fitted to other data than the first model; LOO "
                "comparison needs the same counts. Fix: fit every model to the same data."
            )
        pointwise[name] = per_prompt
        rows[name] = summary
    table = pd.DataFrame(rows).T
    best = table["elpd_loo"].idxmax()
    diffs = {name: pointwise[best] - pointwise[name] for name in models}
    table["elpd_diff"] = [diffs[name].sum() for name in table.index]
    table["diff_se"] = [math.sqrt(len(d) * d.var(ddof=1)) if len(d) > 1 else float("nan")
                        for d in (diffs[name] for name in table.index)]
    table["rank"] = table["elpd_loo"].rank(ascending=False).astype(int)
    return table.sort_values("rank").rename_axis("model").reset_index()


# ---------------------------------------------------------------------- helpers
def run_nuts(model, *, draws: int, tune: int, chains: int, target_accept: float, seed: int,
             sampler: str, cores: int | None = None):
    """NUTS on a PyMC model, quietly (the caller reports diagnostics in its own words)."""
    import logging

    pm, _, _ = _import_pymc()
    kwargs = dict(draws=draws, tune=tune, chains=chains, target_accept=target_accept,
                  random_seed=seed, progressbar=False, compute_convergence_checks=False,
                  nuts_sampler=sampler)
    if sampler == "pymc":
        kwargs["cores"] = min(chains, 2) if cores is None else cores
    elif sampler == "numpyro":  # one CPU device: chains one after another
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


def _child_seed(rng, index: int):
    """Independent integer seed number ``index`` derived from the user's rng/seed."""
    if isinstance(rng, np.random.Generator):
        return int(np.random.default_rng(rng.integers(2**63)).integers(2**31) + index)
    seq = np.random.SeedSequence(rng)
    return int(seq.spawn(index + 1)[index].generate_state(1)[0])


def _label_text(arms, label) -> str:
    if not arms:
        return "the data"
    return ", ".join(f"{a}={v!r}" for a, v in zip(arms, label, strict=True))


def _distinct_triples(counts: pd.DataFrame, arms: list[str]):
    """Distinct (arm, n, c) triples with multiplicities, arm labels, and prompt -> triple map."""
    if arms:
        codes, uniques = pd.MultiIndex.from_frame(counts[arms]).factorize()
        labels = [tuple(u) for u in uniques]
    else:
        codes = np.zeros(len(counts), dtype=np.int64)
        labels = [()]
    frame = pd.DataFrame({
        "arm": codes, "n": counts["n_samples"].to_numpy(), "c": counts["n_leaked"].to_numpy()
    })
    pairs = frame.groupby(["arm", "n", "c"], sort=True).size().rename("w").reset_index()
    index = pd.MultiIndex.from_frame(pairs[["arm", "n", "c"]])
    prompt_pair = pd.DataFrame({
        "arm": codes, "pair": index.get_indexer(pd.MultiIndex.from_frame(frame)),
    })
    return pairs, labels, prompt_pair


def _check_arm_data(group: pd.DataFrame, label) -> None:
    text = "arm " + str(label) if label else "the data"
    if len(group) < 2:
        raise LeakstatsError(
            f"{text} has a single prompt: a model of how leak rates vary across prompts needs "
            "at least 2 prompts (10 or more for a useful posterior). Fix: add prompts, or use "
            "leakstats.leak_at_k for this arm."
        )
    n, c = group["n_samples"].to_numpy(), group["n_leaked"].to_numpy()
    if len(group) < 10:
        warnings.warn(f"{text} has only {len(group)} prompts: the posterior of mu, kappa and pi0 "
                      "will mostly reflect the priors.", DegenerateDataWarning, stacklevel=4)
    if c.sum() == 0:
        warnings.warn(
            f"No sample leaked in {text}: the data cannot tell prompts that never leak (pi0) "
            "from rare leaks; the posterior of leak@k at large k follows the priors. For a claim "
            "that holds whatever the priors, use an upper confidence bound (certify).",
            DegenerateDataWarning, stacklevel=4,
        )
    elif (c == n).all():
        warnings.warn(
            f"Every sample leaked in {text}: leak@k is near 1 for every k; the posterior of the "
            "concentration follows the priors.", DegenerateDataWarning, stacklevel=4,
        )


def _pointwise_loglik(model: BetaBinomialModel, arm_index: int) -> np.ndarray:
    a, b, pi0 = model._hyper(arm_index)
    pairs = model._arm_pairs(arm_index)
    c = pairs["c"].to_numpy()[None, :].astype(float)
    n = pairs["n"].to_numpy()[None, :].astype(float)
    return bm.log_zibb_pmf(c, n, a[:, None], b[:, None], pi0[:, None])


def _weighted_loo(model: BetaBinomialModel):
    """(summary Series, per-prompt elpd array) of weighted PSIS-LOO over all arms."""
    _, _, az = _import_pymc()
    elpd_pairs = []
    weights = []
    khat_max = 0.0
    for arm_index in range(len(model.arm_labels_)):
        ll = _pointwise_loglik(model, arm_index)  # (S, D)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lw, khat = az.psislw(-ll.T.copy())  # (D, S)
        lw = np.asarray(lw)
        elpd = np.logaddexp.reduce(lw + ll.T, axis=1)
        elpd_pairs.append(elpd)
        weights.append(model._arm_pairs(arm_index)["w"].to_numpy())
        khat_max = max(khat_max, float(np.max(khat)))
    elpd_d = np.concatenate(elpd_pairs)
    w = np.concatenate(weights)
    per_prompt = np.repeat(elpd_d, w)
    total = float(per_prompt.sum())
    se = math.sqrt(len(per_prompt) * per_prompt.var(ddof=1)) if len(per_prompt) > 1 else np.nan
    summary = pd.Series({"elpd_loo": total, "se": se, "max_pareto_k": khat_max})
    if khat_max > 0.7:
        warnings.warn(
            f"PSIS-LOO: the largest Pareto k is {khat_max:.2f} (> 0.7); the LOO estimate of "
            "some prompts is unreliable.", ConvergenceWarning, stacklevel=3,
        )
    return summary, per_prompt


def _ppc(model: BetaBinomialModel, n_draws: int, level: float) -> pd.DataFrame:
    rng = np.random.default_rng(_child_seed(model.rng, 7))
    bins = np.array([0.0, 1e-12, 0.01, 0.05, 0.2, 0.5, 1.0])
    bin_names = ["c/n = 0", "0 < c/n <= 0.01", "0.01 < c/n <= 0.05", "0.05 < c/n <= 0.2",
                 "0.2 < c/n <= 0.5", "0.5 < c/n <= 1"]

    def stats(c, n):
        rate = c / n
        hist = np.histogram(rate, bins=bins)[0] / rate.size
        # histogram puts 0 in the first bin [0, 1e-12); everything else by upper edges
        return np.concatenate([[np.mean(c == 0), np.mean(c == n), rate.mean(), rate.std()],
                               hist[1:]])

    names = ["share with no leak", "share always leaking", "mean c/n", "sd of c/n",
             *bin_names[1:]]
    rows = []
    for arm_index, label in enumerate(model.arm_labels_):
        group = model.counts_[model._prompt_pair["arm"] == arm_index]
        n = group["n_samples"].to_numpy()
        c_obs = group["n_leaked"].to_numpy()
        a, b, pi0 = model._hyper(arm_index)
        pick = rng.choice(a.size, size=min(n_draws, a.size), replace=False)
        reps = []
        for s in pick:
            p = rng.beta(a[s], b[s], size=n.size)
            p[rng.random(n.size) < pi0[s]] = 0.0
            reps.append(stats(rng.binomial(n, p), n))
        reps = np.array(reps)
        obs = stats(c_obs, n)
        lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0)
        p_val = 2 * np.minimum((reps >= obs).mean(axis=0), (reps <= obs).mean(axis=0))
        for j, name in enumerate(names):
            rows.append({"arm": _label_text(model.arms_, label), "statistic": name,
                         "observed": obs[j], "predicted_mean": reps[:, j].mean(),
                         "predicted_low": lo[j], "predicted_high": hi[j],
                         "p_value": min(1.0, p_val[j])})
    return pd.DataFrame(rows)
