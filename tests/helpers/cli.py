"""The ``giantstep`` command line as a child process, for the tests that run it end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VERBOSE_FLAGS = ("GIANTSTEP_VERBOSE", "HYDRA_FULL_ERROR")


def run_cli(*args: str, cwd: Path, env: dict | None = None,
            umask: int | None = None) -> subprocess.CompletedProcess:
    """``python -m giantstep <args>`` in ``cwd`` with ``env`` added to this process's environment,
    less :data:`VERBOSE_FLAGS` unless ``env`` sets them, under ``umask`` when given."""
    inherited = {key: value for key, value in os.environ.items() if key not in VERBOSE_FLAGS}
    return subprocess.run([sys.executable, "-m", "giantstep", *args], cwd=cwd,
                          env={**inherited, **(env or {})}, capture_output=True, text=True, timeout=300,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))
