# Derived tables (CSV + Markdown + LaTeX) from the tidy runs tables: theory per target, the
# theory lines of the cosine scatters, staircase, staircase climb, learning curves vs the paper,
# settings per figure, the verdict of every claim (giantstep.reproduce.claims, giantstep.reproduce.report),
# and the provenance and wall time of the runs (giantstep.reproduce.provenance).
from giantstep.paths import PACKAGE, conf_dir
from giantstep.reproduce.plans import available_plans
from giantstep.reproduce.report import on_disk, other_scales, written_at

TABLES = f"{RESULTS}/tables"
# The package modules a rule's output depends on: editing them reruns the rule.
REPORT_CODE = [
    str(PACKAGE / "reproduce" / name)
    for name in (
        "labels.py",
        "tables.py",
        "claims.py",
        "report.py",
        "batch_reuse.py",
        "provenance.py",
    )
]
RENDERINGS = (".csv", ".md", ".tex")
RUNS_TABLES = {plan: f"{TABLES}/{plan}_runs.csv" for plan in PLANS}
COSINE_TABLES = (
    {
        "cosines_neurons": f"{TABLES}/cosines_neurons.csv",
        "cosine_lines": f"{TABLES}/cosine_lines.csv",
    }
    if "cosines" in PLANS
    else {}
)


rule table_theory:
    """Theory per named target and activation (giantstep.theory, by quadrature)."""
    input:
        targets=sorted(str(path) for path in (conf_dir() / "target").glob("*.yaml")),
        code=REPORT_CODE
        + [
            str(PACKAGE / "reproduce" / "theory_tables.py"),
            str(PACKAGE / "theory" / "population.py"),
        ],
    output:
        multiext(f"{TABLES}/theory", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/theory.log",
    conda:
        ENVIRONMENT
    params:
        table="theory",
    script:
        "../scripts/table.py"


use rule table_theory as table_cosine_lines with:
    input:
        neurons=f"{TABLES}/cosines_neurons.csv",
        runs=f"{TABLES}/cosines_runs.csv",
        theory=f"{TABLES}/theory.csv",
        code=REPORT_CODE,
    output:
        f"{TABLES}/cosine_lines.csv",
    log:
        f"{RESULTS}/logs/tables/cosine_lines.log",
    params:
        table="cosine_lines",


use rule table_theory as table_staircase with:
    input:
        runs=f"{TABLES}/staircase_runs.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/staircase", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/staircase.log",
    params:
        table="staircase",


use rule table_theory as table_staircase_climb with:
    input:
        runs=f"{TABLES}/staircase_climb_runs.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/staircase_climb", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/staircase_climb.log",
    params:
        table="staircase_climb",


use rule table_theory as table_learning_curves_vs_paper with:
    input:
        runs=f"{TABLES}/learning_curves_runs.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/learning_curves_vs_paper", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/learning_curves_vs_paper.log",
    params:
        table="learning_curves_vs_paper",


use rule table_theory as table_figure1 with:
    input:
        runs=f"{TABLES}/figure1_runs.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/figure1", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/figure1.log",
    params:
        table="figure1",


use rule table_theory as table_batch_reuse_anchor with:
    input:
        runs=f"{TABLES}/batch_reuse_runs.csv",
        neurons=f"{TABLES}/batch_reuse_neurons.csv",
        reference=str(conf_dir() / "reference" / "batch_reuse.yaml"),
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/batch_reuse_anchor", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/batch_reuse_anchor.log",
    params:
        table="batch_reuse_anchor",


use rule table_theory as table_batch_reuse_map with:
    input:
        runs=f"{TABLES}/batch_reuse_runs.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/batch_reuse_map", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/batch_reuse_map.log",
    params:
        table="batch_reuse_map",


# Plans outside this run whose runs tables earlier runs left: the claims, settings and report
# read them as they are (giantstep.reproduce.report.on_disk), so a run of some plans keeps the
# verdicts of the others; their times (written_at) are params, to rerun when one is rewritten.
EARLIER_RUNS = on_disk(
    {
        plan: f"{TABLES}/{plan}_runs.csv"
        for plan in available_plans()
        if plan not in PLANS
    }
)
EARLIER_CLAIM_TABLES = {
    **EARLIER_RUNS,
    **on_disk(
        {
            "cosines_neurons": f"{TABLES}/cosines_neurons.csv",
            "cosine_lines": f"{TABLES}/cosine_lines.csv",
        }
        if "cosines" in EARLIER_RUNS
        else {}
    ),
}


use rule table_theory as table_settings with:
    input:
        **RUNS_TABLES,
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/settings", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/settings.log",
    params:
        table="settings",
        earlier=EARLIER_RUNS,
        written=written_at(EARLIER_RUNS),


use rule table_theory as table_claims with:
    input:
        **RUNS_TABLES,
        **COSINE_TABLES,
        theory=f"{TABLES}/theory.csv",
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/claims", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/claims.log",
    params:
        table="claims",
        earlier=EARLIER_CLAIM_TABLES,
        written=written_at(EARLIER_CLAIM_TABLES),


# Where, when and from which commit the runs were made, and their wall time, per plan: every
# plan of this run and those earlier runs left (giantstep.reproduce.provenance).
EARLIER_PROVENANCE = on_disk(
    {plan: PLAN_TABLES["provenance"].format(plan=plan) for plan in EARLIER_RUNS}
)


use rule table_theory as table_provenance with:
    input:
        **{plan: PLAN_TABLES["provenance"].format(plan=plan) for plan in PLANS},
        code=REPORT_CODE,
    output:
        multiext(f"{TABLES}/provenance", *RENDERINGS),
    log:
        f"{RESULTS}/logs/tables/provenance.log",
    params:
        table="provenance",
        earlier=EARLIER_PROVENANCE,
        written=written_at(EARLIER_PROVENANCE),


FINAL.extend(
    f"{TABLES}/{name}{ext}"
    for name, wanted in {
        "theory": True,
        "staircase": "staircase" in PLANS,
        "staircase_climb": "staircase_climb" in PLANS,
        "learning_curves_vs_paper": "learning_curves" in PLANS,
        "figure1": "figure1" in PLANS,
        "batch_reuse_anchor": "batch_reuse" in PLANS,
        "batch_reuse_map": "batch_reuse" in PLANS,
        "settings": True,
        "claims": True,
        "provenance": True,
    }.items()
    if wanted
    for ext in RENDERINGS
)
