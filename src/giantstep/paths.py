"""Where the project's files are: the source tree and its configuration tree ``conf/``."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]  # the source tree this package sits in (src/giantstep -> the repository)
CONF_VARIABLE = "GIANTSTEP_CONF"  # names the configuration tree to read; the workflow sets it


def conf_dir() -> Path:
    """The configuration tree ``conf/``, looked up at each call, first match wins:

    1. ``$GIANTSTEP_CONF`` when set (the workflow sets it to the ``conf/`` beside its Snakefile,
       so that a workflow and its jobs read the tree they run in, whatever package is installed);
    2. ``conf/`` of the source tree the package sits in (an editable install, ``PYTHONPATH=src``);
    3. the copy shipped inside the package (``giantstep/conf``, a wheel or ``pip install .``).
    """
    if os.environ.get(CONF_VARIABLE):
        return Path(os.environ[CONF_VARIABLE]).resolve()
    source = REPO / "conf"
    if PACKAGE.parent.name == "src" and source.is_dir():
        return source
    return PACKAGE / "conf"
