"""`import leakstats` is fast and light: no torch, PyMC, ArviZ or matplotlib."""

import subprocess
import sys

import leakstats

CODE = """
import sys, time
t = time.perf_counter()
import leakstats
dt = time.perf_counter() - t
heavy = [m for m in ("torch", "pymc", "arviz", "matplotlib", "transformers", "scipy.stats",
                     "statsmodels") if m in sys.modules]
print(dt, heavy)
"""


def test_import_is_fast_and_light():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.split(maxsplit=1)
    assert heavy.strip() == "[]"
    assert float(seconds) < 1.0


def test_public_namespace_resolves():
    for name in leakstats.__all__:
        assert getattr(leakstats, name) is not None
    assert set(leakstats.__all__) <= set(dir(leakstats))


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        leakstats.nope  # noqa: B018


def test_functions_named_like_their_module_stay_functions():
    code = (
        "from leakstats.compare.api import CompareResult\n"
        "import leakstats.plan, leakstats.certify, leakstats.extrapolate\n"
        "import leakstats, inspect\n"
        "for name in ('compare', 'plan', 'certify', 'extrapolate'):\n"
        "    assert inspect.isfunction(getattr(leakstats, name)), name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
