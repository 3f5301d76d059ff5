"""Beyond the paper: batch reuse (the ``batch_reuse`` plan, docs/method.md "Beyond the paper").

The follow-up (Dandi et al. 2024, arXiv 2402.03220) trains on one batch for every step and
reports that this learns directions one pass over fresh batches cannot, except for targets even
in the hidden direction. Here, from the plan's tidy tables (pandas only, no torch):

- :func:`anchor_table`: the follow-up's published simulation (``conf/reference/batch_reuse.yaml``)
  against ours, per step: median and quartiles of ``|<w_i, w*_j>|`` over seeds and neurons, and
  the network's own error, beside the same protocol on fresh batches;
- :func:`regime_table`: fresh vs reused batches (``resample_every`` 1, k, 0) per target, width,
  ``alpha`` and step size: the calibrated SNR and the alignment of the second principal direction
  of the teacher plane (the one orthogonal to what the first step learns), seed by seed;
- :func:`beyond_checks`: the section's checks, judged by :func:`giantstep.reproduce.claims.verdict`;
- :func:`batch_reuse_figure`: the anchor and the regime map.

The anchor is the follow-up's setting (``tanh_he3``, ``p = 2``, ``c = 0.2``) at the largest ``d`` of
the plan. Measures at the last step ``T`` unless said; "learned" is the run's own SNR test.
With a reused batch the SNR's null is a first-order "same batch" level (docs/method.md): the
tables say so in their ``batches`` column.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from giantstep.paths import conf_dir
from giantstep.reproduce.claims import Check
from giantstep.reproduce.labels import fmt

ANCHOR = {"target": "tanh_he3", "p": 2, "lr_scale": 0.2}  # the follow-up's setting, besides d
CONTROL = "tanh_he2"  # even in the hidden direction z2: reuse should not reveal it
MAGNETISATION_TOLERANCE = 0.04  # |our median |m_j| - published| per step and direction
ERROR_TOLERANCE = 0.02  # |our mean network error - published gen_error| per step
BATCHES = {1: "fresh", 0: "one batch"}  # resample_every -> name; k > 1: "every k"


def batches_name(resample_every: int) -> str:
    """``fresh``, ``one batch`` or ``k steps per batch``."""
    return BATCHES.get(int(resample_every), f"{int(resample_every)} steps per batch")


def reference() -> pd.DataFrame:
    """The published numbers, one row per evaluation ``t``, and their source (``attrs``)."""
    spec = yaml.safe_load((conf_dir() / "reference" / "batch_reuse.yaml").read_text())
    frame = pd.DataFrame(spec["steps"])
    frame.attrs["source"] = spec["source"]
    return frame


def _anchor_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the follow-up's setting at the plan's largest ``d`` (both batch modes)."""
    mask = np.logical_and.reduce([np.isclose(runs[key], value) if key != "target" else runs[key] == value
                                  for key, value in ANCHOR.items()])
    setting = runs[mask & (runs["lr_rule"] == "n_over_d")]
    return setting[setting["d"] == setting["d"].max()]


def _projection_quartiles(neurons: pd.DataFrame, j: int) -> pd.DataFrame:
    """Per ``t``: quartiles of ``|projection_j|`` over seeds and neurons."""
    grouped = neurons.assign(m=neurons[f"projection_{j}"].abs()).groupby("t")["m"]
    return pd.DataFrame({f"q25_{j}": grouped.quantile(0.25), f"median_{j}": grouped.median(),
                         f"q75_{j}": grouped.quantile(0.75)})


def anchor_table(runs: pd.DataFrame, neurons: pd.DataFrame) -> pd.DataFrame:
    """One row per step ``t``: ours (one batch) vs published, median |m_1|, |m_2| and their
    quartiles, the differences, the mean network error vs the published ``gen_error``, and the
    medians of the same protocol on fresh batches; ``d`` and ``seeds`` of our runs."""
    anchor = _anchor_runs(runs)
    published = reference().set_index("t")
    rows = {}
    for mode in (0, 1):
        cells = set(anchor.loc[anchor["resample_every"] == mode, "cell"])
        ours = neurons[neurons["cell"].isin(cells)]
        rows[mode] = pd.concat([_projection_quartiles(ours, j) for j in (1, 2)], axis=1)
        rows[mode]["error"] = anchor[anchor["resample_every"] == mode].groupby("t")["network_error"].mean()
    reuse, fresh = rows[0], rows[1]
    table = pd.DataFrame({"t": reuse.index, "d": int(anchor["d"].max()), "seeds": anchor["seed"].nunique()})
    for j in (1, 2):
        table[f"ours_{j}"] = reuse[f"median_{j}"].to_numpy()
        table[f"ours_q25_{j}"] = reuse[f"q25_{j}"].to_numpy()
        table[f"ours_q75_{j}"] = reuse[f"q75_{j}"].to_numpy()
        table[f"published_{j}"] = published.loc[reuse.index, f"median_{j}"].to_numpy()
        table[f"diff_{j}"] = table[f"ours_{j}"] - table[f"published_{j}"]
    table["error"] = reuse["error"].to_numpy()
    table["published_error"] = published.loc[reuse.index, "gen_error"].to_numpy()
    for j in (1, 2):
        table[f"fresh_{j}"] = fresh[f"median_{j}"].reindex(reuse.index).to_numpy()
    table["fresh_error"] = fresh["error"].reindex(reuse.index).to_numpy()
    return table


def regime_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per target, ``d``, ``p``, ``alpha``, step size and batch mode (the anchor's cells
    left out): at ``T``, the mean over seeds of ``snr_1``, ``snr_2``, ``d align_1`` and ``d align_2``
    (``d`` times the mean squared cosine along each principal teacher direction; 0 at a zero-overlap
    init, about 1 for a random one), the largest ``snr_2`` at any step and seed, the seeds with
    two directions learned at some step, the mean network error at ``T`` (NaN where it overflowed),
    and what the SNR's null means (``batches``)."""
    anchor_d = _anchor_runs(runs)["d"].max()
    runs = runs[runs["d"] != anchor_d]
    keys = ["target", "d", "p", "alpha", "lr_rule", "lr_scale", "resample_every"]
    rows = []
    for values, one in runs.groupby(keys, sort=True):
        last = one[one["t"] == one["t"].max()]
        setting = dict(zip(keys, values))
        rows.append({
            "target": setting["target"], "d": int(setting["d"]), "p": int(setting["p"]),
            "alpha": float(setting["alpha"]), "eta": float(one["eta"].iloc[0]),
            "lr_scale": float(setting["lr_scale"]), "resample_every": int(setting["resample_every"]),
            "mode": batches_name(setting["resample_every"]), "T": int(one["t"].max()),
            "seeds": one["seed"].nunique(),
            "snr_1": float(last["snr_1"].mean()), "snr_2": float(last["snr_2"].mean()),
            "max_snr_2": float(one["snr_2"].max()),
            "d_align_1": float((last["d"] * last["align_1"]).mean()),
            "d_align_2": float((last["d"] * last["align_2"]).mean()),
            "learned_2": int(one[one["learned_dims"] >= 2]["seed"].nunique()),
            "network_error": float(last["network_error"].mean()),
            "threshold": float(one["threshold"].iloc[0]),
            "batches": "independent" if setting["resample_every"] == 1 else "same batch (first order)",
        })
    return pd.DataFrame(rows)


def _beats(one: pd.DataFrame) -> tuple[bool, str]:
    """Whether some reuse mode learns the second direction in more seeds than fresh batches
    (with more seeds than half), and the seeds per mode as text."""
    counts = {int(r.resample_every): int(r.learned_2) for r in one.itertuples()}
    seeds = int(one["seeds"].max())
    fresh = counts.get(1, 0)
    beats = any(k != 1 and n > fresh and n > seeds / 2 for k, n in counts.items())
    order = sorted(counts, key=lambda k: (k == 0, k))  # fresh, k steps per batch, one batch
    return beats, ", ".join(f"{batches_name(k)} {counts[k]}/{seeds}" for k in order)


def beyond_checks(anchor: pd.DataFrame | None, regime: pd.DataFrame | None) -> list[Check]:
    """The checks of "Beyond the paper": the anchor's levels (every step within the tolerances
    of the published medians and errors), and the follow-up's shape on the regime map: reusing a
    batch learns the second direction where fresh batches do not, in at least one setting, and
    never for the even control."""
    checks = []
    if anchor is not None:
        steps = anchor[anchor["t"] >= 1]
        worst = float(steps[["diff_1", "diff_2"]].abs().max().max())
        size = f"d = {int(anchor['d'].iloc[0])}, {int(anchor['seeds'].iloc[0])} seeds"
        checks.append(Check("B1", f"anchor: median |<w_i, w*_j>| per step vs published ({size})",
                            f"every |diff| <= {MAGNETISATION_TOLERANCE:g}, t = 1..{int(steps['t'].max())}",
                            f"largest {worst:.3f}", worst <= MAGNETISATION_TOLERANCE, "level"))
        gap = float((steps["error"] - steps["published_error"]).abs().max())
        checks.append(Check("B1", "anchor: the network's own test error per step vs published gen_error",
                            f"every |diff| <= {ERROR_TOLERANCE:g}", f"largest {gap:.3f}",
                            gap <= ERROR_TOLERANCE, "level"))
    if regime is not None:
        main = regime[regime["target"] != CONTROL]
        won = []
        for (p, alpha, scale), one in main.groupby(["p", "alpha", "lr_scale"]):
            beats, text = _beats(one)
            won += [f"p = {p}, alpha = {fmt(alpha)}, c = {fmt(scale)}: {text}"] if beats else []
        settings = main.groupby(["p", "alpha", "lr_scale"]).ngroups
        checks.append(Check("B1", "reuse learns the second direction where fresh batches do not",
                            "in some setting, a reuse mode learns 2 directions in more seeds than fresh, "
                            "and in most seeds", "; ".join(won) or f"in none of {settings} settings",
                            bool(won)))
        control = regime[(regime["target"] == CONTROL) & (regime["resample_every"] != 1)]
        if not control.empty:
            leaks = int(control["learned_2"].sum())
            checks.append(Check("B1", "even control (tanh(z1 + He2(z2))): reuse does not learn z2",
                                "no seed of a reuse mode learns 2 directions",
                                f"{leaks} seed(s) of {int(control['seeds'].sum())}", leaks == 0))
    return checks


def batch_reuse_figure(anchor: pd.DataFrame, regime: pd.DataFrame) -> Figure:
    """(a) The anchor: median |<w_i, w*_j>| per step, ours (one batch, quartile bars; fresh batches
    dashed) against the published medians; (b) the regime map: ``snr_2`` at ``T`` (mean over
    seeds) against ``p`` per batch mode, step size and ``alpha`` (line style), the even control
    in grey."""
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    left, right = fig.subplots(1, 2)
    colors = {1: "#1b9e77", 2: "#d95f02"}
    for j in (1, 2):
        color = colors[j]
        ours = anchor[f"ours_{j}"]
        bars = [ours - anchor[f"ours_q25_{j}"], anchor[f"ours_q75_{j}"] - ours]
        left.errorbar(anchor["t"], ours, yerr=bars, color=color, marker="o", capsize=3,
                      label=f"ours, one batch, |m_{j}|")
        left.plot(anchor["t"], anchor[f"published_{j}"], "x", ms=9, mew=2, color=("black", "0.45")[j - 1],
                  label=f"published, |m_{j}|")
        left.plot(anchor["t"], anchor[f"fresh_{j}"], ls="--", color=color, alpha=0.7,
                  label=f"ours, fresh, |m_{j}|")
    left.set(xlabel="step t", ylabel="median |<w_i, w*_j>| over seeds and neurons",
             title=f"(a) anchor: tanh(z1 + He3(z2)), d = {int(anchor['d'].iloc[0])}, p = 2, n = 3d")
    left.legend(fontsize=8, ncol=2)
    markers = {1: "o", 2: "s", 0: "^"}
    alphas = sorted(regime["alpha"].unique())
    styles = dict(zip(alphas, ("-", "-.", "--")))
    keys = ["target", "alpha", "lr_scale", "resample_every"]
    for (target, alpha, scale, mode), one in regime.groupby(keys):
        control = target == CONTROL
        color = "0.6" if control else ("#1f77b4" if scale == regime["lr_scale"].min() else "#9467bd")
        shown_alpha = f"alpha = {fmt(alpha)}, " if len(alphas) > 1 else ""
        right.plot(one["p"], one["snr_2"], marker=markers.get(mode, "D"),
                   ls=":" if control else styles[alpha], color=color, mfc="white" if mode == 1 else None,
                   label=f"{'control ' if control else ''}{shown_alpha}c = {fmt(scale)}, "
                         f"{batches_name(mode)}")
    right.axhline(regime["threshold"].max(), color="black", lw=1, ls="--", label="learned above")
    right.set_xscale("log", base=2)
    widths = sorted(regime["p"].unique())
    right.set_xticks(widths, [str(p) for p in widths])
    right.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    right.set(xlabel="width p", ylabel="SNR of the second direction at T (mean over seeds)",
              title="(b) regime map: fresh vs reused batches")
    right.legend(fontsize=7, ncol=2)
    return fig


def figure(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """:func:`batch_reuse_figure` from the workflow's tables ``anchor`` and ``regime``."""
    return batch_reuse_figure(tables["anchor"], tables["regime"])


def beyond_section(anchor: pd.DataFrame | None, regime: pd.DataFrame | None) -> dict | None:
    """What the report's "Beyond the paper" section says: the checks (rows for a Markdown table),
    their verdict, and the numbers behind the closing sentences; None when the plan did not run."""
    from giantstep.reproduce.claims import verdict

    checks = beyond_checks(anchor, regime)
    if not checks:
        return None
    section = {"verdict": verdict(checks), "checks": pd.DataFrame(
        [{"check": c.check, "kind": c.kind, "rule": c.rule, "value": c.value,
          "passed": "yes" if c.passed else "**no**"} for c in checks])}
    if anchor is not None:
        last = anchor.iloc[-1]
        section["anchor"] = {"d": int(last["d"]), "seeds": int(last["seeds"]), "T": int(last["t"]),
                             "ours": (last["ours_1"], last["ours_2"]),
                             "published": (last["published_1"], last["published_2"]),
                             "fresh": (last["fresh_1"], last["fresh_2"]),
                             "error": last["error"], "published_error": last["published_error"],
                             "fresh_error": last["fresh_error"],
                             "ratio": last["ours_2"] / last["ours_1"]}
    if regime is not None:
        main = regime[regime["target"] != CONTROL]
        by_mode = main.groupby("mode")
        section["regime"] = {
            "widths": sorted(main["p"].unique().tolist()), "d": int(main["d"].max()),
            "T": int(main["T"].max()),
            "alphas": [fmt(a) for a in sorted(main["alpha"].unique())],
            "largest_scale": fmt(main["lr_scale"].max()),
            "snr_2": {mode: float(one["snr_2"].max()) for mode, one in by_mode},
            "d_align_2": {mode: float(one["d_align_2"].max()) for mode, one in by_mode},
            "learned_2": int(main["learned_2"].sum()), "runs": int(main["seeds"].sum()),
            "first": _first_direction_gap(main),
            "control_snr_2": float(regime.loc[regime["target"] == CONTROL, "snr_2"].max())
            if (regime["target"] == CONTROL).any() else None,
        }
    return section


def _first_direction_gap(main: pd.DataFrame) -> dict:
    """Per width: ``d align_1`` at ``T`` with fresh batches and with one batch, at the smallest step size."""
    rows = main[np.isclose(main["lr_scale"], main["lr_scale"].min())]
    pivot = rows.pivot_table(index="p", columns="resample_every", values="d_align_1", aggfunc="mean")
    return {int(p): (float(r.get(1, np.nan)), float(r.get(0, np.nan))) for p, r in pivot.iterrows()}
