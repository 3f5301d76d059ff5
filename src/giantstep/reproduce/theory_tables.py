"""The tables that compute theory (the only reproduction module that imports torch).

- :func:`theory_table`: the theory per named target and student activation;
- :func:`cosine_lines`: the theory and measured lines of the cosine scatters, from population
  gradients at each neuron's measured state (:func:`predicted_updates`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from giantstep.reproduce.labels import by_target, label, named_targets, numbers
from giantstep.reproduce.tables import line_angle, line_deviation
from giantstep.targets import Target
from giantstep.theory.cli import load_target
from giantstep.theory.population import (
    WithoutLinearPart,
    population_gradient,
    smoothed_derivative,
    theory_summary,
)

THEORY_ACTIVATIONS = ("relu", "tanh")


def theory_table(targets: list[str] | None = None, activations=THEORY_ACTIVATIONS) -> pd.DataFrame:
    """Theory per named target and student activation (:func:`giantstep.theory.population.theory_summary`).

    Staircase predictions run ``r + 1`` steps, enough to reach the recursion's fixed point
    (each step adds a direction or stops). One row per ``(target, activation)``; lists are
    comma-separated strings: ``leap_index`` per coordinate, ``one_step_preprocessed`` the dims
    learned by one preprocessed step at ``n ~ d^l`` for ``l = 1..4``, ``predicted_dims`` and
    ``floors`` per step ``t = 0..r+1`` (``_generic``: the activation-blind recursion).
    ``step1_slope`` is ``mu_1[2] / mu_1[1]`` (empty for ``r = 1``).
    """
    rows = []
    for name in targets or named_targets():
        target = load_target(name, None)
        for activation in activations:
            s = theory_summary(target, activation, target.r + 1)
            rows.append({
                "target": name,
                "label": label(name),
                "expr": target.expr,
                "activation": activation,
                "r": target.r,
                "variance": s["variance"],
                "mu1": numbers(s["mu1"], 4),
                "step1_slope": s["step1_slope"],
                "linear_kernel_error": s["linear_kernel_error"],
                "leap_index": numbers(s["leap_index"]),
                "one_step_preprocessed": numbers([o["aware_preprocessed"] for o in s["one_step"]]),
                "predicted_dims": numbers(s["predicted_dims"]),
                "predicted_dims_generic": numbers(s["predicted_dims_generic"]),
                "floors": numbers(s["floors"]),
                "floors_generic": numbers(s["floors_generic"]),
            })
    return pd.DataFrame(rows)


def _sign_group(a: pd.Series) -> pd.Series:
    return np.where(a > 0, "a > 0", "a < 0")


def cosine_lines(neurons: pd.DataFrame, runs: pd.DataFrame, theory: pd.DataFrame) -> pd.DataFrame:
    """Theory and measured lines of the cosine scatters (update-row cosines with ``w*_1, w*_2``).

    At ``t = 1`` the theory line has the slope ``mu_1[2]/mu_1[1]`` of the theory table (one
    group, ``all``). At ``t >= 2`` it comes from each neuron's predicted update (see
    :func:`predicted_updates`); the line per sign of ``a`` is the principal axis of these
    directions. Measured lines are the principal axes of the neurons' cosine vectors.

    Returns one row per ``(target, t, group)``: ``theory_angle`` (degrees, ``(-90, 90]``),
    ``theory_slope``, ``source``, ``measured_angle``, ``median_deviation`` (median over neurons
    of the angle between a neuron's cosine vector and the theory line) and ``neurons``
    (count, pooled over seeds).
    """
    rows = []
    first = runs.drop_duplicates("cell").set_index("cell")
    for (cell, target), cloud in neurons.groupby(["cell", "target"], sort=False):
        run = first.loc[cell]
        if run["r"] < 2:
            continue
        link = Target.parse(run["expr"], target)
        for t in sorted(set(cloud["t"]) - {0}):
            at_t = cloud[cloud["t"] == t].sort_values(["seed", "neuron"])
            cos = at_t[["update_cos_1", "update_cos_2"]].to_numpy()
            if t == 1:
                row = theory[(theory["target"] == target) & (theory["activation"] == run["activation"])]
                groups = {"all": (np.ones(len(at_t), bool),
                                  math.degrees(math.atan(float(row["step1_slope"].iloc[0]))), "mu_1 slope")}
            else:
                predicted = np.concatenate([
                    predicted_updates(one, t, link, run["activation"], run["eta"] / math.sqrt(run["p"]),
                                      run["p"])
                    for _, one in cloud.groupby("seed")
                ])
                sign = _sign_group(at_t["a"])
                groups = {g: (sign == g, line_angle(predicted[sign == g]), "population gradient")
                          for g in ("a > 0", "a < 0")}
            for group, (mask, angle, source) in groups.items():
                neuron_angles = np.degrees(np.arctan2(cos[mask, 1], cos[mask, 0]))
                rows.append({
                    "target": target, "t": int(t), "group": group,
                    "theory_angle": float(angle), "theory_slope": math.tan(math.radians(angle)),
                    "source": source, "measured_angle": float(line_angle(cos[mask])),
                    "median_deviation": float(np.median(line_deviation(neuron_angles, angle))),
                    "neurons": int(mask.sum()),
                })
    return by_target(pd.DataFrame(rows), "t")


def predicted_updates(
    neurons: pd.DataFrame, t: int, link: Target, activation: str, step_size: float, p: int
) -> np.ndarray:
    """Predicted update ``W_t - W_0`` in the teacher plane of one run's saved neurons: (m, 2),
    rows ordered by neuron.

    The measured update after ``t - 1`` steps plus one population step from the measured
    state after ``t - 1`` steps: ``step_size * a_i * G_i`` (``step_size = eta / sqrt(p)``),
    ``G_i = E[(g*(z) - <b, z>) sigma'(<w_i, z>) z]`` from
    :func:`giantstep.theory.population.population_gradient` at the neuron's projection on the teacher
    subspace and norm outside it. ``b`` is the linear part of the student's output in teacher
    coordinates, ``b = p^(-1/2) sum_j a_j E[sigma'(<w_j, z>)] W* w_j`` (Stein's lemma),
    estimated from the saved neurons; the student's higher-order parts are dropped.
    """
    columns = [f"projection_{j}" for j in range(1, link.r + 1)]
    start = neurons[neurons["t"] == 0].sort_values("neuron")
    before = neurons[neurons["t"] == t - 1].sort_values("neuron")
    projection = before[columns].to_numpy()
    norm_out = before["norm_outside"].to_numpy()
    a = before["a"].to_numpy()[:, None]
    slope = smoothed_derivative(activation, torch.zeros(len(before), dtype=torch.float64),
                                torch.tensor(np.hypot(np.linalg.norm(projection, axis=1), norm_out))).numpy()
    b = math.sqrt(p) * np.mean(a * slope[:, None] * projection, axis=0)
    gradient = population_gradient(WithoutLinearPart(link, 0.0, torch.tensor(b)), activation,
                                   torch.tensor(projection), torch.tensor(norm_out)).numpy()
    update = projection - start[columns].to_numpy() + step_size * a * gradient
    return update[:, :2]
