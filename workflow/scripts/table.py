"""Snakemake script: tidy tables -> one derived table as CSV (+ Markdown, LaTeX).

Each table's builder imports only what it needs: the two theory tables import torch
(giantstep.reproduce.theory_tables), every other table is pandas only.
"""

import sys

sm = snakemake  # noqa: F821 (set by Snakemake)
sys.stderr = open(sm.log[0], "w")

from giantstep.reproduce import batch_reuse  # noqa: E402
from giantstep.reproduce import tables as derived  # noqa: E402 (after the log redirect: warnings go there)


def theory(tables):
    from giantstep.reproduce.theory_tables import theory_table

    return theory_table()


def cosine_lines(tables):
    from giantstep.reproduce.theory_tables import cosine_lines

    return cosine_lines(tables["neurons"], tables["runs"], tables["theory"])


def claims(tables):
    from giantstep.reproduce.claims import evaluate_claims

    runs = next((tables[p] for p in derived.FIGURE_PLANS.values() if p in tables), None)
    return evaluate_claims(tables, derived.learned_threshold(runs))


def provenance(tables):
    from giantstep.reproduce.provenance import provenance_summary

    return provenance_summary(tables)  # keyed by plan: each plan's provenance table


BUILDERS = {  # table name (the rule's params.table) -> builder from the rule's input tables
    "theory": theory,
    "cosine_lines": cosine_lines,
    "staircase": lambda tables: derived.staircase_table(tables["runs"]),
    "staircase_climb": lambda tables: derived.climb_table(tables["runs"]),
    "learning_curves_vs_paper": lambda tables: derived.learning_curve_comparison(tables["runs"]),
    "figure1": lambda tables: derived.figure1_fit(tables["runs"]),
    "batch_reuse_anchor": lambda tables: batch_reuse.anchor_table(tables["runs"], tables["neurons"]),
    "batch_reuse_map": lambda tables: batch_reuse.regime_table(tables["runs"]),
    "settings": derived.settings_table,
    "claims": claims,
    "provenance": provenance,
}

# The claims, settings and provenance also read the tables of plans outside this run that earlier runs left.
earlier = dict(sm.params.items()).get("earlier", {})
inputs = derived.read_tables({**earlier, **dict(sm.input.items())})
derived.write_table(BUILDERS[sm.params.table](inputs), *sm.output)
