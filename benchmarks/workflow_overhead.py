"""Share of a workflow's wall time spent outside the engine's compute, from run artifacts.

Each run's ``metrics.json`` carries ``timings.compute_seconds`` (the giant steps, readouts
and metrics), ``provenance.wall_seconds`` (the run's own time in its process: compute, theory,
provenance, writing, and for the first run of a cell in a batch job the cell's composition;
for a run of the CLI, the whole Hydra app call) and ``provenance.torch_threads``. Over a
workflow that used ``cores`` cores for ``total_wall`` seconds,

    compute share  = sum(compute_seconds * threads) / (cores * total_wall)
    overhead share = 1 - compute share

so everything else counts as overhead: process start-up and imports, the theory and the
artifact writing of each run (``in_app``), and scheduling, aggregation and idle cores
(``outside_app``). ``total_wall`` and ``cores`` come from the caller, else from the
Snakemake log that spans the runs (``Provided cores: N``; log name = start time, file
modification time = end), else from the runs themselves (first start to last write, which
misses the first job's start-up and whatever ran after the last run: a lower bound).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path


def read_runs(runs_dir: Path) -> list[dict]:
    """``{wall, compute, threads, finished}`` of every ``metrics.json`` under ``runs_dir``."""
    runs = []
    for path in sorted(Path(runs_dir).rglob("metrics.json")):
        document = json.loads(path.read_text())
        runs.append(
            {
                "wall": float(document["provenance"]["wall_seconds"]),
                "compute": float(document["timings"]["compute_seconds"]),
                "threads": int(document["provenance"].get("torch_threads") or 1),
                "finished": path.stat().st_mtime,
            }
        )
    return runs


def snakemake_span(log_dir: Path, first_start: float, last_end: float) -> dict | None:
    """Wall time and cores of the Snakemake invocations that ran jobs while the runs ran.

    A log is named by its start (``2024-05-01T120000.123456.snakemake.log``, local time)
    and last written at its end; only logs that finished jobs count (not dry runs or
    lints). Overlapping invocations count once (the union of their intervals). Returns
    ``None`` when no such log overlaps ``[first_start, last_end]``.
    """
    spans = []
    for path in sorted(Path(log_dir).glob("*.snakemake.log")):
        try:
            start = datetime.strptime(path.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f")
        except ValueError:
            continue
        begin, end = start.timestamp(), path.stat().st_mtime
        if end < first_start or begin > last_end:
            continue
        text = path.read_text(errors="replace")
        if "Finished job" not in text or "dry-run" in text:
            continue
        cores = re.search(r"Provided cores: (\d+)", text)
        spans.append((begin, end, int(cores.group(1)) if cores else None))
    if not spans:
        return None
    total, reach = 0.0, -math.inf
    for begin, end, _ in sorted(spans):
        total += max(0.0, end - max(begin, reach))
        reach = max(reach, end)
    return {
        "total_wall": total,
        "cores": max((c for *_, c in spans if c), default=None),
        "logs": len(spans),
    }


def workflow_overhead(runs: list[dict], *, total_wall: float | None = None,
                      cores: int | None = None, log_dir: Path | None = None) -> dict:
    """The overhead share of a workflow's wall time (see the module docstring).

    ``runs``: as :func:`read_runs` returns. Returns the share, its parts in seconds
    (``compute``, ``in_app``, ``outside_app``, all in core-seconds), and where
    ``total_wall`` and ``cores`` came from.
    """
    if not runs:
        raise ValueError("no runs: nothing to measure")
    first_start = min(run["finished"] - run["wall"] for run in runs)
    last_end = max(run["finished"] for run in runs)
    source = "caller"
    if total_wall is None:
        span = snakemake_span(log_dir, first_start, last_end) if log_dir else None
        if span:
            total_wall, source = span["total_wall"], f"snakemake log ({span['logs']})"
            cores = cores or span["cores"]
        else:
            total_wall, source = last_end - first_start, "run artifacts (lower bound)"
    cores = cores or max(run["threads"] for run in runs)
    available = cores * total_wall
    compute = sum(run["compute"] * run["threads"] for run in runs)
    in_app = sum((run["wall"] - run["compute"]) * run["threads"] for run in runs)
    return {
        "runs": len(runs),
        "total_wall_seconds": total_wall,
        "cores": cores,
        "source": source,
        "compute_core_seconds": compute,
        "in_app_core_seconds": in_app,
        "outside_app_core_seconds": available - compute - in_app,
        "overhead_share": 1.0 - compute / available,
    }
