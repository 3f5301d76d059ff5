"""The Snakemake workflow: DAG shape, caching by content, a smoke run end to end, report, lint.

Workflow runs happen in a copy of the repository (Snakefile, workflow/, conf/, src/, ...) with
``PYTHONPATH`` pointing at the copy's ``src``, so a test can edit a plan or a default in
``conf/`` without touching the checkout.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.workflow import REPO, SNAKEMAKE, copy_repository, job_counts, snakemake

from giantstep.reproduce.plans import load_plan

PLANS = ["learning_curves", "figure1", "cosines", "single_step", "hard_direction", "staircase",
         "staircase_climb", "batch_reuse"]


def scheduled_outputs(output: str) -> set[str]:
    """Every output file a dry run schedules."""
    return {f.strip() for m in re.finditer(r"^\s+output: (.+)$", output, re.MULTILINE)
            for f in m[1].split(",")}


def test_quick_dry_run_schedules_one_job_per_cell(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "scale=quick")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    cells = {name: len(load_plan(name, "quick").cells) for name in PLANS}
    assert counts["run"] == sum(cells.values())
    assert counts["aggregate"] == len(PLANS)
    assert counts["aggregate_neurons"] == 2  # only the cosines and batch_reuse plans tabulate neurons
    assert counts["all"] == 1


def test_lint_and_format_are_clean():
    lint = subprocess.run([SNAKEMAKE, "--lint", "-s", str(REPO / "Snakefile"), "--config", "scale=smoke"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    snakefmt = str(Path(sys.executable).with_name("snakefmt"))
    fmt = subprocess.run([snakefmt, "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A copy of the repository with the smoke workflow run to completion in it."""
    copy = copy_repository(tmp_path_factory.mktemp("repo"))
    result = snakemake(copy, "--cores", "2", "--config", "scale=smoke", src=copy / "src")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return copy


@pytest.mark.slow
def test_smoke_run_builds_tables_and_nothing_is_left_to_do(smoke):
    tables = smoke / "results" / "smoke" / "tables"
    for name in PLANS:
        assert (tables / f"{name}_runs.csv").stat().st_size > 0
    again = snakemake(smoke, "-n", "--config", "scale=smoke", src=smoke / "src")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_report_builds(smoke):
    result = snakemake(smoke, "--config", "scale=smoke", "--report", "report.html", src=smoke / "src")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (smoke / "report.html").stat().st_size > 10_000


def _dry_run_after_edit(copy: Path, path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    try:
        result = snakemake(copy, "-n", "--config", "scale=smoke", src=copy / "src")
    finally:
        path.write_text(text)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _runs_of(outputs: set[str]) -> set[str]:
    return {o.split("/runs/", 1)[1].rsplit("/seed=", 1)[0] for o in outputs if "/runs/" in o}


def _tables_of(outputs: set[str]) -> set[str]:
    return {Path(o).name for o in outputs if "/tables/" in o and o.endswith("_runs.csv")}


@pytest.mark.slow
def test_editing_one_plan_value_reruns_only_its_cells(smoke):
    plan = smoke / "conf" / "reproduce" / "learning_curves.yaml"
    out = _dry_run_after_edit(smoke, plan, "train.kappa: [1.0, 1.5]", "train.kappa: [1.0, 1.6]")
    outputs = scheduled_outputs(out)
    assert _runs_of(outputs) == {"learning_curves/target=hermite_124/kappa=1.6",
                                 "learning_curves/target=two_stair/kappa=1.6"}
    assert _tables_of(outputs) == {"learning_curves_runs.csv"}


@pytest.mark.slow
def test_editing_a_default_in_conf_reruns_exactly_the_runs_it_changes(smoke):
    scenario = smoke / "conf" / "scenario" / "hard_direction.yaml"
    out = _dry_run_after_edit(smoke, scenario, "    scale: ${d}    # eta = p d", "    scale: 2.0")
    outputs = scheduled_outputs(out)
    expected = {f"hard_direction/{cell.path}" for cell in load_plan("hard_direction", "smoke").cells}
    assert _runs_of(outputs) == expected
    assert _tables_of(outputs) == {"hard_direction_runs.csv"}
    assert job_counts(out)["run"] == len(expected)
