# giantstep: rebuild every scenario, table and figure of the paper.
#   snakemake --profile workflow/profiles/default --config scale=quick
# Plans (conf/reproduce/*.yaml) say which runs each figure needs; conf/ holds every default.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: workflow.source_path("workflow/config/config.yaml")


validate(config, workflow.source_path("workflow/schemas/config.schema.yaml"))


envvars:
    "PATH",


include: "workflow/rules/common.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


localrules:
    all,
    aggregate,
    aggregate_neurons,
    aggregate_provenance,
    table_theory,
    table_cosine_lines,
    table_staircase,
    table_staircase_climb,
    table_learning_curves_vs_paper,
    table_figure1,
    table_batch_reuse_anchor,
    table_batch_reuse_map,
    table_settings,
    table_claims,
    table_provenance,
    figure_learning_curves,
    figure_cosines,
    figure_single_step,
    figure_hard_direction,
    figure_staircase,
    figure_figure1,
    figure_batch_reuse,
    figure_staircase_climb,
    report_markdown,


rule all:
    default_target: True
    input:
        FINAL,
