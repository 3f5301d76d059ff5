rule aggregate:
    """Tidy table of one plan: a row per run and step, once every batch of the plan has run.
    Each run is checked against its cell first (giantstep.reproduce.aggregate.check_run).
    """
    input:
        lambda wc: manifests(wc.plan),
    output:
        PLAN_TABLES["runs"],
    log:
        f"{RESULTS}/logs/aggregate/{{plan}}_runs.log",
    conda:
        ENVIRONMENT
    params:
        runs=lambda wc: run_outputs(wc.plan),
        runs_root=f"{RESULTS}/runs",
        digests=lambda wc: DIGESTS[wc.plan],
        table="runs",
    script:
        "../scripts/aggregate.py"


use rule aggregate as aggregate_neurons with:
    output:
        PLAN_TABLES["neurons"],
    log:
        f"{RESULTS}/logs/aggregate/{{plan}}_neurons.log",
    params:
        runs=lambda wc: run_outputs(wc.plan),
        runs_root=f"{RESULTS}/runs",
        digests=lambda wc: DIGESTS[wc.plan],
        table="neurons",


use rule aggregate as aggregate_provenance with:
    output:
        PLAN_TABLES["provenance"],
    log:
        f"{RESULTS}/logs/aggregate/{{plan}}_provenance.log",
    params:
        runs=lambda wc: run_outputs(wc.plan),
        runs_root=f"{RESULTS}/runs",
        digests=lambda wc: DIGESTS[wc.plan],
        table="provenance",


FINAL.extend(PLAN_TABLES["runs"].format(plan=plan) for plan in PLANS)
FINAL.extend(
    PLAN_TABLES["neurons"].format(plan=plan) for plan, p in PLANS.items() if p.neurons
)
