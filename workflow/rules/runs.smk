RUN_RESOURCES = config["resources"][SCALE]


rule run:
    """One batch of a plan's cells (common.smk, BATCHES), all their seeds, in one process
    (workflow/scripts/run.py): whole runs are kept, the others computed. The output is the
    batch's manifest; the runs go to runs/<plan>/<cell>/seed=<s>/, each computed cell's log,
    which starts with the command line that reruns the cell by hand, to logs/run/<plan>/.
    """
    output:
        f"{RESULTS}/batches/{{plan}}/{{batch}}.json",
    log:
        f"{RESULTS}/logs/batch/{{plan}}/{{batch}}.log",
    conda:
        ENVIRONMENT
    threads: RUN_RESOURCES["threads"]
    resources:
        mem_mb=RUN_RESOURCES["mem_mb"],
        runtime=lambda wc: RUN_RESOURCES["runtime"] * len(BATCHES[wc.plan][wc.batch]),
        gpu=RUN_RESOURCES["gpu"],
    params:
        cells=lambda wc: {
            cell.path: [list(cell.overrides), DIGESTS[wc.plan][cell.path]]
            for cell in BATCHES[wc.plan][wc.batch]
        },
        seeds=list(SEEDS),
        runs_root=lambda wc: f"{RESULTS}/runs/{wc.plan}",
        logs_root=lambda wc: f"{RESULTS}/logs/run/{wc.plan}",
    script:
        "../scripts/run.py"
