"""Interruption and concurrency: a run or a workflow killed with SIGKILL leaves no
completion marker, and resuming it gives exactly the results of an uninterrupted one;
``--cores 2`` gives the tables of ``--cores 1``; workflows in two directories run side by side.

The workflows run two plans of the smoke scale (seven run jobs) and build their tables only,
each in its own directory, under the network guard of ``helpers.guard``.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.guard import blocked_attempts, network_guard, results_of

from giantstep.reproduce.plans import load_plan

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# Three giant steps of ~0.5 s each over 91 chunks: long enough to be killed inside step 2.
LONG_RUN = ("d=64", "p=256", "train.steps=3", "train.kappa=2.75", "chunk_size=1024",
            "readout.n_train=2000", "readout.n_test=2000", "metrics.n_neurons=16", "threads=1",
            "hydra.run.dir=run")
INSIDE_STEP_2 = re.compile(r"(?<![a-z])step 2: +\d+%\|[^|\r\n]*\| *(\d+)/(\d+)")

PLANS = ("cosines", "learning_curves")
TABLES = [f"results/smoke/tables/{name}_{kind}.csv" for name in PLANS
          for kind in ("runs", "neurons") if kind == "runs" or load_plan(name, "smoke").neurons]
N_RUNS = sum(len(load_plan(name, "smoke").cells) * len(load_plan(name, "smoke").seeds) for name in PLANS)


def cli(directory: Path, env: dict, **popen) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "giantstep", *LONG_RUN], cwd=directory,
                            env={**os.environ, **env}, **popen)


def kill_inside_step_2(directory: Path, env: dict) -> str:
    """Start the long run with its progress bars on a terminal; SIGKILL it inside step 2.

    Returns what the terminal showed. The bars are drawn only on a terminal, hence the pty
    (with a width, or tqdm draws nothing).
    """
    terminal, child_end = pty.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    process = cli(directory, env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child_end)
    os.close(child_end)
    shown, deadline, killed = "", time.monotonic() + 240, False
    try:
        while not killed and time.monotonic() < deadline:
            if not select.select([terminal], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the run ended: the terminal is closed
                break
            shown += chunk.decode(errors="replace")
            progress = [(int(done), int(total)) for done, total in INSIDE_STEP_2.findall(shown)]
            if any(0 < done < total for done, total in progress):
                process.send_signal(signal.SIGKILL)
                killed = True
    finally:
        process.kill()
        process.wait(timeout=60)
        os.close(terminal)
    assert killed, f"no progress inside step 2 was shown:\n{shown[-2000:]}"
    assert process.returncode == -signal.SIGKILL, process.returncode
    return shown


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    return network_guard(tmp_path_factory.mktemp("guard"))


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory, guard):
    """``(killed, uninterrupted, files left by the kill)``: the run killed inside step 2 and
    then run again with the same command, and the same run left alone (run meanwhile)."""
    env, _ = guard
    root = tmp_path_factory.mktemp("killed_run")
    uninterrupted = cli(root / "uninterrupted", env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_inside_step_2(root / "killed", env)
    left = sorted(p.relative_to(root / "killed").as_posix() for p in (root / "killed").rglob("*"))
    again = cli(root / "killed", env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for process in (again, uninterrupted):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
    return root / "killed" / "run", root / "uninterrupted" / "run", left


def test_killed_run_leaves_no_completion_marker(killed_run):
    _, _, left = killed_run
    assert not [path for path in left if path.endswith("metrics.json") or path.endswith(".tmp")], left


def test_rerun_after_kill_equals_an_uninterrupted_run(killed_run):
    killed, uninterrupted, _ = killed_run
    again = json.loads((killed / "metrics.json").read_text())
    reference = json.loads((uninterrupted / "metrics.json").read_text())
    assert json.dumps(results_of(again)) == json.dumps(results_of(reference))
    with np.load(killed / "arrays.npz") as a, np.load(uninterrupted / "arrays.npz") as b:
        assert a.files == b.files
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key


def workflow(directory: Path, cores: int, *extra: str) -> list[str]:
    """The profile's command on the smoke tables of :data:`PLANS`, in ``directory``."""
    return [SNAKEMAKE, *TABLES, "-s", str(REPO / "Snakefile"), "--directory", str(directory),
            "--profile", str(REPO / "workflow" / "profiles" / "default"),
            "--cores", str(cores), *extra, "--config", "scale=smoke", f"plans=[{','.join(PLANS)}]"]


def start(directory: Path, cores: int, env: dict) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f"{directory.name}.log", "w") as log:
        return subprocess.Popen(workflow(directory, cores), cwd=directory, env={**os.environ, **env},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def finish(process: subprocess.Popen, directory: Path) -> None:
    process.wait(timeout=600)
    log = directory.parent / f"{directory.name}.log"
    assert process.returncode == 0, log.read_text()[-4000:]


def completed_runs(directory: Path) -> list[Path]:
    return sorted((directory / "results" / "smoke" / "runs").rglob("metrics.json"))


def running_jobs(directory: Path) -> int:
    """Run jobs started (each writes its log first) but not complete."""
    started = len(list((directory / "results" / "smoke" / "logs" / "run").rglob("*.log")))
    return started - len(completed_runs(directory))


@pytest.fixture(scope="module")
def workflows(tmp_path_factory, guard):
    """Three workflows started together in three directories: ``cores2`` and ``cores1`` run
    through; ``killed`` (``--cores 2``) is killed with SIGKILL, with all its jobs, once two
    runs are complete and another is running, and resumed with ``--unlock`` and the same
    command.

    Returns ``({name: directory}, what the killed one had when it was killed)``.
    """
    env, _ = guard
    root = tmp_path_factory.mktemp("workflows")
    dirs = {name: root / name for name in ("cores2", "cores1", "killed")}
    processes = {"cores2": start(dirs["cores2"], 2, env), "cores1": start(dirs["cores1"], 1, env),
                 "killed": start(dirs["killed"], 2, env)}
    deadline = time.monotonic() + 300
    while not (len(completed_runs(dirs["killed"])) >= 2 and running_jobs(dirs["killed"]) > 0):
        assert processes["killed"].poll() is None and time.monotonic() < deadline, "not killed mid-way"
        time.sleep(0.1)
    os.killpg(processes["killed"].pid, signal.SIGKILL)  # snakemake and every job it started
    processes["killed"].wait(timeout=60)
    at_kill = {
        "returncode": processes["killed"].returncode,
        "runs": len(completed_runs(dirs["killed"])),
        "running": running_jobs(dirs["killed"]),
        "locks": sorted(p.name for p in (dirs["killed"] / ".snakemake" / "locks").glob("*")),
    }
    for arguments in (workflow(dirs["killed"], 2, "--unlock"), workflow(dirs["killed"], 2)):
        result = subprocess.run(arguments, cwd=dirs["killed"], env={**os.environ, **env},
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    for name in ("cores2", "cores1"):
        finish(processes[name], dirs[name])
    return dirs, at_kill


def tables(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes()
            for path in sorted((directory / "results" / "smoke" / "tables").glob("*.csv"))}


def test_killed_workflow_resumes_to_the_tables_of_an_uninterrupted_one(workflows):
    dirs, at_kill = workflows
    assert at_kill["returncode"] == -signal.SIGKILL
    assert 2 <= at_kill["runs"] < N_RUNS, at_kill  # killed mid-way
    assert at_kill["locks"], at_kill  # left by the kill: what --unlock removes
    resumed = tables(dirs["killed"])
    assert sorted(resumed) == sorted(Path(table).name for table in TABLES)
    assert resumed == tables(dirs["cores2"])


def test_two_jobs_at_once_give_the_tables_of_one_at_a_time(workflows):
    dirs, _ = workflows
    assert tables(dirs["cores2"]) == tables(dirs["cores1"])
    assert len(tables(dirs["cores1"])) == len(TABLES)


def test_two_workflows_side_by_side_do_not_interfere(workflows, guard):
    """``cores1`` and ``cores2`` ran at the same time in two directories: each holds its own
    complete set of runs and tables (equal, as the previous tests check), and no job of any
    of the three workflows reached for the network."""
    dirs, _ = workflows
    for directory in dirs.values():
        assert len(completed_runs(directory)) == N_RUNS
        assert not list((directory / "results").rglob("*.tmp"))
    _, log = guard
    guarded = [line for line in log.read_text().splitlines() if line.endswith(" guarded")]
    assert len(guarded) >= 3 * N_RUNS  # the jobs too, not only snakemake
    assert blocked_attempts(log) == []
