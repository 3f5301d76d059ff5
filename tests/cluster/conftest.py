"""Fixtures for the SLURM cluster tests: Slurm installed (via apt when missing), a one-node
cluster under a temporary folder, and the check that nothing of it outlives the tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import LocalSlurmCluster, assert_nothing_left

SLURM_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
SLURM_TOOLS = ("slurmctld", "slurmd", "munged", "sinfo", "sbatch", "srun", "squeue")


@pytest.fixture(scope="session")
def slurm_installed() -> None:
    """Install Slurm and munge from the Debian packages unless their tools are on PATH already.
    Skips (with the reason) only where that cannot be done: not root, or no apt-get."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("the SLURM executor plugin is missing: pip install -r requirements/slurm.txt")
    if all(shutil.which(tool) for tool in SLURM_TOOLS):
        return
    if os.geteuid() != 0:
        pytest.skip("Slurm is not installed, and installing it with apt-get needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("Slurm is not installed, and there is no apt-get to install it with")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=180)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *SLURM_PACKAGES],
        env=env,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    assert not missing, f"apt-get installed {SLURM_PACKAGES} but these are not on PATH: {missing}"


@pytest.fixture(scope="session")
def slurm_cluster(slurm_installed) -> Iterator[LocalSlurmCluster]:
    """One cluster for the whole session; every workflow run puts its folder under its root."""
    root = Path(tempfile.mkdtemp(prefix="giantstep-slurm-"))
    cluster = LocalSlurmCluster(root)
    try:
        with cluster:
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert_nothing_left(root, list(cluster.daemons.values()))
