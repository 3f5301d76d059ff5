"""Where the project's files are: the source tree and its configuration tree ``conf/``."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]  # the source tree this package sits in (src/giantstep -> the repository)


def conf_dir() -> Path:
    """The configuration tree: ``conf/`` of the source tree."""
    return REPO / "conf"
