"""Verdict rules, derived tables and REPORT.md on small synthetic tables (giantstep.reproduce.claims,
giantstep.reproduce.report). Each rule is shown to pass on a table shaped like the paper's claim and
to flip on a broken one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers.tables import (
    THRESHOLD,
    cosine_neurons,
    hard_direction,
    learning_curves,
    run_rows,
    single_step,
    staircase,
    staircase_climb,
)

from giantstep.reproduce import claims, labels, report, theory_tables
from giantstep.reproduce import tables as derived
from giantstep.reproduce.claims import evaluate_claims, verdict
from giantstep.rules import LR_RULES, lr_text
from giantstep.schema import LrRule
from giantstep.targets import Target
from giantstep.train import learning_rate


@pytest.fixture(scope="module")
def theory() -> pd.DataFrame:
    return theory_tables.theory_table(["hermite_124", "two_stair", "notebook_4z", "staircase3", "hard_he3"])


def outcome(tables: dict, claim: str) -> str:
    frame = evaluate_claims(tables, THRESHOLD)
    return frame.loc[frame["claim"] == claim, "verdict"].iloc[0]


def failed_checks(tables: dict, claim: str) -> list[str]:
    frame = evaluate_claims(tables, THRESHOLD)
    return frame.loc[(frame["claim"] == claim) & ~frame["passed"], "check"].tolist()


def test_verdict_rule():
    def checks(*outcomes):
        return [claims.Check("C0", "-", "-", "-", passed, kind) for passed, kind in outcomes]

    assert verdict(checks((True, "shape"), (True, "level"))) == "reproduced"
    assert verdict(checks((True, "shape"), (False, "level"))) == "shape reproduced, levels differ"
    assert verdict(checks((True, "shape"), (False, "shape"), (True, "level"))) == "partly"
    assert verdict(checks((False, "shape"), (True, "level"))) == "partly"
    assert verdict(checks((False, "shape"), (False, "level"))) == "not reproduced"
    assert verdict([]) == "not run"
    assert set(claims.VERDICTS) == {"reproduced", "shape reproduced, levels differ", "partly",
                                    "not reproduced", "not run"}


def test_claims_without_tables_are_not_run():
    frame = evaluate_claims({}, THRESHOLD)
    assert list(frame["claim"]) == list(claims.CLAIMS)
    assert set(frame["verdict"]) == {"not run"}


@pytest.mark.parametrize(
    ("claim", "build", "key"),
    [
        ("C2", single_step, "single_step"),
        ("C3", hard_direction, "hard_direction"),
        ("C4", staircase, "staircase"),
        ("C4", staircase_climb, "staircase_climb"),
        ("C5", learning_curves, "learning_curves"),
    ],
)
def test_verdict_flips_on_a_broken_table(claim, build, key, theory):
    assert outcome({key: build(), "theory": theory}, claim) == "reproduced"
    broken = {key: build(broken=True), "theory": theory}
    assert outcome(broken, claim) != "reproduced"
    assert failed_checks(broken, claim)


def test_c3_the_control_fails_if_any_seed_at_any_kappa_is_learned(theory):
    """One ReLU run above the threshold out of ten is enough: the control is not flat."""
    tables = {"hard_direction": hard_direction(control_leaks=True), "theory": theory}
    assert failed_checks(tables, "C3") == ["the ReLU control never learns it"]
    frame = evaluate_claims(tables, THRESHOLD)
    assert "3.00: 1/2" in frame.loc[frame["check"] == "the ReLU control never learns it", "value"].iloc[0]


def test_c5_levels_and_rise_are_checked(theory):
    off = {"learning_curves": learning_curves(levels_off=0.1), "theory": theory}
    assert outcome(off, "C5") == "shape reproduced, levels differ"
    assert failed_checks(off, "C5") == ["levels at kappa = 2.25 match the paper's Figure 1"]
    frame = evaluate_claims(off, THRESHOLD)
    assert "A T=0: 0.700 vs 0.6 (off by 0.100)" in frame.loc[frame["kind"] == "level", "value"].iloc[0]
    rising = {"learning_curves": learning_curves(rising=True), "theory": theory}
    assert failed_checks(rising, "C5") == ["B's curve keeps improving with T, as the paper's do",
                                           "levels at kappa = 2.25 match the paper's Figure 1"]
    assert outcome(rising, "C5") == "partly"


def test_figure1_fit_picks_the_setting_closest_to_the_six_readings():
    runs = pd.concat([learning_curves(levels_off=off).assign(p=p) for p, off in ((64, 0.0), (256, 0.08))])
    fit = derived.figure1_fit(runs)
    assert fit["p"].tolist() == [64, 256] and fit["chosen"].tolist() == [True, False]
    assert fit.loc[0, "max_distance"] == pytest.approx(0.0005, abs=1e-9)  # seed 1 adds 0.001: mean 0.0005
    assert fit.loc[1, "dist_A_T0"] == pytest.approx(0.0805)
    assert fit.loc[1, "dist_B_T6"] == pytest.approx(0.0505)


def test_c4_broken_staircase_fails_every_check(theory):
    assert outcome({"staircase": staircase(broken=True), "theory": theory}, "C4") == "not reproduced"


def test_c7_on_the_slope_line_and_off_it(theory):
    assert outcome({"cosines_neurons": cosine_neurons(0.25), "theory": theory}, "C7") == "reproduced"
    assert outcome({"cosines_neurons": cosine_neurons(1.0), "theory": theory}, "C7") == "not reproduced"


def test_theory_table_of_the_named_targets(theory):
    relu = theory[theory["activation"] == "relu"].set_index("target")
    assert relu.loc["hermite_124", "linear_kernel_error"] == pytest.approx(0.2708333, abs=1e-6)
    assert relu.loc["two_stair", "predicted_dims"] == "0, 1, 2, 2"
    assert relu.loc["staircase3", "predicted_dims"] == "0, 1, 2, 2, 2"
    assert relu.loc["staircase3", "predicted_dims_generic"] == "0, 1, 2, 3, 3"
    assert relu.loc["notebook_4z", "step1_slope"] == pytest.approx(0.25)
    assert theory.set_index(["target", "activation"]).loc[("hard_he3", "tanh"), "leap_index"] == "3"
    assert set(labels.named_targets()) >= set(labels.TARGET_LABELS)


def test_lines_and_deviations():
    assert derived.line_deviation(np.array([44.0, -136.0, 135.0]), 45.0) == pytest.approx([1.0, 1.0, 90.0])
    assert derived.line_angle(np.array([[1.0, 1.0], [-2.0, -2.0]])) == pytest.approx(45.0)


def test_cosine_lines_step_one_follows_the_slope(theory):
    neurons = cosine_neurons(0.25)
    runs = pd.DataFrame([run_rows("cosines", "notebook_4z", 1, cell="target=notebook_4z")])
    lines = theory_tables.cosine_lines(neurons, runs, theory)
    (row,) = lines.itertuples()
    assert row.t == 1 and row.group == "all" and row.source == "mu_1 slope"
    assert row.theory_slope == pytest.approx(0.25)
    assert row.measured_angle == pytest.approx(math.degrees(math.atan(0.25)), abs=1.0)
    assert row.median_deviation < 3.0


def test_predicted_updates_align_with_mu1_from_the_start():
    """From a neuron state with no teacher overlap, one population step moves along mu_1."""
    link = Target.parse(labels.target_expr("notebook_4z"))
    neurons = pd.DataFrame({
        "t": [0, 0], "neuron": [0, 1], "a": [1 / 16, -1 / 16], "projection_1": [0.0, 0.0],
        "projection_2": [0.0, 0.0], "norm_outside": [1.0, 1.0],
    })
    update = theory_tables.predicted_updates(neurons, 1, link, "relu", step_size=512 / 16, p=256)
    assert update[0, 1] / update[0, 0] == pytest.approx(0.25, rel=1e-6)
    assert np.sign(update[:, 0]).tolist() == [1.0, -1.0]


def test_comparison_with_the_paper_readings():
    table = derived.learning_curve_comparison(learning_curves())
    a = table[table["target"] == "A"].set_index("T")
    assert a.loc[0, "paper"] == "0.6" and a.loc[1, "paper"] == "0.22"
    assert a.loc[2, "paper"] == ""
    assert (table["kappa"] == 2.25).all()
    b = table[table["target"] == "B"].set_index("T")
    assert b.loc[0, "error_mean"] == pytest.approx(1.37 + 0.0005)


def test_staircase_table_sequences():
    table = derived.staircase_table(staircase(broken=True)).set_index("label")
    assert table.loc["S3", "measured"] == "0, 1, 1, 1"
    assert table.loc["S3", "predicted_generic"] == "0, 1, 2, 3"
    assert table.loc["S3", "first_mismatch"] == "t = 2"


def test_settings_table_reads_the_runs():
    table = derived.settings_table({"single_step": single_step(), "hard_direction": hard_direction()})
    assert list(table["figure"]) == ["single_step", "hard_direction"]
    row = table.set_index("figure").loc["hard_direction"]
    assert row["activation"] == "relu, tanh" and row["symmetric init"] == "true"
    assert row["eta"] == "2 p" and row["seeds"] == "0, 1"


def test_every_lr_rule_of_the_schema_has_one_formula_and_its_text():
    assert set(LR_RULES) == set(LrRule.__members__)
    texts = ["0.25", "0.25 p", "0.25 p sqrt(n/d)", "0.25 sqrt(n p)", "0.25 n/d"]
    assert [lr_text(rule, "0.25") for rule in LR_RULES] == texts
    assert learning_rate("p_sqrt_n_over_d", 0.25, n=512, d=128, p=64) == pytest.approx(0.25 * 64 * 2)
    assert learning_rate("sqrt_np", 10.0, n=4096, d=64, p=256) == pytest.approx(10.0 * 1024)


def test_c4_compares_every_step_the_runs_ran(theory):
    """The staircase check covers t = 1..T of the runs' ``steps``: a miss at the last of 5 fails it."""
    runs = staircase(steps=5)
    assert failed_checks({"staircase": runs, "theory": theory}, "C4") == []
    late = runs.assign(learned_dims=runs["learned_dims"].where(
        ~((runs["target"] == "two_stair") & (runs["t"] == 5)), 1))
    frame = evaluate_claims({"staircase": late, "theory": theory}, THRESHOLD)
    check = frame[frame["check"] == "B: dims of the 5 steps run as predicted (d = 64)"]
    assert not check["passed"].iloc[0] and "t = 1..5" in check["rule"].iloc[0]


def test_renderings(tmp_path):
    table = pd.DataFrame({"target": ["A_1"], "error": [0.123456], "paper": [None], "rule": ["|x| < 1"]})
    derived.write_table(table, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    markdown = (tmp_path / "t.md").read_text()
    assert "0.1235" in markdown and "nan" not in markdown and r"\|x\| < 1" in markdown
    latex = (tmp_path / "t.tex").read_text()
    assert r"A\_1" in latex and r"\textbar{}x\textbar{} \textless{} 1" in latex and "<" not in latex
    assert pd.read_csv(tmp_path / "t.csv")["error"].iloc[0] == pytest.approx(0.123456)


def test_report_states_every_verdict_and_the_settings(theory):
    tables = {"learning_curves": learning_curves(), "single_step": single_step(),
              "hard_direction": hard_direction(), "staircase": staircase(), "theory": theory}
    tables["claims"] = evaluate_claims(tables, THRESHOLD)
    tables["settings"] = derived.settings_table(tables)
    tables["comparison"] = derived.learning_curve_comparison(tables["learning_curves"])
    tables["staircase_table"] = derived.staircase_table(tables["staircase"])
    text = report.report_markdown("smoke", tables, ["learning_curves", "single_step"])
    for claim, row in tables["claims"].drop_duplicates("claim").set_index("claim").iterrows():
        assert f"### {claim}: {row['verdict']}" in text
    assert "![Learning curves (C5)](figures/learning_curves.png)" in text
    assert "figures/staircase.png" not in text  # not built, not linked
    assert "## Settings per figure" in text and "## Where and why the numbers differ from the paper" in text
    assert "within 10 % of the paper: A T=0: 0.601 vs 0.6" in text


def test_climb_steps_first_step_learned_and_aligned():
    steps = derived.climb_steps(staircase_climb()).set_index(["target", "alpha", "d", "seed"])
    v3 = steps.loc["visible_staircase3"]
    assert v3.loc[(16.0, 128), "aligned_at"].tolist() == [4.0, 4.0, 5.0]
    assert v3.loc[(16.0, 128), "learned_at"].tolist() == [3.0, 3.0, 4.0]
    assert (v3["predicted_at"] == 3).all() and (v3["level"] == 3).all() and (v3["T"] == 8).all()
    c = steps.loc["notebook_4z"]
    assert (c["level"] == 2).all() and c.loc[(16.0, 512), "aligned_at"].tolist() == [2.0, 2.0, 3.0]
    s3 = steps.loc["staircase3"]
    assert s3["aligned_at"].isna().all() and s3["predicted_at"].isna().all()
    assert (s3["max_aligned"] == 2).all()


def test_climb_summary_counts_runs_not_within_t_as_infinite():
    summary = derived.climb_summary(staircase_climb(v3_stuck=True)).set_index(["label", "alpha", "d"])
    assert list(summary.index.get_level_values("label").unique())[0] == "V3"  # V3 first
    n = summary.loc[("N", 16.0, 256)]
    assert (n["aligned_median"], n["aligned_min"], n["aligned_max"], n["aligned_reached"]) == (6, 6, 7, 3)
    v3 = summary.loc[("V3", 16.0, 128)]
    assert (v3["aligned_median"], v3["aligned_reached"], v3["learned_median"]) == (math.inf, 0, 3)
    assert labels.format_step_range(6, math.inf, 6) == "6–>6" and labels.format_steps(math.nan, 10) == ">10"


def test_climb_table_renders_not_within_t():
    table = derived.climb_table(staircase_climb(v3_stuck=True)).set_index(["label", "alpha", "d"])
    assert table.loc[("V3", 16.0, 256), ["predicted", "aligned_median", "aligned_per_seed", "aligned_reached",
                                         "learned_median", "learned_range"]].tolist() == \
        ["3", ">8", ">8, >8, >8", "0/3", "3", "3–4"]
    assert table.loc[("S3", 16.0, 128), ["predicted", "aligned_median", "aligned_reached"]].tolist() == \
        ["never", ">8", "0/3"]


@pytest.mark.parametrize(("variant", "failing"), [
    ("v3_stuck", ["V3 aligns 3 directions within a bounded number of steps (n = 16 d)",
                  "V3's climb and N's non-escape separate"]),
    ("n_escapes", ["N (predicted stuck at 1) stays below 3 aligned directions for longer as d grows",
                   "V3's climb and N's non-escape separate"]),
    ("control_leaks", ["S3 never aligns 3 directions (ReLU cannot see z3)"]),
    ("c_slow", ["C's second direction moves toward t = 2 as d grows"]),
])
def test_c4_climb_checks_flip_one_at_a_time(variant, failing):
    frame = evaluate_claims({"staircase_climb": staircase_climb()}, THRESHOLD)
    c4 = frame[frame["claim"] == "C4"]
    assert len(c4) == 5 and c4["passed"].all(), c4[["check", "value"]]
    assert "d = 128: 4 (4–5)" in c4["value"].iloc[0]
    assert failed_checks({"staircase_climb": staircase_climb(**{variant: True})}, "C4") == failing


def test_report_lists_the_climb_under_c4(theory):
    tables = {"staircase": staircase(), "staircase_climb": staircase_climb(), "theory": theory}
    tables["claims"] = evaluate_claims(tables, THRESHOLD)
    tables["climb_table"] = derived.climb_table(tables["staircase_climb"])
    text = report.report_markdown("smoke", tables, ["staircase", "staircase_climb"])
    c4 = text.split("### C4", 1)[1].split("### C5", 1)[0]
    assert "figures/staircase.png" in c4 and "figures/staircase_climb.png" in c4
    assert "V3 aligns 3 directions" in c4 and "S3 never aligns 3" in c4
    assert "## Staircase climb vs d: steps until the directions are aligned and learned" in text
    differences = text.split("## Where and why", 1)[1]
    assert "**Detectable is not aligned.**" in differences
    assert "N (3 directions): learned at d = 128: 4 (4–5); d = 256: 5 (5–6)" in differences


def test_coordinate_tie_tells_a_tilted_direction_from_a_new_one():
    """Weights whose z3 parts follow their z1 parts (two clusters, a = +-1) have an overlap with
    z3 but no third dimension: tie 1 and a third eigenvalue at 0; independent parts: tie 0."""
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=400)
    for parts, tie in (((signs * 0.6, np.full(400, 0.5), signs * 0.2), 1.0),
                       ((signs * 0.6, np.full(400, 0.5), rng.choice([-0.2, 0.2], size=400)), 0.0)):
        m = np.stack(parts, axis=1)
        overlap = m.T @ m / len(m)
        row = pd.Series({f"overlap_{j}{k}": overlap[j - 1, k - 1] for j in (1, 2, 3) for k in (1, 2, 3)})
        assert derived.coordinate_tie(row, 3) == pytest.approx(tie, abs=0.1)
        assert (np.linalg.eigvalsh(overlap)[0] < 1e-9) == (tie == 1.0)
