"""What a reproduction scale costs on this machine, per plan: runs, jobs, flops and wall time.

    python -m giantstep.reproduce.estimate --scale paper [--plans NAME ...] [--cores N] [--json]

The model, in the workflow's terms (``workflow/rules/runs.smk``): a *run job* runs a batch of
at most ``cells_per_job`` cells of one plan (:func:`giantstep.reproduce.batches.cell_batches`),
all their seeds, in one process with ``threads`` torch threads (the scale's ``resources`` in
``workflow/config/config.yaml``, ``threads`` at most the cores). A job takes

    start-up + Snakemake's share + (runs - 1) x a further run's overhead
    + sum over its cells of seeds x (matmul flops / matmul rate + Gaussian draws / draw rate
                                     + features x element-wise cost) / threads

- what a run computes, from the settings :func:`giantstep.config.resolve` makes of its cell:
  its matmul flops, the samples it draws and the features it computes, all from
  :mod:`giantstep.flops` (the one count, also the benchmarks'); the same for every seed;
- measured here, at start, in CPU seconds (what an otherwise idle machine would take, however
  busy this one is now): the float32 matmul rate and the draw rate of one thread at each
  ``d x p`` of the cells (about 1.5 s in all), and the start-up of a job, as the CPU of a toy
  run job through the CLI (Python, Hydra, torch, composition, theory, provenance, artifacts);
- measured once, stated with how: :data:`RUN_SECONDS`, :data:`WORKFLOW_SECONDS` and
  :data:`FEATURE_SECONDS` (the activation and the element-wise passes around the products).

Where the scale has been run in this folder, its wall time per plan as the runs recorded it
(``results/<scale>/tables/provenance.csv``, :mod:`giantstep.reproduce.provenance`) is printed
beside the estimate, with their ratio.

The jobs share ``cores // threads`` slots: a plan alone takes the larger of its summed job
time over the slots and its longest job (no job is split); the total runs every plan's jobs
in the same slots, as one workflow does. The workflow's other jobs (aggregation, tables,
figures, report: a few seconds each, without torch) and Snakemake's own start are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import NoReturn

import pandas as pd
import yaml

from giantstep.config import Settings
from giantstep.errors import ConfigError
from giantstep.flops import engine_feature_rows, engine_flops, engine_samples
from giantstep.paths import conf_dir
from giantstep.reproduce.batches import cell_batches, run_settings
from giantstep.reproduce.labels import clock
from giantstep.reproduce.plans import SCALES, Cell, Plan, cached_cells, load_plan

RATE_SECONDS = 1.5  # the rates of every shape together (each gets at least one call)
BLOCK = 1024  # rows of the measured products and draws: the engine's block (giantstep.data.BLOCK)
# The cheapest real run job: one seed of a toy run, through the CLI, into a temporary folder.
TOY_JOB = ("d=8", "p=8", "train.steps=1", "readout.n_test=100", "seed=0", "threads=1")
# Each further run of a job (the first one's is in the toy job), in the job's process
# (giantstep.reproduce.batches): a cell's first run waits for Hydra to compose the cell, each
# further seed sets its seed on a copy; then resolve, provenance (two git calls) and the
# artifacts. Measured 2026-11-30 on this 2-core machine over the 399 runs of a batched quick
# workflow: ``wall_seconds - compute_seconds`` has median 0.13 s for a cell's first run and
# 0.03 s for the others, 0.07 s on average.
RUN_SECONDS = 0.07
# What Snakemake adds to each run job: the script that starts the CLI (workflow/scripts/run.py,
# a Python process) and its own scheduling. Measured 2026-11-30 on this 2-core machine: the
# CPU seconds of `snakemake --until run` of a quick plan, less its Snakemake start-up (2 s)
# and its jobs' estimate, per job, in the three plans whose jobs compute least
# (learning_curves 0.36, cosines 0.3, hard_direction 0.55).
WORKFLOW_SECONDS = 0.4
# CPU seconds per feature (one sample's preactivation at one neuron) outside the products and
# the draws: the activation, its derivative and the element-wise passes around them. Measured
# 2026-11-30 on this 2-core machine: least squares (through 0) of each run's compute seconds,
# less its products and draws at the measured rates, on its features, over the 399 runs of a
# quick workflow (commit f04ff82, whose element-wise passes write in place: 8.1 ns before it);
# per plan the model then gives 0.74 (staircase climb) to 1.4 (hard direction) of the runs' time.
FEATURE_SECONDS = 4e-9


@dataclass(frozen=True)
class CellWork:
    """What one cell computes, all its seeds."""

    runs: int
    flops: float  # matrix products, all seeds
    draws: float  # Gaussian numbers, all seeds
    features: float  # samples x neurons whose preactivation is computed, all seeds
    d: int
    p: int

    @property
    def shape(self) -> str:
        """``d x p``: the shape the cell's rates are measured at."""
        return f"{self.d}x{self.p}"


@dataclass(frozen=True)
class Job:
    """One run job: a batch of a plan's cells (:func:`giantstep.reproduce.batches.cell_batches`)."""

    cells: tuple[CellWork, ...]

    @property
    def runs(self) -> int:
        return sum(cell.runs for cell in self.cells)

    @property
    def flops(self) -> float:
        return sum(cell.flops for cell in self.cells)


@dataclass(frozen=True)
class Measured:
    """What the estimate measured on this machine, and how the jobs are laid out."""

    cores: int
    threads: int  # torch threads of a run job
    slots: int  # run jobs at a time
    job_startup_seconds: float  # CPU seconds of the toy job (:data:`TOY_JOB`)
    matmul_rates: dict[str, float]  # float32 matmul flop per CPU second, by shape ``d x p``
    draw_rates: dict[str, float]  # Gaussian numbers per CPU second, by shape ``d x p``


@dataclass(frozen=True)
class PlanCost:
    """The cost of one plan (or of all, ``plan="total"``) at one scale, on an idle machine."""

    plan: str
    jobs: int
    runs: int
    flops: float
    compute_seconds: float  # the jobs' products, draws and element-wise work, summed
    startup_seconds: float  # the jobs' start-ups and per-seed overheads, summed
    wall_seconds: float  # with the jobs in parallel slots (:func:`wall_seconds`)


def cell_settings(cell: Cell) -> Settings:
    """The checked settings ``giantstep <cell overrides>`` runs with (as a run job makes them,
    :func:`giantstep.reproduce.batches.run_settings`); a one-line :class:`ConfigError` if refused."""
    return run_settings(cell.overrides)[1]


def run_flops(s: Settings) -> float:
    """Matmul flops of one run (:func:`giantstep.flops.engine_flops`, all kinds)."""
    return sum(engine_flops(n=s.n, d=s.d, p=s.p, r=s.target.r, steps=s.steps, n_train=s.n_train,
                            n_test=s.n_test, preprocess=s.preprocess == "remove_linear",
                            replicates=s.noise_replicates, groups=s.noise_groups).values())


def run_draws(s: Settings) -> float:
    """Gaussian numbers one run draws: :func:`giantstep.flops.engine_samples` rows of ``d``."""
    return float(s.d) * engine_samples(n=s.n, p=s.p, steps=s.steps, n_train=s.n_train, n_test=s.n_test,
                                       preprocess=s.preprocess == "remove_linear")


def run_features(s: Settings) -> float:
    """Preactivations one run computes: :func:`giantstep.flops.engine_feature_rows` rows of ``p``."""
    return float(s.p) * engine_feature_rows(n=s.n, steps=s.steps, n_train=s.n_train, n_test=s.n_test)


def cell_work(cell: Cell, seeds: int) -> CellWork:
    """The flops, draws and features of a cell's ``seeds`` runs (the same for each seed)."""
    s = cell_settings(cell)
    return CellWork(runs=seeds, flops=seeds * run_flops(s), draws=seeds * run_draws(s),
                    features=seeds * run_features(s), d=s.d, p=s.p)


def plan_jobs(plan: Plan, cells_per_job: int) -> list[Job]:
    """The run jobs of ``plan``: its batches of at most ``cells_per_job`` cells, as the workflow
    deals them (by the work of each cell, from the workflow's cache in this folder)."""
    facts = cached_cells(plan.cells)
    batches = cell_batches(plan.cells, cells_per_job, [facts[cell.path].work for cell in plan.cells])
    return [Job(tuple(cell_work(cell, len(plan.seeds)) for cell in batch)) for batch in batches.values()]


def per_cpu_second(operation: Callable[[], object], amount: float, seconds: float) -> float:
    """``amount`` (of one call) per CPU second of this process over calls of ``operation``
    lasting about ``seconds``, after one warm-up call.

    CPU seconds, not wall seconds: the rate of an otherwise idle machine, whatever else runs
    now (on a busy machine wall seconds would measure the others' load)."""
    operation()
    count, started = 0, time.process_time()
    while count == 0 or time.process_time() - started < seconds:
        operation()
        count += 1
    return amount * count / (time.process_time() - started)


def matmul_rate(d: int, p: int, seconds: float) -> float:
    """float32 ``torch.matmul`` flop per CPU second of one thread on a block's two largest
    products, features ``(m, d) x (d, p)`` and gradient ``(p, m) x (m, d)`` (equal flops:
    their rates combine harmonically). One thread: the CPU seconds of several include their
    waits for each other, which a busy machine makes long."""
    import torch

    generator = torch.Generator().manual_seed(0)
    block = torch.randn(BLOCK, d, generator=generator)
    products = [(block, torch.randn(d, p, generator=generator)),
                (torch.randn(p, BLOCK, generator=generator), block)]
    flops, inverse, threads = 2.0 * BLOCK * d * p, 0.0, torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for left, right in products:
            out = torch.empty(left.shape[0], right.shape[1])
            inverse += 1 / per_cpu_second(partial(torch.matmul, left, right, out=out), flops, seconds / 2)
    finally:
        torch.set_num_threads(threads)
    return len(products) / inverse


def draw_rate(d: int, seconds: float) -> float:
    """Gaussian numbers per CPU second, drawn as the engine draws them: a block of ``d``-vectors
    from a seeded generator into a buffer (one thread; the engine draws blocks side by side)."""
    import torch

    generator, out = torch.Generator().manual_seed(0), torch.empty(BLOCK, d)
    return per_cpu_second(lambda: torch.randn(BLOCK, d, generator=generator, out=out), BLOCK * d, seconds)


def job_startup_seconds() -> float:
    """CPU seconds of the cheapest real run job (:data:`TOY_JOB` through the CLI): Python, the
    Hydra, torch and engine imports, composition, the theory, provenance and the artifacts
    (a start-up is single-threaded: its CPU seconds are its wall seconds on an idle machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "giantstep", "-m", *TOY_JOB, f"hydra.sweep.dir={folder}"]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        _, stderr = process.communicate(timeout=300)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # with the job's git calls
    if process.returncode:
        last = (stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise ConfigError(f"the toy run job that measures a job's start-up failed: {last}")
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure(jobs: list[Job], cores: int, threads: int) -> Measured:
    """Measure the start-up of a job, and the matmul and draw rates of every shape of ``jobs``."""
    shapes = sorted({(cell.d, cell.p) for job in jobs for cell in job.cells})
    seconds = RATE_SECONDS / (2 * max(1, len(shapes)))
    return Measured(
        cores=cores, threads=threads, slots=max(1, cores // threads),
        job_startup_seconds=job_startup_seconds(),
        matmul_rates={f"{d}x{p}": matmul_rate(d, p, seconds) for d, p in shapes},
        draw_rates={f"{d}x{p}": draw_rate(d, seconds) for d, p in shapes},
    )


def job_seconds(job: Job, measured: Measured) -> tuple[float, float]:
    """``(compute, start-up)`` seconds of ``job``: its threads share the products, the draws and
    the element-wise work evenly (an upper bound on what threads gain)."""
    cpu = sum(cell.flops / measured.matmul_rates[cell.shape] + cell.draws / measured.draw_rates[cell.shape]
              + cell.features * FEATURE_SECONDS for cell in job.cells)
    startup = measured.job_startup_seconds + WORKFLOW_SECONDS + (job.runs - 1) * RUN_SECONDS
    return cpu / measured.threads, startup


def cost(name: str, jobs: list[Job], measured: Measured) -> PlanCost:
    """The cost of ``jobs`` (a plan's, or every plan's for the total) on the measured machine."""
    seconds = [job_seconds(job, measured) for job in jobs]
    return PlanCost(plan=name, jobs=len(jobs), runs=sum(job.runs for job in jobs),
                    flops=sum(job.flops for job in jobs),
                    compute_seconds=sum(compute for compute, _ in seconds),
                    startup_seconds=sum(startup for _, startup in seconds),
                    wall_seconds=wall_seconds([sum(pair) for pair in seconds], measured.slots))


def workflow_config() -> dict:
    """The workflow's own settings (``workflow/config/config.yaml`` beside ``conf/``)."""
    path = conf_dir().parent / "workflow" / "config" / "config.yaml"
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read the workflow's settings: {error}") from None


def cells_per_job(scale: str) -> int:
    """Cells of one run job at ``scale`` (the workflow's ``cells_per_job``)."""
    return int(workflow_config()["resources"][scale]["cells_per_job"])


def job_threads(scale: str, cores: int) -> int:
    """Torch threads of one run job at ``scale``: the workflow's ``threads``, at most ``cores``
    (Snakemake lowers a job's threads to the cores it is given)."""
    return max(1, min(int(workflow_config()["resources"][scale]["threads"]), cores))


def wall_seconds(jobs: list[float], slots: int) -> float:
    """Wall time of ``jobs`` (seconds each) in ``slots`` parallel slots, no job split: the
    summed time over the slots, or the longest job when that is longer."""
    return max(sum(jobs) / slots, max(jobs, default=0.0))


def spread(rates: dict[str, float], unit: float) -> str:
    """``low-high`` of ``rates`` in ``unit``."""
    low, high = min(rates.values()) / unit, max(rates.values()) / unit
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def recorded_walls(path: Path, plans: list[str]) -> dict[str, float]:
    """{plan of ``plans`` (and ``total``): wall seconds} of a provenance table, if there is one;
    plans whose runs did not record their times are left out. The total only when the table
    covers exactly ``plans``; plans that ran together (one workflow interleaves their jobs, so
    their spans add up to more than the total) give only the total, the one comparable time."""
    if not path.is_file():
        return {}
    rows = pd.read_csv(path).dropna(subset=["wall_seconds"])
    walls = dict(zip(rows["plan"], rows["wall_seconds"].astype(float)))
    total = walls.pop("total", None)
    if total is not None and sum(walls.values()) > 1.05 * total:
        walls = {}
    if total is not None and set(rows["plan"]) - {"total"} == set(plans):
        walls["total"] = total
    return {plan: seconds for plan, seconds in walls.items() if plan in plans or plan == "total"}


def table(scale: str, costs: list[PlanCost], measured: Measured,
          recorded: dict[str, float] | None = None) -> str:
    """The plain-text report: what was measured, then one row per plan and the total, with the
    wall times a run of the scale recorded (``recorded``) where there are some."""
    recorded = recorded or {}
    lines = [
        f"scale {scale} on {measured.cores} cores: {measured.slots} run job(s) at a time, "
        f"{measured.threads} thread(s) each",
        f"measured: start-up {measured.job_startup_seconds:.2f} s a job (+{RUN_SECONDS} s a further run); "
        f"per thread: float32 matmul {spread(measured.matmul_rates, 1e9)} Gflop/s, Gaussian draws "
        f"{spread(measured.draw_rates, 1e6)} M/s (by d x p: --json)",
        f"{'plan':<18}{'jobs':>6}{'runs':>7}{'Gflop':>12}{'compute s':>11}{'start-up s':>12}{'wall':>10}"
        + (f"{'recorded':>10}{'ratio':>7}" if recorded else ""),
    ]
    for row in costs:
        line = (f"{row.plan:<18}{row.jobs:>6}{row.runs:>7}{row.flops / 1e9:>12.0f}"
                f"{row.compute_seconds:>11.0f}{row.startup_seconds:>12.0f}{clock(row.wall_seconds):>10}")
        if row.plan in recorded:
            line += f"{clock(recorded[row.plan]):>10}{row.wall_seconds / recorded[row.plan]:>7.2f}"
        lines.append(line)
    lines.append("compute, start-up: summed over the run jobs; wall (h:mm:ss): the plan's run jobs alone "
                 "(total: all plans in one workflow), on an idle machine")
    if recorded:
        lines.append(f"recorded: the wall time of results/{scale}'s runs (tables/provenance.csv: first "
                     "run's start to last run's end); ratio: estimate / recorded")
    return "\n".join(lines)


def estimate(scale: str, plans: list[str], cores: int) -> tuple[list[PlanCost], Measured]:
    """Per-plan costs, then the total's, of ``plans`` at ``scale`` on ``cores`` cores."""
    jobs = {name: plan_jobs(load_plan(name, scale), cells_per_job(scale)) for name in plans}
    everything = [job for plan in jobs.values() for job in plan]
    measured = measure(everything, cores, job_threads(scale, cores))
    costs = [cost(name, plan, measured) for name, plan in jobs.items()]
    return [*costs, cost("total", everything, measured)], measured


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line and exit status 2 (argparse prints its usage first)."""

    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    print(f"estimate: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m giantstep.reproduce.estimate",
                           description=__doc__.split("\n")[0])
    parser.add_argument("--scale", required=True, help=f"one of {', '.join(SCALES)}")
    parser.add_argument("--plans", nargs="+", metavar="NAME", help="default: the workflow's plans")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="default: all cores")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.cores < 1:
        fail(f"--cores must be >= 1, got {args.cores}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Print the estimate of a scale (a table, or JSON with ``--json``); bad input: one line, exit 2."""
    args = parse_args(argv)
    try:
        for name in args.plans or []:  # before anything is measured: a typo costs nothing
            load_plan(name, args.scale)
        plans = args.plans or workflow_config()["plans"]
        costs, measured = estimate(args.scale, plans, args.cores)
    except ConfigError as error:
        fail(str(error))
    recorded = recorded_walls(Path("results") / args.scale / "tables" / "provenance.csv", plans)
    if args.json:
        document = {"scale": args.scale, "measured": asdict(measured),
                    "plans": [asdict(row) for row in costs[:-1]], "total": asdict(costs[-1]),
                    "recorded_wall_seconds": recorded}
        print(json.dumps(document, indent=2))
    else:
        print(table(args.scale, costs, measured, recorded))


if __name__ == "__main__":
    main()
