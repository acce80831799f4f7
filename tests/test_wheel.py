"""The wheel ships the package data: built from this tree, installed into a fresh folder, and
run from outside the repository (the shipped example and the fictitious facts load, and
``leakstats estimate`` runs on the shipped example)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
               ".hypothesis", ".ruff_cache", "out", "site")
SHIPPED = ("leakstats/data/example_simulated.parquet", "leakstats/data/fictitious_facts.jsonl")

CHECK = """
import sys
import leakstats
from leakstats.cli import main
assert leakstats.__file__.startswith(sys.argv[1]), leakstats.__file__
from leakstats.generate.prompts import fictitious_facts
assert len(fictitious_facts(split="all")) == 50
records = leakstats.read_records(leakstats.example_path())
assert len(records) == 4 * 200 * 128
sys.exit(main(["estimate", str(leakstats.example_path()), "--k", "1,8", "--by", "method"]))
"""


def test_wheel_ships_the_data_and_runs_outside_the_repository(tmp_path):
    """Built from a copy of the source (setuptools' build/ folder in the tree may hold files
    of an earlier build, which would hide a missing package-data rule)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "wheel"), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "wheel").glob("leakstats-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert name in names
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", str(wheel), "--no-deps", "--target",
         str(site), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "grad_ascent" in run.stdout and "cp-eb" in run.stdout
