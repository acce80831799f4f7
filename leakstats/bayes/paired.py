"""A joint Bayesian model for several methods evaluated on the same prompts (paired data).

    alpha_m      ~ Normal(-3, 2.5)         per-method leak level (logit scale)
    sigma        ~ HalfNormal(2.5)         spread of prompt difficulty
    u_i          ~ Normal(0, sigma)        shared by every method (the pairing)
    c_im         ~ Binomial(n_im, logistic(alpha_m + u_i))

Sharing u_i across methods is what makes the comparison paired: a prompt that is easy to leak
is easy under every method, and that variation cancels in the differences. Used by
``leakstats.compare(..., test="bayes")``.

NUTS runs on the A + 1 hyper-parameters (alpha, log sigma) with every u_i integrated out by
quadrature (:mod:`leakstats.bayes._paired_kernel`, :mod:`leakstats.bayes._paired_density`), on
the distinct count patterns weighted by multiplicity; the u_i are then drawn exactly from their
conditional posteriors, one draw per prompt per posterior draw, for the posterior of leak@k over
the benchmark's own prompts. ``leak_draws``, ``to_frame`` and ``diagnostics`` (and their shapes)
are those of :class:`leakstats.bayes._base.BayesFit`, shared with the beta-binomial model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leakstats.bayes._base import BayesFit, _label_text
from leakstats.bayes._paired_density import PairedDensity, _Whitened
from leakstats.bayes._sampling import _import_pymc, run_nuts
from leakstats.bayes._seeds import LEAK_DRAWS
from leakstats.core.checks import check_int, check_level, parse_k
from leakstats.core.errors import LeakstatsError

# PairedDensity is importable from here as well as from its module
__all__ = ["PairedDensity", "PairedLogitModel"]


class PairedLogitModel(BayesFit):
    """Logit-normal random-intercept model of leak probabilities, shared prompts across arms.

    Parameters
    ----------
    draws, tune, chains, target_accept : NUTS settings.
    nuts_sampler : {"pymc", "numpyro", "nutpie", "blackjax"}
        ``"pymc"`` (default) samples (alpha, log sigma) with the prompt effects integrated out
        (module doc); the others need a PyTensor graph and sample the same model with every u_i
        latent (centred, summing to zero so that a common shift cannot trade off against alpha).
    cores : int, optional
        Processes for the chains with ``"pymc"`` (default: min(chains, 2)); 1 runs them one
        after another, e.g. when fits already run in parallel.
    rng : None, int or numpy.random.Generator
        Seed of the sampler and of the posterior simulations, fixed at :meth:`fit`; a
        Generator is read through a copy and does not advance.

    Attributes (after :meth:`fit`)
    ------------------------------
    idata_ : arviz.InferenceData
        Posterior of ``alpha`` (``arm`` dimension) and ``sigma`` (and ``u``, ``prompt``
        dimension, with a sampler other than ``"pymc"``).
    counts_, arms_, arm_labels_ : as in :class:`~leakstats.BetaBinomialModel`.
    prompts_ : pandas.Index
        The prompt ids, in the order of the ``prompt`` dimension.

    Examples
    --------
    >>> import leakstats
    >>> model = leakstats.PairedLogitModel(draws=500, tune=500, chains=2, rng=0)
    >>> model.fit(leakstats.example_records())  # doctest: +SKIP
    >>> model.prob_greater(k=[1, 128])  # doctest: +SKIP
    """

    model_name = "paired logit-normal"
    _DIAGNOSED = ("alpha", "sigma")

    def __init__(self, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
                 target_accept: float = 0.9, nuts_sampler: str = "pymc",
                 cores: int | None = None, rng=None):
        self._set_nuts(draws=draws, tune=tune, chains=chains, target_accept=target_accept,
                       nuts_sampler=nuts_sampler, rng=rng)
        self.cores = None if cores is None else check_int("cores", cores, 1)

    def fit(self, data, *, by=None) -> PairedLogitModel:
        """Fit to records or counts with at least two arms sharing prompts; returns self."""
        from leakstats.records.api import as_counts

        counts, arms = as_counts(data, by=by)
        if not arms:
            raise LeakstatsError(
                "The paired model compares arms (e.g. methods), but the data have no arm "
                "column. Fix: pass by='method' (or the column naming the methods)."
            )
        codes, uniques = pd.MultiIndex.from_frame(counts[arms]).factorize()
        if len(uniques) < 2:
            raise LeakstatsError(
                f"The paired model needs at least two arms; the data have one ({uniques[0]}). "
                "Fix: include the methods to compare."
            )
        prompt_codes, prompts = pd.factorize(counts["prompt_id"])
        shared = pd.Series(codes).groupby(prompt_codes).nunique()
        if (shared < 2).all():
            raise LeakstatsError(
                "No prompt appears under two arms, so nothing is paired. Fix: evaluate the "
                "methods on the same prompts (same prompt_id values)."
            )
        self._start_fit(counts, arms, [tuple(u) for u in uniques], codes)
        self._prompt = prompt_codes
        self.prompts_ = prompts
        self._patterns(counts, codes, prompt_codes, len(uniques), len(prompts))
        if self.nuts_sampler == "pymc":
            self.idata_ = self._sample_density()
        else:  # JAX/numba samplers need the model as a PyTensor graph
            self.idata_ = self._sample(counts, codes, prompt_codes, len(uniques), len(prompts))
        self._warn_diagnostics()
        return self

    def _patterns(self, counts, arm, prompt, n_arms, n_prompts):
        """Distinct rows of the (prompt x arm) count matrices, with multiplicities."""
        n = np.zeros((n_prompts, n_arms))
        c = np.zeros((n_prompts, n_arms))
        np.add.at(n, (prompt, arm), counts["n_samples"].to_numpy(dtype=float))
        np.add.at(c, (prompt, arm), counts["n_leaked"].to_numpy(dtype=float))
        rows, mult = np.unique(np.hstack([n, c]), axis=0, return_counts=True)
        self._pattern_n = np.ascontiguousarray(rows[:, :n_arms])
        self._pattern_c = np.ascontiguousarray(rows[:, n_arms:])
        self._pattern_w = mult.astype(np.int64)

    def _sample_density(self):
        """NUTS on (alpha, log sigma), the prompt effects integrated out (the module doc)."""
        pm, _, _ = _import_pymc()
        from leakstats.bayes._density_op import DensityOp

        density = PairedDensity(self._pattern_n, self._pattern_c, self._pattern_w)
        center, factor = density.laplace()
        white = _Whitened(density, center, factor)
        with pm.Model() as model:
            psi = pm.Flat("psi", shape=density.size, initval=np.zeros(density.size))
            pm.Potential("log_density", DensityOp(white)(psi)[0])
        idata = run_nuts(model, **self._nuts_options(), sampler="pymc", cores=self.cores)
        theta = center + idata.posterior["psi"].to_numpy() @ factor.T
        n_arms = density.n_arms
        post = idata.posterior.drop_dims("psi_dim_0")
        post = post.assign_coords(arm=list(range(n_arms)))
        post["alpha"] = (("chain", "draw", "arm"), theta[..., :n_arms])
        post["sigma"] = (("chain", "draw"), np.exp(theta[..., n_arms]))
        idata.posterior = post
        return idata

    def _sample(self, counts, arm, prompt, n_arms, n_prompts):
        """The same model as a PyTensor graph with latent u_i (for the JAX/numba samplers)."""
        pm, pt, _ = _import_pymc()
        n = counts["n_samples"].to_numpy().astype(float)
        c = counts["n_leaked"].to_numpy().astype(float)
        coords = {"arm": list(range(n_arms)), "prompt": list(range(n_prompts))}
        with pm.Model(coords=coords) as model:
            alpha = pm.Normal("alpha", *PairedDensity.PRIOR_ALPHA, dims="arm")
            sigma = pm.HalfNormal("sigma", PairedDensity.PRIOR_SIGMA_SCALE)
            # centred (every prompt carries n_samples x arms samples), and summing to zero so
            # that a shift of all u_i cannot trade off against all alpha_m
            u = pm.ZeroSumNormal("u", sigma=sigma, dims="prompt")
            eta = alpha[arm] + u[prompt]
            # Binomial log-likelihood on the logit scale (stable for tiny and large p)
            pm.Potential("loglik", pt.sum(c * eta - n * pt.softplus(eta)))
        return run_nuts(model, **self._nuts_options(), sampler=self.nuts_sampler)

    def _arm_leak_draws(self, ks: np.ndarray, population: str, arms: list) -> np.ndarray:
        """(S, len(arms), K). The prompt draws of all arms come from one seed, so an arm's
        draws are the same whichever arms are asked for."""
        ks = ks.astype(float)
        post = self.idata_.posterior
        alpha = post["alpha"].to_numpy().reshape(-1, len(self.arm_labels_)).astype(float)
        sigma = post["sigma"].to_numpy().reshape(-1).astype(float)
        if population == "superpopulation":
            x, w = np.polynomial.hermite_e.hermegauss(60)
            w = w / w.sum()
            eta = alpha[:, arms, None] + sigma[:, None, None] * x[None, None, :]  # (S, A, Q)
            log1m_p = -np.logaddexp(0.0, eta)  # log(1 - p)
            return np.einsum("saqk,q->sak", -np.expm1(log1m_p[..., None] * ks), w)
        if "u" not in post:  # u integrated out in the fit: draw it from its conditionals
            from leakstats.bayes._paired_kernel import fixed_leak

            sums = fixed_leak(np.ascontiguousarray(alpha), np.ascontiguousarray(sigma),
                              self._pattern_n, self._pattern_c, self._pattern_w, ks,
                              self._child_rng(LEAK_DRAWS))
            seen = (self._pattern_w[:, None] * (self._pattern_n > 0)).sum(axis=0)  # (A,)
            return (sums / seen[None, :, None])[:, arms]
        u = post["u"].to_numpy().reshape(-1, len(self.prompts_))  # (S, P)
        out = np.zeros((alpha.shape[0], len(arms), ks.size))
        for j, a in enumerate(arms):
            prompts = np.unique(self._prompt[self._arm_codes == a])
            eta = alpha[:, a, None] + u[:, prompts]
            log1m_p = -np.logaddexp(0.0, eta)
            out[:, j, :] = (-np.expm1(log1m_p[..., None] * ks)).mean(axis=1)
        return out

    def prob_greater(self, k=(1,), *, population: str = "prompts",
                     confidence_level: float = 0.95) -> pd.DataFrame:
        """For every ordered pair of arms (A, B): P(leak@k_A > leak@k_B | data) and the
        posterior mean and credible interval of the difference leak@k_A - leak@k_B."""
        ks = parse_k(k)
        level = check_level(confidence_level)
        draws = self.leak_draws(ks, population=population)  # (S, A, K)
        rows = []
        labels = [_label_text(self.arms_, lab) for lab in self.arm_labels_]
        for a in range(len(labels)):
            for b in range(len(labels)):
                if a == b:
                    continue
                diff = draws[:, a] - draws[:, b]
                lo, hi = np.quantile(diff, [(1 - level) / 2, (1 + level) / 2], axis=0)
                for j, kk in enumerate(ks):
                    rows.append({"arm_a": labels[a], "arm_b": labels[b], "k": int(kk),
                                 "prob_a_greater": float((diff[:, j] > 0).mean()),
                                 "diff_mean": float(diff[:, j].mean()),
                                 "diff_low": float(lo[j]), "diff_high": float(hi[j]),
                                 "population": population})
        return pd.DataFrame(rows)
