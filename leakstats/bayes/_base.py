"""What the two fitted Bayesian models share: NUTS settings, seeds, posterior draws of leak@k,
the leak@k table and the sampler diagnostics.

Shapes, the same in every method of both models:

* S: posterior draws, chains x draws per chain, chain after chain;
* A: arms, in the order of ``arm_labels_``;
* K: the values of k, in the order given.

``leak_draws(k)`` returns (S, A, K); ``leak_draws(k, arm=i)`` returns arm i alone, (S, K).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from leakstats.bayes._sampling import NUTS_SAMPLERS, _import_pymc
from leakstats.bayes._seeds import SAMPLER, child_seed, root_entropy
from leakstats.core.checks import (
    check_choice,
    check_int,
    check_level,
    check_number,
    check_rng,
    parse_k,
)
from leakstats.core.errors import LeakstatsError, LeakstatsWarning, warn
from leakstats.core.vocabulary import POPULATIONS
from leakstats.estimate.result import RESULT_COLUMNS

DIVERGENCES = "divergent transitions"


class ConvergenceWarning(LeakstatsWarning):
    """The sampler's diagnostics (R-hat, ESS, divergences) are out of bounds."""


def _label_text(arms, label) -> str:
    """``"method='a', T=1.0"`` for an arm label; ``"the data"`` when there are no arm columns."""
    if not arms:
        return "the data"
    return ", ".join(f"{a}={v!r}" for a, v in zip(arms, label, strict=True))


class BayesFit:
    """Base of :class:`~leakstats.bayes.model.BetaBinomialModel` and
    :class:`~leakstats.bayes.paired.PairedLogitModel`.

    A subclass sets ``model_name`` and ``_DIAGNOSED`` (the posterior variables that
    :meth:`diagnostics` reports), implements ``_arm_leak_draws(ks, population, arms)``
    returning an array (S, len(arms), K), and in ``fit`` calls :meth:`_start_fit` before
    sampling (it fixes the seeds) and :meth:`_warn_diagnostics` after.

    Attributes (after ``fit``)
    --------------------------
    idata_ : arviz.InferenceData
        The posterior; variables with one value per arm have an ``arm`` dimension.
    counts_ : pandas.DataFrame
        The validated counts the model was fitted to.
    arms_ : list of str
        The arm columns; ``arm_labels_`` the arms (tuples of their values) in model order.
    """

    model_name = ""
    _DIAGNOSED: tuple[str, ...] = ()

    def _set_nuts(self, *, draws, tune, chains, target_accept, nuts_sampler, rng) -> None:
        """Validate and store the NUTS settings and the seed."""
        self.draws = check_int("draws", draws, 10)
        self.tune = check_int("tune", tune, 10)
        self.chains = check_int("chains", chains, 1)
        self.target_accept = check_number("target_accept", target_accept, low=0.5, high=1,
                                          high_open=True, example=0.95)
        self.nuts_sampler = check_choice("nuts_sampler", nuts_sampler, NUTS_SAMPLERS)
        check_rng(rng)  # refuse a bad seed now; the seeds are derived in _seeds
        self.rng = rng

    def _start_fit(self, counts: pd.DataFrame, arms: list, labels: list, codes) -> None:
        """Store the data, the arms and each row's arm code; fix the root seed of this fit."""
        self.counts_ = counts
        self.arms_ = arms
        self.arm_labels_ = labels
        self._arm_codes = np.asarray(codes)
        self._entropy = root_entropy(self.rng)

    def _seed(self, key) -> int:
        """The seed of job ``key`` (see :mod:`leakstats.bayes._seeds`); the same at every call."""
        return child_seed(self._entropy, key)

    def _child_rng(self, key) -> np.random.Generator:
        """A fresh Generator for job ``key``: the same stream at every call."""
        return np.random.default_rng(self._seed(key))

    def _nuts_options(self) -> dict:
        """Keyword arguments of :func:`leakstats.bayes._sampling.run_nuts` but the sampler."""
        return dict(draws=self.draws, tune=self.tune, chains=self.chains,
                    target_accept=self.target_accept, seed=self._seed(SAMPLER))

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise LeakstatsError("This model is not fitted yet: call fit(data) first.")

    def _arm_counts(self, arm_index: int) -> pd.DataFrame:
        """The rows of ``counts_`` of one arm."""
        return self.counts_[self._arm_codes == arm_index]

    def _arm_index(self, arm) -> int:
        n_arms = len(self.arm_labels_)
        if isinstance(arm, bool) or not isinstance(arm, numbers.Integral) or not (
                0 <= arm < n_arms):
            raise LeakstatsError(
                f"arm: {arm!r} is not an index into arm_labels_ (0 to {n_arms - 1}). Fix: "
                f"arm=0 for {_label_text(self.arms_, self.arm_labels_[0])}, or arm=None for "
                "every arm."
            )
        return int(arm)

    # ------------------------------------------------------------------ leak@k
    def leak_draws(self, k, *, population: str = "prompts", arm=None) -> np.ndarray:
        """Posterior draws of leak@k.

        Parameters
        ----------
        k : int or sequence of int
            May exceed the number of samples (extrapolation by the fitted model).
        population : {"prompts", "superpopulation"}
            Mean leak@k over the benchmark's prompts, or over the population they come from.
        arm : None or int
            None: every arm. An int: that arm alone (an index into ``arm_labels_``).

        Returns
        -------
        numpy.ndarray
            Shape (S, A, K) with ``arm=None``; (S, K) with an int ``arm``. S counts the
            posterior draws (chains x draws), A the arms, K the values of k.
        """
        self._check_fitted()
        ks = parse_k(k)
        check_choice("population", population, POPULATIONS)
        if arm is None:
            return self._arm_leak_draws(ks, population, list(range(len(self.arm_labels_))))
        return self._arm_leak_draws(ks, population, [self._arm_index(arm)])[:, 0]

    def _arm_leak_draws(self, ks: np.ndarray, population: str, arms: list) -> np.ndarray:
        raise NotImplementedError

    def to_frame(
        self, k=(1,), *, population: str = "prompts", confidence_level: float = 0.95
    ) -> pd.DataFrame:
        """Posterior leak@k per arm x k, in the columns of :func:`leakstats.leak_at_k`.

        ``estimate`` is the posterior mean, ``se`` the posterior sd, ``ci_low``/``ci_high`` the
        equal-tailed credible interval, ``ci_method`` ``"bayes <model_name> (equal-tailed)"``.
        k may exceed the number of samples (extrapolation by the fitted model). The draws are
        those of :meth:`leak_draws`: the same table at every call.
        """
        self._check_fitted()
        ks = parse_k(k)
        level = check_level(confidence_level)
        draws = self.leak_draws(ks, population=population, arm=None)  # (S, A, K)
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)  # (A, K) each
        frames = []
        for a, label in enumerate(self.arm_labels_):
            group = self._arm_counts(a)
            frame = pd.DataFrame({
                "k": ks,
                "estimate": draws[:, a].mean(axis=0),
                "se": draws[:, a].std(axis=0, ddof=1),
                "ci_low": lo[a],
                "ci_high": hi[a],
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

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self) -> pd.DataFrame:
        """Convergence diagnostics of the NUTS run.

        One row per parameter and arm (``arm`` names the arm; a parameter shared by all arms
        has one row), with ``r_hat`` (NaN with a single chain), ``ess_bulk`` and ``ess_tail``;
        ``divergences`` is empty (<NA>) on these rows. All arms are sampled in one NUTS run, so
        divergent transitions are counted once, for the run: the last row, parameter
        ``"divergent transitions"``, holds their number in ``divergences`` (and NaN in the
        other columns).
        """
        self._check_fitted()
        _, _, az = _import_pymc()
        post = self.idata_.posterior[list(self._DIAGNOSED)]
        rhat = az.rhat(post) if self.chains > 1 else post.isel(chain=0, draw=0) * np.nan
        bulk = az.ess(post, method="bulk")
        tail = az.ess(post, method="tail")
        per_arm = [n for n in self._DIAGNOSED if "arm" in post[n].dims]
        cells = [(_label_text(self.arms_, label), name, {"arm": a})
                 for a, label in enumerate(self.arm_labels_) for name in per_arm]
        shared = "all arms" if self.arms_ else "the data"
        cells += [(shared, name, {}) for name in self._DIAGNOSED if name not in per_arm]
        rows = [{"arm": arm, "parameter": name, "r_hat": float(rhat[name].isel(where)),
                 "ess_bulk": float(bulk[name].isel(where)),
                 "ess_tail": float(tail[name].isel(where))} for arm, name, where in cells]
        rows.append({"arm": shared, "parameter": DIVERGENCES, "r_hat": np.nan,
                     "ess_bulk": np.nan, "ess_tail": np.nan})
        table = pd.DataFrame(rows)
        count = int(self.idata_.sample_stats["diverging"].sum())
        table["divergences"] = pd.array([pd.NA] * len(cells) + [count], dtype="Int64")
        return table

    def _warn_diagnostics(self) -> None:
        """Warn (ConvergenceWarning) when R-hat, ESS or divergences are out of bounds."""
        diag = self.diagnostics()
        params = diag[diag["parameter"] != DIVERGENCES]
        problems = []
        if self.chains > 1:
            for r in params[params["r_hat"] > 1.01].itertuples():
                problems.append(f"R-hat of {r.parameter} for {r.arm} is {r.r_hat:.3f} (> 1.01): "
                                "the chains disagree")
        floor = 100 * self.chains  # Vehtari et al. (2021): 100 per chain, bulk and tail
        low = params[(params["ess_bulk"] < floor) | (params["ess_tail"] < floor)]
        for r in low.itertuples():
            problems.append(f"effective sample size of {r.parameter} for {r.arm} is "
                            f"{min(r.ess_bulk, r.ess_tail):.0f} (< {floor}): too few "
                            "independent draws")
        count = int(diag["divergences"].sum())
        if count:
            problems.append(f"{count} divergent transition(s): the sampler missed part of the "
                            "posterior")
        if problems:
            warn(
                f"The posterior of the {self.model_name} model may be unreliable: "
                + "; ".join(problems) + ". Fix: refit with more tune/draws or a higher "
                "target_accept, and check model.diagnostics().",
                ConvergenceWarning)
