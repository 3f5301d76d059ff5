"""Names, readings and formats shared by the tables, claims, figures and report (no torch).

- :data:`TARGET_LABELS`: the short names of the named targets (A, B, C, S3, N, V3, H3), and
  :func:`target_expr`: their expressions, read from ``conf/target/``;
- :data:`PAPER_FIGURE1`: the paper's Figure 1 read off the plot at ``kappa = 2.25``;
- ordering (:func:`target_order`, :func:`by_target`) and number and time formats used in every table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from giantstep.paths import conf_dir

# Short names of the named targets (docs/method.md §6), used in every figure and table.
TARGET_LABELS = {
    "hermite_124": "A",
    "two_stair": "B",
    "notebook_4z": "C",
    "staircase3": "S3",
    "no_staircase": "N",
    "visible_staircase3": "V3",
    "hard_he3": "H3",
}


# The paper's Figure 1, read off the plot at kappa = 2.25 (test error per number of steps T;
# T = 0 is random features). A pair is a range read for several T.
PAPER_KAPPA = 2.25


PAPER_FIGURE1 = {
    "hermite_124": {0: 0.60, 1: 0.22, 6: 0.13},
    "two_stair": {0: 1.37, 1: 0.32, 4: (0.15, 0.2), 5: (0.15, 0.2), 6: (0.15, 0.2)},
}


FIGURE1_READINGS = [(target, T, reading) for target, readings in PAPER_FIGURE1.items()
                    for T, reading in readings.items() if T in (0, 1, 6)]


def label(target: str) -> str:
    return TARGET_LABELS.get(target, target)


def target_order(targets, first: tuple[str, ...] = ()) -> list[str]:
    """``targets`` (unique) in the order of :data:`TARGET_LABELS`, unknown ones last, those
    of ``first`` before all."""
    known = [*first, *(t for t in TARGET_LABELS if t not in first)]
    return sorted(set(targets), key=lambda t: (known.index(t) if t in known else len(known), t))


def by_target(frame: pd.DataFrame, *columns: str, first: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` sorted by target (in the order of :func:`target_order`), then ``columns``."""
    order = {t: i for i, t in enumerate(target_order(frame["target"], first))}
    return frame.sort_values(["target", *columns], key=lambda c: c.map(order) if c.name == "target" else c,
                             kind="stable", ignore_index=True)


def named_targets() -> list[str]:
    """The targets of ``conf/target/*.yaml`` (less ``custom``), in the order of
    :data:`TARGET_LABELS` first."""
    names = {path.stem for path in (conf_dir() / "target").glob("*.yaml")} - {"custom"}
    return [n for n in TARGET_LABELS if n in names] + sorted(names - set(TARGET_LABELS))


def target_expr(name: str) -> str | None:
    """The expression of the named target ``conf/target/<name>.yaml``; None where there is none
    (a target of the user's own, ``target=custom``)."""
    path = conf_dir() / "target" / f"{name}.yaml"
    expr = yaml.safe_load(path.read_text())["expr"] if path.is_file() else None
    return None if expr in (None, "???") else str(expr)


def fmt(x, digits: int = 3) -> str:
    """A number to ``digits`` significant digits (``nan`` when not finite); anything else as text."""
    if x is None:
        return "nan"
    if isinstance(x, (float, np.floating)):
        return "nan" if not np.isfinite(x) else f"{x:.{digits}g}"
    return str(x)


def numbers(values, digits: int = 3) -> str:
    if values is None:
        return "-"
    return ", ".join("-" if v is None else fmt(v, digits) if isinstance(v, float) else str(v)
                     for v in values)


def reading_text(reading) -> str:
    """A Figure 1 reading as text: ``0.6``, a range ``0.15–0.2``, or empty when there is none."""
    if reading is None:
        return ""
    return f"{reading[0]:g}–{reading[1]:g}" if isinstance(reading, tuple) else f"{reading:g}"


def format_steps(value: float, T: int) -> str:
    """A number of steps, or ``>T`` when not reached within ``T`` (infinite or NaN)."""
    return f"{value:g}" if np.isfinite(value) else f">{T}"


def format_step_range(low: float, high: float, T: int) -> str:
    """The range of steps over seeds: ``5``, ``4–6`` or ``5–>10``."""
    return format_steps(low, T) if low == high else f"{format_steps(low, T)}–{format_steps(high, T)}"


def clock(seconds: float) -> str:
    """``h:mm:ss`` of a number of seconds."""
    minutes, second = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{second:02d}"
