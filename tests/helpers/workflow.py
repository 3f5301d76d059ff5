"""Workflow runs for the tests: Snakemake on a copy of the repository, and its job counts.

A copy (:func:`copy_repository`) holds the Snakefile, ``workflow/``, ``conf/`` and ``src/``, and
:func:`snakemake` runs it with ``PYTHONPATH`` at the copy's ``src``, so a test can edit a plan or
a default in ``conf/`` without touching the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str, src: Path | None = None) -> subprocess.CompletedProcess:
    """Run snakemake on ``workdir``'s Snakefile (the checkout's when ``workdir`` has none)."""
    snakefile = workdir / "Snakefile" if (workdir / "Snakefile").exists() else REPO / "Snakefile"
    env = dict(os.environ, PYTHONPATH=str(src or REPO / "src"))
    return subprocess.run(
        [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=900,
    )


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake run or dry run, as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE) if m[1] != "total"}


def copy_repository(destination: Path) -> Path:
    """Copy what the workflow needs (no results, caches or build files) into ``destination``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake", "results")
    for name in ("Snakefile", "environment.yml", "workflow", "conf", "src"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


# What a workflow writes about the run itself rather than its results (giantstep.reproduce.provenance):
# the provenance tables, and in REPORT.md the runs line and the provenance section. They differ
# between two runs of the same workflow by design (times, commits, machines); the rest must not.
RECORD_TABLE = re.compile(r"(^|_)provenance\.(csv|md|tex)$")
REPORT_RECORDS = re.compile(r"^\*\*The runs\.\*\* .*\n|^## Provenance and wall time\n.*?(?=^## |\Z)",
                            re.MULTILINE | re.DOTALL)


def is_run_record(name: str) -> bool:
    """Whether the table file ``name`` records the run (provenance) rather than its results."""
    return bool(RECORD_TABLE.search(name))


def without_run_records(report: str) -> str:
    """REPORT.md less its runs line and its provenance section."""
    return REPORT_RECORDS.sub("", report)
