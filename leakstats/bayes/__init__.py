"""The Bayesian layer: the hierarchical (zero-inflated) beta-binomial model of one arm or
several independent arms (:mod:`.model`) and the paired logit model of several arms sharing
prompts (:mod:`.paired`), on one base (:mod:`._base`: NUTS settings, seeds, ``leak_draws`` with
shape (S, A, K), ``to_frame``, ``diagnostics``). PyMC and ArviZ are imported only when a model
is sampled."""
