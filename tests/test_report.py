"""REPORT.md and the help text: the report's prose comes from its template and covers every plan
on disk (a run of one plan keeps the others' verdicts, named as from earlier runs); ``giantstep
--help`` lists the project's own groups and knobs."""

from __future__ import annotations

import re

import pytest
from helpers.cli import run_cli
from helpers.tables import THRESHOLD, single_step, staircase
from helpers.workflow import copy_repository, snakemake

from giantstep.paths import conf_dir
from giantstep.reproduce import report
from giantstep.reproduce.claims import CLAIMS, evaluate_claims

SMOKE = ("--cores", "2", "--config", "scale=smoke")


def verdict_rows(text: str) -> dict[str, str]:
    """{claim: its row of the summary table} of a REPORT.md."""
    return {m[1]: m[0] for m in re.finditer(r"^\| \[(C\d)\].*\|$", text, re.MULTILINE)}


def test_help_lists_the_groups_and_knobs_and_not_the_plans(tmp_path):
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not text.startswith("cli is powered by Hydra")
    for group in ("target", "scenario"):
        assert re.search(rf"^{group} ", text, re.MULTILINE), text
        assert all(option.stem in text for option in (conf_dir() / group).glob("*.yaml")), group
    assert not re.search(r"^reproduce\b|reproduce=|_seeds", text, re.MULTILINE), text
    for knob in ("train.steps", "train.kappa", "train.lr.rule", "student.activation", "metrics.threshold"):
        assert knob in text
    # the values shown are read from the config, overrides included, not restated in the help text
    shown = run_cli("d=77", "train.lr.rule=sqrt_np", "--help", cwd=tmp_path).stdout
    assert "[77, " in shown and "[sqrt_np, " in shown, shown


def test_the_report_names_the_plans_of_earlier_runs():
    tables = {"single_step": single_step(), "staircase": staircase()}
    tables["claims"] = evaluate_claims(tables, THRESHOLD)
    alone = report.report_markdown("smoke", tables, [])
    assert "From earlier runs" not in alone
    earlier = report.report_markdown("smoke", tables, [], {"staircase": "2026-11-30 08:30:00 UTC"})
    assert "**From earlier runs.** The plans `staircase` (runs table written 2026-11-30 08:30:00 UTC)" \
        in earlier
    assert verdict_rows(earlier) == verdict_rows(alone) and len(verdict_rows(alone)) == len(CLAIMS)
    # A claim whose plans never ran says so, in the summary and in its section.
    assert "| **not run** | - |" in verdict_rows(alone)["C6"]
    assert "Not run: none of the plans this claim needs" in alone.split("### C6", 1)[1]


def test_every_paragraph_of_the_template_comes_out_as_one_line():
    tables = {"single_step": single_step(), "staircase": staircase()}
    tables["claims"] = evaluate_claims(tables, THRESHOLD)
    text = report.report_markdown("smoke", tables, ["single_step"], {"cosines": "2026-11-30 08:30:00 UTC"})
    blocks = [block.split("\n") for block in text.strip().split("\n\n")
              if not block.startswith(("|", "#", "!["))]
    wrapped = [lines for lines in blocks if len(lines) > 1 and not all(ln.startswith("- ") for ln in lines)]
    assert len(blocks) > 10 and not wrapped, wrapped


@pytest.mark.slow
def test_a_run_of_one_plan_keeps_the_verdicts_of_the_others(tmp_path):
    copy = copy_repository(tmp_path)
    report_md = copy / "results" / "smoke" / "REPORT.md"
    full = snakemake(copy, *SMOKE, src=copy / "src")
    assert full.returncode == 0, (full.stdout + full.stderr)[-4000:]
    before = report_md.read_text()
    assert "From earlier runs" not in before and "| **not run** |" not in before

    one = snakemake(copy, *SMOKE, "plans=[cosines]", src=copy / "src")
    assert one.returncode == 0, (one.stdout + one.stderr)[-4000:]
    after = report_md.read_text()
    assert verdict_rows(after) == verdict_rows(before)
    earlier = after.split("**From earlier runs.**", 1)[1].split("\n", 1)[0]
    others = ["learning_curves", "figure1", "single_step", "hard_direction", "staircase", "staircase_climb"]
    assert all(f"`{plan}` (runs table written 20" in earlier for plan in others), earlier
    assert "`cosines`" not in earlier
    # Every section of the full run is still there, figures included.
    assert [line for line in after.splitlines() if line.startswith(("#", "!["))] == \
        [line for line in before.splitlines() if line.startswith(("#", "!["))]

    again = snakemake(copy, "-n", *SMOKE, "plans=[cosines]", src=copy / "src")
    assert "Nothing to be done" in again.stdout + again.stderr
    # The whole workflow again: nothing is recomputed but the claims, settings and the report,
    # which no longer name earlier runs.
    whole = snakemake(copy, *SMOKE, src=copy / "src")
    assert whole.returncode == 0 and "From earlier runs" not in report_md.read_text()
    assert verdict_rows(report_md.read_text()) == verdict_rows(before)
    assert not re.search(r"^run\s+\d+$", whole.stdout + whole.stderr, re.MULTILINE)
