"""Snakemake script: tidy tables -> one figure as PDF and PNG (giantstep.plotting)."""

import sys

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")

from giantstep.claims import read_tables  # noqa: E402 (after the log redirect: warnings go there)
from giantstep.plotting import FIGURES, save_figure  # noqa: E402

figure = FIGURES[sm.params.figure](read_tables(dict(sm.input.items())))
save_figure(figure, sm.output.pdf, sm.output.png)
