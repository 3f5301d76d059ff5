# The paper's figures (PDF + PNG) from the tidy tables (giantstep.reproduce.figures); each PNG goes
# into `snakemake --report` with its caption from workflow/report/<figure>.rst.
from giantstep.reproduce.tables import FIGURE_PLANS

FIGURES = f"{RESULTS}/figures"
PLOTTING_CODE = REPORT_CODE + [str(PACKAGE / "reproduce" / "figures.py")]


rule figure_learning_curves:
    """Learning curves (C5): test error vs kappa for T = 0..6, targets A and B."""
    input:
        runs=f"{TABLES}/learning_curves_runs.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/learning_curves.pdf",
        png=report(
            f"{FIGURES}/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/learning_curves.log",
    conda:
        ENVIRONMENT
    params:
        figure="learning_curves",
    script:
        "../scripts/figure.py"


use rule figure_learning_curves as figure_cosines with:
    input:
        neurons=f"{TABLES}/cosines_neurons.csv",
        lines=f"{TABLES}/cosine_lines.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/cosines.pdf",
        png=report(
            f"{FIGURES}/cosines.png",
            caption="../report/cosines.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/cosines.log",
    params:
        figure="cosines",


use rule figure_learning_curves as figure_single_step with:
    input:
        runs=f"{TABLES}/single_step_runs.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/single_step.pdf",
        png=report(
            f"{FIGURES}/single_step.png",
            caption="../report/single_step.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/single_step.log",
    params:
        figure="single_step",


use rule figure_learning_curves as figure_hard_direction with:
    input:
        runs=f"{TABLES}/hard_direction_runs.csv",
        theory=f"{TABLES}/theory.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/hard_direction.pdf",
        png=report(
            f"{FIGURES}/hard_direction.png",
            caption="../report/hard_direction.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/hard_direction.log",
    params:
        figure="hard_direction",


use rule figure_learning_curves as figure_staircase with:
    input:
        runs=f"{TABLES}/staircase_runs.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/staircase.pdf",
        png=report(
            f"{FIGURES}/staircase.png",
            caption="../report/staircase.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/staircase.log",
    params:
        figure="staircase",


use rule figure_learning_curves as figure_staircase_climb with:
    input:
        runs=f"{TABLES}/staircase_climb_runs.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/staircase_climb.pdf",
        png=report(
            f"{FIGURES}/staircase_climb.png",
            caption="../report/staircase_climb.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/staircase_climb.log",
    params:
        figure="staircase_climb",


use rule figure_learning_curves as figure_figure1 with:
    input:
        runs=f"{TABLES}/figure1_runs.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/figure1.pdf",
        png=report(
            f"{FIGURES}/figure1.png",
            caption="../report/figure1.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/figure1.log",
    params:
        figure="figure1",


use rule figure_learning_curves as figure_batch_reuse with:
    input:
        anchor=f"{TABLES}/batch_reuse_anchor.csv",
        regime=f"{TABLES}/batch_reuse_map.csv",
        code=PLOTTING_CODE,
    output:
        pdf=f"{FIGURES}/batch_reuse.pdf",
        png=report(
            f"{FIGURES}/batch_reuse.png",
            caption="../report/batch_reuse.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/batch_reuse.log",
    params:
        figure="batch_reuse",


# A figure is built when the plan it needs is in the workflow config.
BUILT_FIGURES = [name for name, plan in FIGURE_PLANS.items() if plan in PLANS]
FINAL.extend(
    f"{FIGURES}/{name}.{ext}" for name in BUILT_FIGURES for ext in ("pdf", "png")
)
