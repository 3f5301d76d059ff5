RUN_RESOURCES = config["resources"][SCALE]


rule run:
    """One plan cell: the giantstep CLI with the cell's overrides, all seeds in one process.
    The log starts with the command line that reruns the cell by hand."""
    output:
        [f"{RESULTS}/runs/{{plan}}/{{cell}}/seed={seed}/metrics.json" for seed in SEEDS],
    log:
        f"{RESULTS}/logs/run/{{plan}}/{{cell}}.log",
    conda:
        ENVIRONMENT
    threads: RUN_RESOURCES["threads"]
    resources:
        mem_mb=RUN_RESOURCES["mem_mb"],
        runtime=RUN_RESOURCES["runtime"],
        gpu=RUN_RESOURCES["gpu"],
    params:
        digest=lambda wc: DIGESTS[wc.plan][wc.cell],
        arguments=lambda wc: PLANS[wc.plan]
        .cell(wc.cell)
        .arguments(SEEDS, f"{RESULTS}/runs/{wc.plan}/{wc.cell}"),
    shell:
        "echo giantstep {params.arguments:q} > {log}; "
        "giantstep {params.arguments} threads={threads} >> {log} 2>&1"
