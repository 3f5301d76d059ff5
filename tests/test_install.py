"""Which configuration tree ``conf/`` is read (:func:`giantstep.paths.conf_dir`).

One environment, two checkouts: this environment's package is installed (editable) from this
checkout, yet the workflow of a second checkout, its main process and its jobs, reads that
checkout's ``conf/``. And a non-editable install runs from any folder with the ``conf/`` it ships.
The second checkout (the *clone*) is a copy of this working tree with a plan of its own and one
default changed, so that reading the wrong tree shows.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from giantstep.paths import CONF_VARIABLE, conf_dir
from giantstep.reproduce.plans import available_plans, load_plan

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PLAN = "only_here"  # a plan only the clone has: a copy of the cosines plan
RIDGE = 0.25  # the clone's default readout.ridge (this checkout's is 1.0)
TABLE = f"results/smoke/tables/{PLAN}_runs.csv"


def copy_working_tree(destination: Path) -> Path:
    """The files git knows of in this working tree (tracked or not ignored), as they are now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():  # a tracked file may be deleted in the working tree
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A second checkout: a plan of its own, ``readout.ridge`` defaulting to :data:`RIDGE`."""
    clone = copy_working_tree(tmp_path_factory.mktemp("clone"))
    shutil.copy2(clone / "conf/reproduce/cosines.yaml", clone / f"conf/reproduce/{PLAN}.yaml")
    config = clone / "conf/config.yaml"
    text = config.read_text()
    assert "\n  ridge: 1.0 " in text
    config.write_text(text.replace("\n  ridge: 1.0 ", f"\n  ridge: {RIDGE} "))
    return clone


def plain_env(**extra: str) -> dict[str, str]:
    """This environment, less anything that points at a configuration tree or a source tree."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", CONF_VARIABLE, "GIANTSTEP_VERBOSE", "HYDRA_FULL_ERROR")}
    return {**env, **extra}


def snakemake_in(clone: Path, *args: str) -> subprocess.CompletedProcess:
    """This environment's snakemake, started in the clone as a user would (no PYTHONPATH)."""
    return subprocess.run([SNAKEMAKE, TABLE, "--config", "scale=smoke", f"plans=[{PLAN}]", *args],
                          cwd=clone, env=plain_env(), capture_output=True, text=True, timeout=600)


def test_conf_dir_is_the_variable_when_set_else_this_source_tree(clone, monkeypatch):
    monkeypatch.setenv(CONF_VARIABLE, str(clone / "conf"))
    assert conf_dir() == (clone / "conf").resolve()
    assert PLAN in available_plans()  # read at each call, not frozen at import
    monkeypatch.delenv(CONF_VARIABLE)
    assert conf_dir() == REPO / "conf"
    assert PLAN not in available_plans()


def test_the_workflow_of_a_second_checkout_finds_its_own_plan(clone):
    result = snakemake_in(clone, "-n")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    cells = len(load_plan("cosines", "smoke").cells)
    assert f"results/smoke/batches/{PLAN}/1-of-1.json" in result.stdout, result.stdout
    assert f"giantstep: {PLAN} batch 1-of-1 computes all its {cells} cells" in result.stderr, result.stderr


@pytest.mark.slow
def test_the_jobs_of_a_second_checkout_read_its_conf(clone):
    result = snakemake_in(clone, "--cores", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    logs = sorted((clone / "results/smoke/logs/run" / PLAN).rglob("*.log"))
    metrics = sorted((clone / "results/smoke/runs" / PLAN).rglob("metrics.json"))
    assert logs and len(metrics) == len(logs)
    tree = f"{CONF_VARIABLE}={(clone / 'conf').resolve()}"
    for log in logs:  # the command that reruns the cell by hand names the clone's tree
        assert shlex.split(log.read_text().splitlines()[0])[:2] == [tree, "giantstep"]
    assert {json.loads(path.read_text())["config"]["readout"]["ridge"] for path in metrics} == {RIDGE}


@pytest.fixture(scope="module")
def installed(clone, tmp_path_factory) -> Path:
    """The clone installed as a user's ``pip install <clone>`` would, into a folder of its own."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-qq", "--disable-pip-version-check",
                           "--no-deps", "--no-build-isolation", "--target", str(site), str(clone)],
                          env=plain_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return site


def test_the_installed_package_holds_every_file_of_the_source_and_of_conf(clone, installed):
    def files(root: Path) -> set[Path]:
        return {path.relative_to(root) for path in root.rglob("*") if path.is_file()}

    assert files(clone / "src/giantstep") <= files(installed / "giantstep")  # modules, templates
    assert files(clone / "conf") == files(installed / "giantstep/conf")


def test_the_installed_package_runs_from_any_folder_with_the_conf_it_ships(installed, tmp_path):
    def python(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=tmp_path, env=plain_env(PYTHONPATH=str(installed)),
                              capture_output=True, text=True, timeout=300)

    package = installed / "giantstep"  # not the editable install of this checkout, which is on sys.path too
    where = python("-c", "import giantstep, giantstep.paths as p; print(giantstep.__file__, p.conf_dir())")
    assert where.stdout.split() == [str(package / "__init__.py"), str(package / "conf")], where.stderr
    shown = python("-m", "giantstep", "--cfg", "job")
    assert shown.returncode == 0 and f"ridge: {RIDGE}\n" in shown.stdout, shown.stderr
    run = python("-m", "giantstep", "d=8", "p=16", "train.n=64", "readout.n_test=64", "metrics.n_null=4",
                 f"hydra.run.dir={tmp_path / 'run'}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads((tmp_path / "run/metrics.json").read_text())["config"]["readout"]["ridge"] == RIDGE
