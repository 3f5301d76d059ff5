"""The SLURM profile against a real one-node SLURM cluster on 127.0.0.1 (see slurm_cluster.py).

Workflows are run with ``workflow/profiles/slurm`` plus the few settings this test cluster needs
(``TEST_CLUSTER_ARGS``), every Snakemake call under ``timeout -k 10``.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers.workflow import is_run_record
from slurm_cluster import LocalSlurmCluster, assert_nothing_left

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
TOY = Path(__file__).resolve().parent / "toy" / "Snakefile"
SNAKEFILE = REPO / "Snakefile"
TABLES = Path("results/smoke/tables")

#: What this cluster needs on top of the shipped profile: its partition, set the way the README
#: tells users to; no accounting database, so job status comes from squeue (MinJobAge=600 keeps
#: finished jobs there) and there are no accounts; a short first status check.
TEST_CLUSTER_ARGS = [
    "--set-resources", "run:slurm_partition=debug",
    "--slurm-status-command", "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks", "1",
]  # fmt: skip
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/rule_(\w+)/")


class Snakemake:
    """Snakemake started under ``timeout -k 10 timeout_s``, its output going to ``<workdir>.log``."""

    def __init__(self, snakefile: Path, workdir: Path, *args: str, env=None, timeout_s: int):
        self.log, self.timeout_s = workdir.with_suffix(".log"), timeout_s
        command = ["timeout", "-k", "10", str(timeout_s), sys.executable, "-m", "snakemake"]
        command += ["-s", str(snakefile), "--directory", str(workdir), *args]
        workdir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def wait(self) -> tuple[int, str]:
        """Exit status and output; fails the test if the time limit was hit."""
        returncode, output = self.process.wait(), self.log.read_text()
        assert returncode not in (124, 137), f"timed out after {self.timeout_s} s:\n{output}"
        return returncode, output


def on_slurm(cluster: LocalSlurmCluster, snakefile: Path, workdir: Path, *args: str, timeout_s: int):
    return Snakemake(
        snakefile, workdir, "--profile", str(PROFILE), *TEST_CLUSTER_ARGS, *args,
        env=cluster.env, timeout_s=timeout_s,
    )  # fmt: skip


def submitted_rules(log: str) -> list[str]:
    return [rule for _, rule in SUBMITTED.findall(log)]


def test_toy_workflow_runs_its_jobs_on_slurm(slurm_cluster):
    """`run` jobs become SLURM jobs, a `gpu: 1` resource gets a GPU, local rules stay local."""
    workdir = slurm_cluster.root / "work" / "toy"
    returncode, output = on_slurm(slurm_cluster, TOY, workdir, "--config", "gpu=1", timeout_s=120).wait()
    assert returncode == 0, output
    assert submitted_rules(output) == ["run", "run"], output
    cells = [dict(f.split("=") for f in ln.split()) for ln in (workdir / "gathered.txt").open()]
    assert [cell["cell"] for cell in cells] == ["0", "1"]
    assert all(cell["slurm_job"].isdigit() for cell in cells), cells
    assert [cell["cuda"] for cell in cells] == ["0", "none"], cells  # only cell 0 asked for one


def test_a_job_failing_on_the_cluster_fails_the_workflow(slurm_cluster):
    """The deliberately failing case: Snakemake exits non-zero and names the failed SLURM job."""
    workdir = slurm_cluster.root / "work" / "toy-fail"
    returncode, output = on_slurm(slurm_cluster, TOY, workdir, "--config", "fail=1", timeout_s=120).wait()
    assert returncode != 0, output
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", output), output
    assert "cell 1 fails on purpose" in output
    assert (workdir / "runs" / "0.txt").exists()  # keep-going: the healthy cell still finished
    assert not (workdir / "gathered.txt").exists()


def test_teardown_after_a_failure_leaves_nothing_behind(slurm_installed):
    """A block that dies with a job still running: daemons, job and folder all go."""
    root = Path(tempfile.mkdtemp(prefix="giantstep-slurm-"))
    daemons: list[subprocess.Popen] = []
    try:
        with pytest.raises(RuntimeError, match="on purpose"):
            with LocalSlurmCluster(root) as cluster:
                daemons = list(cluster.daemons.values())
                cluster.run("sbatch", "-D", str(root), "--wrap", "sleep 300", timeout=10)
                for _ in range(100):
                    if cluster.run("squeue", "-h", "-t", "R", "-o", "%i").stdout.strip():
                        break
                    time.sleep(0.1)
                else:
                    pytest.fail("the sleep job never started")
                raise RuntimeError("failing on purpose with a job running")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert_nothing_left(root, daemons)


def test_smoke_workflow_on_slurm_gives_the_tables_of_a_local_run(slurm_cluster):
    """The real workflow at smoke scale: every `run` job through SLURM, aggregation local, and
    every table (CSV, Markdown, LaTeX) byte for byte what a local run writes: they hold no wall
    times or other run-to-run values; only the provenance tables, which record them by design,
    are left out (present on both sides, not compared). The two
    runs go side by side: the SLURM one idles between status checks."""
    local, remote = (slurm_cluster.root / "work" / name for name in ("smoke-local", "smoke-slurm"))
    config = ("--config", "scale=smoke")
    slurm_run = on_slurm(slurm_cluster, SNAKEFILE, remote, *config, timeout_s=420)
    local_run = Snakemake(SNAKEFILE, local, *config, "--cores", "2", timeout_s=420)
    (local_returncode, local_output), (returncode, output) = local_run.wait(), slurm_run.wait()
    assert local_returncode == 0, local_output
    assert returncode == 0, output

    scheduled = re.findall(r"^(local)?rule (\w+):$", output, re.MULTILINE)
    remote_rules = [rule for is_local, rule in scheduled if not is_local]
    assert set(remote_rules) == {"run"}, scheduled
    assert submitted_rules(output) == remote_rules, output

    tables = sorted(path.name for path in (local / TABLES).iterdir())
    assert any(name.endswith(".csv") for name in tables), f"the local run wrote no tables: {tables}"
    assert sorted(path.name for path in (remote / TABLES).iterdir()) == tables
    for table in (name for name in tables if not is_run_record(name)):  # provenance: times differ
        expected, got = (local / TABLES / table).read_text(), (remote / TABLES / table).read_text()
        if got != expected:
            diff = difflib.unified_diff(expected.splitlines(), got.splitlines(), "local", "slurm", n=0)
            pytest.fail(f"{table} differs:\n" + "\n".join(list(diff)[:20]))
