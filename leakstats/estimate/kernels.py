"""Numerical kernels for the unbiased leak@k estimator.

For one prompt with ``n`` samples of which ``c`` leaked, the unbiased estimator of
leak@k = 1 - (1 - p)^k (Chen et al. 2021) is ``1 - Q_k`` with

    Q_k = C(n - c, k) / C(n, k) = prod_{j<k} (1 - c / (n - j)) = prod_{j<c} (1 - k / (n - j)).

:func:`log_q` evaluates ``log Q_k`` to near machine precision for n up to 10^7 and beyond:
it sums ``min(c, k)`` log1p terms when that is small, and otherwise uses a Stirling form of
the four log-factorials rearranged so that no two large numbers are subtracted.
Everything is vectorised and meant to be called on *distinct* (n, c) pairs.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

#: Up to this many factors, log Q is summed term by term (exact to a few ulps).
_EXACT_TERMS = 64
#: The Stirling series below is used only when every factorial argument is at least this.
_STIRLING_MIN = 50.0


def _stirling_tail(x: np.ndarray) -> np.ndarray:
    """lgamma(x + 1) - (x log x - x + 0.5 log(2 pi x)), for x >= 50 (error < 1e-15)."""
    inv = 1.0 / x
    inv2 = inv * inv
    return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))


def log_q(n, c, k) -> np.ndarray:
    """log of C(n - c, k) / C(n, k), elementwise, ``-inf`` where n - c < k.

    Parameters
    ----------
    n, c, k : array_like of int
        Samples, leaked samples and k; broadcast together. Requires 0 <= c <= n, 0 <= k <= n.
    """
    n, c, k = np.broadcast_arrays(
        np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64), np.asarray(k, dtype=np.int64)
    )
    out = np.zeros(n.shape, dtype=float)
    impossible = (n - c) < k
    out[impossible] = -np.inf
    m = np.minimum(c, k)
    active = (m > 0) & ~impossible
    small = active & (m <= _EXACT_TERMS)
    large = active & (m > _EXACT_TERMS)

    if small.any():
        ns = n[small].astype(float)
        ms = m[small]
        other = np.maximum(c, k)[small].astype(float)
        acc = np.zeros(ns.shape)
        for j in range(int(ms.max())):
            live = ms > j
            acc[live] += np.log1p(-other[live] / (ns[live] - j))
        out[small] = acc

    if large.any():
        nl = n[large].astype(float)
        a = c[large].astype(float)
        b = k[large].astype(float)
        rest = nl - a - b
        stirling = rest >= _STIRLING_MIN
        res = np.empty(nl.shape)
        # Near-degenerate corner (n - c - k small): plain log-gamma; Q underflows there anyway.
        direct = ~stirling
        if direct.any():
            nd, ad, bd = nl[direct], a[direct], b[direct]
            res[direct] = (
                gammaln(nd - ad + 1)
                + gammaln(nd - bd + 1)
                - gammaln(nd + 1)
                - gammaln(nd - ad - bd + 1)
            )
        if stirling.any():
            ns, as_, bs, rs = nl[stirling], a[stirling], b[stirling], rest[stirling]
            # x log x terms rearranged: a log1p(-b/n) + (n-a) log1p(ab/(n r)) + b log1p(-a/(n-b))
            # plus the 0.5 log x terms: 0.5 log1p(ab / (n r)), with r = n - a - b.
            cross = np.log1p(as_ * bs / (ns * rs))
            res[stirling] = (
                as_ * np.log1p(-bs / ns)
                + (ns - as_ + 0.5) * cross
                + bs * np.log1p(-as_ / (ns - bs))
                + _stirling_tail(ns - as_)
                + _stirling_tail(ns - bs)
                - _stirling_tail(ns)
                - _stirling_tail(rs)
            )
        out[large] = res
    return out


def leak_at_k_unbiased(n, c, k) -> np.ndarray:
    """Unbiased per-prompt leak@k estimate ``1 - C(n-c, k)/C(n, k)``, elementwise (0.0, not
    -0.0, for a prompt that never leaked)."""
    return 0.0 - np.expm1(log_q(n, c, k))


def fixed_variance_unbiased(n, c, k) -> np.ndarray:
    """Unbiased estimate of Var(leak@k estimate) for one prompt: Q_k^2 - Q_{2k} (needs 2k <= n).

    Non-negative by construction (the factors of Q decrease in j).
    """
    l1 = log_q(n, c, k)
    l2 = log_q(n, c, 2 * np.asarray(k))
    with np.errstate(invalid="ignore"):
        # Q_k^2 - Q_2k = Q_2k * expm1(2 l1 - l2); both -inf means both zero.
        v = np.where(np.isneginf(l2), np.exp(2 * l1), np.exp(l2) * np.expm1(2 * l1 - l2))
    return np.maximum(v, 0.0)


def distinct_pairs(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (n, c) pairs and the inverse index mapping every prompt to its pair."""
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    c_span = int(c.max(initial=0)) + 1
    if n.size and int(n.max()) < (2**62) // c_span:  # the packed key n * span + c is exact
        uniq, inverse = np.unique(n * c_span + c, return_inverse=True)
    else:  # large counts: unique rows of (n, c), exact for any int64
        uniq, inverse = np.unique(np.stack([n, c], axis=1), axis=0, return_inverse=True)
    first = np.zeros(uniq.size, dtype=np.int64)
    first[inverse] = np.arange(n.size)
    return n[first], c[first], inverse.reshape(-1)
