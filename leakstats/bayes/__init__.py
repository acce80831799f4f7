"""The Bayesian layer: the hierarchical (zero-inflated) beta-binomial model of one arm
(:mod:`.model`) and the paired logit model of several (:mod:`.paired`). PyMC and ArviZ are
imported only when a model is sampled."""
