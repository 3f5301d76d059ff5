import os
import sys
from pathlib import Path

from giantstep.errors import ConfigError
from giantstep.plans import cached_digests, load_plan

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
DIGESTS = {
    name: cached_digests(list(plan.cells), Path(".snakemake/giantstep/digests.json"))
    for name, plan in PLANS.items()
}


def run_outputs(plan):
    """metrics.json of every run of a plan (all cells, all seeds)."""
    return [
        f"{RESULTS}/runs/{plan}/{cell.path}/seed={seed}/metrics.json"
        for cell in PLANS[plan].cells
        for seed in SEEDS
    ]


wildcard_constraints:
    plan="[a-z0-9_]+",
    cell="[^/=]+=[^/]+(/[^/=]+=[^/]+)*",
