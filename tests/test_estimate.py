"""The cost estimate of a reproduction (giantstep.reproduce.estimate): its counts of runs and
flops, its layout of jobs, its output, and its one-line refusals."""

import json
import math
import subprocess
import sys

import pytest
import yaml

from giantstep.config import explicit_keys, resolve
from giantstep.paths import conf_dir
from giantstep.reproduce import estimate
from giantstep.reproduce.plans import SCALES, CellFacts, available_plans, load_plan
from giantstep.schema import compose

MEASURED = estimate.Measured(cores=2, threads=1, slots=2, job_startup_seconds=2.5, matmul_rates={},
                             draw_rates={})


def at_rate(rate: float, jobs: list[estimate.Job]) -> estimate.Measured:
    """:data:`MEASURED` with every shape of ``jobs`` at ``rate`` flop/s and draws/s."""
    rates = {cell.shape: rate for job in jobs for cell in job.cells}
    return estimate.Measured(**{**vars(MEASURED), "matmul_rates": rates, "draw_rates": rates})


def expanded(name: str, scale: str) -> tuple[int, int]:
    """``(jobs, runs)`` of a plan, read from its YAML without giantstep's plan reader: its cells
    are the product of each grid's value lists, summed over grids, in jobs of at most the
    workflow's ``cells_per_job``; its runs, the cells times the scale's seeds."""
    plans = conf_dir() / "reproduce"
    at_scale = yaml.safe_load((plans / f"{name}.yaml").read_text())["scales"][scale]
    grids = at_scale.get("grid", {})
    cells = sum(math.prod(len(values) for values in grid.values())
                for grid in (grids if isinstance(grids, list) else [grids]))
    seeds = len(yaml.safe_load((plans / "_seeds.yaml").read_text())[scale])
    workflow = yaml.safe_load((conf_dir().parent / "workflow/config/config.yaml").read_text())
    return math.ceil(cells / workflow["resources"][scale]["cells_per_job"]), cells * seeds


@pytest.fixture
def default_settings(monkeypatch):
    """Every cell resolves to the default config, with the same work (the counts do not depend
    on the sizes)."""
    settings = resolve(compose([]))
    monkeypatch.setattr(estimate, "cell_settings", lambda cell: settings)
    monkeypatch.setattr(estimate, "cached_cells", lambda cells: dict.fromkeys((c.path for c in cells),
                                                                              CellFacts("-", 1.0)))
    return settings


@pytest.mark.parametrize("scale", SCALES)
def test_runs_and_jobs_per_plan_are_what_the_plans_expand_to(scale, default_settings):
    plans = available_plans()
    per_job = estimate.cells_per_job(scale)
    jobs = {name: estimate.plan_jobs(load_plan(name, scale), per_job) for name in plans}
    measured = at_rate(1e10, [job for plan in jobs.values() for job in plan])
    for name in plans:
        row = estimate.cost(name, jobs[name], measured)
        assert (row.jobs, row.runs) == expanded(name, scale), name
    total = estimate.cost("total", [job for plan in jobs.values() for job in plan], measured)
    assert total.runs == sum(expanded(name, scale)[1] for name in plans)


def test_the_flop_total_is_the_sum_of_the_runs(monkeypatch, tmp_path):
    """Each run resolved on its own, with its seed: the plans' flops and the total add up."""
    monkeypatch.chdir(tmp_path)  # the cache of cells goes here
    names = ["cosines", "single_step"]
    expected = {}
    for name in names:
        plan = load_plan(name, "smoke")
        expected[name] = sum(
            estimate.run_flops(resolve(compose([*cell.overrides, f"seed={seed}"]),
                                       explicit_keys(cell.overrides)))
            for cell in plan.cells for seed in plan.seeds)
    jobs = {name: estimate.plan_jobs(load_plan(name, "smoke"), 2) for name in names}
    measured = at_rate(1e10, [job for plan in jobs.values() for job in plan])
    for name in names:
        assert estimate.cost(name, jobs[name], measured).flops == pytest.approx(expected[name], rel=1e-12)
    total = estimate.cost("total", [job for plan in jobs.values() for job in plan], measured)
    assert total.flops == pytest.approx(sum(expected.values()), rel=1e-12)
    every = [job for plan in jobs.values() for job in plan]
    cells = [cell for job in every for cell in job.cells]
    element_wise = sum(cell.features for cell in cells) * estimate.FEATURE_SECONDS
    assert total.compute_seconds == pytest.approx((total.flops + sum(cell.draws for cell in cells)) / 1e10
                                                  + element_wise)


def test_jobs_share_the_slots_but_are_not_split():
    assert estimate.wall_seconds([2.0, 2.0, 2.0, 2.0], slots=2) == 4.0
    assert estimate.wall_seconds([9.0, 1.0, 1.0, 1.0], slots=2) == 9.0  # the longest job
    assert estimate.wall_seconds([3.0, 1.0], slots=1) == 4.0


def test_a_job_pays_its_start_up_once_and_each_further_run_a_little():
    features = 1 / estimate.FEATURE_SECONDS
    cells = (estimate.CellWork(runs=2, flops=3e9, draws=0.5e9, features=features, d=8, p=8),
             estimate.CellWork(runs=2, flops=1e9, draws=0.5e9, features=0, d=8, p=16))
    job = estimate.Job(cells)
    row = estimate.cost("plan", [job], at_rate(1e9, [job]))
    assert row.compute_seconds == pytest.approx(6.0)  # products, draws and element-wise work
    startup = 2.5 + estimate.WORKFLOW_SECONDS + 3 * estimate.RUN_SECONDS
    assert row.startup_seconds == pytest.approx(startup)
    assert row.wall_seconds == pytest.approx(6.0 + startup)
    two_threads = estimate.Measured(**{**vars(at_rate(1e9, [job])), "threads": 2, "slots": 1})
    assert estimate.cost("plan", [job], two_threads).compute_seconds == pytest.approx(3.0)


def test_job_threads_follow_the_workflow_and_the_cores():
    assert estimate.job_threads("quick", cores=2) == 1
    assert estimate.job_threads("paper", cores=2) == 2  # 4 in the workflow, at most the cores
    assert estimate.job_threads("paper", cores=16) == 4


def test_the_rates_are_measured_quickly():
    assert 1e7 < estimate.matmul_rate(32, 64, seconds=0.05) < 1e14
    assert 1e5 < estimate.draw_rate(32, seconds=0.05) < 1e12


def fixed_rates(monkeypatch):
    def fixed(jobs, cores, threads):
        shapes = {cell.shape for job in jobs for cell in job.cells}
        return estimate.Measured(cores=cores, threads=threads, slots=cores // threads,
                                 job_startup_seconds=2.5, matmul_rates=dict.fromkeys(shapes, 1e10),
                                 draw_rates=dict.fromkeys(shapes, 1e9))
    monkeypatch.setattr(estimate, "measure", fixed)


def test_table_and_json(capsys, monkeypatch, tmp_path):
    """One row per plan and a total; the JSON holds the same numbers."""
    fixed_rates(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no results/ here: nothing recorded to compare with
    arguments = ["--scale", "smoke", "--plans", "cosines", "single_step", "--cores", "2"]
    estimate.main(arguments)
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[3:6]}
    assert list(rows) == ["cosines", "single_step", "total"]
    assert lines[2].split() == ["plan", "jobs", "runs", "Gflop", "compute", "s", "start-up", "s", "wall"]
    per_job = estimate.cells_per_job("smoke")
    jobs = math.ceil(3 / per_job), math.ceil(4 / per_job)  # cosines: 3 cells, single_step: 4, 1 seed
    assert rows["cosines"][1:3] == [str(jobs[0]), "3"] and rows["total"][1:3] == [str(sum(jobs)), "7"]
    assert rows["total"][-1].count(":") == 2  # h:mm:ss
    estimate.main([*arguments, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert [row["plan"] for row in document["plans"]] == ["cosines", "single_step"]
    assert document["total"]["runs"] == sum(row["runs"] for row in document["plans"]) == 7
    assert document["measured"]["slots"] == 2


def test_recorded_wall_times_are_printed_beside_the_estimate(capsys, monkeypatch, tmp_path):
    fixed_rates(monkeypatch)
    monkeypatch.chdir(tmp_path)
    tables = tmp_path / "results" / "smoke" / "tables"
    tables.mkdir(parents=True)
    (tables / "provenance.csv").write_text("plan,wall_seconds\ncosines,50\nsingle_step,70\ntotal,3725\n")
    estimate.main(["--scale", "smoke", "--plans", "cosines", "single_step", "--cores", "2"])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[3:6]}
    assert lines[2].split()[-2:] == ["recorded", "ratio"]
    assert rows["cosines"][-2] == "0:00:50"
    hours, minutes, seconds = map(int, rows["cosines"][-3].split(":"))
    assert float(rows["cosines"][-1]) == pytest.approx((3600 * hours + 60 * minutes + seconds) / 50, abs=0.02)
    assert rows["total"][-2] == "1:02:05"  # the recorded total covers exactly these plans
    estimate.main(["--scale", "smoke", "--plans", "cosines", "--cores", "2"])
    total = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("total"))
    assert len(total.split()) == 7  # the recorded total is of other plans too: not compared
    # plans run together in one workflow: each span is about the total, so only the total compares
    (tables / "provenance.csv").write_text("plan,wall_seconds\ncosines,300\nsingle_step,310\ntotal,320\n")
    estimate.main(["--scale", "smoke", "--plans", "cosines", "single_step", "--cores", "2"])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[3:6]}
    assert len(rows["cosines"]) == 7 and rows["total"][-2] == "0:05:20"


@pytest.mark.parametrize("arguments, message", [
    (["--scale", "huge"], "unknown scale 'huge'"),
    (["--scale", "quick", "--plans", "nope"], "unknown plan 'nope'"),
    (["--scale", "quick", "--cores", "0"], "--cores must be >= 1"),
    ([], "the following arguments are required: --scale"),
])
def test_bad_input_is_one_line_and_exit_2(arguments, message, capsys, monkeypatch):
    monkeypatch.setattr(estimate, "measure", lambda *args: pytest.fail("measured before refusing"))
    with pytest.raises(SystemExit) as exit_:
        estimate.main(arguments)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_the_command_refuses_with_one_line():
    done = subprocess.run([sys.executable, "-m", "giantstep.reproduce.estimate", "--scale", "huge"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "estimate: unknown scale 'huge' (known: smoke, quick, paper)"]


@pytest.mark.slow
def test_the_start_up_of_a_job_is_measured():
    """The toy job runs through the CLI: a second or more of CPU for imports, under a minute."""
    assert 0.5 < estimate.job_startup_seconds() < 60
