"""Snakemake script: tidy tables -> one figure as PDF and PNG (giantstep.reproduce.figures)."""

import sys

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")

from giantstep.reproduce.figures import FIGURES, save_figure  # noqa: E402
from giantstep.reproduce.tables import read_tables  # noqa: E402 (after the log redirect: warnings go there)

figure = FIGURES[sm.params.figure](read_tables(dict(sm.input.items())))
save_figure(figure, sm.output.pdf, sm.output.png)
