RUN_RESOURCES = config["resources"][SCALE]


rule run:
    """One plan cell: the giantstep CLI with the cell's overrides, all seeds in one process,
    started without a shell (workflow/scripts/run.py). The log starts with the command line
    that reruns the cell by hand."""
    output:
        [
            f"{RESULTS}/runs/{{plan}}/{{cell}}/seed={seed}/{name}"
            for seed in SEEDS
            for name in RUN_FILES
        ],
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
    script:
        "../scripts/run.py"
