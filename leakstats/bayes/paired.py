"""A joint Bayesian model for several methods evaluated on the same prompts (paired data).

    alpha_m      ~ Normal(-3, 2.5)         per-method leak level (logit scale)
    sigma        ~ HalfNormal(2.5)         spread of prompt difficulty
    u_i          ~ Normal(0, sigma)        shared by every method (the pairing)
    c_im         ~ Binomial(n_im, logistic(alpha_m + u_i))

Sharing u_i across methods is what makes the comparison paired: a prompt that is easy to leak
is easy under every method, and that variation cancels in the differences. Used by
``leakstats.compare(..., test="bayes")``.

NUTS runs on the A + 1 hyper-parameters (alpha, log sigma) with every u_i integrated out by
quadrature (:mod:`leakstats.bayes._paired_kernel`), on the distinct count patterns weighted by
multiplicity; the u_i are then drawn exactly from their conditional posteriors, one draw per
prompt per posterior draw, for the posterior of leak@k over the benchmark's own prompts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from leakstats.bayes.model import (
    NUTS_SAMPLERS,
    ConvergenceWarning,
    _child_seed,
    _import_pymc,
    _label_text,
    run_nuts,
)
from leakstats.core.checks import check_choice, check_int, check_level, parse_k
from leakstats.core.errors import LeakstatsError
from leakstats.estimate.result import RESULT_COLUMNS


class PairedLogitModel:
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
        Seed.

    Examples
    --------
    >>> import leakstats
    >>> model = leakstats.PairedLogitModel(draws=500, tune=500, chains=2, rng=0)
    >>> model.fit(leakstats.example_records())  # doctest: +SKIP
    >>> model.prob_greater(k=[1, 128])  # doctest: +SKIP
    """

    def __init__(self, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
                 target_accept: float = 0.9, nuts_sampler: str = "pymc",
                 cores: int | None = None, rng=None):
        self.draws = check_int("draws", draws, 10)
        self.tune = check_int("tune", tune, 10)
        self.chains = check_int("chains", chains, 1)
        self.target_accept = float(target_accept)
        self.nuts_sampler = check_choice("nuts_sampler", nuts_sampler, NUTS_SAMPLERS)
        self.cores = None if cores is None else check_int("cores", cores, 1)
        self.rng = rng

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
        self.counts_ = counts
        self.arms_ = arms
        self.arm_labels_ = [tuple(u) for u in uniques]
        self._arm = codes
        self._prompt = prompt_codes
        self.prompts_ = prompts
        self._patterns(counts, codes, prompt_codes, len(uniques), len(prompts))
        self._draw_seed = _child_seed(self.rng, 1)
        if self.nuts_sampler == "pymc":
            self.idata_ = self._sample_density()
        else:  # JAX/numba samplers need the model as a PyTensor graph
            self.idata_ = self._sample(counts, codes, prompt_codes, len(uniques), len(prompts))
        self._warn()
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
        idata = run_nuts(model, draws=self.draws, tune=self.tune, chains=self.chains,
                         target_accept=self.target_accept, seed=_child_seed(self.rng, 0),
                         sampler="pymc", cores=self.cores)
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
        return run_nuts(model, draws=self.draws, tune=self.tune, chains=self.chains,
                        target_accept=self.target_accept, seed=_child_seed(self.rng, 0),
                        sampler=self.nuts_sampler)

    def _check_fitted(self):
        if not hasattr(self, "idata_"):
            raise LeakstatsError("This model is not fitted yet: call fit(data) first.")

    def _warn(self):
        _, _, az = _import_pymc()
        post = self.idata_.posterior[["alpha", "sigma"]]
        problems = []
        if self.chains > 1:
            worst = max(float(az.rhat(post)[v].max()) for v in ("alpha", "sigma"))
            if worst > 1.01:
                problems.append(f"largest R-hat {worst:.3f} (> 1.01)")
        ess = min(float(az.ess(post, method=m)[v].min())
                  for v in ("alpha", "sigma") for m in ("bulk", "tail"))
        if ess < 100 * self.chains:
            problems.append(f"smallest bulk/tail ESS {ess:.0f} (< {100 * self.chains})")
        div = int(self.idata_.sample_stats["diverging"].sum())
        if div:
            problems.append(f"{div} divergent transition(s)")
        if problems:
            warnings.warn("The paired model's posterior may be unreliable: "
                          + "; ".join(problems) + ". Fix: more tune/draws.",
                          ConvergenceWarning, stacklevel=3)

    def leak_draws(self, k, *, population: str = "prompts") -> np.ndarray:
        """Posterior draws of leak@k, shape (draws, arms, len(k))."""
        self._check_fitted()
        ks = parse_k(k).astype(float)
        check_choice("population", population, ("prompts", "superpopulation"))
        post = self.idata_.posterior
        alpha = post["alpha"].to_numpy().reshape(-1, len(self.arm_labels_)).astype(float)
        sigma = post["sigma"].to_numpy().reshape(-1).astype(float)
        if population == "superpopulation":
            x, w = np.polynomial.hermite_e.hermegauss(60)
            w = w / w.sum()
            eta = alpha[:, :, None] + sigma[:, None, None] * x[None, None, :]  # (S, A, Q)
            log1m_p = -np.logaddexp(0.0, eta)  # log(1 - p)
            return np.einsum("saqk,q->sak", -np.expm1(log1m_p[..., None] * ks), w)
        if "u" not in post:  # u integrated out in the fit: draw it from its conditionals
            from leakstats.bayes._paired_kernel import fixed_leak

            sums = fixed_leak(np.ascontiguousarray(alpha), np.ascontiguousarray(sigma),
                              self._pattern_n, self._pattern_c, self._pattern_w, ks,
                              np.random.default_rng(self._draw_seed))
            seen = (self._pattern_w[:, None] * (self._pattern_n > 0)).sum(axis=0)  # (A,)
            return sums / seen[None, :, None]
        u = post["u"].to_numpy().reshape(-1, len(self.prompts_))  # (S, P)
        out = np.zeros((alpha.shape[0], alpha.shape[1], ks.size))
        for a in range(alpha.shape[1]):
            prompts = np.unique(self._prompt[self._arm == a])
            eta = alpha[:, a, None] + u[:, prompts]
            log1m_p = -np.logaddexp(0.0, eta)
            out[:, a, :] = (-np.expm1(log1m_p[..., None] * ks)).mean(axis=1)
        return out

    def to_frame(self, k=(1,), *, population: str = "prompts",
                 confidence_level: float = 0.95) -> pd.DataFrame:
        """Posterior leak@k per arm x k, in the columns of :func:`leakstats.leak_at_k`."""
        ks = parse_k(k)
        level = check_level(confidence_level)
        draws = self.leak_draws(ks, population=population)
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        frames = []
        for a, label in enumerate(self.arm_labels_):
            group = self.counts_[self._arm == a]
            frame = pd.DataFrame({
                "k": ks, "estimate": draws[:, a].mean(axis=0),
                "se": draws[:, a].std(axis=0, ddof=1), "ci_low": lo[a], "ci_high": hi[a],
                "confidence_level": level, "ci_method": "bayes paired logit-normal",
                "n_prompts": len(group), "n_samples": int(group["n_samples"].sum()),
                "population": population,
            })
            for name, value in zip(self.arms_, label, strict=True):
                frame[name] = value
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)[[*self.arms_, "k", *RESULT_COLUMNS]]

    def prob_greater(self, k=(1,), *, population: str = "prompts",
                     confidence_level: float = 0.95) -> pd.DataFrame:
        """For every ordered pair of arms (A, B): P(leak@k_A > leak@k_B | data) and the
        posterior mean and credible interval of the difference leak@k_A - leak@k_B."""
        ks = parse_k(k)
        level = check_level(confidence_level)
        draws = self.leak_draws(ks, population=population)
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


class PairedDensity:
    """log p(alpha, log sigma | data) and its gradient, the prompt effects integrated out.

    Parameters
    ----------
    n, c : arrays (D, A)
        Distinct count patterns (samples and leaks per arm; n = 0 where an arm did not see the
        prompts); w : (D,) their multiplicities.
    """

    PRIOR_ALPHA = (-3.0, 2.5)
    PRIOR_SIGMA_SCALE = 2.5

    def __init__(self, n, c, w):
        from scipy.special import gammaln

        self.n = np.ascontiguousarray(n, dtype=float)
        self.c = np.ascontiguousarray(c, dtype=float)
        self.w = np.asarray(w, dtype=float)
        self.n_arms = self.n.shape[1]
        self.size = self.n_arms + 1
        self.state = np.zeros((self.n.shape[0], 3))
        mean, sd = self.PRIOR_ALPHA
        scale = self.PRIOR_SIGMA_SCALE
        binomial = gammaln(self.n + 1) - gammaln(self.c + 1) - gammaln(self.n - self.c + 1)
        self.const = float(
            (self.w[:, None] * binomial).sum()
            - self.n_arms * np.log(np.sqrt(2 * np.pi) * sd)
            + np.log(2 / (np.sqrt(2 * np.pi) * scale))
        )

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        from leakstats.bayes._paired_kernel import log_density

        theta = np.asarray(theta, dtype=float)
        value, grad = log_density(theta, self.n, self.c, self.w, *self.PRIOR_ALPHA,
                                  self.PRIOR_SIGMA_SCALE, self.state)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            return -np.inf, np.zeros(theta.size)
        return value + self.const, grad

    def mode(self) -> np.ndarray:
        """The posterior mode (L-BFGS from alpha = -3, sigma = 1); the start if that fails."""
        from scipy.optimize import minimize

        start = np.r_[np.full(self.n_arms, self.PRIOR_ALPHA[0]), 0.0]
        result = minimize(lambda t: tuple(-v for v in self(t)), start, jac=True,
                          method="L-BFGS-B")
        ok = np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
        return result.x if ok and result.fun <= -self(start)[0] else start

    def laplace(self) -> tuple[np.ndarray, np.ndarray]:
        """The mode and a Cholesky factor of the inverse Hessian there (identity if that
        fails): NUTS runs on theta = mode + factor @ psi, in which the posterior is close to
        a standard normal. The method levels alpha_m are strongly correlated (they share the
        uncertain centre of the prompt effects), which a diagonal mass matrix adapts to poorly.
        """
        mode = self.mode()
        step = 1e-4
        hessian = np.empty((self.size, self.size))
        for j in range(self.size):
            up, down = mode.copy(), mode.copy()
            up[j] += step
            down[j] -= step
            hessian[:, j] = (self(up)[1] - self(down)[1]) / (2 * step)
        hessian = -(hessian + hessian.T) / 2
        try:
            factor = np.linalg.cholesky(np.linalg.inv(hessian))
        except np.linalg.LinAlgError:
            factor = np.eye(self.size)
        if not np.isfinite(factor).all():
            factor = np.eye(self.size)
        return mode, factor


class _Whitened:
    """psi -> (log density, gradient) of theta = center + factor @ psi (constant Jacobian)."""

    def __init__(self, density, center, factor):
        self.density = density
        self.center = center
        self.factor = factor

    def __call__(self, psi):
        value, grad = self.density(self.center + self.factor @ np.asarray(psi, dtype=float))
        return value, self.factor.T @ grad
