"""Terminal filter of ``make reproduce`` (not a Snakemake script): every line as it comes, except
Snakemake's ``N of M steps (P%) done``, shown once per 5 % of the jobs and at the last one.

Read line by line and flushed at once, so progress shows while the workflow runs.
"""

import re
import sys

PROGRESS = re.compile(r"(\d+) of (\d+) steps \((\d+)%\) done")
EVERY = 5  # percent of the jobs between two progress lines

shown = None
for line in sys.stdin:
    progress = PROGRESS.fullmatch(line.strip())
    if progress:
        done, total, percent = progress.groups()
        if int(percent) // EVERY == shown and done != total:
            continue
        shown = int(percent) // EVERY
    sys.stdout.write(line)
    sys.stdout.flush()
