"""Mixing laws of per-prompt leak probabilities (beta, logit-normal, their mixtures and
zero-inflated forms): maximum-likelihood fits and predictions, shared by the empirical-Bayes
interval (:mod:`leakstats.estimate.fixed_variance`) and extrapolation."""
