rule aggregate:
    """Tidy table of one plan: a row per run and step."""
    input:
        lambda wc: run_outputs(wc.plan),
    output:
        f"{RESULTS}/tables/{{plan}}_runs.csv",
    log:
        f"{RESULTS}/logs/aggregate/{{plan}}_runs.log",
    conda:
        ENVIRONMENT
    params:
        runs_root=f"{RESULTS}/runs",
        table="runs",
    script:
        "../scripts/aggregate.py"


use rule aggregate as aggregate_neurons with:
    output:
        f"{RESULTS}/tables/{{plan}}_neurons.csv",
    log:
        f"{RESULTS}/logs/aggregate/{{plan}}_neurons.log",
    params:
        runs_root=f"{RESULTS}/runs",
        table="neurons",


FINAL.extend(f"{RESULTS}/tables/{plan}_runs.csv" for plan in PLANS)
FINAL.extend(
    f"{RESULTS}/tables/{plan}_neurons.csv" for plan, p in PLANS.items() if p.neurons
)
