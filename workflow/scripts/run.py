"""Snakemake script: one batch of a plan's cells, all their seeds, in this one process
(giantstep.reproduce.batches.run_batch): the runs of each cell that are whole are kept, the
others computed; the manifest is written when every cell succeeded.

Plan values reach Hydra's Compose API as override strings, never a shell. Each computed cell's
log (logs/run/<plan>/<cell>.log) starts with the command line that reruns it by hand
(``GIANTSTEP_CONF=<conf/> giantstep ...``). The job fails with exit status 2 when a cell fails,
after trying the others; each failure is one line in the cell's log and in the job's.
"""

import os
import sys
from pathlib import Path

# As the CLI does (giantstep.cli.main), before torch loads: transparent huge pages for its buffers.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
from giantstep.reproduce.batches import BatchCell, run_batch  # noqa: E402

sm = snakemake  # noqa: F821 (set by Snakemake)
with open(sm.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    status = run_batch(
        [BatchCell(path, tuple(overrides), digest) for path, (overrides, digest) in sm.params.cells.items()],
        sm.params.seeds,
        runs_root=Path(sm.params.runs_root),
        logs_root=Path(sm.params.logs_root),
        threads=sm.threads,
        manifest=Path(sm.output[0]),
    )
sys.exit(status)
