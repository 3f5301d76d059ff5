"""Run jobs of the workflow: several cells of a plan, all their seeds, in one process.

A plan's cells go into ``ceil(cells / cells_per_job)`` *batches* balanced by each cell's work
(:func:`cell_batches`; ``cells_per_job`` is the scale's ``resources`` entry in
``workflow/config/config.yaml``), so that a job pays Python's, torch's and Hydra's start-up
once for its cells, and the jobs of a plan take about as long as each other.

Caching stays per run: a batch job (:func:`run_batch`) keeps every run of its cells that
passes :func:`giantstep.reproduce.aggregate.check_run` against its cell's digest and computes
only the others. The job's declared output is a *manifest* (which cells, their digests, which
runs the job computed and which it kept), not the run folders, so Snakemake never deletes a
batch's intact runs before the job; the workflow reruns a batch when the digest of one of its
cells changes (the manifest's params) or when one of its runs is missing or damaged (the
workflow removes the manifest, :mod:`workflow/rules/common.smk`).

A run made here is the run ``giantstep <cell overrides> seed=<s> threads=<t>`` would make: the
same composition (Hydra's Compose API), the same checks (:func:`giantstep.config.resolve` with
the keys the overrides set and the chosen target group), the same experiment and artifacts; the
seeds of a small cell run as one tensor program (:func:`giantstep.run.experiments`), which
changes the numbers only by float32 rounding. Each computed cell gets a log whose first line is
the ``giantstep`` command that reruns it by hand. Plan values reach Hydra as override strings,
never a shell.
"""

from __future__ import annotations

import copy
import json
import math
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from giantstep.config import Settings, explicit_keys, resolve
from giantstep.errors import ConfigError, DivergenceError
from giantstep.paths import CONF_VARIABLE, conf_dir
from giantstep.reproduce.aggregate import DamagedRunError, check_run
from giantstep.reproduce.plans import Cell, composed


def cell_batches(cells: Sequence[Cell], cells_per_job: int,
                 work: Sequence[float] | None = None) -> dict[str, tuple[Cell, ...]]:
    """The batches of a plan's ``cells``, named ``<i>-of-<k>``: ``k = ceil(len(cells) / cells_per_job)``
    batches of at most ``cells_per_job`` cells each, balanced by ``work`` (one number per cell,
    :attr:`giantstep.reproduce.plans.CellFacts.work`; equal when not given): the costliest cell
    first, each into the batch with the least work so far that has room, ties to the one with
    fewest cells, then to the first (with equal work: cell ``j`` into batch ``j mod k``). Each
    batch keeps the plan's order."""
    if cells_per_job < 1:
        raise ConfigError(f"cells_per_job must be at least 1, not {cells_per_job}")
    work = [1.0] * len(cells) if work is None else list(work)
    count = max(1, math.ceil(len(cells) / cells_per_job))
    loads, members = [0.0] * count, [[] for _ in range(count)]
    for index in sorted(range(len(cells)), key=lambda i: (-work[i], i)):
        batch = min((b for b in range(count) if len(members[b]) < cells_per_job),
                    key=lambda b: (loads[b], len(members[b]), b))
        loads[batch] += work[index]
        members[batch].append(index)
    return {f"{b + 1}-of-{count}": tuple(cells[i] for i in sorted(members[b])) for b in range(count)}


@dataclass(frozen=True)
class BatchCell:
    """One cell of a batch: where its runs go, what it runs with, the digest its runs must have."""

    path: str
    overrides: tuple[str, ...]
    digest: str


def run_settings(overrides: Sequence[str]) -> tuple[DictConfig, Settings]:
    """The config and the checked settings ``giantstep <overrides>`` runs with (the CLI's
    composition and :func:`giantstep.config.resolve`); a one-line :class:`ConfigError`, worded
    as the CLI words it, if Hydra or the checks refuse them."""
    cfg, target = composed(overrides)
    return cfg, _resolved(cfg, explicit_keys(overrides), target)


def _resolved(cfg: DictConfig, explicit: frozenset[str], target: str) -> Settings:
    try:
        return resolve(cfg, explicit, target)
    except OmegaConfBaseException as error:
        from giantstep.cli import one_line

        raise ConfigError(one_line(error)) from None


def _seed_runs(overrides: Sequence[str], seeds: Sequence[int]) -> Iterator[tuple[int, DictConfig, Settings]]:
    """``(seed, config, settings)`` of ``giantstep <overrides> seed=<seed>`` for each seed.

    Hydra composes the cell once (about 0.4 s: the override grammar and the defaults tree),
    with the first seed; each further seed's config is that one with its ``seed`` set, which is
    what composing it again would give (nothing is resolved before, so an interpolation of
    ``${seed}`` reads the new seed). Each config is checked on its own (``resolve`` may change it)."""
    first = [*overrides, f"seed={seeds[0]}"]
    base, target = composed(first)
    explicit = explicit_keys(first)
    for seed in seeds:
        cfg = copy.deepcopy(base)
        cfg.seed = seed
        yield seed, cfg, _resolved(cfg, explicit, target)


def _kept(run_dir: Path, digest: str) -> bool:
    """Whether ``run_dir`` holds a whole run of the cell with ``digest``; a whole run loses what a
    writer killed after its ``metrics.json`` arrived left beside it."""
    try:
        check_run(run_dir / "metrics.json", digest)
    except DamagedRunError:
        return False
    from giantstep.run import remove_leftovers

    remove_leftovers(run_dir)
    return True


def rerun_command(cell: BatchCell, seeds: Sequence[int], cell_dir: Path, threads: int) -> str:
    """The shell line that reruns ``cell`` by hand through the CLI, with the workflow's ``conf/``."""
    arguments = Cell(cell.path, cell.overrides).arguments(tuple(seeds), str(cell_dir))
    arguments.append(f"threads={threads}")
    return f"{CONF_VARIABLE}={shlex.quote(str(conf_dir()))} {shlex.join(['giantstep', *arguments])}"


def run_cell(cell: BatchCell, seeds: Sequence[int], cell_dir: Path, threads: int, log_path: Path) -> dict:
    """Compute the runs of ``cell`` that are not whole (``cell_dir/seed=<s>/``), logging to
    ``log_path`` (written anew, only when something is computed); the cell's entry of the
    manifest. A refused or diverged run raises, with its line at the end of the log (its
    folder is left as it was).

    The seeds run in the tensor programs of :func:`giantstep.run.seed_groups` over all the cell's
    seeds, whichever of them are computed: a program with a run to compute runs whole and writes
    only that run, so a recomputed run has, bit for bit, the numbers of the workflow that never
    lost it."""
    kept = [seed for seed in seeds if _kept(cell_dir / f"seed={seed}", cell.digest)]
    computed = [seed for seed in seeds if seed not in kept]
    if not computed:
        return {"digest": cell.digest, "computed": computed, "kept": kept}
    from giantstep.run import check_writable, seed_groups

    log_path.parent.mkdir(parents=True, exist_ok=True)
    cell_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        print(rerun_command(cell, computed, cell_dir, threads), file=log, flush=True)
        try:
            check_writable(cell_dir)
            started = time.perf_counter()  # the runs' own time: the first program's includes the composition
            runs = {seed: (cell_dir / f"seed={seed}", cfg, settings)
                    for seed, cfg, settings in _seed_runs([*cell.overrides, f"threads={threads}"], seeds)}
            first = runs[seeds[0]][2]
            written = {runs[seed][0] for seed in computed}
            for group in seed_groups(seeds, first):
                if any(seed in computed for seed in group):
                    _run_group([runs[seed] for seed in group], written, started, log)
                    started = time.perf_counter()
        except (ConfigError, DivergenceError) as error:
            print(f"giantstep: error: {_first_line(error)}", file=log)
            raise
    return {"digest": cell.digest, "computed": computed, "kept": kept}


def _run_group(runs: Sequence[tuple[Path, DictConfig, Settings]], written: set[Path], started: float,
               log: TextIO) -> None:
    """Run seeds of a cell as one tensor program (:func:`giantstep.run.run_into`), writing and
    logging the runs whose folders are in ``written``; when a seed diverges, run those one by one
    instead, so that the runs before the diverged seed are written and its error is its own, as
    the CLI would give them."""
    from giantstep.run import run_into

    try:
        results = run_into(runs, started, written)
    except DivergenceError:
        if len(runs) == 1:
            raise
        for run in runs:
            if run[0] in written:
                _run_group([run], written, time.perf_counter(), log)
        return
    for (run_dir, _, _), metrics in zip(runs, results):
        if run_dir in written:
            dims = [step["learned_dims"] for step in metrics["steps"]]
            errors = ", ".join(f"{step['test_error']:.4f}" for step in metrics["steps"])
            print(f"learned_dims per step {dims}, test errors {errors} -> {run_dir / 'metrics.json'}",
                  file=log, flush=True)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def run_batch(cells: Sequence[BatchCell], seeds: Sequence[int], runs_root: Path, logs_root: Path,
              threads: int, manifest: Path) -> int:
    """Run every cell of a batch (:func:`run_cell`, each logging to ``logs_root/<cell>.log``) and
    write the manifest (JSON: the seeds, and per cell its digest and the seeds computed and kept)
    once all succeeded. A cell that fails does not stop the others: its error is one line at the
    end of its log and on stderr. Returns the exit status: 0, or 2 when a cell failed."""
    entries, failed = {}, 0
    for cell in cells:
        log_path = logs_root / f"{cell.path}.log"
        try:
            entries[cell.path] = run_cell(cell, seeds, runs_root / cell.path, threads, log_path)
        except (ConfigError, DivergenceError) as error:
            failed += 1
            print(f"giantstep: error: {_first_line(error)} (cell {cell.path}; log {log_path})",
                  file=sys.stderr)
    if failed:
        return 2
    document = {"seeds": list(seeds), "cells": entries}
    temporary = manifest.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n")
    temporary.replace(manifest)
    return 0
