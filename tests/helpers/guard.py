"""The network guard of the end-to-end tests, and what of a run's ``metrics.json`` is its result.

:func:`network_guard` makes every Python process started with its environment (Snakemake jobs
included) refuse and record internet connections and name lookups, so that a test can show a
run or a workflow needs no network (:func:`blocked_attempts`).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_RESULTS = ("provenance", "timings")

NETWORK_GUARD = textwrap.dedent('''\
    """Test guard: record and refuse every internet connection and name lookup."""
    import os
    import socket

    _LOG = os.environ["GIANTSTEP_NETWORK_GUARD_LOG"]
    _INET = (socket.AF_INET, socket.AF_INET6)


    def _note(line):
        with open(_LOG, "a") as log:
            log.write(f"{os.getpid()} {line}\\n")


    def _refuse(what, target):
        _note(f"blocked {what} {target!r}")
        raise OSError(f"network access refused by the test guard: {what} {target!r}")


    def _guard(method, what):
        def guarded(self, *args):
            if self.family in _INET:
                _refuse(what, args[-1] if args else None)
            return method(self, *args)
        return guarded


    socket.socket.connect = _guard(socket.socket.connect, "connect")
    socket.socket.connect_ex = _guard(socket.socket.connect_ex, "connect")
    socket.socket.sendto = _guard(socket.socket.sendto, "sendto")
    socket.getaddrinfo = lambda host, *args, **kwargs: _refuse("getaddrinfo", host)
    socket.gethostbyname = lambda host: _refuse("gethostbyname", host)
    _note("guarded")
''')


def network_guard(directory: Path) -> tuple[dict[str, str], Path]:
    """Environment that loads :data:`NETWORK_GUARD` in every Python process, and its log.

    The guard is a ``sitecustomize`` on ``PYTHONPATH``, so it reaches child processes too
    (Snakemake jobs); each guarded process writes ``<pid> guarded`` and each refused
    attempt ``<pid> blocked ...`` to the log.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(NETWORK_GUARD)
    log = directory / "network.log"
    log.touch()
    path = os.pathsep.join([str(directory), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path.rstrip(os.pathsep), "GIANTSTEP_NETWORK_GUARD_LOG": str(log)}, log


def blocked_attempts(log: Path) -> list[str]:
    """The lines of the guard's log that record a refused connection or name lookup."""
    return [line for line in log.read_text().splitlines() if " blocked " in line]


def results_of(metrics: dict) -> dict:
    """``metrics.json`` without what may differ between identical runs (provenance, timings)."""
    return {key: value for key, value in metrics.items() if key not in NOT_RESULTS}
