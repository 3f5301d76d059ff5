import os
import sys
from pathlib import Path

# The workflow and every job read the conf/ beside this Snakefile, not that of the checkout the
# installed package comes from (giantstep.paths.conf_dir). Set before anything composes a config.
os.environ["GIANTSTEP_CONF"] = str(Path(workflow.basedir, "conf").resolve())


envvars:
    "GIANTSTEP_CONF",


from giantstep.reproduce.aggregate import repair_runs
from giantstep.reproduce.batches import cell_batches
from giantstep.errors import ConfigError
from giantstep.reproduce.plans import cached_cells, load_plan

SCALE = config["scale"]
RESULTS = f"results/{SCALE}"
# Jobs call the `giantstep` command of the environment snakemake runs in.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
ENVIRONMENT = workflow.source_path("../../environment.yml")  # for --sdm conda
try:
    PLANS = {name: load_plan(name, SCALE) for name in config["plans"]}
except ConfigError as error:
    raise WorkflowError(f"giantstep: {error}") from None
SEEDS = next(iter(PLANS.values())).seeds
FINAL = []  # what `rule all` builds; each rules file adds its outputs


def plan_cells(name):
    """{cell path: its digest and work} of a plan (giantstep.reproduce.plans.cached_cells); a
    cell Hydra cannot compose stops the workflow with one line."""
    try:
        return cached_cells(PLANS[name].cells)
    except ConfigError as error:
        raise WorkflowError(f"giantstep: plan '{name}': {error}") from None


CELLS = {name: plan_cells(name) for name in PLANS}
DIGESTS = {
    name: {path: facts.digest for path, facts in cells.items()}
    for name, cells in CELLS.items()
}
# The run jobs of each plan, balanced by work: {plan: {batch name: cells}}
# (giantstep.reproduce.batches.cell_batches).
BATCHES = {
    name: cell_batches(
        plan.cells,
        config["resources"][SCALE]["cells_per_job"],
        [CELLS[name][cell.path].work for cell in plan.cells],
    )
    for name, plan in PLANS.items()
}
# The tables of a plan (rule aggregate), built from its runs (results, neurons, provenance).
PLAN_TABLES = {
    kind: f"{RESULTS}/tables/{{plan}}_{kind}.csv"
    for kind in ("runs", "neurons", "provenance")
}


def run_digests(plan):
    """{metrics.json of each run of a plan (all cells, all seeds): the digest of its cell}."""
    root = f"{RESULTS}/runs/{plan}"
    return {
        f"{root}/{cell.path}/seed={seed}/metrics.json": DIGESTS[plan][cell.path]
        for cell in PLANS[plan].cells
        for seed in SEEDS
    }


def run_outputs(plan):
    """metrics.json of every run of a plan (all cells, all seeds)."""
    return list(run_digests(plan))


def manifests(plan):
    """The manifest of every run job (batch) of a plan: what its aggregation waits for."""
    return [f"{RESULTS}/batches/{plan}/{batch}.json" for batch in BATCHES[plan]]


def repair(plan, remove):
    """Have every missing, damaged, foreign or incomplete run of a plan recomputed
    (giantstep.reproduce.aggregate.repair_runs, one line on stderr per damaged run): the
    manifest of its batch is removed, so that Snakemake reruns the batch, which computes
    the runs that are not whole. A dry run changes nothing and says what each batch to run
    would compute."""
    runs = {Path(path): digest for path, digest in run_digests(plan).items()}
    tables = [Path(table.format(plan=plan)) for table in PLAN_TABLES.values()]
    found = repair_runs(runs, tables, remove)
    then = "recomputing it" if remove else "a run without -n recomputes it"
    for line in found.lines:
        print(f"giantstep: {line}; {then}", file=sys.stderr)
    for batch, cells in BATCHES[plan].items():
        manifest = Path(f"{RESULTS}/batches/{plan}/{batch}.json")
        stale = [
            cell.path
            for cell in cells
            if any(
                Path(f"{RESULTS}/runs/{plan}/{cell.path}/seed={seed}/metrics.json")
                in found.stale
                for seed in SEEDS
            )
        ]
        if stale and remove:
            manifest.unlink(missing_ok=True)
        elif stale:
            computes = "all its" if len(stale) == len(cells) else f"{len(stale)} of its"
            listed = "" if len(stale) == len(cells) else ": " + ", ".join(stale)
            print(
                f"giantstep: {plan} batch {batch} computes {computes} {len(cells)} cells{listed}",
                file=sys.stderr,
            )


# Before the DAG is built, so that Snakemake sees what is to be recomputed. Only in the
# main process: a cluster job's Snakemake must not touch the runs of other jobs. `--lint`
# (the only command that reads the Snakefile without checking `envvars`) changes nothing.
LINTING = not getattr(workflow, "check_envvars", True)
if workflow.is_main_process and not LINTING:
    for name in PLANS:
        repair(name, remove=not workflow.output_settings.dryrun)


wildcard_constraints:
    plan="[a-z0-9_]+",
    cell="[^/=]+=[^/]+(/[^/=]+=[^/]+)*",
    batch="[0-9]+-of-[0-9]+",
