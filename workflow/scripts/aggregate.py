"""Snakemake script: run artifacts of one plan -> one CSV table (giantstep.reproduce.aggregate):
its runs, its neurons, or its runs' provenance.

A run that fails its check stops the job with one line naming the file, in the log and on
the console; the next run of the workflow recomputes that run.
"""

import sys
from pathlib import Path

from giantstep.reproduce.aggregate import DamagedRunError, neurons_table, provenance_table, runs_table

sm = snakemake  # noqa: F821 (set by Snakemake)
console, sys.stderr = sys.stderr, open(sm.log[0], "w")
build = {"runs": runs_table, "neurons": neurons_table, "provenance": provenance_table}[sm.params.table]
try:
    table = build([Path(p) for p in sm.params.runs], Path(sm.params.runs_root), sm.params.digests)
except DamagedRunError as error:
    for stream in (sys.stderr, console):
        print(f"giantstep: {error}; run the workflow again: it recomputes this run", file=stream)
    sys.exit(1)
table.to_csv(sm.output[0], index=False)
