"""Shared fixtures: composing configs like the CLI does, and running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from giantstep.config import resolve
from giantstep.schema import compose

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings():
    """``settings(*overrides)`` -> checked Settings, composed as ``giantstep <overrides>``."""
    return lambda *overrides: resolve(compose(overrides))


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m giantstep <args>`` in ``cwd``; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GIANTSTEP_VERBOSE", None)
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "giantstep", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
    )
