"""What changes between two scales of the same plans (no torch): the verdict of each claim,
the checks whose outcome differs, and how far the learning curves lie from the paper's
Figure 1 readings at each scale's d.

Each function takes the tables of two scales as ``{scale: tables}`` (the tables as the report
reads them: ``claims``, ``comparison`` = ``learning_curves_vs_paper``, ``figure1``), the scale
with the smaller ``d`` first where the tables tell it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from giantstep.reproduce.labels import FIGURE1_READINGS, label, reading_text
from giantstep.reproduce.tables import reading_distance

Tables = Mapping[str, pd.DataFrame]


def curves_d(tables: Tables) -> int | None:
    """``d`` of a scale's learning curves (from its settings table), if it ran them."""
    settings = tables.get("settings")
    if settings is None or "learning_curves" not in set(settings["figure"]):
        return None
    return int(re.match(r"\d+", str(settings.set_index("figure").loc["learning_curves", "d"]))[0])


def verdicts(scales: Mapping[str, Tables]) -> pd.DataFrame:
    """One row per claim: its verdict at each scale, and whether it changed."""
    columns = {scale: t["claims"].drop_duplicates("claim").set_index("claim")["verdict"]
               for scale, t in scales.items()}
    table = pd.DataFrame(columns).rename_axis("claim").reset_index().fillna("not run")
    table["changed"] = table[list(scales)].nunique(axis=1).gt(1).map({True: "yes", False: ""})
    return table


def changed_checks(scales: Mapping[str, Tables]) -> pd.DataFrame:
    """The checks that pass at one scale and fail at the other, with both values. Checks are
    matched by claim and by their place in the claim's list (their wording names the scale's
    own d), only where a claim has as many checks at both scales."""
    (small, a), (large, b) = scales.items()
    rows = []
    for claim, first in a["claims"].groupby("claim", sort=False):
        second = b["claims"][b["claims"]["claim"] == claim]
        if len(first) != len(second) or (first["check"] == "-").any() or (second["check"] == "-").any():
            continue
        for x, y in zip(first.itertuples(), second.itertuples()):
            if bool(x.passed) != bool(y.passed):
                rows.append({"claim": claim, "check": y.check, f"{small}": x.value, f"{large}": y.value,
                             "passes at": large if y.passed else small})
    return pd.DataFrame(rows, columns=["claim", "check", small, large, "passes at"])


def reading_gaps(scales: Mapping[str, Tables]) -> pd.DataFrame | None:
    """Per Figure 1 reading: the learning curve's error at each scale and its distance to the
    reading, and whether the distance shrinks from the first scale to the second; None unless
    both scales ran the learning curves."""
    curves = {scale: t.get("comparison") for scale, t in scales.items()}
    if any(c is None or c.empty for c in curves.values()):
        return None
    rows = []
    for target, T, reading in FIGURE1_READINGS:
        row = {"reading": f"{label(target)} T={T}", "paper": reading_text(reading)}
        gaps = []
        for scale, table in curves.items():
            match = table[(table["target"] == label(target)) & (table["T"] == T)]
            error = float(match["error_mean"].iloc[0]) if not match.empty else float("nan")
            gaps.append(reading_distance(error, reading))
            row[f"{scale} error"], row[f"{scale} off"] = error, gaps[-1]
        row["shrinks"] = "yes" if gaps[1] < gaps[0] else "no"
        rows.append(row)
    return pd.DataFrame(rows)
