"""Snakemake script: run artifacts of one plan -> one tidy CSV table (giantstep.analysis)."""

import sys
from pathlib import Path

from giantstep.analysis import neurons_table, runs_table

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")
build = {"runs": runs_table, "neurons": neurons_table}[sm.params.table]
build([Path(p) for p in sm.input], Path(sm.params.runs_root)).to_csv(sm.output[0], index=False)
