"""``REPORT.md`` of a workflow run, from the tidy tables: per claim its figures, checks and
verdict, the derived tables, and where and why the numbers differ from the paper.

The prose is the Jinja2 template ``templates/REPORT.md.j2``; this module computes the numbers
and lists it fills in (:func:`report_markdown`). A run of some plans reports on the others from
the tables earlier runs left (:func:`on_disk`, :func:`written_at`; docs/design.md "Workflow").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from giantstep.reproduce import scales as across
from giantstep.reproduce.batch_reuse import beyond_section
from giantstep.reproduce.claims import CLAIM_FIGURES, CLAIMS, LEVEL_TOLERANCE, VERDICTS
from giantstep.reproduce.labels import FIGURE1_READINGS, PAPER_KAPPA, fmt, label, reading_text
from giantstep.reproduce.tables import climb_summary, render_markdown, staircase_summary, steps_by_d
from giantstep.rules import lr_text

FIGURE_TITLES = {
    "learning_curves": "Learning curves (C5)",
    "cosines": "Cosine scatters (C1, C6, C7)",
    "single_step": "One giant step: SNR and error vs kappa (C1, C2)",
    "hard_direction": "Hard direction He3(z1)/sqrt(6) (C3)",
    "staircase": "Staircase: learned dims per step (C4)",
    "staircase_climb": "Staircase climb vs d: steps to aligned and to learned directions (C4)",
    "figure1": "Figure 1's setting: error at kappa = 2.25 vs width and step size (C5)",
}
# Tables printed under their own heading (the template's captions), by key of ``tables``.
TABLE_SECTIONS = ("comparison", "staircase_table", "climb_table", "figure1", "theory", "settings")
TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("giantstep.reproduce", "templates"),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
)
# A paragraph wrapped in the template for reading comes out as one line, like every paragraph.
TEMPLATE.filters["oneline"] = lambda text: " ".join(text.split())


def on_disk(paths: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``paths`` whose file exists: the tables of plans outside a workflow run that
    earlier runs left, which the run reads as they are and never rebuilds (it does not own them)."""
    return {key: path for key, path in paths.items() if Path(path).is_file()}


COMPARED_SCALES = ("quick", "paper")  # a report of one compares itself with the other


def other_scales(scale: str, tables: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """{other scale: {key: its ``results/<other>/tables/<name>.csv`` on disk}} for ``tables``
    (key -> table name), for the other of :data:`COMPARED_SCALES` when its claims are on disk."""
    out = {}
    for other in COMPARED_SCALES:
        paths = on_disk({key: f"results/{other}/tables/{name}.csv" for key, name in tables.items()})
        if other != scale and "claims" in paths:
            out[other] = paths
    return out


def written_at(paths: Mapping[str, str]) -> dict[str, str]:
    """{key: when its file was last written, UTC}: what the report says of an earlier run, and a
    rule parameter, so that the rule reruns when an earlier run rewrites a table it reads."""
    return {key: datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc)  # noqa: UP017 (3.10)
            .strftime("%Y-%m-%d %H:%M:%S UTC") for key, path in paths.items()}


def _present(tables: Mapping[str, pd.DataFrame], key: str) -> pd.DataFrame | None:
    table = tables.get(key)
    return None if table is None or table.empty else table


def _figure_settings(tables: Mapping[str, pd.DataFrame], figure: str) -> pd.Series | None:
    """The row of ``figure`` in the settings table, if it has one."""
    settings = tables.get("settings")
    if settings is None or figure not in set(settings["figure"]):
        return None
    return settings.set_index("figure").loc[figure]


def _claims(claims: pd.DataFrame, figures: set[str]) -> list[dict]:
    """Per claim: its statement, verdict, figures built, and checks (a Markdown table; None if not run)."""
    out = []
    for claim in CLAIMS:
        rows = claims[claims["claim"] == claim]
        run = rows["check"].iloc[0] != "-"
        table = rows[["check", "rule", "value", "passed"]].assign(
            passed=rows["passed"].map({True: "yes", False: "**no**"}))
        out.append({"name": claim, "statement": CLAIMS[claim], "verdict": rows["verdict"].iloc[0],
                    "figures": {f: FIGURE_TITLES[f] for f in CLAIM_FIGURES[claim] if f in figures},
                    "checks": render_markdown(table) if run else None,
                    "passed": int(rows["passed"].sum()), "total": len(rows)})
    return out


def _readout(tables: Mapping[str, pd.DataFrame]) -> dict | None:
    """The learning curves at the largest kappa against the paper's readings, grouped by how they compare."""
    comparison = _present(tables, "comparison")
    if comparison is None:
        return None
    groups = {"lower than": [], "within 10 % of": [], "higher than": []}
    for r in comparison[comparison["paper"].fillna("").astype(str) != ""].itertuples():
        low, high = (float(v) for v in (str(r.paper).split("–") * 2)[:2])
        key = "lower than" if r.error_mean < 0.9 * low else "higher than" if r.error_mean > 1.1 * high \
            else "within 10 % of"
        groups[key].append(r)
    kappa = comparison["kappa"].iloc[0]
    return {"settings": _figure_settings(tables, "learning_curves"), "groups": groups,
            "kappa": None if np.isclose(kappa, PAPER_KAPPA) else kappa,
            "below": list(comparison[(comparison["T"] >= 1)
                                     & (comparison["error_mean"] < comparison["floor"])].itertuples())}


def _staircases(runs: pd.DataFrame | None) -> list[dict]:
    """Per staircase and d where the measured dims trail (``late``) or lead the prediction."""
    out = []
    if runs is None:
        return out
    for (target, d), rows in staircase_summary(runs).groupby(["label", "d"], sort=False):
        rows = rows[rows["t"] >= 1]
        late = rows[rows["measured"] < rows["predicted"]]
        early = rows[rows["measured"] > rows["predicted"]]
        top = int(rows["predicted"].max())
        if not late.empty:
            reached = rows[rows["measured"] >= top]
            out.append({"late": True, "target": target, "d": d, "dims": top,
                        "by": int(rows.loc[rows["predicted"] == top, "t"].min()),
                        "reached": int(reached["t"].min()) if not reached.empty else None,
                        "last": int(rows["t"].max())})
        if not early.empty:
            first = early.iloc[0]
            out.append({"late": False, "target": target, "d": d, "t": int(early["t"].min()),
                        "measured": int(first["measured"]), "predicted": int(first["predicted"])})
    return out


def _climb(runs: pd.DataFrame | None) -> dict | None:
    """First step learned, aligned and with an overlap along each coordinate, and the tie of the
    last coordinate at T, per staircase and d, at the largest alpha."""
    if runs is None:
        return None
    summary = climb_summary(runs)
    summary = summary[summary["alpha"] == summary["alpha"].max()]
    return {"T": int(summary["T"].max()), "alpha": summary["alpha"].max(),
            "targets": [{"label": label(target), "level": int(rows["level"].iloc[0]),
                         "learned": steps_by_d(rows, "learned"), "aligned": steps_by_d(rows, "aligned"),
                         "coordinates": steps_by_d(rows, "coordinates"),
                         "ties": "; ".join(f"d = {r.d}: {r.tie:.2f}"
                                           for r in rows.sort_values("d").itertuples())}
                        for target, rows in summary.groupby("target", sort=False)]}


def _hard(runs: pd.DataFrame | None) -> dict | None:
    """The ReLU control of He3(z1): its SNR against random frames and against the noise along the teacher."""
    if runs is None or "snr_frames_1" not in runs:
        return None
    relu = runs[(runs["t"] == 1) & (runs["activation"] == "relu")]
    return {"frames": relu["snr_frames_1"], "snr": relu["snr_1"],
            "above": int((relu["snr_frames_1"] > relu["threshold"]).sum()), "runs": len(relu)}


def _figure1(tables: Mapping[str, pd.DataFrame]) -> dict | None:
    """The chosen Figure 1 setting, its six distances, the best distance to each reading alone,
    and the setting of the learning curves."""
    fit = _present(tables, "figure1")
    if fit is None:
        return None
    best = fit.iloc[0]
    readings = []
    for target, T, reading in FIGURE1_READINGS:
        name = f"{label(target)}_T{T}"
        column = fit[f"dist_{name}"]
        closest = None if column.isna().all() else fit.loc[column.idxmin()]  # NaN: beyond the steps run
        readings.append({"name": f"{label(target)} T={T}", "value": best[name],
                         "reading": reading_text(reading), "off": best[f"dist_{name}"], "closest": closest,
                         "closest_off": None if closest is None else closest[f"dist_{name}"],
                         "missed": column.min() > LEVEL_TOLERANCE})
    eta = lr_text(best["lr_rule"], fmt(best["lr_scale"]))
    curves = _figure_settings(tables, "learning_curves")
    same = curves is not None and str(curves["p"]) == str(int(best["p"])) \
        and str(curves["d"]) == str(int(best["d"])) and curves["eta"] == eta
    return {"settings": len(fit), "best": best, "eta": eta, "readings": readings,
            "within": sum(bool(r["off"] <= LEVEL_TOLERANCE) for r in readings),
            "curves": curves, "same": same}


def _provenance(tables: Mapping[str, pd.DataFrame]) -> dict | None:
    """The total row of the provenance table (runs, seeds, commits, machine, wall time) and the
    table without its columns in seconds."""
    table = _present(tables, "provenance")
    if table is None:
        return None
    shown = table.drop(columns=["run_seconds", "wall_seconds"])
    return {"total": table.iloc[-1], "table": render_markdown(shown)}


def _against(scale: str, tables: Mapping[str, pd.DataFrame],
             others: Mapping[str, Mapping[str, pd.DataFrame]]) -> list[dict]:
    """Per other scale with a claims table: verdicts side by side, the checks whose outcome
    differs, and the distances of the learning curves to the paper's readings at each d."""
    out = []
    for other, theirs in others.items():
        if "claims" not in theirs:
            continue
        pair = {other: theirs, scale: tables}
        if (across.curves_d(tables) or 0) < (across.curves_d(theirs) or 0):
            pair = {scale: tables, other: theirs}
        verdicts = across.verdicts(pair)
        gaps = across.reading_gaps(pair)
        out.append({"scale": other, "order": list(pair),
                    "d": {name: across.curves_d(read) for name, read in pair.items()},
                    "verdicts": render_markdown(verdicts),
                    "changed": list(verdicts.loc[verdicts["changed"] == "yes", "claim"]),
                    "checks": render_markdown(checks) if not (checks := across.changed_checks(pair)).empty
                    else None,
                    "gaps": None if gaps is None else render_markdown(gaps),
                    "shrinks": None if gaps is None else int((gaps["shrinks"] == "yes").sum()),
                    "readings": 0 if gaps is None else len(gaps)})
    return out


def report_markdown(scale: str, tables: Mapping[str, pd.DataFrame], figures: list[str],
                    earlier: Mapping[str, str] | None = None,
                    others: Mapping[str, Mapping[str, pd.DataFrame]] | None = None) -> str:
    """``REPORT.md`` of a workflow run.

    ``tables``: ``claims`` (:func:`giantstep.reproduce.claims.evaluate_claims`), and where present
    ``comparison``, ``staircase_table``, ``climb_table``, ``figure1``, ``theory``, ``settings``,
    ``provenance`` and the runs tables ``staircase``, ``staircase_climb`` and ``hard_direction``;
    ``figures``: names of the figures built (``figures/<name>.png``); ``earlier``: {plan: when its
    runs table was written} of the plans read from earlier runs rather than run by this one;
    ``others``: {scale: its ``claims``, ``comparison`` and ``settings`` tables} of other scales on
    disk, compared with this one.
    """
    claims = tables["claims"]
    verdicts = claims.drop_duplicates("claim")["verdict"]
    return TEMPLATE.get_template("REPORT.md.j2").render(
        scale=scale, earlier=earlier or {}, verdicts=VERDICTS,
        provenance=_provenance(tables), against=_against(scale, tables, others or {}),
        counts={v: int((verdicts == v).sum()) for v in VERDICTS if (verdicts == v).any()},
        claims=_claims(claims, set(figures)), figure1=_figure1(tables),
        tables={key: render_markdown(table) for key in TABLE_SECTIONS
                if (table := _present(tables, key)) is not None},
        readout=_readout(tables), staircases=_staircases(_present(tables, "staircase")),
        climb=_climb(_present(tables, "staircase_climb")), hard=_hard(_present(tables, "hard_direction")),
        paper_kappa=PAPER_KAPPA, tolerance=LEVEL_TOLERANCE,
        beyond=_beyond(tables, "batch_reuse" in figures),
    )


def _beyond(tables: Mapping[str, pd.DataFrame], figure: bool) -> dict | None:
    """"Beyond the paper" (the ``batch_reuse`` plan): its checks, verdict and numbers, its tables
    rendered, and whether its figure was built."""
    anchor, regime = _present(tables, "batch_reuse_anchor"), _present(tables, "batch_reuse_map")
    section = beyond_section(anchor, regime)
    if section is not None:
        section.update(checks=render_markdown(section["checks"]), figure=figure,
                       anchor_table=None if anchor is None else render_markdown(anchor),
                       regime_table=None if regime is None else render_markdown(regime))
    return section
