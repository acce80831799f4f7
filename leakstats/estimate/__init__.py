"""The frequentist core: the unbiased leak@k estimator (:mod:`.kernels`), its intervals for both
estimands (:mod:`.intervals`, :mod:`.fixed_variance`), the result type (:mod:`.result`) and the
public entry point ``leak_at_k`` (:mod:`.api`)."""
