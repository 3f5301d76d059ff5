# REPORT.md: the verdict of every claim with its figures, numbers and settings, and where
# the numbers differ from the paper (giantstep.reproduce.report). It covers every plan with a
# runs table on disk: those of this run as inputs, the others as earlier runs left them
# (tables.smk, EARLIER_RUNS), named in the report with the time they were written, and compares
# itself with the other scale's tables on disk (OTHER_SCALES).
PLAN_REPORT_TABLES = {  # key in the report -> (plan, table)
    "comparison": ("learning_curves", f"{TABLES}/learning_curves_vs_paper.csv"),
    "figure1": ("figure1", f"{TABLES}/figure1.csv"),
    "staircase_table": ("staircase", f"{TABLES}/staircase.csv"),
    "staircase": ("staircase", f"{TABLES}/staircase_runs.csv"),
    "climb_table": ("staircase_climb", f"{TABLES}/staircase_climb.csv"),
    "staircase_climb": ("staircase_climb", f"{TABLES}/staircase_climb_runs.csv"),
    "hard_direction": ("hard_direction", f"{TABLES}/hard_direction_runs.csv"),
    "batch_reuse_anchor": ("batch_reuse", f"{TABLES}/batch_reuse_anchor.csv"),
    "batch_reuse_map": ("batch_reuse", f"{TABLES}/batch_reuse_map.csv"),
}


EARLIER_REPORT_TABLES = on_disk(
    {
        key: path
        for key, (plan, path) in PLAN_REPORT_TABLES.items()
        if plan in EARLIER_RUNS
    }
)
EARLIER_FIGURES = list(
    on_disk(
        {
            name: f"{FIGURES}/{name}.png"
            for name, plan in FIGURE_PLANS.items()
            if plan in EARLIER_RUNS
        }
    ).values()
)


# The scales a report compares itself with (giantstep.reproduce.scales): the other of quick
# and paper, when its tables are on disk; their write times are params, to rerun when rewritten.
OTHER_TABLES = {  # key in the report -> table name, as for PLAN_REPORT_TABLES
    "claims": "claims",
    "comparison": "learning_curves_vs_paper",
    "settings": "settings",
}
OTHER_SCALES = other_scales(SCALE, OTHER_TABLES)


rule report_markdown:
    """REPORT.md of this scale, generated from the tables and figures."""
    input:
        **{
            key: path
            for key, (plan, path) in PLAN_REPORT_TABLES.items()
            if plan in PLANS
        },
        claims=f"{TABLES}/claims.csv",
        theory=f"{TABLES}/theory.csv",
        settings=f"{TABLES}/settings.csv",
        provenance=f"{TABLES}/provenance.csv",
        figures=[f"{FIGURES}/{name}.png" for name in BUILT_FIGURES],
        code=REPORT_CODE,
    output:
        report(
            f"{RESULTS}/REPORT.md",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        ENVIRONMENT
    params:
        scale=SCALE,
        earlier=EARLIER_REPORT_TABLES,
        earlier_figures=EARLIER_FIGURES,
        written=written_at(EARLIER_RUNS),
        others=OTHER_SCALES,
        others_written={
            other: written_at(tables) for other, tables in OTHER_SCALES.items()
        },
    script:
        "../scripts/report.py"


FINAL.append(f"{RESULTS}/REPORT.md")
