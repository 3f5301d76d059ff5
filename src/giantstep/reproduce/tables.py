"""Derived tables of the workflow, from the tidy runs tables (pure functions, no torch).

- :func:`staircase_summary`, :func:`staircase_table`: learned dims per step, measured vs predicted;
- :func:`climb_steps`, :func:`climb_summary`, :func:`climb_table`: when a staircase first has its
  directions learned and aligned, per target, ``alpha = n / d`` and ``d``;
- :func:`figure1_fit`: each setting of the ``figure1`` sweep against the paper's six readings;
- :func:`learning_curve_comparison`: test error at the largest kappa beside the paper's Figure 1;
- :func:`settings_table`: the settings behind each figure;
- :func:`render_markdown`, :func:`render_latex`, :func:`write_table`: a table as CSV, Markdown, LaTeX;
The workflow's table jobs map a table's name to its builder (``workflow/scripts/table.py``); the
two theory tables (:mod:`giantstep.reproduce.theory_tables`) are imported only by the jobs that
build them, the provenance table is :mod:`giantstep.reproduce.provenance`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from giantstep.reproduce.labels import (
    FIGURE1_READINGS,
    PAPER_FIGURE1,
    PAPER_KAPPA,
    by_target,
    fmt,
    format_step_range,
    format_steps,
    label,
    reading_text,
    target_order,
)
from giantstep.rules import lr_text

SCALING_TARGETS = {  # C4, d-scaling: target -> (its role, the number of aligned directions timed)
    "visible_staircase3": ("climbs to 3", 3),
    "no_staircase": ("predicted stuck at 1", 3),
    "staircase3": ("ReLU never sees z3", 3),
    "notebook_4z": ("second direction predicted at t = 2", 2),
}


CLIMB_TARGET = "visible_staircase3"  # C4: the three-level staircase a ReLU student can see


def learned_threshold(runs: pd.DataFrame | None = None) -> float:
    """The SNR threshold of "learned": the table's ``threshold`` column when it has one,
    else the default ``metrics.threshold`` of ``conf/``."""
    if runs is not None and "threshold" in runs:
        return float(runs["threshold"].iloc[0])
    from giantstep.schema import compose

    return float(compose([]).metrics.threshold)


def staircase_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Learned dims per target, d and step: median, min and max over seeds beside the
    predictions (activation-aware and generic)."""
    grouped = runs.groupby(["target", "d", "t"])
    out = grouped["learned_dims"].agg(measured="median", measured_min="min", measured_max="max")
    out["predicted"] = grouped["predicted_dims"].first()
    out["predicted_generic"] = grouped["predicted_dims_generic"].first()
    out["seeds"] = grouped["seed"].nunique()
    out = out.reset_index()
    out.insert(1, "label", out["target"].map(label))
    return by_target(out, "d", "t")


def climb_steps(runs: pd.DataFrame) -> pd.DataFrame:
    """When each run of a staircase first has ``level`` directions learned and aligned.

    ``level`` is the number of directions timed for the target (:data:`SCALING_TARGETS`; its
    ``r`` otherwise). One row per ``(target, alpha, d, seed)`` (``alpha = n / d``, the runs table's):
    ``level``, ``T`` (steps run), ``learned_at`` and ``aligned_at`` (the first ``t >= 1`` with
    ``learned_dims``, resp. ``aligned_dims``, at least ``level``; NaN when not within ``T``),
    ``coordinates_at`` (the first ``t`` at which the mean squared cosine with each of the teacher
    coordinates ``z_1 .. z_level`` exceeds ``1/d + align_threshold``: per coordinate, not
    rotation invariant, see :func:`coordinate_tie`), ``tie`` (:func:`coordinate_tie` at ``T``),
    ``predicted_at`` (the same for the activation-aware prediction; NaN: not within ``T``,
    which for S3 and N means never), ``max_learned`` and ``max_aligned`` (the most directions
    at any ``t``).
    """
    frame = runs[runs["t"] >= 1]
    rows = []
    for (target, alpha, d, seed), one in frame.groupby(["target", "alpha", "d", "seed"], sort=False):
        level = min(SCALING_TARGETS.get(target, ("", 99))[1], int(one["r"].iloc[0]))

        def first(reached: pd.Series, one=one) -> float:
            t = one.loc[reached, "t"]
            return float(t.min()) if not t.empty else float("nan")

        floor = 1 / one["d"] + one["align_threshold"]
        coordinates = np.all([one[f"overlap_{j}{j}"] >= floor for j in range(1, level + 1)], axis=0)
        rows.append({
            "target": target, "alpha": float(alpha), "d": int(d), "seed": int(seed), "level": level,
            "T": int(one["t"].max()), "learned_at": first(pd.to_numeric(one["learned_dims"]) >= level),
            "aligned_at": first(pd.to_numeric(one["aligned_dims"]) >= level),
            "coordinates_at": first(coordinates),
            "tie": coordinate_tie(one.loc[one["t"].idxmax()], level),
            "predicted_at": first(pd.to_numeric(one["predicted_dims"]) >= level),
            "max_learned": int(one["learned_dims"].max()), "max_aligned": int(one["aligned_dims"].max()),
        })
    return by_target(pd.DataFrame(rows), "alpha", "d", "seed", first=(CLIMB_TARGET,))


def coordinate_tie(step: pd.Series, level: int) -> float:
    """How much the weights' parts along ``z_level`` follow their parts along an earlier
    coordinate: ``max_j |O_{j,level}| / sqrt(O_jj O_{level,level})`` over ``j < level`` for the
    overlap matrix ``O`` of one step (a row of the runs table). 1: along ``z_level`` every neuron
    moved in proportion to another coordinate, so ``z_level`` has an overlap of its own but the
    learned subspace gains no dimension (the overlap's eigenvalue ``align_level`` stays at 1/d);
    near 0: independent parts. NaN for ``level < 2``."""
    if level < 2:
        return float("nan")
    last = step[f"overlap_{level}{level}"]
    return float(max(abs(step[f"overlap_{j}{level}"]) / math.sqrt(step[f"overlap_{j}{j}"] * last)
                     for j in range(1, level)))


def climb_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`climb_steps` over seeds, one row per ``(target, alpha, d)``: for ``m`` in
    ``learned``, ``aligned`` and ``coordinates``, ``m_median``, ``m_min``, ``m_max`` of ``m_at``
    (a run that does not get there within ``T`` counts as ``inf``, so an infinite median means:
    not within ``T`` for most seeds) and ``m_reached`` (seeds that get there); ``seeds``, ``level``, ``T``,
    ``predicted_at``, ``max_learned``, ``max_aligned``, and ``tie`` (median over seeds)."""
    steps = climb_steps(runs)
    grouped = steps.groupby(["target", "alpha", "d"], sort=False)
    out = pd.DataFrame({"seeds": grouped["seed"].nunique()})
    for measure in ("learned", "aligned", "coordinates"):
        keys = [steps["target"], steps["alpha"], steps["d"]]
        at = steps[f"{measure}_at"].fillna(np.inf).groupby(keys, sort=False)
        out[f"{measure}_median"] = at.median()
        out[f"{measure}_min"] = at.min()
        out[f"{measure}_max"] = at.max()
        out[f"{measure}_reached"] = grouped[f"{measure}_at"].count()
    for column, how in (("level", "first"), ("T", "max"), ("predicted_at", "first"), ("max_learned", "max"),
                        ("max_aligned", "max"), ("tie", "median")):
        out[column] = grouped[column].agg(how)
    out = out.reset_index()
    out.insert(1, "label", out["target"].map(label))
    return by_target(out, "alpha", "d", first=(CLIMB_TARGET,))


def steps_by_d(rows: pd.DataFrame, column: str = "aligned") -> str:
    """``d = 128: 6 (6–7); ...``: median and range over seeds of a first step, per d."""
    return "; ".join(f"d = {r.d}: {format_steps(getattr(r, f'{column}_median'), r.T)} "
                     f"({format_step_range(getattr(r, f'{column}_min'), getattr(r, f'{column}_max'), r.T)})"
                     for r in rows.sort_values("d").itertuples())


def reading_distance(error: float, reading) -> float:
    """How far ``error`` lies from a Figure 1 reading (a value, or a range read for several T)."""
    low, high = reading if isinstance(reading, tuple) else (reading, reading)
    return max(low - error, error - high, 0.0)


def figure1_fit(runs: pd.DataFrame) -> pd.DataFrame:
    """Each setting of the ``figure1`` sweep against the paper's six Figure 1 readings (A and B
    at T = 0, 1, 6, kappa = 2.25): one row per ``(p, lr_rule, lr_scale, ridge)`` with ``p_over_d``,
    ``eta_over_p``, the
    mean test error over seeds at each reading (``A_T0`` ...), its distance to the reading
    (``dist_A_T0`` ..., 0 inside a range) and ``max_distance``; sorted best first (smallest
    ``max_distance``, then smallest sum), ``chosen`` marks the first row."""
    at = runs[np.isclose(runs["kappa"], PAPER_KAPPA, atol=0.01)]
    rows = []
    for (p, rule, scale, ridge), one in at.groupby(["p", "lr_rule", "lr_scale", "ridge"]):
        errors = one.groupby(["target", "t"])["test_error"].mean()
        row = {"p": int(p), "p_over_d": float(p / one["d"].iloc[0]), "d": int(one["d"].iloc[0]),
               "lr_rule": rule, "lr_scale": float(scale), "eta_over_p": float(one["eta"].iloc[0] / p),
               "ridge": float(ridge), "seeds": int(one["seed"].nunique())}
        distances = []
        for target, T, reading in FIGURE1_READINGS:
            name = f"{label(target)}_T{T}"
            row[name] = float(errors.get((target, T), np.nan))
            distances.append(reading_distance(row[name], reading))
            row[f"dist_{name}"] = distances[-1]
        # a reading beyond the steps run (smoke scale) is left out
        row["max_distance"], row["sum_distance"] = float(np.nanmax(distances)), float(np.nansum(distances))
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(["max_distance", "sum_distance"], ignore_index=True)
    table.insert(0, "chosen", table.index == 0)
    return table


def line_angle(vectors: np.ndarray) -> float:
    """Angle in degrees, in ``(-90, 90]``, of the principal axis of ``vectors: (m, 2)``
    normalised to unit length: the line through the origin that fits their directions."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-300)
    _, eigenvectors = np.linalg.eigh(unit.T @ unit)
    x, y = eigenvectors[:, -1]
    return _wrap(math.degrees(math.atan2(y, x)))


def _wrap(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle of a line (degrees) folded into ``(-90, 90]``."""
    return 90.0 - np.mod(90.0 - angle, 180.0)


def line_deviation(angles: np.ndarray, line: float) -> np.ndarray:
    """Unsigned angle in degrees (0..90) between lines at ``angles`` and the line at ``line``."""
    return np.abs(_wrap(np.asarray(angles, dtype=float) - line))


def cosine_ratios(neurons: pd.DataFrame, target: str = "notebook_4z", t: int = 1) -> np.ndarray:
    """``cos_2 / cos_1`` of the update rows of ``target`` after ``t`` steps (all seeds)."""
    rows = neurons[(neurons["target"] == target) & (neurons["t"] == t)]
    return (rows["update_cos_2"] / rows["update_cos_1"]).to_numpy()


def read_tables(paths: Mapping[str, str | Path | list]) -> dict[str, pd.DataFrame]:
    """The CSV tables among ``paths``, by key; other entries (lists, other file types) and
    missing files are left out."""
    return {key: pd.read_csv(path) for key, path in paths.items()
            if isinstance(path, (str, Path)) and str(path).endswith(".csv") and Path(path).is_file()}


# Figure name -> plan whose runs table holds its runs.
FIGURE_PLANS = {
    "learning_curves": "learning_curves",
    "cosines": "cosines",
    "single_step": "single_step",
    "hard_direction": "hard_direction",
    "staircase": "staircase",
    "staircase_climb": "staircase_climb",
    "figure1": "figure1",
    "batch_reuse": "batch_reuse",
}


def learning_curve_comparison(runs: pd.DataFrame) -> pd.DataFrame:
    """Test error (mean, std over seeds) at the largest kappa per target and ``T``, beside the
    paper's Figure-1 reading (at ``kappa = 2.25``), the theory floor of the learned subspace at
    ``n ~ d`` and the linear-kernel error."""
    rows = []
    for target in target_order(runs["target"]):
        one = runs[runs["target"] == target]
        kappa = one["kappa"].max()
        at = one[np.isclose(one["kappa"], kappa)]
        readings = PAPER_FIGURE1.get(target, {})
        for t, steps in at.groupby("t"):
            rows.append({
                "target": label(target),
                "T": int(t),
                "kappa": round(float(kappa), 3),
                "error_mean": float(steps["test_error"].mean()),
                "error_std": float(steps["test_error"].std(ddof=1)) if len(steps) > 1 else float("nan"),
                "seeds": int(steps["seed"].nunique()),
                "paper_kappa": PAPER_KAPPA if readings else float("nan"),
                "paper": reading_text(readings.get(int(t))),
                "floor": float(steps["floor"].iloc[0]),
                "linear_kernel": float(steps["linear_kernel_error"].iloc[0]),
            })
    return pd.DataFrame(rows)


def staircase_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Learned dims per target and ``d``, one row each, as sequences over ``t = 0..T``:
    measured (median over seeds, and the range where seeds disagree) beside the
    activation-aware and the generic prediction; ``first_mismatch``: the first ``t`` where
    the median differs from the aware prediction (empty if none)."""
    summary = staircase_summary(runs)
    rows = []
    for (target, d), one in summary.groupby(["target", "d"], sort=False):
        one = one.sort_values("t")
        mismatch = one.loc[one["measured"] != one["predicted"], "t"]
        rows.append({
            "target": target,
            "label": label(target),
            "d": int(d),
            "seeds": int(one["seeds"].max()),
            "measured": _sequence(one["measured"]),
            "measured_range": ", ".join(
                f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}"
                for lo, hi in zip(one["measured_min"], one["measured_max"])),
            "predicted": _sequence(one["predicted"]),
            "predicted_generic": _sequence(one["predicted_generic"]),
            "first_mismatch": "none" if mismatch.empty else f"t = {int(mismatch.iloc[0])}",
        })
    return by_target(pd.DataFrame(rows), "d")


def climb_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The climb vs ``d``: one row per target, ``alpha`` and ``d``
    (:func:`climb_summary`): the first step with ``level`` directions aligned and learned, each
    as median, range and per seed (``>T``: not within the ``T`` steps run), seeds that get there,
    the activation-aware ``predicted`` step (``never``: the recursion stops below ``level``); the
    first step at which each of the coordinates ``z_1 .. z_level`` has an overlap of its own
    (median and range), and the ``tie`` of the last coordinate to the others at ``T``
    (:func:`coordinate_tie`, median over seeds)."""
    summary = climb_summary(runs)
    steps = climb_steps(runs).groupby(["target", "alpha", "d"])
    rows = []
    for r in summary.itertuples():
        seeds = steps.get_group((r.target, r.alpha, r.d))
        row = {"target": r.target, "label": r.label, "alpha": r.alpha, "d": int(r.d), "level": int(r.level),
               "T": int(r.T),
               "predicted": f"{r.predicted_at:g}" if np.isfinite(r.predicted_at)
               else "never" if r.T >= r.level else f">{r.T}"}
        for measure in ("aligned", "learned"):
            row[f"{measure}_median"] = format_steps(getattr(r, f"{measure}_median"), r.T)
            row[f"{measure}_range"] = format_step_range(getattr(r, f"{measure}_min"),
                                                        getattr(r, f"{measure}_max"), r.T)
            row[f"{measure}_per_seed"] = ", ".join(format_steps(v, r.T) for v in seeds[f"{measure}_at"])
            row[f"{measure}_reached"] = f"{int(getattr(r, f'{measure}_reached'))}/{int(r.seeds)}"
        row["coordinates_median"] = format_steps(r.coordinates_median, r.T)
        row["coordinates_range"] = format_step_range(r.coordinates_min, r.coordinates_max, r.T)
        row["tie"] = r.tie
        rows.append(row)
    return pd.DataFrame(rows)


def _sequence(values: pd.Series) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _values(column: pd.Series) -> str:
    """The distinct values of a column: listed when few, as a range when many."""
    values = sorted(column.dropna().unique(), key=lambda v: (isinstance(v, str), v))
    if not values:
        return ""
    if len(values) > 4 and all(isinstance(v, (int, float, np.number)) for v in values):
        return f"{fmt(values[0])}–{fmt(values[-1])} ({len(values)} values)"
    return ", ".join(fmt(v) for v in values)


def settings_table(runs_by_plan: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The settings behind each figure: one row per figure, from its plan's runs table."""
    rows = []
    for figure, plan in FIGURE_PLANS.items():
        if plan not in runs_by_plan:
            continue
        runs = runs_by_plan[plan]
        rules = runs.drop_duplicates(["lr_rule", "lr_scale"])
        rows.append({
            "figure": figure,
            "plan": plan,
            "targets": ", ".join(label(t) for t in target_order(runs["target"])),
            "activation": _values(runs["activation"]),
            "symmetric init": _values(runs["symmetric"].astype(str).str.lower()),
            "d": _values(runs["d"]),
            "p": _values(runs["p"]),
            "n": _values(runs["n"]),
            "kappa": _values(runs["kappa"].round(3)),
            "steps T": _values(runs["steps"]),
            "eta": ", ".join(lr_text(r.lr_rule, fmt(r.lr_scale)) for r in rules.itertuples()),
            "preprocess": _values(runs["preprocess"]),
            "ridge": _values(runs["ridge"]),
            "readout n_train": _values(runs["n_train"]),
            "n_test": _values(runs["n_test"]),
            "seeds": ", ".join(str(s) for s in sorted(runs["seed"].unique())),
        })
    return pd.DataFrame(rows)


def render_markdown(table: pd.DataFrame) -> str:
    """A table as GitHub Markdown (floats to 4 significant digits, ``|`` in text escaped)."""
    cells = table.astype(object).where(table.notna(), None)
    cells = cells.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)
    return cells.to_markdown(index=False, floatfmt=".4g", missingval="") + "\n"


def render_latex(table: pd.DataFrame) -> str:
    """A table as a LaTeX ``tabular`` (booktabs rules, special characters escaped).

    pandas leaves ``<``, ``>`` and ``|`` as they are, which the default OT1 font encoding
    prints as other glyphs; the booktabs tabular's own syntax has none of them, so they are
    replaced throughout.
    """
    latex = table.to_latex(index=False, escape=True, float_format=lambda x: fmt(x, 4), na_rep="")
    for character, command in (("<", r"\textless{}"), (">", r"\textgreater{}"), ("|", r"\textbar{}")):
        latex = latex.replace(character, command)
    return latex


def write_table(table: pd.DataFrame, csv: str | Path, markdown: str | Path | None = None,
                latex: str | Path | None = None) -> None:
    """Write ``table`` as CSV and, when paths are given, as Markdown and LaTeX."""
    table.to_csv(csv, index=False)
    if markdown is not None:
        Path(markdown).write_text(render_markdown(table))
    if latex is not None:
        Path(latex).write_text(render_latex(table))
