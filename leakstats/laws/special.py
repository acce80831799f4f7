"""Special functions shared by the mixing laws: the Stirling series, ``log_gamma_ratio`` and
``log_beta_ratio`` (log E[(1 - p)^k] under a beta, without cancellation at large k),
``_logaddexp_rows`` and the constants of the logit grid used by the logit-normal family.

Large k (up to 1e18 and beyond) is computed in log space. log R = log B(x, y + k) - log B(x, y)
(x = a + c, y = b + n - c) is written as D(y, x) - D(y + k, x) with D(z, s) = log G(z + s) -
log G(z) (for k < x, as D(y, k) - D(y + x, k): the ratio is symmetric in x and k), and D is
computed from the difference of the Stirling series at z + s and z for z >= 15 (below, log G
is small and the direct difference, after the recurrence of G when s < 1, is exact enough),
so that no two log-gammas of size k log k are subtracted: the direct difference loses every
digit past k ~ 1e15 (log G(1e16) ~ 3.6e17, whose spacing of doubles is 64). log R <= 0
exactly, so each component's leak@k = -expm1(log R) lies in [0, 1] and increases with k; a
mixture adds them with non-negative weights.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

# --------------------------------------------------------------------------- data
#: Finest logit-grid spacing used by the logit-normal family, and the largest grid.
_GRID_LIMITS = (-32.0, 12.0)
_GRID_MAX_POINTS = 20_000
#: Below this, a scaled marginal likelihood on the logit grid is recomputed in log space.
_Q_TINY = 1e-280

#: Stirling series of log G(z) - ((z - 1/2) log z - z + log(2 pi) / 2), coefficients of
#: 1/z, 1/z^3, ...; with 5 terms and z >= 15 the truncation error is below 1e-16.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)
_STIRLING_MIN = 15.0


def _stirling_tail(z):
    """The series without its first term: sum over m >= 2 of c_m z^-(2m - 1)."""
    w = np.reciprocal(z * z)
    out = w * _STIRLING[-1]
    for coef in _STIRLING[-2:0:-1]:
        out += coef
        out *= w
    out /= z
    return out


def log_gamma_ratio(z, s):
    """log G(z + s) - log G(z) for z > 0, s >= 0 (arrays of one shape, or scalars), without
    cancellation at large z."""
    z = np.asarray(z, dtype=float)
    s = np.asarray(s, dtype=float)
    shape = np.broadcast_shapes(z.shape, s.shape)
    if z.shape != s.shape or z.ndim == 0:
        z, s = np.broadcast_arrays(np.atleast_1d(z), np.atleast_1d(s))
    small = z < _STIRLING_MIN
    zl = np.where(small, _STIRLING_MIN, z) if small.any() else z
    zs = zl + s
    # (z' - 1/2) log z' - z' - (z - 1/2) log z + z, z' = z + s, and the series' difference:
    # its first term c_1 (1 / z' - 1 / z) = -s / (12 z z') exactly, the rest directly
    out = np.log(zs)
    out -= 1.0
    out *= s
    out += (zl - 0.5) * np.log1p(s / zl)
    out -= s / (12.0 * zl * zs)
    out += _stirling_tail(zs)
    out -= _stirling_tail(zl)
    if small.any():
        zi, si = z[small], s[small]
        # small z: log G(z) < 26, so the direct difference keeps its absolute accuracy;
        # for s < 1 (a relative accuracy too), shift z up by G(z + 1) = z G(z) first
        val = gammaln(zi + si) - gammaln(zi)
        tiny = si < 1.0
        if tiny.any():
            zt, st = zi[tiny].copy(), si[tiny]
            shift = np.zeros(zt.shape)
            low = zt < _STIRLING_MIN
            while low.any():
                shift[low] += np.log1p(st[low] / zt[low])
                zt[low] += 1.0
                low = zt < _STIRLING_MIN
            val[tiny] = log_gamma_ratio(zt, st) - shift
        out[small] = val
    return out.reshape(shape)


def log_beta_ratio(x, y, k, d_yx=None):
    """log [B(x, y + k) / B(x, y)] = log E[(1 - p)^k] for p ~ Beta(x, y); <= 0, finite for
    x, y > 0 and any finite k >= 0 (see the module docstring). ``d_yx``: the value of
    ``log_gamma_ratio(y, x)`` when already known (it does not depend on k)."""
    x, y, k = (np.asarray(v, dtype=float) for v in (x, y, k))
    shape = np.broadcast_shapes(x.shape, y.shape, k.shape)
    x, y, k = (np.atleast_1d(v) for v in (x, y, k))
    if not (x.shape == y.shape == k.shape):
        x, y, k = np.broadcast_arrays(x, y, k)
    if d_yx is None:
        d_yx = log_gamma_ratio(y, x)
    out = d_yx - log_gamma_ratio(y + k, x)
    # the ratio is symmetric in x and k: for k << x, subtract the smaller increments (the
    # direct form loses about 1e-16 x log(y + x) in absolute terms, negligible for x <= 64)
    swap = (k < x) & (x > 64.0)
    if swap.any():
        xs, ys, ks = x[swap], y[swap], k[swap]
        out[swap] = log_gamma_ratio(ys, ks) - log_gamma_ratio(ys + xs, ks)
    return np.minimum(out, 0.0).reshape(shape)


def _logaddexp_rows(zero, comp_sum):
    with np.errstate(divide="ignore"):
        return np.logaddexp(zero, comp_sum)
