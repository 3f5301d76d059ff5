"""Figures from small synthetic tables (giantstep.reproduce.figures): panels, overlays, legends, and
byte-identical files on a second save."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.tables import (
    cosine_neurons,
    hard_direction,
    learning_curves,
    run_rows,
    single_step,
    staircase,
    staircase_climb,
)
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from giantstep.reproduce import figures, labels, theory_tables
from giantstep.reproduce import tables as derived


@pytest.fixture(scope="module")
def theory() -> pd.DataFrame:
    return theory_tables.theory_table(["notebook_4z", "hard_he3"])


def legend_texts(fig) -> set[str]:
    return {text.get_text() for legend in fig.legends for text in legend.get_texts()}


def horizontal_levels(ax) -> set[float]:
    """y of the horizontal reference lines (axhline) of ``ax``."""
    levels = set()
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if len(y) == 2 and y[0] == y[1] and tuple(line.get_xdata()) == (0, 1):
            levels.add(round(float(y[0]), 4))
    return levels


def test_learning_curves_has_both_targets_and_every_overlay():
    fig = figures.learning_curves_figure(learning_curves())
    a, b = fig.axes[:2]
    assert a.get_title().startswith("A:") and b.get_title().startswith("B:")
    assert 0.2708 in horizontal_levels(a)  # linear kernel
    assert {1.0, 0.0} <= horizontal_levels(b)  # floors of one and two learned directions
    labels = legend_texts(fig)
    assert {"random features (T = 0)", "T = 1 step", "T = 2 steps", "linear kernel"} <= labels
    assert any(label.startswith("theory floor") for label in labels)
    assert any(label.startswith("paper, Fig. 1") for label in labels)
    assert "d = 128" in fig._suptitle.get_text() and "2 seeds" in fig._suptitle.get_text()


def test_cosines_draws_the_unit_circle_and_the_slope(theory):
    neurons = cosine_neurons(0.25)
    runs = pd.DataFrame([run_rows("cosines", "notebook_4z", 1, cell="target=notebook_4z")])
    lines = theory_tables.cosine_lines(neurons, runs, theory)
    fig = figures.cosines_figure(neurons, lines)
    (ax,) = fig.axes
    assert any(isinstance(patch, Circle) for patch in ax.patches)
    slopes = [np.ptp(line.get_ydata()) / np.ptp(line.get_xdata()) for line in ax.get_lines()
              if np.ptp(line.get_xdata()) > 0]
    assert any(s == pytest.approx(0.25) for s in slopes)
    assert ax.get_xlim() == ax.get_ylim() == (-1.08, 1.08)
    assert {"neurons with a > 0", "neurons with a < 0"} <= legend_texts(fig)


def test_single_step_panels():
    fig = figures.single_step_figure(single_step(), threshold=3.0)
    snr_plain, snr_prep, error = fig.axes
    assert snr_plain.get_yscale() == snr_prep.get_yscale() == "log"
    assert 3.0 in horizontal_levels(snr_plain) and 1.0 in horizontal_levels(error)
    assert "preprocessed" in snr_prep.get_title()


def test_hard_direction_marks_the_predicted_onset():
    fig = figures.hard_direction_figure(hard_direction(), threshold=3.0, leap=3.0)
    tanh, relu = fig.axes
    assert tanh.get_title().startswith("tanh") and relu.get_title().startswith("relu")
    vertical = [line for line in tanh.get_lines() if len(set(line.get_xdata())) == 1]
    assert vertical and vertical[0].get_xdata()[0] == 3.0


def test_staircase_panels_per_target():
    fig = figures.staircase_figure(staircase())
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split(":")[0] for t in titles] == ["B", "S3"]
    assert {"predicted, generic activation", "predicted, relu-aware", "measured, d = 64"} <= legend_texts(fig)


def test_titles_are_the_expressions_of_conf_target_in_math():
    """Each named target's title is its label and the expression of conf/target/<name>.yaml, as
    mathtext that matplotlib draws; a long one is broken where it has spaces."""
    assert figures.math_text("(4*z1 + z1^2 + z2)/2") == "(4z_{1}+z_{1}^{2}+z_{2})/2"
    assert figures.math_text("He3(z1)/sqrt(6) + abs(z2)^(1+z3) - 2*3") == \
        r"\mathrm{He}_{3}(z_{1})/\sqrt{6}+|z_{2}|^{1+z_{3}}-2\cdot 3"
    fig = Figure()
    for target in labels.named_targets():
        text = figures.title(target)
        assert text.startswith(f"{labels.label(target)}: $") and len(text.splitlines()) <= 2
        fig.suptitle(text)
        fig.draw_without_rendering()  # raises on mathtext matplotlib cannot parse
    assert len(figures.title("hermite_124").splitlines()) == 2
    assert figures.title("custom") == "custom" and figures.title("custom", "z1*z2") == "custom: $z_{1}z_{2}$"


def test_saved_files_are_byte_identical(tmp_path):
    for attempt in ("first", "second"):
        fig = figures.staircase_figure(staircase())
        figures.save_figure(fig, tmp_path / f"{attempt}.pdf", tmp_path / f"{attempt}.png")
    assert (tmp_path / "first.pdf").read_bytes() == (tmp_path / "second.pdf").read_bytes()
    assert (tmp_path / "first.png").read_bytes() == (tmp_path / "second.png").read_bytes()
    assert (tmp_path / "first.png").read_bytes()[:4] == b"\x89PNG"


def test_every_figure_has_a_builder(theory):
    assert set(figures.FIGURES) == set(derived.FIGURE_PLANS)
    fig = figures.FIGURES["hard_direction"]({"runs": hard_direction(), "theory": theory})
    assert len(fig.axes) == 2


def test_staircase_climb_marks_runs_not_within_t():
    fig = figures.staircase_climb_figure(staircase_climb(v3_stuck=True))
    panels = {ax.get_title().split(":")[0]: ax for ax in fig.axes[:4]}
    assert list(panels) == ["V3", "N", "S3", "C"]  # in the order of derived.SCALING_TARGETS
    v3, n, s3, c = (panels[k] for k in ("V3", "N", "S3", "C"))
    assert "predicted stuck at 1" in n.get_title() and "t = 2" in c.get_title()
    assert [t.get_text() for t in v3.get_yticklabels()][-1] == ">8"
    assert 3.0 in horizontal_levels(v3) and 2.0 in horizontal_levels(c)  # relu-aware predictions
    assert any("never 3" in text.get_text() for text in s3.texts)

    def medians(ax, marker):
        markers = [line for line in ax.get_lines() if line.get_marker() == marker]
        points = [line.get_ydata() for line in markers if line.get_linestyle() == "None"]
        return sorted(set(np.concatenate(points)))

    assert medians(v3, "o") == [9.5]  # V3 never aligned: every median in the band above T
    assert medians(v3, "s") == [3.0]  # but learned (detectable) at t = 3
    assert medians(n, "o") == [5.0, 6.0, 7.0]
    assert {"aligned (O(1) overlap)", "learned (detectable, SNR)",
            "predicted, relu-aware"} <= legend_texts(fig)
    assert "p = 256" in fig._suptitle.get_text()


def test_figure1_fit_circles_the_chosen_setting():
    runs = pd.concat([learning_curves(levels_off=off).assign(p=p) for p, off in ((64, 0.0), (256, 0.08))])
    fig = figures.figure1_fit_figure(runs)
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "A, T = 0"
    assert "chosen p = 64" in fig._suptitle.get_text()
    assert {"paper ± 0.05", "chosen setting"} <= legend_texts(fig)
