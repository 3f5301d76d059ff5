"""Snakemake script: one plan cell -> the giantstep CLI, started without a shell.

Plan values are arguments of the process, never shell text: a value holding ``;``,
``$(...)``, quotes or backticks reaches Hydra as it is, which runs it as a literal value or
refuses it with one line. The log's first line is the shell-quoted command that reruns the
cell by hand, with the workflow's configuration tree (``GIANTSTEP_CONF=<conf/> giantstep ...``);
the CLI's output follows it. The job fails with the CLI's exit status.
"""

import shlex
import shutil
import subprocess
import sys

from giantstep.paths import CONF_VARIABLE, conf_dir

sm = snakemake  # noqa: F821 (set by Snakemake)
arguments = [*sm.params.arguments, f"threads={sm.threads}"]
with open(sm.log[0], "w") as log:
    rerun = shlex.join(["giantstep", *arguments])
    print(f"{CONF_VARIABLE}={shlex.quote(str(conf_dir()))} {rerun}", file=log, flush=True)
    executable = shutil.which("giantstep")
    if executable is None:
        print("giantstep: no `giantstep` command on PATH: install the package (pip install -e .)", file=log)
        sys.exit(127)
    done = subprocess.run([executable, *arguments], stdin=subprocess.DEVNULL, stdout=log,
                          stderr=subprocess.STDOUT)
sys.exit(done.returncode)
