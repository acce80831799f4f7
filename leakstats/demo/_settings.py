"""The demo's presets: what is sampled and analysed (here) and how models are trained (read from
:data:`leakstats.unlearn.PRESETS`, so that the demo trains exactly what that module measured).

Pure Python: no torch, no pandas.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leakstats.core.checks import check_int, check_number
from leakstats.core.errors import LeakstatsError

__all__ = ["PRESETS", "DemoSettings", "SamplingArm", "demo_judge", "resolve_settings"]

#: Keyword judges of the demo (on each fact's own keywords); ROUGE-L specs are also allowed.
JUDGE_SPECS = ("keywords-any", "keywords-all")
#: The unlearning methods of :mod:`leakstats.unlearn` (checked against it when it loads).
METHODS = ("grad_ascent", "grad_diff", "npo")


@dataclass(frozen=True)
class SamplingArm:
    """One decoding configuration of the sampled evaluation and its samples per prompt.

    Examples
    --------
    >>> SamplingArm(temperature=0.2, n=4).label
    'T=0.2, top-p=1'
    """

    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 16

    def __post_init__(self) -> None:
        t, p, n = self.temperature, self.top_p, self.n
        t = check_number("sampling arm: temperature", t, low=0, low_open=True,
                         fix="pass e.g. temperature=1.0")
        p = check_number("sampling arm: top_p", p, low=0, high=1, low_open=True,
                         fix="pass e.g. top_p=1.0")
        check_int("sampling arm: n", n, 2, fix="pass e.g. n=16 (leak@k and its intervals "
                                               "need at least 2 samples per prompt)")
        object.__setattr__(self, "temperature", t)
        object.__setattr__(self, "top_p", p)

    @property
    def label(self) -> str:
        return f"T={self.temperature:g}, top-p={self.top_p:g}"

    @property
    def is_plain(self) -> bool:
        """T = 1 and no truncation: sampling from the model's own distribution."""
        return self.temperature == 1.0 and self.top_p == 1.0


@dataclass(frozen=True)
class DemoSettings:
    """Everything the demo samples and computes, besides training (see :func:`resolve_settings`).

    Attributes
    ----------
    name : str
        The preset's name.
    methods : tuple of str
        Unlearning methods run on the fine-tuned model.
    rule_base : str
        The method RULE starts from (one of ``methods``).
    arms : tuple of SamplingArm
        The decoding grid of the sampled evaluation; one arm must be T = 1, top-p = 1.
    max_new_tokens, greedy_max_new_tokens : int
        Token limits of the sampled and the greedy answers.
    retain_eval : int or None
        Greedy utility check on the first ``retain_eval`` retain questions (None: all); the
        forget questions are always all evaluated.
    judges : tuple of str
        Judges stored with every sample (raw scores kept; the report compares them):
        ``"keywords-any"`` (some keyword of the fact, e.g. "Tromsø" or "1962", in the
        answer), ``"keywords-all"`` (all of them), ``"rouge:T"`` (ROUGE-L recall >= T).
    judge : str
        The judge of the findings (one of ``judges``), for sampled and greedy answers alike;
        changing it re-runs the analysis only.
    extrapolate_k : tuple of int
        k values of the extrapolation (beyond the samples).
    bayes : bool
        Fit the Bayesian per-prompt model (needs PyMC).
    bayes_draws, bayes_tune, bayes_chains : int
        NUTS settings of the Bayesian per-prompt model (small: the demo is about speed).
    extrapolate_resamples, n_resamples : int
        Bootstrap resamples of the extrapolation; resamples of the paired tests.
    confidence_level : float
    seed : int
        Seed of sampling and of every random step of the analysis.
    threads : int or None
        torch CPU threads during the run (None, the default: torch's default, all cores).
        Pass 1 on a machine shared with other jobs: on the 2-core development machine under
        load two threads were ten times slower than one (OpenMP threads spin waiting for a
        core); on a quiet machine two threads ran the quick preset in 4 min instead of 5.5.
    """

    name: str
    methods: tuple[str, ...] = METHODS
    rule_base: str = "npo"
    arms: tuple[SamplingArm, ...] = (SamplingArm(1.0, 1.0, 8), SamplingArm(0.2, 1.0, 2))
    max_new_tokens: int = 28
    greedy_max_new_tokens: int = 48
    retain_eval: int | None = 10
    judges: tuple[str, ...] = ("keywords-any", "keywords-all", "rouge:0.4")
    judge: str = "keywords-any"
    extrapolate_k: tuple[int, ...] = (10_000,)
    bayes: bool = True
    bayes_draws: int = 500
    bayes_tune: int = 500
    bayes_chains: int = 2
    extrapolate_resamples: int = 100
    n_resamples: int = 2000
    confidence_level: float = 0.95
    seed: int = 0
    threads: int | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def plain_arm(self) -> SamplingArm:
        """The T = 1, top-p = 1 arm."""
        return next(a for a in self.arms if a.is_plain)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (stage markers, the report)."""
        out = dataclasses.asdict(self)
        out.pop("notes")
        return json.loads(json.dumps(out))


PRESETS: dict[str, DemoSettings] = {
    "default": DemoSettings(name="default"),
    "quick": DemoSettings(
        name="quick",
        arms=(SamplingArm(1.0, 1.0, 4), SamplingArm(0.2, 1.0, 2)),
        max_new_tokens=16,
        greedy_max_new_tokens=32,
        retain_eval=None,
        bayes_draws=150,
        bayes_tune=150,
        extrapolate_resamples=50,
        n_resamples=1000,
    ),
}


def _check_int(name: str, value, minimum: int) -> None:
    check_int(f"setting {name!r}", value, minimum, fix=f"pass an integer >= {minimum}")


def resolve_settings(preset: str, overrides: Mapping[str, Any] | None = None,
                     *, methods: tuple[str, ...] = METHODS) -> DemoSettings:
    """The settings of ``preset`` with ``overrides`` applied, checked.

    Parameters
    ----------
    preset : {"default", "quick"}
    overrides : mapping, optional
        Field values of :class:`DemoSettings` to replace (``arms`` as SamplingArm objects or
        dicts).
    methods : tuple of str
        The unlearning methods that exist (``leakstats.unlearn.METHODS``).

    Raises
    ------
    ValueError
        (:class:`leakstats.LeakstatsError`) for an unknown preset or field, or a bad value.

    Examples
    --------
    >>> resolve_settings("quick", {"seed": 3}).seed
    3
    >>> resolve_settings("fast")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leakstats.core.errors.LeakstatsError: preset: 'fast' is not one of 'default', 'quick'. Fix: ...
    """
    if not isinstance(preset, str) or preset not in PRESETS:
        raise LeakstatsError(
            f"preset: {preset!r} is not one of {', '.join(map(repr, PRESETS))}. Fix: pass "
            f"preset='default' (about 20 minutes on 2 CPU cores) or preset='quick' (about 4 "
            f"minutes; CI)."
        )
    settings = PRESETS[preset]
    overrides = dict(overrides or {})
    fields = {f.name for f in dataclasses.fields(DemoSettings)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise LeakstatsError(
            f"overrides: unknown setting(s) {unknown}. Fix: use the fields of "
            f"leakstats.demo.DemoSettings: {sorted(fields)}."
        )
    if "arms" in overrides:
        overrides["arms"] = tuple(a if isinstance(a, SamplingArm) else SamplingArm(**a)
                                  for a in overrides["arms"])
    for key in ("methods", "extrapolate_k", "judges"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    settings = dataclasses.replace(settings, **overrides)
    _check_settings(settings, methods)
    return settings


def _check_settings(s: DemoSettings, methods: tuple[str, ...]) -> None:
    bad = [m for m in s.methods if m not in methods]
    if not s.methods or bad:
        raise LeakstatsError(
            f"setting 'methods': {list(s.methods)} must be a non-empty subset of {list(methods)}"
            f"{f' ({bad} unknown)' if bad else ''}. Fix: pass e.g. methods={list(methods)}."
        )
    if s.rule_base not in s.methods:
        raise LeakstatsError(
            f"setting 'rule_base': {s.rule_base!r} is not among the methods run "
            f"{list(s.methods)}. Fix: pass one of them, e.g. rule_base={s.methods[-1]!r}."
        )
    if not s.arms or sum(a.is_plain for a in s.arms) != 1:
        raise LeakstatsError(
            f"setting 'arms': {[a.label for a in s.arms]} must hold exactly one T = 1, top-p = 1 "
            f"arm (the paper's sampling setting). Fix: include SamplingArm(1.0, 1.0, n) once."
        )
    if len({(a.temperature, a.top_p) for a in s.arms}) != len(s.arms):
        raise LeakstatsError(
            f"setting 'arms': {[a.label for a in s.arms]} repeats a decoding configuration. "
            f"Fix: list each (temperature, top_p) once."
        )
    for name in ("max_new_tokens", "greedy_max_new_tokens", "bayes_draws", "bayes_tune",
                 "bayes_chains"):
        _check_int(name, getattr(s, name), 1)
    _check_int("extrapolate_resamples", s.extrapolate_resamples, 10)
    _check_int("n_resamples", s.n_resamples, 100)
    _check_int("seed", s.seed, 0)
    if s.threads is not None:
        _check_int("threads", s.threads, 1)
    if s.retain_eval is not None:
        _check_int("retain_eval", s.retain_eval, 1)
    if not s.extrapolate_k:
        raise LeakstatsError("setting 'extrapolate_k': empty. Fix: pass e.g. "
                             "extrapolate_k=(10000,).")
    for k in s.extrapolate_k:
        check_int("setting 'extrapolate_k'", k, 1, fix="pass e.g. extrapolate_k=(10000,)")
    if not (isinstance(s.confidence_level, float) and 0.5 <= s.confidence_level < 1):
        raise LeakstatsError(f"setting 'confidence_level': {s.confidence_level!r} is not in "
                             f"[0.5, 1). Fix: pass e.g. 0.95.")
    for spec in s.judges:
        if not (isinstance(spec, str) and (spec in JUDGE_SPECS or spec == "rouge"
                                           or spec.startswith("rouge:"))):
            raise LeakstatsError(
                f"setting 'judges': {spec!r} is not a demo judge. Fix: use 'keywords-any', "
                f"'keywords-all' or a ROUGE-L recall spec such as 'rouge:0.4'."
            )
    names = [demo_judge(j).name for j in s.judges]
    if not names or len(set(names)) != len(names):
        raise LeakstatsError(f"setting 'judges': {list(s.judges)} is empty or repeats a judge "
                             f"(names {names}). Fix: list each judge once.")
    if s.judge not in s.judges:
        raise LeakstatsError(f"setting 'judge': {s.judge!r} is not among the judges stored "
                             f"with the samples {list(s.judges)}. Fix: pick one of them, or add "
                             f"it to 'judges'.")


def demo_judge(spec: str):
    """The judge of a demo judge spec (:func:`leakstats.generate.judges.make_judge`):
    ``"keywords-any"`` / ``"keywords-all"`` are
    :class:`leakstats.generate.judges.KeywordJudge` on each fact's own keywords (one / all
    of them required).

    Examples
    --------
    >>> [demo_judge(s).name for s in ("keywords-any", "keywords-all", "rouge:0.4")]
    ['keywords_any>=1', 'keywords_all>=1', 'rougeL_recall>=0.4']
    """
    from leakstats.generate.judges import make_judge

    return make_judge(spec)
