"""A throwaway single-node SLURM cluster on 127.0.0.1, for tests.

Everything the cluster needs or writes lives under one folder ``root``: the munge key, socket
and seed, ``slurm.conf`` and ``gres.conf``, the daemons' pid, log and state files, and small
``srun``/``sbatch``/... wrappers in ``root/bin`` that set ``SLURM_CONF`` before calling the real
tool. The wrappers are needed because the jobstep executor plugin strips every ``SLURM_*``
variable before its nested ``srun``; ``PATH`` survives, so the jobs still find this cluster and
nothing under ``/etc`` is touched. Ports are picked free on loopback, so two clusters do not
clash. The node (partition ``debug``) has this machine's CPUs, 90% of its memory and one fake
GPU (``/dev/null``), so ``--gpus=1`` jobs run and see ``CUDA_VISIBLE_DEVICES=0``.

    with LocalSlurmCluster(root) as cluster:
        subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env)

munged, slurmctld and slurmd run in the foreground as children of this process, which also
becomes a child subreaper while the cluster is up, so the job steps that slurmd double-forks
are re-parented here rather than to PID 1 (which, in some containers, never reaps them). On
leaving the block, normally or through an exception, queued jobs are cancelled, each daemon is
stopped by its PID (SIGTERM, then SIGKILL) and reaped, and any process still tied to ``root``
(job steps and their children) is killed and reaped by PID as well. While the cluster is up a
SIGTERM (a CI time limit) raises KeyboardInterrupt, so the same teardown runs; should this
process be SIGKILLed, the daemons get SIGTERM from the kernel (parent-death signal). The caller
owns ``root`` and removes it; :func:`assert_nothing_left` then checks that nothing survived.
Needs root privileges and the Debian packages ``slurmctld slurmd slurm-client munge``.

Run as a script it brings a cluster up in a temporary folder, runs one command against it, and
tears everything down: ``python tests/cluster/slurm_cluster.py -- sinfo``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: Slurm client tools that get a ``SLURM_CONF``-setting wrapper in ``root/bin``.
CLIENT_TOOLS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo", "sacct", "sacctmgr")
#: The daemons in start order; they are stopped in reverse.
DAEMONS = ("munged", "slurmctld", "slurmd")
PARTITION = "debug"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    """In a daemon about to start: get SIGTERM should this process die without a teardown."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_clusters_up = 0  # clusters of this process that are up; the subreaper flag is on while > 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_resources() -> tuple[int, int]:
    """CPUs and 90% of the memory (MB) that ``slurmd -C`` sees on this machine."""
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
    return int(fields["CPUs"]), int(int(fields["RealMemory"]) * 0.9)


def _proc_state(pid: int) -> tuple[str, int] | None:
    """``(state letter, parent PID)`` of ``pid`` from ``/proc``, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state[0] != "Z"


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is a (zombie) child of this process."""
    state = _proc_state(pid)
    if state is not None and state[1] == os.getpid():
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _stop(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM ``pid``, wait up to ``grace_s`` for it to end, then SIGKILL it; reap it if ours."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            break
    _reap(pid)


def leftover_processes(root: Path) -> list[int]:
    """PIDs of live processes tied to ``root``: it is in their command line, their working
    directory lies under it, or their environment names its ``slurm.conf``."""
    root_str = str(root)
    conf_marker = f"SLURM_CONF={root / 'etc' / 'slurm.conf'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        tied = root_str in cmdline or cwd == root_str or cwd.startswith(root_str + "/")
        if (tied or conf_marker in environ) and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def zombie_children() -> list[int]:
    """PIDs of exited-but-unreaped children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        state = _proc_state(int(entry.name)) if entry.name.isdigit() else None
        if state == ("Z", os.getpid()):
            found.append(int(entry.name))
    return found


def assert_nothing_left(root: Path, daemons: list[subprocess.Popen]) -> None:
    """No temporary folder, no daemon (each ended and reaped), no process tied to ``root``."""
    assert not root.exists(), f"temporary folder left behind: {root}"
    assert len(daemons) == len(DAEMONS), f"the cluster recorded only {daemons}"
    survivors = [daemon.args[0] for daemon in daemons if daemon.poll() is None]
    assert not survivors, f"daemons still running: {survivors}"
    assert leftover_processes(root) == [], "processes of the cluster outlived it"
    pgrep = subprocess.run(["pgrep", "-a", "-f", str(root)], capture_output=True, text=True)
    assert pgrep.returncode == 1, f"pgrep still finds the cluster:\n{pgrep.stdout}"
    assert zombie_children() == [], "unreaped children left behind"


class LocalSlurmCluster:
    """Context manager: a one-node SLURM cluster (partition ``debug``) with all state in ``root``.

    ``env`` is the environment to run Slurm tools and Snakemake with (``SLURM_CONF`` set, the
    wrappers first on ``PATH``); ``daemons`` maps each daemon name to its ``Popen``.
    """

    def __init__(self, root: Path, start_timeout_s: float = 30.0):
        self.root = Path(root)
        self.start_timeout_s = start_timeout_s
        self.conf = self.root / "etc" / "slurm.conf"
        self.daemons: dict[str, subprocess.Popen] = {}
        self._up = False
        self._previous_sigterm = signal.getsignal(signal.SIGTERM)
        self.env = dict(os.environ)
        self.env["SLURM_CONF"] = str(self.conf)
        self.env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

    # -- bring-up -----------------------------------------------------------------------------

    def __enter__(self) -> LocalSlurmCluster:
        global _clusters_up
        _clusters_up += 1
        self._up = True
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        # A SIGTERM (from a CI time limit, say) unwinds through stop() instead of killing us.
        self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._write_files()
            self._start_daemons()
            self._wait_for(self._node_is_idle, "the node to become idle")
        except BaseException:
            self.dump_logs()
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.dump_logs()
        self.stop()

    def _write_files(self) -> None:
        for sub in ("etc", "log", "run", "munge", "bin", "state/ctld", "state/d"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)

        host = socket.gethostname().split(".")[0]
        cpus, memory_mb = _node_resources()
        r = self.root
        self.conf.write_text(
            f"""\
ClusterName=giantstep-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge/munge.socket
StateSaveLocation={r}/state/ctld
SlurmdSpoolDir={r}/state/d
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        (self.root / "etc" / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null\n")
        for tool in CLIENT_TOOLS:
            real = shutil.which(tool)
            if real is not None:
                wrapper = self.root / "bin" / tool
                wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {real} "$@"\n')
                wrapper.chmod(0o755)

    def _start_daemons(self) -> None:
        m, log, run = self.root / "munge", self.root / "log", self.root / "run"
        commands = {
            "munged": [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={m / 'munge.key'}",
                f"--socket={m / 'munge.socket'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
                f"--log-file={log / 'munged.log'}",
            ],
            "slurmctld": ["slurmctld", "-D", "-c", "-i", "-f", str(self.conf)],
            "slurmd": ["slurmd", "-D", "-f", str(self.conf)],
        }
        ready = {
            "munged": m / "munge.socket",
            "slurmctld": run / "slurmctld.pid",
            "slurmd": run / "slurmd.pid",
        }
        for name in DAEMONS:
            with open(log / f"{name}.out", "wb") as out:
                self.daemons[name] = subprocess.Popen(
                    commands[name],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    preexec_fn=_die_with_parent,
                )
            self._wait_for(ready[name].exists, f"{name} to create {ready[name].name}")

    def _wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not condition():
            for name, daemon in self.daemons.items():
                if daemon.poll() is not None:
                    raise RuntimeError(f"{name} exited with {daemon.returncode} (waiting for {what})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {self.start_timeout_s} s waiting for {what}")
            time.sleep(0.1)

    def _node_is_idle(self) -> bool:
        return self.run("sinfo", "-h", "-N", "-o", "%t").stdout.strip() == "idle"

    # -- use ----------------------------------------------------------------------------------

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a Slurm client tool against this cluster (output captured, never raises on rc)."""
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)

    def dump_logs(self, lines: int = 40) -> None:
        """Print the tail of every daemon log to stderr (pytest shows it for a failed test)."""
        for log in sorted((self.root / "log").glob("*")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            print(f"--- {log} (last {len(tail)} lines)", *tail, sep="\n", file=sys.stderr)

    # -- teardown -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel jobs, stop each daemon by PID, kill whatever is still tied to ``root``, reap."""
        global _clusters_up
        if not self._up:
            return
        try:
            if self.daemons.get("slurmctld") and self.daemons["slurmctld"].poll() is None:
                self._cancel_all_jobs()
            for name in reversed(DAEMONS):
                if name in self.daemons:
                    _stop(self.daemons[name].pid)
                    self.daemons[name].wait()
            for pid in leftover_processes(self.root):
                _stop(pid, grace_s=2.0)
            for pid in zombie_children():
                _reap(pid)
        finally:
            self._up = False
            _clusters_up -= 1
            _prctl(_PR_SET_CHILD_SUBREAPER, int(_clusters_up > 0))
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def _cancel_all_jobs(self, wait_s: float = 15.0) -> None:
        """scancel every job and wait (bounded) until none is pending, running or completing."""
        try:
            active = self.run("squeue", "-h", "-t", "PD,R,CG", "-o", "%i", timeout=10).stdout.split()
            if active:
                self.run("scancel", *active, timeout=10)
            deadline = time.monotonic() + wait_s
            while active and time.monotonic() < deadline:
                time.sleep(0.2)
                active = self.run("squeue", "-h", "-t", "PD,R,CG", "-o", "%i", timeout=10).stdout.split()
        except subprocess.TimeoutExpired:
            pass  # the daemons are stopped next, which ends the jobs anyway


def main(argv: list[str]) -> int:
    """``slurm_cluster.py -- COMMAND...``: run COMMAND against a fresh cluster, then tear down."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="giantstep-slurm-"))
    try:
        with LocalSlurmCluster(root) as cluster:
            return subprocess.run(command, env=cluster.env).returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
