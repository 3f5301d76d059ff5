"""Snakemake script: tidy tables -> one derived table as CSV (+ Markdown, LaTeX) (giantstep.report)."""

import sys

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")

from giantstep.claims import read_tables  # noqa: E402 (after the log redirect: warnings go there)
from giantstep.report import TABLES, write_table  # noqa: E402

tables = read_tables(dict(sm.input.items()))
write_table(TABLES[sm.params.table](tables), *sm.output)
