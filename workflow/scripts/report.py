"""Snakemake script: tables and figures -> REPORT.md (giantstep.reproduce.report).

Tables and figures of plans outside this run come from ``params.earlier`` (what earlier runs
left on disk, ``params.earlier_figures``); the report names those plans with the time their runs
tables were written (``params.written``). The other scale's tables on disk (``params.others``)
are compared with this scale's.
"""

import sys
from pathlib import Path

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")

from giantstep.reproduce.report import report_markdown  # noqa: E402
from giantstep.reproduce.tables import read_tables  # noqa: E402 (after the log redirect: warnings go there)

tables = read_tables({**sm.params.earlier, **dict(sm.input.items())})
figures = [Path(path).stem for path in [*sm.input.figures, *sm.params.earlier_figures]]
others = {scale: read_tables(paths) for scale, paths in sm.params.others.items()}
Path(sm.output[0]).write_text(report_markdown(sm.params.scale, tables, figures, sm.params.written, others))
