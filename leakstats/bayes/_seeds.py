"""Seeds of the Bayesian models: one root entropy per fitted model, one child seed per job.

A fitted model fixes its root entropy when it is fitted (:func:`root_entropy`) and derives the
seed of every job from it (:func:`child_seed`), so every method that draws random numbers
(``leak_draws``, ``to_frame``, ``prompt_posteriors``, ``ppc``) returns the same output at every
call, and a Generator passed as ``rng`` is never advanced.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

# job keys (the first entry of a child seed's spawn key)
SAMPLER = 0
LEAK_DRAWS = 2
PROMPT_DRAWS = 3
PPC = 4


def root_entropy(rng):
    """The root entropy of ``rng``.

    None: fresh entropy from the operating system. An int or a sequence of ints: itself. A
    numpy Generator: an integer drawn from a copy of it, so the caller's Generator does not
    advance and the same Generator state gives the same entropy.
    """
    if isinstance(rng, np.random.Generator):
        return int(copy.deepcopy(rng).integers(2**63))
    if rng is None:
        return np.random.SeedSequence().entropy
    return rng


def child_seed(rng, key) -> int:
    """Integer seed of job ``key`` (an int or a tuple of ints) derived from ``rng``.

    ``rng`` is read by :func:`root_entropy`: the same rng (or Generator state) and key give the
    same seed, except ``rng=None``, which draws fresh entropy at every call. The seed is the
    first word of ``SeedSequence(entropy, spawn_key=key)``, which equals
    ``SeedSequence(entropy).spawn(key + 1)[key]`` for an int key.

    >>> child_seed(1, 0) == child_seed(1, (0,))
    True
    >>> g = np.random.default_rng(5)
    >>> child_seed(g, 3) == child_seed(g, 3)
    True
    """
    spawn_key = (int(key),) if isinstance(key, numbers.Integral) else tuple(int(x) for x in key)
    seq = np.random.SeedSequence(root_entropy(rng), spawn_key=spawn_key)
    return int(seq.generate_state(1)[0])
