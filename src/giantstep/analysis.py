"""Tidy tables from run artifacts: one row per run and step, or per run, step and neuron.

Columns of :func:`runs_table` (``R`` = the largest ``r`` among the runs):
plan, cell, seed, target, expr, r, d, p, n, kappa (``log n / log d``), activation,
symmetric, preprocess, lr_rule, lr_scale, eta, ridge, n_train, n_test, steps (``T``),
threshold and align_threshold (the run's own ``metrics.*``), t, test_error, train_error,
learned_dims (update SNR above the threshold), aligned_dims (learned and of size at least
align_threshold), snr_1..snr_R (against the noise along the teacher), snr_frames_1..snr_R
(against random frames, for comparison), align_1..align_R (eigenvalues of the overlap
matrix), dir1_z1..dirR_zR (learned directions in teacher coordinates), predicted_dims,
predicted_dims_generic, floor, floor_generic, linear_kernel_error, variance. Timings are left
out on purpose: a table depends only on
the runs' results, so reruns and other machines give byte-identical tables.

Columns of :func:`neurons_table`: plan, cell, seed, target, t, neuron, a,
update_cos_1..R, weight_cos_1..R, projection_1..R, norm_outside.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd


def _run_key(path: Path, runs_root: Path) -> tuple[str, str, int]:
    """``(plan, cell, seed)`` from ``runs_root/<plan>/<cell...>/seed=<s>/metrics.json``."""
    parts = path.parent.relative_to(runs_root).parts
    return parts[0], "/".join(parts[1:-1]), int(parts[-1].removeprefix("seed="))


def runs_table(metric_paths: list[Path], runs_root: Path) -> pd.DataFrame:
    """One row per run and step ``t = 0..T`` (see the module docstring for the columns)."""
    rows = []
    for path in sorted(map(Path, metric_paths)):
        m = json.loads(path.read_text())
        plan, cell, seed = _run_key(path, runs_root)
        cfg, theory = m["config"], m["theory"]
        base = {
            "plan": plan, "cell": cell, "seed": seed,
            "target": cfg["target"]["name"], "expr": cfg["target"]["expr"], "r": theory["r"],
            "d": cfg["d"], "p": cfg["p"], "n": m["n"], "kappa": math.log(m["n"]) / math.log(cfg["d"]),
            "activation": cfg["student"]["activation"], "symmetric": cfg["student"]["symmetric"],
            "preprocess": cfg["train"]["preprocess"], "lr_rule": cfg["train"]["lr"]["rule"],
            "lr_scale": cfg["train"]["lr"]["scale"], "eta": m["eta"], "ridge": cfg["readout"]["ridge"],
            "n_train": cfg["readout"]["n_train"] or m["n"], "n_test": cfg["readout"]["n_test"],
            "steps": cfg["train"]["steps"],
            "threshold": cfg["metrics"]["threshold"], "align_threshold": cfg["metrics"]["align_threshold"],
            "linear_kernel_error": theory["linear_kernel_error"], "variance": theory["variance"],
        }
        for step in m["steps"]:
            t = step["t"]
            row = base | {
                "t": t, "test_error": step["test_error"], "train_error": step["train_error"],
                "learned_dims": step["learned_dims"], "aligned_dims": step["aligned_dims"],
                "predicted_dims": _at(theory.get("predicted_dims"), t),
                "predicted_dims_generic": _at(theory.get("predicted_dims_generic"), t),
                "floor": _at(theory.get("floors"), t),
                "floor_generic": _at(theory.get("floors_generic"), t),
            }
            for k, snr in enumerate(step["update_snr"], start=1):
                row[f"snr_{k}"] = snr
            frames = zip(step["singular_values"], step["null_levels_frames"])
            for k, (value, level) in enumerate(frames, start=1):
                row[f"snr_frames_{k}"] = value / level if level > 0 else 0.0
            for k, size in enumerate(step["alignment"], start=1):
                row[f"align_{k}"] = size
            for k, direction in enumerate(step["learned_directions"], start=1):
                for j, value in enumerate(direction, start=1):
                    row[f"dir{k}_z{j}"] = value
            rows.append(row)
    return pd.DataFrame(rows)


def _at(values: list | None, t: int):
    return None if values is None else values[t]


def neurons_table(metric_paths: list[Path], runs_root: Path) -> pd.DataFrame:
    """One row per run, step and saved neuron, from each run's ``arrays.npz``."""
    frames = []
    for path in sorted(map(Path, metric_paths)):
        plan, cell, seed = _run_key(path, runs_root)
        target = json.loads(path.read_text())["config"]["target"]["name"]
        with np.load(path.parent / "arrays.npz", allow_pickle=False) as arrays:
            steps, k, r = arrays["update_cosines"].shape
            t, neuron = np.meshgrid(np.arange(steps), np.arange(k), indexing="ij")
            columns = {"t": t.ravel(), "neuron": neuron.ravel(), "a": np.tile(arrays["a"], steps)}
            for j in range(r):
                columns[f"update_cos_{j + 1}"] = arrays["update_cosines"][..., j].ravel()
                columns[f"weight_cos_{j + 1}"] = arrays["weight_cosines"][..., j].ravel()
                columns[f"projection_{j + 1}"] = arrays["teacher_projection"][..., j].ravel()
            columns["norm_outside"] = arrays["norm_outside"].ravel()
        frame = pd.DataFrame(columns)
        frame.insert(0, "target", target)
        frame.insert(0, "seed", seed)
        frame.insert(0, "cell", cell)
        frame.insert(0, "plan", plan)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
