"""The paper's figures from the tidy tables: DataFrames in, a matplotlib Figure out.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, so no global state and
no display needed) in a seaborn style, and :func:`save_figure` writes them as PDF and PNG
with fixed metadata, so unchanged tables give byte-identical files.

- :func:`learning_curves_figure` (C5): test error vs ``kappa`` per number of steps.
- :func:`cosines_figure` (C1, C6, C7): update-row cosines with ``w*_1, w*_2`` and theory lines.
- :func:`single_step_figure` (C1, C2): update SNR and test error vs ``kappa`` after one step.
- :func:`hard_direction_figure` (C3): update SNR along ``z1`` vs ``kappa``, tanh and ReLU.
- :func:`staircase_figure` (C4): learned dims per step, measured vs predicted.
- :func:`staircase_climb_figure` (C4): steps until 3 (C: 2) directions are aligned and
  learned, vs ``d``.
- :func:`figure1_fit_figure` (C5): the Figure 1 sweep over width and step size.

Input columns are those of :mod:`giantstep.reproduce.aggregate` and :mod:`giantstep.reproduce.claims`.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable
from fractions import Fraction
from functools import wraps
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from giantstep.reproduce import batch_reuse
from giantstep.reproduce.claims import LEVEL_TOLERANCE
from giantstep.reproduce.labels import PAPER_FIGURE1, PAPER_KAPPA, label, target_expr, target_order
from giantstep.reproduce.tables import (
    SCALING_TARGETS,
    climb_summary,
    figure1_fit,
    learned_threshold,
)
from giantstep.rules import lr_text

STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=1.15),
         "axes.titlesize": 11, "legend.fontsize": 9, "figure.dpi": 100}
DPI = 150
KAPPA = r"$\kappa = \log n \,/\, \log d$"
SIGN_COLORS = {"a > 0": "#1f77b4", "a < 0": "#d95f02"}
TITLE_WIDTH = 40  # characters of a target's expression per line of a panel title
# One token of a target's expression (the grammar of giantstep.targets), spaces removed.
_TOKEN = re.compile(r"z(?P<z>\d)|(?P<call>He\d|[A-Za-z]+)\(|\^(?P<group>\()?|\*|.")


def title(target: str, expr: str | None = None) -> str:
    """Panel title of a target: its short name and its expression in math, from ``expr`` (the
    runs' own) or else from ``conf/target/<target>.yaml``, in lines of about
    :data:`TITLE_WIDTH` characters broken where the expression has spaces; the short name alone
    without an expression."""
    expr = expr or target_expr(target)
    if not expr:
        return label(target)
    lines = textwrap.wrap(expr, TITLE_WIDTH, break_long_words=False, break_on_hyphens=False)
    return f"{label(target)}: " + "\n".join(f"${math_text(line)}$" for line in lines)


def math_text(expr: str) -> str:
    """``expr`` as matplotlib mathtext (without the ``$``), as written: ``z_{1}``,
    ``\\mathrm{He}_{3}(z_{1})``, ``\\sqrt{6}``, ``|x|``, exponents in braces, ``*`` left out (a
    ``\\cdot`` between two numbers)."""
    text = expr.replace(" ", "").replace("**", "^")
    out, i = [], 0
    while i < len(text):
        token = _TOKEN.match(text, i)
        i = token.end()
        if token["z"]:
            out.append(f"z_{{{token['z']}}}")
        elif token["call"] or token["group"]:
            close = _closing(text, i - 1)
            inner, i = math_text(text[i:close]), close + 1
            out.append(_call(token["call"], inner) if token["call"] else f"^{{{inner}}}")
        elif token[0] == "^":
            atom = re.match(r"[\d.]+|z\d|[A-Za-z]+", text[i:])
            size = atom.end() if atom else 0
            out.append(f"^{{{math_text(text[i:i + size])}}}")
            i += size
        elif token[0] == "*":
            between_numbers = text[i - 2:i - 1].isdigit() and text[i:i + 1].isdigit()
            out.append(r"\cdot " if between_numbers else "")
        else:
            out.append(token[0])
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis that closes the one at ``start`` (the end when none does)."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return len(text)


def _call(name: str, inner: str) -> str:
    """A function of the target grammar applied to ``inner`` (already mathtext)."""
    if name == "sqrt":
        return rf"\sqrt{{{inner}}}"
    if name == "abs":
        return f"|{inner}|"
    if name.startswith("He"):
        return rf"\mathrm{{He}}_{{{name[2:]}}}({inner})"
    return rf"\mathrm{{{name}}}({inner})"


def _styled(build: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build (and lay out) the figure inside the seaborn style, whatever the global rcParams."""

    @wraps(build)
    def wrapper(*args, **kwargs) -> Figure:
        with mpl.rc_context(STYLE):
            fig = build(*args, **kwargs)
            fig.draw_without_rendering()
        return fig

    return wrapper


def save_figure(fig: Figure, pdf: str | Path, png: str | Path) -> None:
    """Write ``fig`` as PDF and PNG without timestamps or version strings (deterministic bytes)."""
    with mpl.rc_context(STYLE):
        fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
        fig.savefig(png, dpi=DPI, metadata={"Software": None})


def _settings(runs: pd.DataFrame, keys: tuple[str, ...] = ("d", "p"), stat: str = "mean ± sd") -> str:
    """One line of the settings shared by ``runs``: sizes, learning rate, ridge, seeds."""
    parts = []
    for key in keys:
        values = sorted(runs[key].unique())
        parts.append(f"{key} = {', '.join(map(str, values))}")
    rules = runs.drop_duplicates(["lr_rule", "lr_scale"])
    parts.append(r"$\eta$ = " + ", ".join(
        lr_text(r.lr_rule, f"{r.lr_scale:g}") for r in rules.itertuples()))
    parts.append(f"ridge {', '.join(f'{v:g}' for v in sorted(runs['ridge'].unique()))}")
    seeds = runs["seed"].nunique()
    parts.append(f"{seeds} seed{'s' if seeds > 1 else ''} ({stat})")
    return ", ".join(parts)


def _mean_sd(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean and standard deviation (0 for one seed) of ``y`` per value of ``x``."""
    stats = frame.groupby(x)[y].agg(["mean", "std"]).reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    return stats


def _band(ax, stats: pd.DataFrame, x: str, color, label: str | None) -> None:
    """The mean as a line with markers and a shaded band of ± one standard deviation."""
    ax.plot(stats[x], stats["mean"], marker="o", color=color, label=label, ms=4)
    ax.fill_between(stats[x], stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                    color=color, alpha=0.18, lw=0)


def _legend_below(fig: Figure, ax, ncol: int) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def _handles(axes, order: Callable[[str], int] | None = None) -> dict:
    """Legend entries of several axes, each label once, optionally sorted by ``order``."""
    handles = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(name, handle)
    names = sorted(handles, key=order) if order else list(handles)
    return {name: handles[name] for name in names}


def _log_y(ax) -> None:
    """Logarithmic y axis labelled with plain numbers (1, 2, 5, 10, ...)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())


# ---------------------------------------------------------------------------- C5


@_styled
def learning_curves_figure(runs: pd.DataFrame, readings: dict = PAPER_FIGURE1) -> Figure:
    """Test error vs ``kappa`` per target (one panel each) for ``T = 0`` (random features) to
    ``T_max`` giant steps, mean ± sd over seeds; the linear-kernel error (dashed), the error
    floors of the subspaces the ``n ~ d`` staircase predicts (dotted) and the paper's
    Figure-1 readings at ``kappa = 2.25`` (stars)."""
    targets = target_order(runs["target"])
    steps = sorted(runs["t"].unique())
    palette = dict(zip(steps[1:], sns.color_palette("viridis_r", len(steps) - 1)))
    palette[0] = "0.45"
    fig = Figure(figsize=(5.2 * len(targets), 4.6), layout="constrained")
    axes = fig.subplots(1, len(targets), squeeze=False)[0]
    for ax, target in zip(axes, targets):
        one = runs[runs["target"] == target]
        for t in steps:
            name = "random features (T = 0)" if t == 0 else f"T = {t} step{'s' if t > 1 else ''}"
            _band(ax, _mean_sd(one[one["t"] == t], "kappa", "test_error"), "kappa", palette[t], name)
        ax.axhline(one["linear_kernel_error"].iloc[0], color="black", ls="--", lw=1.2, label="linear kernel")
        floors = one[one["t"] >= 1].drop_duplicates("floor").sort_values("t")
        for row in floors.itertuples():
            ax.axhline(row.floor, color=palette[row.t], ls=":", lw=2,
                       label=f"theory floor, {row.predicted_dims} learned dir.")
        for t, value in readings.get(target, {}).items():
            if t not in palette:
                continue
            low, high = value if isinstance(value, tuple) else (value, value)
            ax.errorbar(PAPER_KAPPA + 0.04, (low + high) / 2, yerr=(high - low) / 2 or None, fmt="*",
                        ms=11, color=palette[t], mec="black", mew=0.6, capsize=3, zorder=5,
                        label=f"paper, Fig. 1 ($\\kappa$ = {PAPER_KAPPA:g})" if t == 0 else None)
        variance = one["variance"].iloc[0]
        ax.set_ylim(-0.03 * variance, 1.3 * variance)
        ax.set(xlabel=KAPPA, ylabel="test error", title=title(target, one["expr"].iloc[0]))
    kinds = ("random", "T = ", "linear", "theory", "paper")
    handles = _handles(axes, lambda name: next(i for i, k in enumerate(kinds) if name.startswith(k)))
    fig.legend(handles.values(), handles.keys(), loc="outside right center", frameon=False)
    fig.suptitle("Learning curves (C5): " + _settings(runs), fontsize=10)
    return fig


# ---------------------------------------------------------------------------- C1, C6, C7


LINE_COLORS = {"a > 0": "#08306b", "a < 0": "#7f2704"}


def _line(ax, angle_deg: float, side: float = 0.0, **kwargs) -> None:
    """The line through the origin at ``angle_deg`` across the unit disk, or only its half
    on the side of the sign of ``side`` (a ray) when ``side`` is not 0."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    start = 0.0 if side else -1.0
    sign = -1.0 if side < 0 else 1.0
    ax.plot([start * c * sign, c * sign], [start * s * sign, s * sign], **kwargs)


@_styled
def cosines_figure(neurons: pd.DataFrame, lines: pd.DataFrame) -> Figure:
    """Update-row cosines ``(cos(Delta_i, w*_1), cos(Delta_i, w*_2))`` per target (columns)
    and step (rows), neurons coloured by the sign of ``a_i``, all seeds pooled; the unit
    circle; the theory lines of ``lines`` (:func:`giantstep.reproduce.claims.cosine_lines`): the
    ``mu_1`` line at ``t = 1``, later the population-gradient direction per sign of ``a``,
    drawn as a ray on the side of that group's neurons."""
    neurons = neurons[(neurons["t"] >= 1) & (neurons["target"].isin(lines["target"]))]
    targets = target_order(neurons["target"])
    steps = sorted(neurons["t"].unique())
    fig = Figure(figsize=(3.6 * len(targets), 3.5 * len(steps) + 0.4), layout="constrained")
    axes = fig.subplots(len(steps), len(targets), squeeze=False)
    empty = []
    for j, target in enumerate(targets):
        for i, t in enumerate(steps):
            ax = axes[i, j]
            cloud = neurons[(neurons["target"] == target) & (neurons["t"] == t)]
            if cloud.empty:
                ax.axis("off")
                empty.append(ax)
                continue
            ax.add_patch(Circle((0, 0), 1, fill=False, color="0.5", lw=1, label="unit circle"))
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            groups = np.where(cloud["a"] > 0, "a > 0", "a < 0")
            for group, color in SIGN_COLORS.items():
                points = cloud[groups == group]
                ax.scatter(points["update_cos_1"], points["update_cos_2"], s=5, alpha=0.45, color=color,
                           lw=0, label=f"neurons with {group}", rasterized=True)
            for row in lines[(lines["target"] == target) & (lines["t"] == t)].itertuples():
                if row.group == "all":
                    _line(ax, row.theory_angle, color="black", ls="--", lw=1.4,
                          label=r"theory, $t = 1$: slope $\mu_1[2]/\mu_1[1]$")
                    continue
                points = cloud.loc[groups == row.group, ["update_cos_1", "update_cos_2"]].mean()
                side = points.iloc[0] * math.cos(math.radians(row.theory_angle)) + \
                    points.iloc[1] * math.sin(math.radians(row.theory_angle))
                _line(ax, row.theory_angle, side=side or 1.0, color=LINE_COLORS[row.group], ls="--", lw=1.8,
                      label=f"theory, $t \\geq 2$, {row.group}:\npopulation gradient")
            ax.set(xlim=(-1.08, 1.08), ylim=(-1.08, 1.08), aspect="equal",
                   xlabel=r"$\cos(\Delta_i, w^*_1)$", ylabel=r"$\cos(\Delta_i, w^*_2)$",
                   title=f"{title(target)}\nafter {t} step{'s' if t > 1 else ''}")
    handles = _handles(axes.flat)
    where = dict(loc="center", bbox_to_anchor=(0.5, 0.5), bbox_transform=empty[0].transAxes) if empty \
        else dict(loc="outside lower center", ncol=2)
    fig.legend(handles.values(), handles.keys(), frameon=False, markerscale=3, **where)
    fig.suptitle(r"Cosines of the update rows $\Delta_i = (W_t - W_0)_i$ with the teacher directions "
                 "(C1, C6, C7), all seeds", fontsize=10)
    return fig


# ---------------------------------------------------------------------------- C1, C2


@_styled
def single_step_figure(runs: pd.DataFrame, threshold: float) -> Figure:
    """One giant step vs ``kappa``: update SNR of each teacher direction (the k-th singular
    value of the update in the teacher subspace over its null level, largest singular value
    first) without and with preprocessing, and the test error of both; the learned threshold
    dotted."""
    step = runs[runs["t"] == 1]
    r = int(step["r"].max())
    colors = sns.color_palette("colorblind", max(r, 2))
    fig = Figure(figsize=(13.5, 4.3), layout="constrained")
    axes = fig.subplots(1, 3)
    axes[1].sharey(axes[0])
    names = {"none": "no preprocessing", "remove_linear": "preprocessed (mean and linear part removed)"}
    for ax, (preprocess, name) in zip(axes[:2], names.items()):
        one = step[step["preprocess"] == preprocess]
        for k in range(1, r + 1):
            _band(ax, _mean_sd(one, "kappa", f"snr_{k}"), "kappa", colors[k - 1],
                  f"direction {k} ({'largest' if k == 1 else 'next'} singular value)")
        ax.axhline(threshold, color="black", ls=":", lw=1.5, label=f"learned threshold ({threshold:g})")
        _log_y(ax)
        ax.set(xlabel=KAPPA, ylabel="update SNR", title=name)
    palette = dict(zip(names, sns.color_palette("dark", 2)))
    for preprocess, name in names.items():
        one = step[step["preprocess"] == preprocess]
        if not one.empty:
            _band(axes[2], _mean_sd(one, "kappa", "test_error"), "kappa", palette[preprocess],
                  name.split(" (")[0])
    axes[2].axhline(step["linear_kernel_error"].iloc[0], color="black", ls="--", lw=1.2,
                    label="linear kernel")
    axes[2].set(xlabel=KAPPA, ylabel="test error after one step", title="test error")
    axes[2].legend(loc="best", frameon=True)
    axes[0].legend(loc="upper left", frameon=True)
    target = step["target"].iloc[0]
    fig.suptitle(f"One giant step (C1, C2), {title(target, step['expr'].iloc[0])}: " + _settings(step),
                 fontsize=10)
    return fig


# ---------------------------------------------------------------------------- C3


@_styled
def hard_direction_figure(runs: pd.DataFrame, threshold: float, leap: float) -> Figure:
    """Update SNR along ``z1`` after one step vs ``kappa``, one panel per activation (tanh,
    then the ReLU control), seeds as dots, mean ± sd; the predicted onset ``kappa = leap``.
    Grey: the same singular values against random frames orthogonal to the teacher, the
    level that misses the stronger noise along ``z1``."""
    step = runs[runs["t"] == 1]
    activations = sorted(step["activation"].unique(), key=lambda a: (a != "tanh", a))
    fig = Figure(figsize=(10, 4.3), layout="constrained")
    axes = fig.subplots(1, len(activations), sharey=True, squeeze=False)[0]
    colors = dict(zip(activations, sns.color_palette("colorblind", len(activations))))
    for ax, activation in zip(axes, activations):
        one = step[step["activation"] == activation]
        ax.scatter(one["kappa"], one["snr_1"], s=14, color=colors[activation], alpha=0.5, lw=0,
                   label="one seed")
        _band(ax, _mean_sd(one, "kappa", "snr_1"), "kappa", colors[activation], "mean ± sd")
        if "snr_frames_1" in one:
            frames = _mean_sd(one, "kappa", "snr_frames_1")
            ax.plot(frames["kappa"], frames["mean"], color="0.55", ls="--", marker="s", ms=3, lw=1.2,
                    label="against random frames (uncalibrated)")
        ax.axvline(leap, color="black", ls="--", lw=1.2,
                   label=rf"predicted onset $\kappa$ = leap index = {leap:g}")
        ax.axhline(threshold, color="black", ls=":", lw=1.5, label=f"learned threshold ({threshold:g})")
        role = "sees order 3" if activation == "tanh" else "control" if activation == "relu" else ""
        _log_y(ax)
        ax.set(xlabel=KAPPA, title=f"{activation} student" + (f" ({role})" if role else ""))
    axes[0].set_ylabel(r"update SNR along $z_1$ after one step" "\n(against the noise along the teacher)")
    axes[0].legend(loc="upper left", frameon=True)
    symmetric = "symmetric init, " if step["symmetric"].all() else ""
    fig.suptitle(f"Hard direction (C3), {title(step['target'].iloc[0], step['expr'].iloc[0])}: {symmetric}"
                 + _settings(step), fontsize=10)
    return fig


# ---------------------------------------------------------------------------- C4


@_styled
def staircase_figure(runs: pd.DataFrame) -> Figure:
    """Learned dims per step ``t`` for each target (one panel each): measured per ``d``
    (median over seeds, bars from min to max), the activation-aware prediction (black) and
    the generic one (wide, light)."""
    targets = target_order(runs["target"])
    ncol = min(3, len(targets))
    nrow = math.ceil(len(targets) / ncol)
    dims = sorted(runs["d"].unique())
    colors = dict(zip(dims, sns.color_palette("rocket", len(dims) + 1)[1:]))
    offsets = dict(zip(dims, np.linspace(-0.12, 0.12, len(dims)) if len(dims) > 1 else [0.0]))
    fig = Figure(figsize=(4.2 * ncol, 3.3 * nrow + 0.7), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax in axes.flat[len(targets):]:
        ax.axis("off")
    for ax, target in zip(axes.flat, targets):
        one = runs[runs["target"] == target]
        theory = one.drop_duplicates("t").sort_values("t")
        ax.plot(theory["t"], theory["predicted_dims_generic"], drawstyle="steps-mid", color="#9ecae1",
                lw=6, alpha=0.9, label="predicted, generic activation", solid_capstyle="butt")
        ax.plot(theory["t"], theory["predicted_dims"], drawstyle="steps-mid", color="black", lw=1.6,
                label=f"predicted, {one['activation'].iloc[0]}-aware")
        for d in dims:
            stats = one[one["d"] == d].groupby("t")["learned_dims"].agg(["median", "min", "max"])
            x = stats.index.to_numpy() + offsets[d]
            spread = [stats["median"] - stats["min"], stats["max"] - stats["median"]]
            ax.errorbar(x, stats["median"], yerr=spread, fmt="o", ms=5, color=colors[d], capsize=2,
                        label=f"measured, d = {d}")
        r = int(one["r"].iloc[0])
        ax.set(xlabel="step t", ylabel="learned directions", title=title(target, one["expr"].iloc[0]),
               ylim=(-0.3, r + 0.3), yticks=range(r + 1), xticks=sorted(one["t"].unique()))
    _legend_below(fig, axes.flat[0], ncol=2 + len(dims))
    alphas = ", ".join(f"{a:g}" for a in sorted(runs["alpha"].round(2).unique()))
    fig.suptitle(f"Staircase (C4): n = {alphas} d per step, " + _settings(runs, ("p",), "median and range"),
                 fontsize=10)
    return fig


@_styled
def staircase_climb_figure(runs: pd.DataFrame) -> Figure:
    """The climb vs ``d``, one panel per target (V3, then N, S3, C): the first step at which
    the timed number of directions (3; 2 for C) is *aligned* (filled, median over seeds with
    bars from the fastest to the slowest seed) and *learned* (detectable, open and lighter).
    A run that does not get there within ``T`` is drawn in the shaded band above ``T``; the
    activation-aware prediction is the dashed line, or said at the foot of the panel."""
    summary = climb_summary(runs)
    summary = summary[summary["alpha"] == summary["alpha"].max()]
    present = list(dict.fromkeys(summary["target"]))
    targets = [t for t in SCALING_TARGETS if t in present] + [t for t in present if t not in SCALING_TARGETS]
    dims = sorted(summary["d"].unique())
    T = int(summary["T"].max())
    top = T + 1.5  # where "not within T" is drawn
    colors = {"aligned": "#1b7837", "learned": "#a6dba0"}
    shifts = {"aligned": 0.04, "learned": -0.04}
    fig = Figure(figsize=(3.7 * len(targets), 4.5), layout="constrained")
    axes = fig.subplots(1, len(targets), sharey=True, squeeze=False)[0]
    for ax, target in zip(axes, targets):
        one = summary[summary["target"] == target].sort_values("d")
        level = int(one["level"].iloc[0])
        ax.axhspan(T + 0.75, T + 2.25, color="0.92", lw=0, zorder=0)
        for measure in ("learned", "aligned"):
            x = one["d"].to_numpy(float) * 2.0 ** shifts[measure]
            y, low, high = (np.where(np.isfinite(one[f"{measure}_{k}"]), one[f"{measure}_{k}"], top)
                            for k in ("median", "min", "max"))
            color = colors[measure]
            ax.plot(x, y, color=color, lw=1.4)
            ax.vlines(x, low, high, color=color, lw=1.8)
            ax.plot(x, y, "o" if measure == "aligned" else "s", ms=6, color=color,
                    mfc=color if measure == "aligned" else "white", mew=1.6,
                    label="aligned (O(1) overlap)" if measure == "aligned" else "learned (detectable, SNR)")
        predicted = one["predicted_at"].dropna()
        if not predicted.empty:
            ax.axhline(predicted.min(), color="black", ls="--", lw=1.3,
                       label=f"predicted, {runs['activation'].iloc[0]}-aware")
        else:
            ax.text(0.5, 0.08, f"{runs['activation'].iloc[0]}-aware prediction: never {level}",
                    transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3")
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
        ax.set_xlim(dims[0] / 1.4, dims[-1] * 1.4)
        role = SCALING_TARGETS.get(target, ("",))[0]
        name = title(target, runs.loc[runs["target"] == target, "expr"].iloc[0])
        ax.set(xlabel="input dimension d", ylabel=f"first step t with {level} directions",
               title=f"{name}\n({role})" if role else name)
        ax.yaxis.set_tick_params(labelleft=True)
    axes[0].set_ylim(0.4, T + 2.25)
    axes[0].set_yticks(list(range(1, T + 1, 2 if T > 8 else 1)) + [top],
                       [str(t) for t in range(1, T + 1, 2 if T > 8 else 1)] + [f">{T}"])
    handles = _handles(axes)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(f"Staircase climb vs d (C4), n = {summary['alpha'].max():g} d per step: "
                 + _settings(runs, ("p",), "median and range"), fontsize=10)
    return fig


@_styled
def figure1_fit_figure(runs: pd.DataFrame) -> Figure:
    """The ``figure1`` sweep: test error at kappa = 2.25 vs width ``p/d`` (log scale), one
    line per step size ``eta = c p``, one panel per target and reading ``T = 0, 1, 6``; the
    paper's reading as a grey band of ± the level tolerance, the chosen setting circled."""
    fit = figure1_fit(runs)
    chosen = fit.iloc[0]
    at = runs[np.isclose(runs["kappa"], PAPER_KAPPA, atol=0.01)]
    scales = sorted(at["lr_scale"].unique())
    colors = dict(zip(scales, sns.color_palette("flare", len(scales))))
    fig = Figure(figsize=(10, 6.2), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True, squeeze=False)
    for row, target in zip(axes, ("hermite_124", "two_stair")):
        for ax, T in zip(row, (0, 1, 6)):
            one = at[(at["target"] == target) & (at["t"] == T)].assign(p_over_d=lambda f: f["p"] / f["d"])
            ax.set(title=f"{label(target)}, T = {T}", xlabel="width p / d" if target == "two_stair" else "")
            if one.empty:
                ax.text(0.5, 0.5, f"T = {T} not run at this scale", transform=ax.transAxes, ha="center")
                continue
            for scale in scales:
                _band(ax, _mean_sd(one[one["lr_scale"] == scale], "p_over_d", "test_error"), "p_over_d",
                      colors[scale], r"$\eta$ = " + lr_text(one["lr_rule"].iloc[0], f"{scale:g}"))
            reading = PAPER_FIGURE1[target][T]
            low, high = reading if isinstance(reading, tuple) else (reading, reading)
            ax.axhspan(low - LEVEL_TOLERANCE, high + LEVEL_TOLERANCE, color="0.85", lw=0, zorder=0,
                       label=f"paper ± {LEVEL_TOLERANCE:g}")
            ax.plot(chosen["p_over_d"], chosen[f"{label(target)}_T{T}"], "o", ms=13, mfc="none", mec="black",
                    mew=1.4, label="chosen setting")
            ax.set_xscale("log", base=2)
            ratios = sorted(at["p"].unique() / at["d"].iloc[0])
            ax.set_xticks(ratios, [f"{Fraction(r).limit_denominator(64)}" for r in ratios])
            ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
        row[0].set_ylabel(rf"test error at $\kappa$ = {PAPER_KAPPA:g}")
    handles = _handles(axes.ravel())
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), frameon=False)
    seeds = at["seed"].nunique()
    fig.suptitle(f"Figure 1's setting (C5), d = {int(chosen['d'])}, "
                 + rf"$\kappa$ = {PAPER_KAPPA:g}: chosen p = {int(chosen['p'])}, " + r"$\eta$ = "
                 + lr_text(chosen["lr_rule"], f"{chosen['lr_scale']:g}")
                 + f", largest distance to a reading {chosen['max_distance']:.3f}; ridge "
                 + ", ".join(f"{v:g}" for v in sorted(at["ridge"].unique()))
                 + f", {seeds} seed{'s' if seeds > 1 else ''} (mean ± sd)", fontsize=10)
    return fig


# ---------------------------------------------------------------------------- registry


def _hard_direction(tables: dict[str, pd.DataFrame]) -> Figure:
    runs, theory = tables["runs"], tables["theory"]
    row = theory[theory["target"] == runs["target"].iloc[0]]
    leap = float(str(row["leap_index"].iloc[0]).split(",")[0])
    return hard_direction_figure(runs, learned_threshold(runs), leap)


# Figure name -> builder from its tables (keys: the named inputs of its workflow rule).
FIGURES: dict[str, Callable[[dict[str, pd.DataFrame]], Figure]] = {
    "learning_curves": lambda tables: learning_curves_figure(tables["runs"]),
    "cosines": lambda tables: cosines_figure(tables["neurons"], tables["lines"]),
    "single_step": lambda tables: single_step_figure(tables["runs"], learned_threshold(tables["runs"])),
    "hard_direction": _hard_direction,
    "staircase": lambda tables: staircase_figure(tables["runs"]),
    "staircase_climb": lambda tables: staircase_climb_figure(tables["runs"]),
    "figure1": lambda tables: figure1_fit_figure(tables["runs"]),
    "batch_reuse": _styled(batch_reuse.figure),
}
