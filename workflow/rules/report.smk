# REPORT.md: the verdict of every claim with its figures, numbers and settings, and where
# the numbers differ from the paper (giantstep.reproduce.report).
REPORT_TABLES = {
    "claims": f"{TABLES}/claims.csv",
    "theory": f"{TABLES}/theory.csv",
    "settings": f"{TABLES}/settings.csv",
    **{
        key: path
        for key, (plan, path) in {
            "comparison": ("learning_curves", f"{TABLES}/learning_curves_vs_paper.csv"),
            "figure1": ("figure1", f"{TABLES}/figure1.csv"),
            "staircase_table": ("staircase", f"{TABLES}/staircase.csv"),
            "staircase": ("staircase", f"{TABLES}/staircase_runs.csv"),
            "climb_table": ("staircase_climb", f"{TABLES}/staircase_climb.csv"),
            "staircase_climb": (
                "staircase_climb",
                f"{TABLES}/staircase_climb_runs.csv",
            ),
            "hard_direction": ("hard_direction", f"{TABLES}/hard_direction_runs.csv"),
        }.items()
        if plan in PLANS
    },
}


rule report_markdown:
    """REPORT.md of this scale, generated from the tables and figures."""
    input:
        **REPORT_TABLES,
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
    script:
        "../scripts/report.py"


FINAL.append(f"{RESULTS}/REPORT.md")
