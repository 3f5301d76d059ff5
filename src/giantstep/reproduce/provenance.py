"""Where, when and from which commit the runs of a scale were made, and how long they took
(no torch).

:func:`provenance_summary` turns the per-run provenance tables of the plans
(:func:`giantstep.reproduce.aggregate.provenance_table`) into one row per plan and a total:
runs, cells, seeds, the engine's time summed over the runs, the wall time from the first run's
start to the last run's end, the commits and the machine. Unlike every other table it changes
on a rerun: it records the run, not its results.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from giantstep.reproduce.labels import clock

COLUMNS = ["plan", "runs", "cells", "seeds", "run_seconds", "wall_seconds", "run time", "wall time",
           "started", "finished", "commits", "dirty runs", "machine"]
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def seeds_text(seeds) -> str:
    """Sorted seeds with consecutive ones as ranges: ``0–9``, ``0, 2–4``."""
    values, parts = sorted({int(s) for s in seeds}), []
    for seed in values:
        if parts and seed == parts[-1][1] + 1:
            parts[-1][1] = seed
        else:
            parts.append([seed, seed])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in parts)


def union_seconds(intervals: list[tuple[pd.Timestamp, pd.Timestamp]]) -> float:
    """Length in seconds of the union of ``(start, end)`` intervals: the wall time of plans run
    one after another (their sum) or together (their common span), gaps between runs left out."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total, end = total + (stop - start).total_seconds(), stop
        elif stop > end:
            total, end = total + (stop - end).total_seconds(), stop
    return total


def _joined(values: pd.Series, width: int | None = None) -> str:
    kept = sorted({str(v)[:width] if width else str(v) for v in values.dropna()})
    return ", ".join(kept) if kept else "not recorded"


def _row(plan: str, runs: pd.DataFrame) -> tuple[dict, tuple | None]:
    """The summary row of ``runs`` (one plan's, or all plans' for the total) and its interval."""
    finished = pd.to_datetime(runs["finished_at"], utc=True, errors="coerce")
    recorded = finished.notna().all() and runs["wall_seconds"].notna().all()
    interval = None
    if recorded:
        started = finished - pd.to_timedelta(runs["wall_seconds"], unit="s")
        interval = (started.min(), finished.max())
    machine = (runs["cpu"].fillna("?") + ", " + runs["cpu_count"].fillna(0).astype(int).astype(str)
               + " cores, " + runs["device_name"].fillna("?"))
    row = {
        "plan": plan, "runs": len(runs), "cells": runs[["plan", "cell"]].drop_duplicates().shape[0],
        "seeds": seeds_text(runs["seed"]), "run_seconds": float(runs["wall_seconds"].sum()),
        "wall_seconds": (interval[1] - interval[0]).total_seconds() if interval else float("nan"),
        "started": interval[0].strftime(TIME_FORMAT) if interval else "not recorded",
        "finished": interval[1].strftime(TIME_FORMAT) if interval else "not recorded",
        "commits": _joined(runs["git_commit"], 12),
        "dirty runs": int(runs["git_dirty"].fillna(False).astype(bool).sum()),
        "machine": _joined(machine.where(runs["cpu"].notna())),
    }
    return row, interval


def provenance_summary(by_plan: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per plan of ``by_plan`` (plan -> its provenance table) and a ``total`` row, with
    the columns :data:`COLUMNS`. ``wall_seconds`` of a plan: its first run's start to its last
    run's end (the process start-ups between its runs included); of the total: the union of the
    plans' spans. ``run_seconds``: the runs' own times summed. NaN where runs did not record
    when they finished."""
    rows, intervals = [], []
    for plan in sorted(by_plan):
        row, interval = _row(plan, by_plan[plan])
        rows.append(row)
        intervals.append(interval)
    if rows:
        total, _ = _row("total", pd.concat(by_plan.values(), ignore_index=True))
        total["wall_seconds"] = union_seconds(intervals) if all(intervals) else float("nan")
        rows.append(total)
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("run time", "wall time")])
    for seconds, text in (("run_seconds", "run time"), ("wall_seconds", "wall time")):
        table.insert(table.columns.get_loc(seconds) + 1, text,
                     table[seconds].map(lambda s: "not recorded" if pd.isna(s) else clock(s)))
    return table
