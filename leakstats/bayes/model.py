"""Bayesian layer: hierarchical (zero-inflated) beta-binomial model of per-prompt leak rates.

Model, per arm, with the default priors (:class:`~leakstats.bayes._priors.Priors`; see
docs/bayes.md):

    pi0              ~ Beta(1, 1)                  share of prompts that never leak (p = 0)
    logit(mu)        ~ Normal(-3, 2.5)             mean leak probability of the leaking prompts
    log(kappa)       ~ Normal(1, 5)                concentration; a = mu kappa, b = (1 - mu) kappa
    p_i              =  0 with probability pi0, else ~ Beta(a, b)
    c_i | p_i        ~ Binomial(n_i, p_i)

p_i is integrated out: the likelihood is evaluated once per distinct (arm, n, c) triple and
weighted by its multiplicity, so fitting costs the same for 1,000 or 100,000 prompts. Arms get
independent parameters (an ``arm`` dimension) in one PyMC model and one NUTS run. Per-prompt
posteriors and leak@k at any k, also far beyond n, follow in closed form per posterior draw
(:mod:`leakstats.bayes._math`). What both Bayesian models share (``leak_draws`` and its shapes,
``to_frame``, ``diagnostics``, seeds) is :class:`leakstats.bayes._base.BayesFit`.

PyMC and ArviZ are imported only when a model is fitted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leakstats.bayes import _math as bm
from leakstats.bayes._arm_data import _check_arm_data, _distinct_triples
from leakstats.bayes._base import BayesFit, ConvergenceWarning, _label_text
from leakstats.bayes._density import LogDensity
from leakstats.bayes._model_checks import _ppc, _weighted_loo
from leakstats.bayes._priors import Priors
from leakstats.bayes._sampling import NUTS_SAMPLERS, _import_pymc, run_nuts
from leakstats.bayes._seeds import LEAK_DRAWS, PROMPT_DRAWS
from leakstats.bayes._seeds import child_seed as _child_seed
from leakstats.core.checks import check_bool, check_int, check_level, parse_k
from leakstats.core.errors import LeakstatsError, warn

# importable from here as well as from their modules
__all__ = ["NUTS_SAMPLERS", "BetaBinomialModel", "ConvergenceWarning", "Priors", "_child_seed",
           "_distinct_triples", "_import_pymc", "_label_text", "compare_loo", "fit_bayes",
           "run_nuts"]

_ARM_UNSET = object()


class BetaBinomialModel(BayesFit):
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
    rng : None, int or numpy.random.Generator
        Seed of the sampler and of the posterior simulations, fixed at :meth:`fit`; a
        Generator is read through a copy and does not advance.

    Attributes (after :meth:`fit`)
    ------------------------------
    idata_ : arviz.InferenceData
        Posterior of ``mu``, ``kappa``, ``pi0`` (and ``a``, ``b``, ``logit_mu``,
        ``log_kappa``) with an ``arm`` dimension.
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
        check_bool("zero_inflated", zero_inflated)
        if priors is not None and not isinstance(priors, Priors):
            raise LeakstatsError(
                f"priors: expected a leakstats.Priors, got {type(priors).__name__}. "
                "Fix: priors=leakstats.Priors(logit_mu=(-3, 2.5))."
            )
        self.zero_inflated = zero_inflated
        self.priors = priors or Priors()
        self._DIAGNOSED = ("mu", "kappa", "pi0") if zero_inflated else ("mu", "kappa")
        self._set_nuts(draws=draws, tune=tune, chains=chains, target_accept=target_accept,
                       nuts_sampler=nuts_sampler, rng=rng)

    @property
    def model_name(self) -> str:
        """``"zi-beta-binomial"`` or ``"beta-binomial"`` (``zero_inflated=False``)."""
        return "zi-beta-binomial" if self.zero_inflated else "beta-binomial"

    # ------------------------------------------------------------------ fitting
    def fit(self, data, *, by=None) -> BetaBinomialModel:
        """Fit the model to records or counts (one set of parameters per arm); returns self."""
        from leakstats.records.api import as_counts

        counts, arms = as_counts(data, by=by)
        pairs, labels, prompt_pair = _distinct_triples(counts, arms)
        for arm_index, label in enumerate(labels):
            _check_arm_data(counts[prompt_pair["arm"] == arm_index], label)
        self._start_fit(counts, arms, labels, prompt_pair["arm"].to_numpy())
        self._pairs = pairs
        self._prompt_pair = prompt_pair
        self.idata_ = self._sample(pairs, len(labels))
        self._warn_diagnostics()
        return self

    def _build(self, pairs: pd.DataFrame, n_arms: int):
        """The model as a PyMC graph (what the JAX and numba samplers get)."""
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
        """NUTS, then ``mu``, ``kappa``, ``a``, ``b`` (and ``pi0 = 0`` if not zero-inflated)."""
        options = dict(self._nuts_options(), sampler=self.nuts_sampler)
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
        numba: PyMC compiles a graph of a few nodes instead of a few dozen C modules. Chains
        start at the posterior mode (plus PyMC's usual jitter).
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
    def _hyper(self, arm_index: int):
        """Flattened posterior draws (a, b, pi0) of one arm, each of shape (S,)."""
        post = self.idata_.posterior
        out = []
        for name in ("a", "b", "pi0"):
            values = post[name].isel(arm=arm_index).to_numpy().reshape(-1)
            out.append(np.asarray(values, dtype=float))
        return tuple(out)

    def _arm_pairs(self, arm_index: int) -> pd.DataFrame:
        """The distinct (n, c) pairs of one arm with their multiplicities ``w``."""
        return self._pairs[self._pairs["arm"] == arm_index]

    def leak_draws(self, k, *, population: str = "prompts", arm=_ARM_UNSET) -> np.ndarray:
        """Posterior draws of leak@k: (S, A, K) with ``arm=None``, (S, K) with ``arm=i``.

        See :meth:`leakstats.bayes._base.BayesFit.leak_draws`. Without ``arm`` this model
        returns arm 0, shape (S, K), and warns (FutureWarning): pass ``arm=0`` for that, or
        ``arm=None`` for every arm, the default of :class:`~leakstats.PairedLogitModel`.
        """
        if arm is _ARM_UNSET:
            warn(
                "BetaBinomialModel.leak_draws(k) without arm returns arm 0, shape (S, K); it "
                "will return every arm, shape (S, A, K), in leakstats 0.3, as "
                "PairedLogitModel.leak_draws does. "
                "Fix: pass arm=0 (one arm) or arm=None (every arm).",
                FutureWarning)
            arm = 0
        return super().leak_draws(k, population=population, arm=arm)

    def _arm_leak_draws(self, ks: np.ndarray, population: str, arms: list) -> np.ndarray:
        """(S, len(arms), K); each arm's prompt draws come from its own seed."""
        out = []
        for arm in arms:
            a, b, pi0 = self._hyper(arm)
            if population == "superpopulation":
                out.append(bm.population_leak(a[:, None], b[:, None], pi0[:, None],
                                              ks[None, :]))
                continue
            pairs = self._arm_pairs(arm)
            out.append(bm.fixed_prompt_draws(
                pairs["c"].to_numpy(), pairs["n"].to_numpy(), pairs["w"].to_numpy(), a, b, pi0,
                ks, self._child_rng((LEAK_DRAWS, arm)),
            ))
        return np.stack(out, axis=1)

    def prompt_posteriors(self, k=(1,), *, confidence_level: float = 0.95) -> pd.DataFrame:
        """Per-prompt posteriors: P(p = 0), mean and credible interval of p and of leak@k.

        One row per prompt and k: arm columns, ``prompt_id``, ``n_samples``, ``n_leaked``,
        ``p_zero``, ``p_mean``, ``p_low``, ``p_high``, ``k``, ``leak_mean``, ``leak_low``,
        ``leak_high``. The same table at every call.
        """
        self._check_fitted()
        ks = parse_k(k)
        level = check_level(confidence_level)
        qs = [(1 - level) / 2, (1 + level) / 2]
        rows = []
        for arm_index in range(len(self.arm_labels_)):
            a, b, pi0 = self._hyper(arm_index)
            pairs = self._arm_pairs(arm_index)
            rng = self._child_rng((PROMPT_DRAWS, arm_index))
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

    # ------------------------------------------------------------------ model checks
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
