"""The reproduction layer: from run folders to tables, verdicts, figures and REPORT.md.

It mirrors ``conf/reproduce/`` and the Snakemake workflow, one module per stage:

- :mod:`~giantstep.reproduce.plans`: plan files -> cells (the sweep of each plan) and their digests;
- :mod:`~giantstep.reproduce.aggregate`: run folders -> tidy runs and neurons tables (checked);
- :mod:`~giantstep.reproduce.labels`: names, the paper's readings and the verdict vocabulary;
- :mod:`~giantstep.reproduce.tables`: derived tables and their CSV / Markdown / LaTeX forms;
- :mod:`~giantstep.reproduce.theory_tables`: the tables that compute theory (the only ones that
  import torch);
- :mod:`~giantstep.reproduce.claims`: the checks of claims C1–C7 and their verdicts;
- :mod:`~giantstep.reproduce.figures`: the seaborn figures;
- :mod:`~giantstep.reproduce.report`: REPORT.md, its prose from ``templates/``;
- :mod:`~giantstep.reproduce.batch_reuse`: the tables and checks of the batch-reuse plan (beyond the paper);
- :mod:`~giantstep.reproduce.estimate`: the cost of a scale, per plan, before running it.

Everything here reads the engine's artifacts; nothing here trains a network.
"""
