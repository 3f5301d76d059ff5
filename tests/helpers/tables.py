"""Synthetic tidy tables shaped like the workflow's (columns of giantstep.reproduce.aggregate):
one builder per plan, each shaped as the paper's claim and with switches that break it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from giantstep.reproduce.labels import target_expr

THRESHOLD = 3.0
THREE = ("staircase3", "no_staircase", "visible_staircase3")  # targets with r = 3
FLOORS = {"hermite_124": [0.771, 0.143], "two_stair": [1.5, 1.0, 0.0], "staircase3": [3.0, 2.0, 1.0, 1.0]}


def run_rows(plan: str, target: str, t: int, seed: int = 0, **columns) -> dict:
    """One row of a runs table (giantstep.reproduce.aggregate.runs_table) with plausible defaults."""
    r = 1 if target == "hard_he3" else 3 if target in THREE else 2
    d = columns.pop("d", 64)
    kappa = columns.pop("kappa", math.log(4 * d) / math.log(d))
    n = round(d**kappa)
    floors = FLOORS.get(target, [1.0])
    row = {
        "plan": plan, "cell": f"target={target}/kappa={kappa}/d={d}", "seed": seed, "target": target,
        "expr": target_expr(target), "r": r, "d": d, "p": 256, "n": n, "kappa": kappa, "alpha": n / d,
        "activation": "relu", "symmetric": False, "preprocess": "none", "lr_rule": "p", "lr_scale": 2.0,
        "eta": 512.0, "ridge": 1.0, "n_train": n, "n_test": 1000, "steps": 2,
        "threshold": THRESHOLD, "align_threshold": 0.02, "t": t,
        "test_error": 1.0, "train_error": 0.5, "learned_dims": 0, "aligned_dims": 0,
        "predicted_dims": min(t, r), "predicted_dims_generic": min(t, r),
        "floor": floors[min(t, len(floors) - 1)], "floor_generic": floors[min(t, len(floors) - 1)],
        "linear_kernel_error": 0.2708 if target == "hermite_124" else 1.0,
        "variance": 0.7708 if target == "hermite_124" else 1.5,
    }
    aligned = columns.get("aligned_dims", 0)
    for k in range(1, r + 1):
        row[f"snr_{k}"] = row[f"snr_frames_{k}"] = 0.0
        row[f"align_{k}"] = 1 / d
        for j in range(1, r + 1):
            row[f"dir{k}_z{j}"] = float(k == j)
            if j >= k:  # the overlap matrix: the aligned coordinates at 0.1 above 1/d, independent
                row[f"overlap_{k}{j}"] = (1 / d + 0.1 * (k <= aligned)) if j == k else 0.0
    row.update(columns)
    return row


# Test error per T = 0..6 at kappa = 2.25, at the paper's Figure 1 readings (B: inside 0.15-0.2).
AT_PAPER_KAPPA = {"hermite_124": [0.60, 0.22, 0.20, 0.18, 0.16, 0.14, 0.13],
                  "two_stair": [1.37, 0.32, 0.25, 0.22, 0.19, 0.18, 0.17]}


def learning_curves(broken: bool = False, levels_off: float = 0.0, rising: bool = False) -> pd.DataFrame:
    """A and B shaped like the paper's Figure 1, T = 0..6, at its levels at kappa = 2.25.
    ``broken``: no step changes anything; ``levels_off``: every error at kappa = 2.25 shifted
    by this much; ``rising``: B's error at kappa = 2.25 rises after T = 2."""
    rows = []
    for target in ("hermite_124", "two_stair"):
        for kappa in (0.75, 1.0, 1.25, 1.5, 2.25):
            for seed in (0, 1):
                rf = (0.75 - 0.15 * (kappa - 0.75)) if target == "hermite_124" else 1.5 - 0.2 * (kappa - 0.75)
                one = rf if kappa < 1 else (0.6 if target == "hermite_124" else 0.75) * rf
                two = one * (0.95 if target == "hermite_124" else 0.6)
                errors = [rf, one] + [two * 0.98**k for k in range(5)]
                if kappa == 2.25:
                    errors = [e + levels_off for e in AT_PAPER_KAPPA[target]]
                    if rising and target == "two_stair":
                        errors[3:] = [errors[2] + 0.05 * k for k in range(1, 5)]
                if broken:
                    errors = [errors[0]] * 7
                for t, error in enumerate(errors):
                    rows.append(run_rows("learning_curves", target, t, seed, d=128, kappa=kappa, steps=6,
                                         test_error=error + 0.001 * seed))
    return pd.DataFrame(rows)


def single_step(broken: bool = False) -> pd.DataFrame:
    """B after one step: the second direction appears with preprocessing at kappa = 2."""
    rows = []
    for preprocess in ("none", "remove_linear"):
        for kappa in (1.0, 1.5, 1.75, 2.0, 2.25):
            for seed in (0, 1):
                snr1 = 2 + 4 * (kappa - 1)
                snr2 = 0.0 if broken else 0.5 * 10 ** (2 * (kappa - 1.5)) if preprocess == "remove_linear" \
                    else 1.0
                dims = int(snr1 > THRESHOLD) + int(snr2 > THRESHOLD)
                rows.append(run_rows("single_step", "two_stair", 1, seed, kappa=kappa, preprocess=preprocess,
                                     snr_1=snr1, snr_2=snr2, learned_dims=dims, steps=1))
    return pd.DataFrame(rows)


def hard_direction(broken: bool = False, control_leaks: bool = False) -> pd.DataFrame:
    """He3: tanh's SNR grows past kappa = 3, ReLU's stays at its noise level (``broken``: tanh
    stays too; ``control_leaks``: one ReLU seed at one kappa crosses the threshold)."""
    rows = []
    for activation in ("tanh", "relu"):
        for kappa in (2.0, 2.5, 3.0, 3.5, 4.0):
            for seed in (0, 1):
                grows = activation == "tanh" and not broken
                snr = (10 ** (0.45 * (kappa - 2)) if grows else 1.0) + 0.1 * seed
                if control_leaks and activation == "relu" and kappa == 3.0 and seed == 1:
                    snr = 3.5
                rows.append(run_rows("hard_direction", "hard_he3", 1, seed, d=32, kappa=kappa,
                                     activation=activation, symmetric=True, snr_1=snr, snr_frames_1=2.6 * snr,
                                     learned_dims=int(snr > THRESHOLD), steps=1,
                                     predicted_dims=0, predicted_dims_generic=0))
    return pd.DataFrame(rows)


def staircase(broken: bool = False, steps: int = 3) -> pd.DataFrame:
    """B and S3 over ``steps`` steps, measured as predicted (``broken``: stuck at one direction);
    both recursions reach their fixed point by t = 3."""
    predicted = {"two_stair": [0, 1, 2, 2], "staircase3": [0, 1, 2, 2]}
    generic = {"two_stair": [0, 1, 2, 2], "staircase3": [0, 1, 2, 3]}
    rows = []
    for target in predicted:
        for t in range(steps + 1):
            aware, blind = predicted[target][min(t, 3)], generic[target][min(t, 3)]
            for seed in (0, 1, 2):
                rows.append(run_rows("staircase", target, t, seed, steps=steps,
                                     learned_dims=min(aware, 1) if broken else aware,
                                     predicted_dims=aware, predicted_dims_generic=blind))
    return pd.DataFrame(rows)


# First step with the timed number of directions (3; 2 for C) learned and aligned, per target
# and d (seeds 0-2 add 0, 0, 1); None: not within T = 8.
CLIMB_LEARNED = {"visible_staircase3": {128: 3, 256: 3, 512: 3}, "no_staircase": {128: 4, 256: 5, 512: 5},
                 "staircase3": {128: None, 256: None, 512: None}, "notebook_4z": {128: 3, 256: 2, 512: 2}}
CLIMB_ALIGNED = {"visible_staircase3": {128: 4, 256: 4, 512: 4}, "no_staircase": {128: 5, 256: 6, 512: 7},
                 "staircase3": {128: None, 256: None, 512: None}, "notebook_4z": {128: 4, 256: 3, 512: 2}}
CLIMB_PREDICTED = {"visible_staircase3": 3, "no_staircase": None, "staircase3": None, "notebook_4z": 2}


def _dims(first: int | None, t: int, seed: int, level: int) -> int:
    """``level`` from step ``first`` on (one step later for seed 2), below it before; never
    ``level`` when ``first`` is None."""
    return level if first is not None and t >= first + int(seed == 2) else min(t, level - 1)


def staircase_climb(v3_stuck: bool = False, n_escapes: bool = False, control_leaks: bool = False,
                    c_slow: bool = False, broken: bool = False) -> pd.DataFrame:
    """The climb vs d at n = 16 d, T = 8, shaped as predicted. ``v3_stuck``: V3 never aligns
    3; ``n_escapes``: N aligns 3 at t = 4 at every d; ``control_leaks``: one S3 run aligns 3;
    ``c_slow``: C's second direction later at larger d; ``broken``: all of these."""
    if broken:
        v3_stuck = n_escapes = control_leaks = c_slow = True
    rows = []
    for target, by_d in CLIMB_ALIGNED.items():
        level = 2 if target == "notebook_4z" else 3
        for d, aligned in by_d.items():
            learned = CLIMB_LEARNED[target][d]
            if v3_stuck and target == "visible_staircase3":
                aligned = None
            if n_escapes and target == "no_staircase":
                aligned = learned = 4
            if c_slow and target == "notebook_4z":
                aligned = {128: 2, 256: 3, 512: 4}[d]
            predicted = CLIMB_PREDICTED[target]
            for seed in (0, 1, 2):
                for t in range(9):
                    leak = control_leaks and target == "staircase3" and seed == 0 and d == 512 and t >= 7
                    learned_dims = 3 if leak else _dims(learned, t, seed, level)
                    aligned_dims = 3 if leak else min(_dims(aligned, t, seed, level), learned_dims)
                    rows.append(run_rows("staircase_climb", target, t, seed, d=d, steps=8,
                                         kappa=math.log(16 * d, d), learned_dims=learned_dims,
                                         aligned_dims=aligned_dims,
                                         predicted_dims=_dims(predicted, t, 0, level),
                                         predicted_dims_generic=min(t, 3)))
    return pd.DataFrame(rows)


def cosine_neurons(slope: float = 0.25, seeds=(0, 1), m: int = 64) -> pd.DataFrame:
    """Per-neuron cosines of target C after one step, on the line of ``slope`` (with noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        a = np.where(np.arange(m) % 2 == 0, 1.0, -1.0) / 16
        for t in (0, 1):
            angle = math.atan(slope) + 0.03 * rng.standard_normal(m)
            radius = 0.0 if t == 0 else 0.9
            cos1, cos2 = np.sign(a) * radius * np.cos(angle), np.sign(a) * radius * np.sin(angle)
            projection = rng.standard_normal((m, 2)) / 8 + (t * np.c_[cos1, cos2])
            for i in range(m):
                rows.append({"plan": "cosines", "cell": "target=notebook_4z", "seed": seed,
                             "target": "notebook_4z", "t": t, "neuron": i, "a": a[i],
                             "update_cos_1": cos1[i], "weight_cos_1": 0.0, "projection_1": projection[i, 0],
                             "update_cos_2": cos2[i], "weight_cos_2": 0.0, "projection_2": projection[i, 1],
                             "norm_outside": 1.0})
    return pd.DataFrame(rows)
