"""Fitting and prediction with the mixing laws: the batched projected-BFGS optimiser
``minimize_batched``, maximum-likelihood fits of one family (``fit_family``) or of several
nested ones (``fit_families``), the predictions ``fixed_prompt_moments`` and ``predict``,
stratified folds and cross-validated log-likelihood, and the bootstrap refits
``bootstrap_fits``."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from .families import FAMILIES, Family
from .pairs import Pairs


# --------------------------------------------------------------------------- optimiser
def minimize_batched(family: Family, theta0, pairs: Pairs, weight, *, maxiter: int = 150,
                     gtol: float = 1e-5):
    """Minimise the mean negative log-likelihood of S rows at once (projected BFGS in a box).

    ``theta0`` (S, p) starting points, ``weight`` (S, D) prompt multiplicities per row.
    Returns (theta (S, p), value (S,)). The inverse-Hessian approximation starts as the
    identity scaled by s'y / y'y after the first step (Nocedal & Wright, eq. 6.20).
    """
    lo, hi = family.bounds()
    x = np.clip(np.array(theta0, dtype=float), lo, hi)
    weight = np.asarray(weight, dtype=float)
    S, p = x.shape
    eye = np.eye(p)
    f, g = family.nll_grad(x, pairs, weight)
    H = np.broadcast_to(eye, (S, p, p)).copy()
    fresh = np.ones(S, dtype=bool)  # H is still the unscaled identity
    live = np.ones(S, dtype=bool)
    stall = np.zeros(S, dtype=int)
    for _ in range(maxiter):
        at_lo = (x <= lo + 1e-12) & (g > 0)
        at_hi = (x >= hi - 1e-12) & (g < 0)
        pg = np.where(at_lo | at_hi, 0.0, g)
        live &= (np.abs(pg).max(axis=1) > gtol) & (stall < 3)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        gi, xi, Hi, fr = pg[idx], x[idx], H[idx], fresh[idx]
        d = -np.einsum("sij,sj->si", Hi, gi)
        blocked = ((xi <= lo + 1e-12) & (d < 0)) | ((xi >= hi - 1e-12) & (d > 0))
        d = np.where(blocked, 0.0, d)
        slope = (d * gi).sum(axis=1)
        bad = ~(slope < 0)
        if bad.any():  # not a descent direction: restart from steepest descent
            d[bad] = -gi[bad]
            Hi[bad] = eye
            fr[bad] = True
            slope[bad] = -(gi[bad] ** 2).sum(axis=1)
        scale = np.minimum(1.0, 2.0 / np.maximum(np.abs(d).max(axis=1), 1e-300))
        d *= scale[:, None]
        slope *= scale
        step = np.ones(idx.size)
        pending = np.ones(idx.size, dtype=bool)
        x_new = xi.copy()
        f_new = f[idx].copy()
        g_new = g[idx].copy()
        for _ls in range(30):
            j = np.flatnonzero(pending)
            if j.size == 0:
                break
            trial = np.clip(xi[j] + step[j, None] * d[j], lo, hi)
            ft, gt = family.nll_grad(trial, pairs, weight[idx[j]])
            ok = np.isfinite(ft) & (ft <= f[idx[j]] + 1e-4 * step[j] * slope[j])
            acc = j[ok]
            x_new[acc], f_new[acc], g_new[acc] = trial[ok], ft[ok], gt[ok]
            pending[acc] = False
            step[j[~ok]] *= 0.3
        failed = pending  # these rows keep their point and count a stall
        s_vec = x_new - xi
        y_vec = g_new - g[idx]
        sy = (s_vec * y_vec).sum(axis=1)
        upd = (sy > 1e-14) & ~failed
        if upd.any():
            s_u, y_u, H_u = s_vec[upd], y_vec[upd], Hi[upd]
            rho = 1.0 / sy[upd]
            first = fr[upd]
            if first.any():
                gamma = sy[upd][first] / (y_u[first] ** 2).sum(axis=1)
                H_u[first] = gamma[:, None, None] * eye
            A = eye[None] - rho[:, None, None] * s_u[:, :, None] * y_u[:, None, :]
            H_u = np.einsum("sij,sjk,slk->sil", A, H_u, A) + rho[:, None, None] * (
                s_u[:, :, None] * s_u[:, None, :]
            )
            Hi[upd] = H_u
            fr[upd] = False
        gain = f[idx] - f_new
        stall[idx] = np.where(failed | (gain < 1e-13), stall[idx] + 1, 0)
        x[idx], f[idx], g[idx], H[idx], fresh[idx] = x_new, f_new, g_new, Hi, fr
    return x, f


def fit_family(family: Family, pairs: Pairs, weight=None, *, starts=None, warm=None):
    """Maximum likelihood, best of the starts; weight (S, D) fits S reweighted data sets.

    ``warm`` (S, p), or a list of them: one starting point per row instead of the shared
    ``starts`` (the best optimum per row is kept).
    Returns (theta (S, p), loglik (S,)) with loglik the total log-likelihood of each row.
    """
    if weight is None:
        weight = pairs.weight[None, :]
    weight = np.atleast_2d(np.asarray(weight, dtype=float))
    S = weight.shape[0]
    if warm is not None:
        warm = [warm] if isinstance(warm, np.ndarray) else list(warm)
        best_theta, best_value = None, None
        for start in warm:
            theta, value = minimize_batched(family, np.atleast_2d(start), pairs, weight)
            value = np.where(np.isfinite(value), value, np.inf)
            if best_theta is None:
                best_theta, best_value = theta, value
            else:
                better = value < best_value
                best_theta[better], best_value[better] = theta[better], value[better]
        return best_theta, -best_value * weight.sum(axis=1)
    starts = np.atleast_2d(family.starts(pairs) if starts is None else starts)
    m = starts.shape[0]
    theta0 = np.repeat(starts, S, axis=0)  # row r*S + s: start r for data set s
    w_all = np.tile(weight, (m, 1))
    theta, value = minimize_batched(family, theta0, pairs, w_all)
    value = np.where(np.isfinite(value), value, np.inf).reshape(m, S)
    best = value.argmin(axis=0)
    theta = theta.reshape(m, S, -1)[best, np.arange(S)]
    return theta, -value[best, np.arange(S)] * weight.sum(axis=1)


# --------------------------------------------------------------------------- predictions
def fixed_prompt_moments(family: Family, theta, pairs: Pairs, ks):
    """Mean and variance of the benchmark leak@k given the counts, per parameter row.

    Returns (mean, var), each (S, K): the mean over the prompts of E[leak@k | c_i] and the
    conditional variance of that mean, sum_i Var[leak@k | c_i] / P^2.
    """
    theta = np.atleast_2d(theta)
    ks = np.asarray(ks, dtype=float)
    mean = np.empty((theta.shape[0], ks.size))
    var = np.empty_like(mean)
    P = pairs.n_prompts
    for j, (m1, m2) in enumerate(family.pair_leak_moments(theta, pairs, ks)):
        mean[:, j] = m1 @ pairs.weight / P
        var[:, j] = np.maximum(m2 - m1 * m1, 0.0) @ pairs.weight / P**2
    return np.clip(mean, 0.0, 1.0), var


def predict(family: Family, theta, pairs: Pairs, ks, population: str):
    """(mean, var) of the estimand under each parameter row; var = 0 for the superpopulation."""
    if population == "prompts":
        return fixed_prompt_moments(family, theta, pairs, ks)
    mean = np.clip(family.population_leak(np.atleast_2d(theta), ks), 0.0, 1.0)
    return mean, np.zeros_like(mean)


# --------------------------------------------------------------------------- all families
def _nested_starts(name: str, fits: dict) -> list[np.ndarray]:
    """Starting points of a family from the optima of the smaller families it contains, so
    that its maximum likelihood is never below theirs."""
    out = []
    if name == "zi-beta" and "beta" in fits:
        out.append(np.r_[-8.0, fits["beta"][0]])
    if name == "beta-mix" and "beta" in fits:
        base = fits["beta"][0]
        for second in ((-8.0, 8.0), (-3.0, 1.0), (-1.0, 2.0)):
            out.append(np.r_[3.0, base, second])
    if name == "zi-beta-mix":
        if "zi-beta" in fits:
            base = fits["zi-beta"][0]
            for second in ((-8.0, 8.0), (-3.0, 1.0), (-1.0, 2.0)):
                out.append(np.r_[base[0], 3.0, base[1:], second])
        if "beta-mix" in fits:
            out.append(np.r_[-8.0, fits["beta-mix"][0]])
    if name == "zi-logit-normal" and "logit-normal" in fits:
        out.append(np.r_[-8.0, fits["logit-normal"][0]])
    return out


def fit_families(pairs: Pairs, names) -> dict:
    """Maximum-likelihood fit of each named family: {name: (theta (p,), loglik)}.

    Families are fitted smallest first, and each larger family also starts from the optima
    of the families nested in it.
    """
    order = [n for n in FAMILIES if n in names]
    fits: dict = {}
    for name in order:
        family = FAMILIES[name]
        lo, hi = family.bounds()
        starts = list(family.starts(pairs))
        starts += [np.clip(s, lo + 1e-9, hi - 1e-9) for s in _nested_starts(name, fits)]
        theta, ll = fit_family(family, pairs, starts=np.array(starts))
        fits[name] = (theta[0], float(ll[0]))
    return fits


def fold_weights(pairs: Pairs, n_folds: int = 5) -> np.ndarray:
    """Deterministic stratified folds: each pair's prompts dealt round-robin, (F, D)."""
    w = pairs.weight.astype(np.int64)
    folds = np.zeros((n_folds, w.size))
    start = 0
    for d, count in enumerate(w):
        idx = (start + np.arange(count)) % n_folds
        folds[:, d] = np.bincount(idx, minlength=n_folds)
        start = (start + count) % n_folds
    return folds


def cross_validated_loglik(family: Family, theta, pairs: Pairs, n_folds: int = 5):
    """Held-out log-likelihood (sum over prompts) by stratified K-fold refits (warm starts)."""
    test = fold_weights(pairs, n_folds)
    train = pairs.weight[None, :] - test
    fitted, _ = fit_family(family, pairs, train, warm=np.repeat(np.atleast_2d(theta), n_folds, 0))
    return float((test * family.pair_loglik(fitted, pairs)).sum())


def _with_pi0(theta, value):
    out = np.array(theta, dtype=float, copy=True)
    out[:, 0] = value
    return out


def bootstrap_fits(pairs: Pairs, fits: dict, weight) -> dict:
    """Refit every family of ``fits`` on each row of ``weight`` (S, D): {name: (theta, ll)}.

    Each row starts from the full-data optimum and, as in :func:`fit_families`, from the
    row's own optima of the families nested in it (so that a larger family never fits a
    resample worse than a smaller one); zero-inflated families also start from the other
    side of the ridge between pi0 and the left tail (pi0 near zero vs a sizeable pi0).
    """
    S = weight.shape[0]
    share_zero = float(pairs.weight @ pairs.zero) / pairs.n_prompts
    inward = float(logit(np.clip(0.5 * share_zero, 0.05, 0.9)))
    out: dict = {}
    for name in (n for n in FAMILIES if n in fits):
        family = FAMILIES[name]
        theta_hat = np.repeat(np.atleast_2d(fits[name][0]), S, axis=0)
        warm = [theta_hat]
        nested = {"zi-beta": "beta", "zi-beta-mix": "beta-mix",
                  "zi-logit-normal": "logit-normal"}.get(name)
        if family.zero_inflated:
            if theta_hat[0, 0] < -4.0:  # full-data optimum at pi0 ~ 0: also start inside
                warm.append(_with_pi0(theta_hat, inward))
            elif nested not in out:  # else the nested family's optimum is the pi0 ~ 0 start
                warm.append(_with_pi0(theta_hat, -8.0))
        if nested in out:
            warm.append(np.c_[np.full(S, -8.0), out[nested][0]])
        if name == "beta-mix" and "beta" in out:
            warm.append(np.c_[np.full(S, 3.0), out["beta"][0], np.full(S, -8.0),
                              np.full(S, 8.0)])
        lo, hi = family.bounds()
        warm = [np.clip(w, lo + 1e-9, hi - 1e-9) for w in warm]
        out[name] = fit_family(family, pairs, weight, warm=warm)
    return out
