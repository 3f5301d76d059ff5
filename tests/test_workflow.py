"""The Snakemake workflow: DAG shape, caching by content, a smoke run end to end, report, lint.

Workflow runs happen in a copy of the repository (Snakefile, workflow/, conf/, src/, ...) with
``PYTHONPATH`` pointing at the copy's ``src``, so a test can edit a plan or a default in
``conf/`` without touching the checkout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.workflow import REPO, SNAKEMAKE, copy_repository, job_counts, snakemake

from giantstep.reproduce.batches import cell_batches
from giantstep.reproduce.plans import load_plan

PLANS = ["learning_curves", "figure1", "cosines", "single_step", "hard_direction", "staircase",
         "staircase_climb", "batch_reuse"]


def scheduled_outputs(output: str) -> set[str]:
    """Every output file a dry run schedules."""
    return {f.strip() for m in re.finditer(r"^\s+output: (.+)$", output, re.MULTILINE)
            for f in m[1].split(",")}


def cells_per_job(scale: str) -> int:
    resources = yaml.safe_load((REPO / "workflow/config/config.yaml").read_text())["resources"]
    return resources[scale]["cells_per_job"]


def batch_lines(stderr: str) -> dict[str, set[str]]:
    """What a dry run says each batch to run computes: {"<plan> <batch>": {cell path, ...}}
    (workflow/rules/common.smk, ``repair``); "all" for a batch that computes all its cells."""
    lines = re.finditer(r"^giantstep: (\S+) batch (\S+) computes "
                        r"(all its \d+ cells|\d+ of its \d+ cells: (.+))$", stderr, re.MULTILINE)
    return {f"{m[1]} {m[2]}": {"all"} if m[4] is None else set(m[4].split(", ")) for m in lines}


def test_quick_dry_run_schedules_each_batch_of_cells_once(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "scale=quick")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    per_job = cells_per_job("quick")
    batches = {name: cell_batches(load_plan(name, "quick").cells, per_job) for name in PLANS}
    for name, plan_batches in batches.items():  # every cell in exactly one batch, none too full
        cells = [cell.path for batch in plan_batches.values() for cell in batch]
        assert sorted(cells) == sorted(cell.path for cell in load_plan(name, "quick").cells)
        assert max(map(len, plan_batches.values())) <= per_job
    cells = sum(len(load_plan(name, "quick").cells) for name in PLANS)
    assert counts["run"] == sum(map(len, batches.values())) < cells
    assert batch_lines(result.stderr) == {f"{name} {batch}": {"all"}
                                          for name in PLANS for batch in batches[name]}
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


def _dry_run_after_edit(copy: Path, path: Path, old: str, new: str) -> tuple[str, str]:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    try:
        result = snakemake(copy, "-n", "--config", "scale=smoke", src=copy / "src")
    finally:
        path.write_text(text)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, result.stderr


def _tables_of(outputs: set[str]) -> set[str]:
    return {Path(o).name for o in outputs if "/tables/" in o and o.endswith("_runs.csv")}


# A plan value added in the smoke workflow: two new cells, dealt into both batches of the plan.
KAPPAS = ("train.kappa: [1.0, 1.5]", "train.kappa: [1.0, 1.5, 1.75]")
NEW_CELLS = {"target=hermite_124/kappa=1.75", "target=two_stair/kappa=1.75"}


@pytest.mark.slow
def test_adding_one_plan_value_computes_only_its_cells(smoke):
    plan = smoke / "conf" / "reproduce" / "learning_curves.yaml"
    out, err = _dry_run_after_edit(smoke, plan, *KAPPAS)
    paths = [f"target={target}/kappa={kappa}" for target in ("hermite_124", "two_stair")
             for kappa in ("1.0", "1.5", "1.75")]  # the plan's cells after the edit, in order
    batches = cell_batches(paths, cells_per_job("smoke"))
    assert len(batches) == 2
    assert batch_lines(err) == {f"learning_curves {name}": set(cells) & NEW_CELLS
                                for name, cells in batches.items()}
    assert all(1 == len(lines) for lines in batch_lines(err).values())  # one new cell in each
    assert job_counts(out)["run"] == 2
    assert _tables_of(scheduled_outputs(out)) == {"learning_curves_runs.csv"}


@pytest.mark.slow
def test_a_batch_computes_its_new_cells_and_keeps_its_other_runs_untouched(smoke, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(smoke, copy, symlinks=True)
    runs = copy / "results/smoke/runs/learning_curves"
    before = {path: path.stat().st_mtime_ns for path in runs.rglob("*") if path.is_file()}
    plan = copy / "conf/reproduce/learning_curves.yaml"
    plan.write_text(plan.read_text().replace(*KAPPAS))
    result = snakemake(copy, "--cores", "2", "--config", "scale=smoke", src=copy / "src")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {path: path.stat().st_mtime_ns for path in before} == before  # kept as they were
    folder = copy / "results/smoke/batches/learning_curves"
    manifests = [json.loads(path.read_text()) for path in folder.glob("*-of-2.json")]
    entries = [item for manifest in manifests for item in manifest["cells"].items()]
    computed = {cell for cell, entry in entries if entry["computed"] == [0]}
    kept = {cell for cell, entry in entries if entry["kept"] == [0]}
    assert computed == NEW_CELLS and len(kept) == 4 and not computed & kept
    again = snakemake(copy, "-n", "--config", "scale=smoke", src=copy / "src")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_editing_a_default_in_conf_reruns_exactly_the_runs_it_changes(smoke):
    scenario = smoke / "conf" / "scenario" / "hard_direction.yaml"
    out, err = _dry_run_after_edit(smoke, scenario, "    scale: ${d}    # eta = p d", "    scale: 2.0")
    cells = load_plan("hard_direction", "smoke").cells
    batches = cell_batches(cells, cells_per_job("smoke"))
    assert batch_lines(err) == {f"hard_direction {batch}": {"all"} for batch in batches}
    runs = re.findall(r"^giantstep: results/smoke/runs/hard_direction/(\S+)/seed=0/metrics.json: not the "
                      r"config of its cell .*; a run without -n recomputes it$", err, re.MULTILINE)
    assert sorted(runs) == sorted(cell.path for cell in cells)
    assert _tables_of(scheduled_outputs(out)) == {"hard_direction_runs.csv"}
    assert job_counts(out)["run"] == len(batches)
