"""Workflow data integrity: plan values never reach a shell, a value that needs
Hydra quoting runs in a filesystem-safe folder, and every run is checked against its cell.

A damaged, foreign or incomplete run is recomputed by the next run of the workflow, which
then writes tables and REPORT.md byte for byte equal to those of an untouched workflow (less
the provenance, which records times and commits by design); the
aggregate step alone refuses such a run with one line naming the file.

Workflows run in copies of the repository (``helpers.workflow.copy_repository``) at
``scale=smoke``: the repair tests on the ``cosines`` plan (three cells, with per-neuron
arrays), the value tests on two plans of their own, built up to their runs tables.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.workflow import copy_repository, is_run_record, job_counts, snakemake, without_run_records
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from giantstep.paths import conf_dir
from giantstep.reproduce import plans
from giantstep.reproduce.aggregate import DamagedRunError, batch_size, neurons_table, repair_runs, runs_table
from giantstep.reproduce.plans import Cell, config_digest, hydra_quoted, load_plan, path_name
from giantstep.schema import compose as compose_config
from giantstep.schema import register_schema

SAFE_PART = re.compile(r"[A-Za-z0-9._+=-]+")
CLI = str(Path(sys.executable).with_name("giantstep"))


# --------------------------------------------------------------------------- paths and quoting

@pytest.mark.parametrize("value", ["1.5", "two_stair", "-1e-3", "x+y"])
def test_an_ordinary_value_is_its_own_folder_name(value):
    assert path_name(value) == value


@pytest.mark.parametrize("value", ["'He3(z1)/sqrt(6)'", '"z1+$(touch PWNED)"', "a;b `c` d", "x/../y",
                                   "", "k=v", "é" * 3, "z" * 200])
def test_any_other_value_gets_a_safe_and_unique_folder_name(value):
    name = path_name(value)
    assert SAFE_PART.fullmatch(name) and "=" not in name and len(name) <= 64
    assert name != path_name(value + " ")


@pytest.mark.parametrize("path", ["results/smoke/runs/p/key=v/seed", "it's", "back\\slash\\", "a\\'b",
                                  "x${y}", "x\\${y}", "sp ace,(paren)[b]{c}:=", 'd"q', "$(touch X);`y`"])
def test_a_quoted_sweep_dir_reads_back_as_the_path(path):
    """Hydra un-quotes the override and OmegaConf resolves it: the path comes back unchanged."""
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hydra.sweep.dir={hydra_quoted(path)}"],
                      return_hydra_config=True)
    assert cfg.hydra.sweep.dir == path


def test_cell_arguments_are_one_list_item_per_argument():
    cell = Cell(path="expr=x-1", overrides=("target=custom", "target.expr='He3(z1)/sqrt(6)'"))
    arguments = cell.arguments((0, 1), "results/smoke/runs/p/expr=x-1")
    assert arguments == ["-m", "target=custom", "target.expr='He3(z1)/sqrt(6)'", "seed=0,1",
                         "hydra.sweep.dir='results/smoke/runs/p/expr=x-1'",
                         "hydra.sweep.subdir='seed=${seed}'"]


def test_the_digest_cache_is_dropped_when_the_digest_code_changes(tmp_path, monkeypatch):
    """Cached digests are keyed by the sources they come from, plans.py included: a digest
    computed another way would make every run look foreign to its cell."""
    package = tmp_path / "giantstep"
    shutil.copytree(conf_dir(), tmp_path / "conf")
    for source in ("schema.py", "reproduce/plans.py"):
        (package / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(plans.PACKAGE / source, package / source)
    monkeypatch.setattr(plans, "PACKAGE", package)
    monkeypatch.setattr(plans, "conf_dir", lambda: tmp_path / "conf")
    before = plans._conf_fingerprint()
    with open(package / "reproduce/plans.py", "a") as source:
        source.write("# another digest\n")
    assert plans._conf_fingerprint() != before


# --------------------------------------------------------------------------- the aggregate step alone

OVERRIDES = ("d=8", "p=16", "train.steps=2", "target=two_stair", "metrics.n_neurons=4")


def fake_run(root: Path) -> tuple[Path, dict[str, str]]:
    """A well-formed run of a one-cell plan under ``root/plan/k=v/seed=0/`` (made-up numbers, the
    config of :data:`OVERRIDES`), and the digests of that plan's cells."""
    config = OmegaConf.to_container(compose_config(OVERRIDES), resolve=True, enum_to_str=True) | {"seed": 0}
    steps = [{"t": t, "test_error": 0.5, "train_error": 0.4, "update_snr": [4.0, 1.0],
              "singular_values": [0.2, 0.1], "null_levels": [0.05, 0.1], "null_levels_frames": [0.05, 0.1],
              "learned_dims": 1, "learned_directions": [[1.0, 0.0], [0.0, 1.0]], "alignment": [0.3, 0.1],
              "aligned_dims": 1, "overlap": [[0.3, 0.0], [0.0, 0.1]]} for t in range(3)]
    metrics = {"config": config, "provenance": {}, "n": 32, "eta": 32.0, "steps": steps,
               "theory": {"r": 2, "linear_kernel_error": 0.5, "variance": 1.0}, "timings": {}}
    run = root / "plan" / "k=v" / "seed=0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    cosines = np.full((3, 4, 2), 0.1)
    np.savez(run / "arrays.npz", weight_cosines=cosines, update_cosines=cosines, teacher_projection=cosines,
             norm_outside=np.ones((3, 4)), a=np.ones(4))
    return run / "metrics.json", {"k=v": config_digest(OVERRIDES)}


def edit_metrics(change):
    def damage(run: Path) -> None:
        metrics = json.loads((run / "metrics.json").read_text())
        change(metrics)
        (run / "metrics.json").write_text(json.dumps(metrics))
    return damage


def truncate(name: str):
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])
    return damage


def edit_config(change):
    """Change the config in metrics.json and config.yaml alike (a run made with other overrides)."""
    def damage(run: Path) -> None:
        edit_metrics(lambda m: change(m["config"]))(run)
        config = json.loads((run / "metrics.json").read_text())["config"]
        (run / "config.yaml").write_text(yaml.safe_dump(config))
    return damage


def resave_arrays(run: Path) -> None:
    with np.load(run / "arrays.npz") as stored:
        arrays = {key: stored[key] for key in stored.files}
    np.savez(run / "arrays.npz", **arrays | {"update_cosines": arrays["update_cosines"][:2]})


DAMAGES = {
    "nan_test_error": ("metrics.json", "steps[1].test_error is not a finite number",
                       edit_metrics(lambda m: m["steps"][1].update(test_error=math.nan))),
    "inf_snr": ("metrics.json", "steps[2].update_snr[0] is not a finite number",
                edit_metrics(lambda m: m["steps"][2]["update_snr"].__setitem__(0, math.inf))),
    "missing_theory": ("metrics.json", "no 'theory'", edit_metrics(lambda m: m.pop("theory"))),
    "missing_step_key": ("metrics.json", "no 'steps[0].train_error'",
                         edit_metrics(lambda m: m["steps"][0].pop("train_error"))),
    "step_missing": ("metrics.json", "2 steps, expected 3", edit_metrics(lambda m: m["steps"].pop())),
    "truncated_json": ("metrics.json", "not valid JSON", truncate("metrics.json")),
    "foreign_config": ("metrics.json", "not the config of its cell", edit_config(lambda c: c.update(d=24))),
    "wrong_seed": ("metrics.json", "seed 3 in a folder seed=0", edit_config(lambda c: c.update(seed=3))),
    "no_arrays": ("arrays.npz", "missing", lambda run: (run / "arrays.npz").unlink()),
    "truncated_arrays": ("arrays.npz", "cannot be read", truncate("arrays.npz")),
    "arrays_steps": ("arrays.npz", "not 3 steps", resave_arrays),
    "no_config_yaml": ("config.yaml", "missing", lambda run: (run / "config.yaml").unlink()),
    "other_config_yaml": ("config.yaml", "not the config in metrics.json",
                          lambda run: (run / "config.yaml").write_text("d: 24\n")),
}


def test_a_whole_run_is_aggregated(tmp_path):
    path, digests = fake_run(tmp_path)
    assert len(runs_table([path], tmp_path, digests)) == 3
    assert len(neurons_table([path], tmp_path, digests)) == 3 * 4


@pytest.mark.parametrize(("n", "train", "expected"), [
    (4871, {"n": None, "alpha": None, "kappa": 1.75}, {"kappa": 1.75, "alpha": 4871 / 128}),
    (2048, {"n": None, "alpha": 16.0, "kappa": 1.0}, {"kappa": math.log(2048, 128), "alpha": 16.0}),
    (4871, {"n": 4871, "alpha": None, "kappa": 1.0}, {"kappa": math.log(4871, 128), "alpha": 4871 / 128}),
])
def test_the_runs_table_reads_the_configured_kappa_and_alpha(n, train, expected):
    """The key that set ``n`` is read as configured (``log(round(128^1.75)) / log(128)`` is
    1.7500003, which a window ``kappa <= 1.75`` would leave out); the others say what ``n`` is."""
    assert batch_size(train, n, 128) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("damage", DAMAGES)
def test_the_aggregate_refuses_a_damaged_run_with_one_line_naming_the_file(tmp_path, damage):
    path, digests = fake_run(tmp_path)
    name, problem, apply = DAMAGES[damage]
    apply(path.parent)
    for table in (runs_table, neurons_table):
        with pytest.raises(DamagedRunError) as error:
            table([path], tmp_path, digests)
        message = str(error.value)
        assert message.splitlines() == [message]
        assert message.startswith(f"{path.with_name(name)}: ") and problem in message, message


def test_repair_removes_only_the_damaged_run_and_the_tables_built_from_it(tmp_path):
    damaged, digests = fake_run(tmp_path / "a")
    whole, _ = fake_run(tmp_path / "b")
    DAMAGES["nan_test_error"][2](damaged.parent)
    tables = [tmp_path / "plan_runs.csv", tmp_path / "plan_neurons.csv"]
    for table in tables:
        table.write_text("stale\n")
    missing = tmp_path / "c" / "seed=0" / "metrics.json"
    runs = {damaged: digests["k=v"], whole: digests["k=v"], missing: digests["k=v"]}

    found = repair_runs(runs, tables, remove=False)  # a dry run: reported, left as is
    assert found.lines == [f"{damaged}: steps[1].test_error is not a finite number"]
    assert found.stale == {damaged, missing}
    assert damaged.exists() and all(table.exists() for table in tables)

    assert repair_runs(runs, tables, remove=True) == found
    assert sorted(p.name for p in damaged.parent.iterdir()) == []
    assert sorted(p.name for p in whole.parent.iterdir()) == ["arrays.npz", "config.yaml", "metrics.json"]
    assert not any(table.exists() for table in tables)
    assert repair_runs({whole: digests["k=v"]}, tables, remove=True).stale == set()


# --------------------------------------------------------------------------- workflows

def test_only_a_real_run_repairs_damaged_runs(tmp_path):
    """A damaged run is reported by a dry run, removed by a real run, and left alone by
    ``--lint``, which must never change results."""
    copy = copy_repository(tmp_path)
    cell = next(iter(load_plan("cosines", "smoke").cells))
    damaged = copy / "results" / "smoke" / "runs" / "cosines" / cell.path / "seed=0" / "metrics.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{")
    lint = snakemake(copy, "--lint", "--config", "scale=smoke", "plans=[cosines]", src=copy / "src")
    assert damaged.exists() and "giantstep:" not in lint.stderr, lint.stderr[-2000:]
    dry = snakemake(copy, "-n", "--config", "scale=smoke", "plans=[cosines]", src=copy / "src")
    assert damaged.exists() and "a run without -n recomputes it" in dry.stderr, dry.stderr[-2000:]


def write_plan(copy: Path, name: str, fixed: list[str], grid: dict) -> None:
    plan = {"description": f"{name}: test plan", "scales": {"smoke": {"fixed": fixed, "grid": grid}}}
    (copy / "conf" / "reproduce" / f"{name}.yaml").write_text(yaml.safe_dump(plan))


FIXED = ["d=32", "p=64", "readout.n_test=2000", "train.alpha=4", "target=custom"]
# Values for the shell, each of which would create a PWNED file if it reached one: quoted for
# Hydra, so literal strings that the CLI refuses as expressions, or not, so Hydra refuses them.
HOSTILE = ['"z1+$(touch PWNED_1)"', "'z1; touch PWNED_2'", "'`touch PWNED_3`'"]
UNPARSABLE = ["z1;touch PWNED_4", "`touch PWNED_5`"]
# Values that need Hydra quoting and run as they are, the name too.
EXPRESSIONS = ["'He3(z1)/sqrt(6)'", "'z1 + z1*z2'"]
NAME = "x$(touch PWNED_6); `touch PWNED_7` \"q\""


@pytest.fixture(scope="module")
def odd_values(tmp_path_factory):
    """A copy of the repository, the plans ``hostile``, ``quoted`` and ``unparsable`` in it, and
    the result of a workflow of each: the first two up to their runs table (``--keep-going``:
    every hostile cell fails)."""
    copy = copy_repository(tmp_path_factory.mktemp("odd"))
    write_plan(copy, "hostile", FIXED, {"target.expr": HOSTILE})
    write_plan(copy, "quoted", FIXED, {"target.expr": EXPRESSIONS, "target.name": [f"'{NAME}'"]})
    write_plan(copy, "unparsable", FIXED, {"target.expr": UNPARSABLE})
    return copy, {
        plan: snakemake(copy, f"results/smoke/tables/{plan}_runs.csv", "--cores", "2", "--keep-going",
                        "--config", "scale=smoke", f"plans=[{plan}]", src=copy / "src")
        for plan in ("hostile", "quoted", "unparsable")
    }


@pytest.mark.slow
def test_plan_values_never_reach_a_shell(odd_values):
    copy, results = odd_values
    assert not list(copy.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))
    assert results["hostile"].returncode != 0  # the hostile cells fail, each with one line in its log
    logs = sorted((copy / "results" / "smoke" / "logs" / "run" / "hostile").rglob("*.log"))
    assert len(logs) == len(HOSTILE)
    for log in logs:
        lines = log.read_text().splitlines()
        assert shlex.split(lines[0])[:2] == [f"GIANTSTEP_CONF={(copy / 'conf').resolve()}", "giantstep"]
        assert lines[-1].startswith("giantstep: error: ") and "target.expr" in lines[-1], lines


@pytest.mark.slow
def test_a_value_hydra_cannot_read_stops_the_workflow_before_any_job(odd_values):
    copy, results = odd_values
    refused = results["unparsable"]
    assert refused.returncode != 0
    line = "giantstep: plan 'unparsable': cannot parse override 'target.expr=z1;touch PWNED_4'"
    assert line in refused.stdout + refused.stderr, refused.stderr[-3000:]
    assert not (copy / "results" / "smoke" / "runs" / "unparsable").exists()


@pytest.mark.slow
def test_values_that_need_hydra_quoting_run_as_they_are(odd_values):
    copy, results = odd_values
    ran = results["quoted"]
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert (copy / "results" / "smoke" / "tables" / "quoted_runs.csv").exists()
    runs = sorted((copy / "results" / "smoke" / "runs" / "quoted").rglob("metrics.json"))
    assert len(runs) == len(EXPRESSIONS)
    configs = [json.loads(path.read_text())["config"]["target"] for path in runs]
    assert sorted(target["expr"] for target in configs) == sorted(e.strip("'") for e in EXPRESSIONS)
    assert {target["name"] for target in configs} == {NAME}
    for path in runs:
        assert all(SAFE_PART.fullmatch(part) for part in path.relative_to(copy).parts), path


WORKFLOW = ("--cores", "2", "--config", "scale=smoke", "plans=[cosines]")


def outputs(copy: Path) -> dict[str, bytes]:
    """Every table and REPORT.md of the smoke workflow, by path, less what records the run
    itself (provenance: times and commits differ between runs by design)."""
    results = copy / "results" / "smoke"
    tables = {f"tables/{path.name}": path.read_bytes() for path in sorted((results / "tables").iterdir())
              if not is_run_record(path.name)}
    return {**tables, "REPORT.md": without_run_records((results / "REPORT.md").read_text()).encode()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the repository with the cosines plan built to REPORT.md, and its outputs."""
    copy = copy_repository(tmp_path_factory.mktemp("integrity"))
    result = snakemake(copy, *WORKFLOW, src=copy / "src")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return copy, outputs(copy)


# The run the repair tests damage, relative to the copy.
RUN = f"results/smoke/runs/cosines/{load_plan('cosines', 'smoke').cells[0].path}/seed=0"


def rerun_by_hand_with(*extra: str):
    """Damage: rerun the cell by hand, from the first line of its log, with extra overrides."""
    def damage(copy: Path) -> None:
        cell = Path(RUN).parent.relative_to("results/smoke/runs")
        line = (copy / "results/smoke/logs/run" / f"{cell}.log").read_text().splitlines()[0]
        conf, command, *arguments = shlex.split(line)
        assert command == "giantstep" and conf == f"GIANTSTEP_CONF={(copy / 'conf').resolve()}", line
        env = dict(os.environ, PYTHONPATH=str(copy / "src"), GIANTSTEP_CONF=conf.split("=", 1)[1])
        done = subprocess.run([CLI, *arguments, *extra], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads((copy / RUN / "metrics.json").read_text())["config"]["d"] == 24
    return damage


def in_run(damage):
    return lambda copy: damage(copy / RUN)


def remove(*names: str):
    return lambda run: [(run / name).unlink() for name in names]


REPAIRS = {
    "foreign_run": (rerun_by_hand_with("d=24"), "metrics.json: not the config of its cell"),
    "nan_test_error": (in_run(DAMAGES["nan_test_error"][2]), "metrics.json: steps[1].test_error"),
    "truncated_json": (in_run(truncate("metrics.json")), "metrics.json: not valid JSON"),
    "deleted_arrays": (in_run(remove("arrays.npz")), "arrays.npz: missing"),
    "truncated_arrays": (in_run(truncate("arrays.npz")), "arrays.npz: cannot be read"),
    "deleted_config_yaml": (in_run(remove("config.yaml")), "config.yaml: missing"),
    "deleted_metrics": (in_run(remove("metrics.json")), ": incomplete, no metrics.json"),
    "deleted_run": (in_run(remove("metrics.json", "arrays.npz", "config.yaml")), None),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", REPAIRS)
def test_a_rerun_recomputes_a_damaged_run_and_restores_the_same_outputs(built, damage):
    copy, reference = built
    apply, problem = REPAIRS[damage]
    apply(copy)
    result = snakemake(copy, *WORKFLOW, src=copy / "src")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    if problem:
        assert f"giantstep: {RUN}" in output and problem in output, output[-4000:]
    assert job_counts(output)["run"] == 1
    assert sorted(p.name for p in (copy / RUN).iterdir()) == ["arrays.npz", "config.yaml", "metrics.json"]
    assert outputs(copy) == reference
    # The recomputed run, like every untouched one, gives its cell's digest: nothing more to do.
    again = snakemake(copy, "-n", *WORKFLOW, src=copy / "src")
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "giantstep:" not in again.stdout + again.stderr
