"""Reliability (issues 7 and 13): bad input fails at once in one line, divergence names its
step, results do not depend on threads or chunking, and nothing is evaluated, unpickled or fetched.

Every bad input runs through the CLI's entry point (``giantstep.cli.main``) in its own directory
that already holds an earlier run (``run/``, the default ``hydra.run.dir`` of these cases) and a
plain file (``afile``). They run in a batch: a few helper processes (:data:`BATCH_RUNNER`) each
call the entry point once per case, one after another, so that torch is imported once per
process rather than once per case; the other CLI cases run as ``python -m giantstep``, all at
once in one module fixture, all under a network guard. Each bad input must exit with code 2,
print at most 3 lines and no traceback, and leave that directory exactly as it was: nothing
added, the earlier run byte-identical with its mtimes.
Interruption and concurrency of runs and workflows are in ``test_interruption.py``.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.cli import run_cli
from helpers.guard import blocked_attempts, network_guard, results_of
from omegaconf import OmegaConf

from giantstep.errors import ConfigError
from giantstep.targets import Target

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = ("d=8", "p=16", "readout.n_test=500", "metrics.n_neurons=4")

HUGE = "1000000000000000000000000000000"  # 10^30: Hydra reads it as an int
LONG_SUM = "+".join(["z1"] * 2000)
# (id, overrides after TINY, a text the error line must contain); each runs with
# hydra.run.dir=run (an earlier run's folder) unless it gives its own
BAD_INPUT = [
    ("unknown-target", ["target=nope"], "'target/nope' (known: custom,"),
    ("unknown-scenario", ["scenario=nope"], "'scenario/nope'"),
    ("unknown-symbol", ["target=custom", "target.expr=z1+foo"], "unknown symbol 'foo'"),
    ("unknown-function", ["target=custom", "target.expr='log(z1)'"], "unknown function 'log'"),
    ("expr-syntax-error", ["target=custom", "target.expr=z1+*z2"], "syntax error in target.expr 'z1+*z2'"),
    ("expr-missing", ["target=custom"], "target.expr"),
    ("unparsable-override", ["target.expr=z1+(z2"], "cannot parse override 'target.expr=z1+(z2'"),
    ("variable-above-d", ["d=4", "target=custom", "target.expr=z1+z5"], "uses z5 but d=4"),
    ("d-zero", ["d=0"], "d must be > 0, got 0"),
    ("p-negative", ["p=-3"], "p must be > 0, got -3"),
    ("n-zero", ["train.n=0"], "train.n must be > 0, got 0"),
    ("n-test-zero", ["readout.n_test=0"], "readout.n_test must be > 0, got 0"),
    ("kappa-zero", ["train.kappa=0"], "train.kappa must be > 0, got 0"),
    ("kappa-negative", ["train.kappa=-1.5"], "train.kappa must be > 0, got -1.5"),
    ("odd-p-symmetric", ["p=7", "student.symmetric=true"], "needs an even p, got p=7"),
    ("negative-ridge", ["readout.ridge=-1"], "readout.ridge must be >= 0, got -1"),
    ("zero-ridge-few-samples", ["readout.ridge=0", "readout.n_train=8"], "n_train=8 < p=16"),
    ("lr-zero", ["train.lr.scale=0"], "train.lr.scale must be > 0, got 0"),
    ("lr-negative", ["train.lr.scale=-2"], "train.lr.scale must be > 0, got -2"),
    ("unknown-activation", ["student.activation=softmax"], "unknown student.activation 'softmax'"),
    ("unknown-init", ["student.init=uniform"], "'uniform'"),
    ("cuda-without-cuda", ["device=cuda"], "device=cuda but CUDA is not available"),
    ("unknown-dtype", ["dtype=float16"], "'float16'"),
    ("unknown-key", ["bogus=1"], "'bogus'"),
    ("unknown-nested-key", ["train.stepz=3"], "'train.stepz'"),
    ("appended-unknown-key", ["+train.stepz=3"], "unknown config key 'train.stepz'"),
    ("wrong-type-int", ["d=abc"], "'abc'"),
    ("wrong-type-bool", ["student.symmetric=maybe"], "'maybe'"),
    ("negative-steps", ["train.steps=-1"], "train.steps must be >= 0, got -1"),
    # multirun into the directory itself: Hydra's multirun.yaml and the job folder are undone
    ("multirun", ["-m", "seed=0,1", "d=0", "hydra.sweep.dir=."], "d must be > 0, got 0"),
    # inputs that once gave tracebacks, or a segfault
    ("seed-negative", ["seed=-1"], "seed must be >= 0, got -1"),
    ("deleted-key", ["~d"], "d has no value"),
    ("deleted-limits", ["~limits"], "limits.max_seconds has no value"),
    ("kappa-1000", ["train.kappa=1000"], "mostly the giant steps (n=inf samples per step)"),
    ("d-huge", [f"d={HUGE}"], "would take about"),
    ("p-huge", [f"p={HUGE}"], "would take about"),
    ("steps-huge", ["train.steps=1000000000000000000000000"], "mostly the steps themselves (train.steps)"),
    ("long-sum", ["target=custom", f"target.expr={LONG_SUM}"], "nests more than 200 operations deep"),
    ("run-dir-under-a-file", ["hydra.run.dir=afile/run"], "cannot use the folder afile/run: Not a directory"),
    ("run-dir-in-proc", ["hydra.run.dir=/proc/giantstep/run"], "cannot use the folder /proc/giantstep"),
    ("run-dir-unwritable", ["hydra.run.dir=/proc/self"], "cannot write into the run folder /proc/self"),
    ("sweep-dir-under-a-file", ["-m", "seed=0,1", "hydra.sweep.dir=afile/sweep"], "Not a directory"),
    ("threads-huge", ["threads=100000"], "threads must be in 0.."),
    # defect 6: silent hangs, and sizes beyond the machine
    ("kappa-100", ["train.kappa=100"], "over limits.max_seconds=86400"),
    ("n-test-huge", [f"readout.n_test={HUGE}"], "mostly the readout at every step"),
    ("n-train-huge", [f"readout.n_train={HUGE}"], "mostly the readout at every step"),
    ("n-null-huge", ["metrics.n_null=1000000000000000000"], "mostly the random frames (metrics.n_null)"),
    ("replicates-huge", ["metrics.noise_replicates=1000000000000000"], "mostly the bootstrap"),
    ("chunk-beyond-memory", ["chunk_size=100000000000000", "readout.n_test=10000000000",
                             "limits.max_seconds=inf"], "mostly a chunk of samples"),
    ("n-beyond-2-53", [f"train.n={HUGE}", "train.steps=0", "readout.n_train=100"], "more than 2^53"),
    ("memory-limit", ["limits.max_memory_gb=1e-9"], "over limits.max_memory_gb=1e-09"),
    ("time-limit", ["limits.max_seconds=1e-9"], "over limits.max_seconds=1e-09"),
    ("time-limit-nan", ["limits.max_seconds=nan"], "must be > 0, got nan and None"),
    ("memory-limit-zero", ["limits.max_memory_gb=0"], "must be > 0, got 86400.0 and 0.0"),
    # defect 7: wrong or missing diagnoses
    ("zero-ridge-symmetric", ["readout.ridge=0", "student.symmetric=true", "readout.n_train=64"], "rank p/2"),
    ("ridge-nan", ["readout.ridge=nan"], "readout.ridge must be a finite number, got nan"),
    ("ridge-inf", ["readout.ridge=inf"], "readout.ridge must be a finite number, got inf"),
    ("threshold-negative", ["metrics.threshold=-1"], "metrics.threshold must be > 0, got -1"),
    ("threshold-zero", ["metrics.threshold=0"], "metrics.threshold must be > 0, got 0"),
    ("threshold-nan", ["metrics.threshold=nan"], "metrics.threshold must be a finite number, got nan"),
    ("threshold-inf", ["metrics.threshold=inf"], "metrics.threshold must be a finite number, got inf"),
    ("align-threshold-negative", ["metrics.align_threshold=-1"], "metrics.align_threshold must be >= 0"),
    ("align-threshold-nan", ["metrics.align_threshold=nan"], "metrics.align_threshold must be a finite"),
    ("kappa-nan", ["train.kappa=nan"], "train.kappa must be a finite number, got nan"),
    ("kappa-inf", ["train.kappa=inf"], "train.kappa must be a finite number, got inf"),
    ("lr-nan", ["train.lr.scale=nan"], "train.lr.scale must be a finite number, got nan"),
    ("number-not-finite", ["target=custom", "target.expr=z1*1e400"], "is not finite in float64"),
    # defect 4: the theory, checked before computing instead of crashing after
    ("theory-nan", ["target=custom", "target.expr='sqrt(z1+7)'"], "the theory of target.expr 'sqrt(z1+7)'"),
    ("theory-inf", ["target=custom", "target.expr='exp(z1^4)'"], "is not finite: the target must be"),
    ("theory-overflow", ["target=custom", "target.expr=z1*1e200*1e200"], "is not finite: the target must be"),
    ("theory-of-sqrt", ["target=custom", "target.expr='sqrt(z1)'"], "the theory of target.expr 'sqrt(z1)'"),
    # defect 8: conflicting settings
    ("kappa-and-alpha", ["train.kappa=1", "train.alpha=4"], "train.alpha=4.0 and train.kappa=1.0 both set"),
    ("n-and-kappa", ["train.n=100", "train.kappa=2"], "train.n=100 and train.kappa=2.0 both set"),
    ("expr-without-custom", ["target=two_stair", "target.expr=z1*z2"], "target.expr is given but target="),
    ("name-without-custom", ["target.name=mine"], "target.name is given but target=two_stair"),
    ("noise-groups-above-n", ["train.n=16", "metrics.noise_groups=32"], "is more than the batch size n=16"),
    ("neurons-above-p", ["metrics.n_neurons=64"], "metrics.n_neurons=64 is more than p=16"),
]
# (id, overrides after TINY, the one line must contain); each must stop before metrics.json
DIVERGENCE = [
    ("weights", ["train.lr.scale=1e308"], "weights not finite at step 1"),
    # labels overflow float32 where z1 is in (4.09, 4.51): none of the 400 readout samples, ~7 of
    # the 400 000 training ones, and no quadrature node of the theory (float64, finite anyway)
    ("gradient", ["target=custom", "target.expr='exp(1000*(relu(z1-4) - 2*relu(z1-4.3) + relu(z1-4.6)))'",
                  "train.n=400000", "readout.n_train=200", "readout.n_test=200"],
     "gradient not finite at step 1"),
    # 1e39 is finite in float64 (the theory) but not in float32 (the labels)
    ("errors", ["target=custom", "target.expr=z1*1e39"], "readout errors not finite at step 0"),
]
# The usual way a too large learning rate shows: weights grow over the steps until the
# readout's Gram matrix overflows or loses definiteness.
FLOAT32_OVERFLOW = ["train.lr.scale=1e6", "train.steps=4"]
SAFETY = ["target=custom", "target.expr=\"__import__('os').system('touch PWNED')\""]
# Same seed, device, dtype; the second differs in threads and chunk size (n spans 6 chunks).
DETERMINISM = ("d=32", "p=64", "train.steps=2", "train.kappa=2.5", "readout.n_test=2000",
               "metrics.n_neurons=8", "device=cpu")
DETERMINISM_RUNS = {
    "reference": ["threads=1"],
    "again": ["threads=1"],
    "threads-and-chunks": ["threads=2", "chunk_size=1024"],
}
WORKFLOW_BAD_INPUT = [  # (id, --config values, text that must appear)
    ("unknown-scale", ["scale=huge"], "'huge' is not one of"),
    ("unknown-plan", ["scale=smoke", "plans=[nope]"], "unknown plan 'nope'"),
]
BATCH_PROCESSES = 2

BATCH_RUNNER = textwrap.dedent('''\
    """Read [[directory, [argument, ...]], ...] from stdin; call giantstep's entry point once per
    case, in that directory, as `giantstep <arguments>` would; write each exit code, stdout and
    stderr (a traceback if the call raised) as JSON to stdout."""
    import contextlib
    import io
    import json
    import os
    import sys
    import traceback

    import giantstep.cli as cli

    results = []
    for directory, arguments in json.load(sys.stdin):
        os.chdir(directory)
        sys.argv = ["giantstep", *arguments]
        cli.FOLDERS = cli._Folders()  # what a fresh process knows of its run folders
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
        results.append([code, out.getvalue(), err.getvalue()])
    json.dump(results, sys.__stdout__)
''')

def assert_close_everywhere(a, b, rel: float, abs_: float, where: str = "") -> None:
    """Every number in nested lists/dicts ``a`` and ``b`` agrees within ``rel`` (or ``abs_``)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_close_everywhere(a[key], b[key], rel, abs_, f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close_everywhere(x, y, rel, abs_, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=rel, abs=abs_), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    return network_guard(tmp_path_factory.mktemp("guard"))


def snapshot(directory: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every path under ``directory``: a file's bytes and mtime, ``None`` for a folder."""
    return {path.relative_to(directory).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            if path.is_file() else None for path in directory.rglob("*")}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, guard):
    """The folder of an earlier (valid, tiny) run, copied beside every bad input."""
    env, _ = guard
    cwd = tmp_path_factory.mktemp("earlier")
    process = run_cli(*TINY, "hydra.run.dir=run", cwd=cwd, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    return cwd / "run"


def run_batch(cases: list[tuple[Path, list[str]]], env: dict) -> list[subprocess.CompletedProcess]:
    """Each ``(directory, arguments)`` through :data:`BATCH_RUNNER`, in one process."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("GIANTSTEP_VERBOSE", "HYDRA_FULL_ERROR")}
    process = subprocess.run([sys.executable, "-c", BATCH_RUNNER], input=json.dumps(
        [[str(cwd), arguments] for cwd, arguments in cases]), env={**full_env, **env},
        capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    return [subprocess.CompletedProcess(arguments, code, out, err)
            for (_, arguments), (code, out, err) in zip(cases, json.loads(process.stdout))]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, guard, earlier):
    """Every CLI and workflow case of this module, each in its own directory; bad inputs in
    :data:`BATCH_PROCESSES` batches, the other cases as processes of their own, all concurrently.

    A bad input's directory holds an earlier run in ``run/`` (the run directory, unless the
    case gives its own) and a plain file ``afile``. Returns ``{id: (completed process, its
    directory, snapshot of the directory before)}``.
    """
    env, _ = guard
    root = tmp_path_factory.mktemp("cli")
    batched: dict[str, list[str]] = {}
    for name, overrides, _ in BAD_INPUT:
        flags = [o for o in overrides if o.startswith("-")]  # before any override, for argparse
        run_dir = [] if any(o.startswith("hydra.run.dir=") for o in overrides) else ["hydra.run.dir=run"]
        batched[f"bad/{name}"] = [*flags, *TINY, *(o for o in overrides if o not in flags), *run_dir]
    for name, overrides in [*((name, overrides) for name, overrides, _ in DIVERGENCE),
                            ("float32-overflow", FLOAT32_OVERFLOW)]:
        batched[f"divergence/{name}"] = [*TINY, *overrides, "hydra.run.dir=run"]
    batched["safety"] = [*TINY, *SAFETY, "hydra.run.dir=run"]
    alone: dict[str, tuple[list[str], dict]] = {"verbose": ([*TINY, "d=0", "hydra.run.dir=run"],
                                                            {"GIANTSTEP_VERBOSE": "1"})}
    for name, overrides in DETERMINISM_RUNS.items():
        alone[f"determinism/{name}"] = ([*DETERMINISM, *overrides, "hydra.run.dir=run"], {})
    for name, config, _ in WORKFLOW_BAD_INPUT:
        alone[f"workflow/{name}"] = (config, {})

    before = {}
    for name in [*batched, *alone]:
        cwd = root / name
        cwd.mkdir(parents=True)
        if not name.startswith(("determinism/", "workflow/")):
            shutil.copytree(earlier, cwd / "run")  # copy2: the same mtimes
            (cwd / "afile").write_text("a file, not a folder\n")
        before[name] = snapshot(cwd)

    def launch(item):
        name, (arguments, extra_env) = item
        if name.startswith("workflow/"):
            return {name: subprocess.run(
                [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--cores", "1", "--config", *arguments],
                cwd=root / name, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)}
        if name.startswith("batch/"):
            return dict(zip(arguments, run_batch([(root / case, batched[case]) for case in arguments], env)))
        return {name: run_cli(*arguments, cwd=root / name, env={**env, **extra_env})}

    batches = {f"batch/{k}": (list(batched)[k::BATCH_PROCESSES], {}) for k in range(BATCH_PROCESSES)}
    processes = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for done in pool.map(launch, {**batches, **alone}.items()):
            processes |= done
    return {name: (process, root / name, before[name]) for name, process in processes.items()}


def assert_refused(process: subprocess.CompletedProcess, cwd: Path, before: dict, expected: str) -> str:
    """Exit code 2, at most 3 lines on stderr, the last naming ``expected``, no traceback, and
    ``cwd`` exactly as ``before``: nothing left behind, an earlier run's files unchanged."""
    assert process.returncode == 2, (process.returncode, process.stderr[-2000:])
    lines = process.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, process.stderr
    assert lines[-1].startswith("giantstep: error: "), lines[-1]
    assert expected in lines[-1], lines[-1]
    assert "Traceback" not in process.stdout + process.stderr
    after = snapshot(cwd)
    assert sorted(after) == sorted(before)
    assert [path for path in before if after[path] != before[path]] == []  # bytes and mtimes
    return lines[-1]


@pytest.mark.parametrize("name, overrides, expected", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_fails_at_once_in_one_line_and_leaves_the_folder_as_it_was(runs, name, overrides, expected):
    if name == "cuda-without-cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert_refused(*runs[f"bad/{name}"], expected)


SMALL_RUN = ("p=32", "readout.n_test=256", "metrics.n_neurons=4")


def config_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["config"]


def test_sweep_gives_every_job_its_own_folder(tmp_path, guard):
    """Over a non-seed key with the default subdir (values with quotes, parentheses and '/'),
    and over seeds with the workflow's ``hydra.sweep.subdir='seed=${seed}'``."""
    env, _ = guard
    process = run_cli("-m", "d=16,24", *SMALL_RUN, "target=custom", "target.expr='He3(z1)/sqrt(6)'",
                      "hydra.sweep.dir=sweep", cwd=tmp_path, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    jobs = sorted(path.parent for path in (tmp_path / "sweep").glob("*/metrics.json"))
    assert [config_of(job)["d"] for job in jobs] == [16, 24]
    assert [job.name.split("_")[0] for job in jobs] == ["0", "1"]  # one folder level, numbered
    process = run_cli("-m", "seed=0,1", "d=16", *SMALL_RUN, "hydra.sweep.dir=cell",
                      "hydra.sweep.subdir='seed=${seed}'", cwd=tmp_path, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    assert [config_of(tmp_path / "cell" / f"seed={seed}")["seed"] for seed in (0, 1)] == [0, 1]


def test_two_jobs_of_one_sweep_never_write_into_one_folder(tmp_path, guard):
    env, _ = guard
    process = run_cli("-m", "d=16,24", *SMALL_RUN, "hydra.sweep.dir=sweep",
                      "hydra.sweep.subdir='seed=${seed}'", cwd=tmp_path, env=env)
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) <= 3 and "two jobs of this sweep write into" in lines[-1], process.stderr
    assert "Traceback" not in process.stderr
    assert config_of(tmp_path / "sweep" / "seed=0")["d"] == 16  # the first job's results are kept


def test_artifacts_follow_the_umask(tmp_path, guard):
    env, _ = guard
    process = run_cli(*TINY, "hydra.run.dir=run", cwd=tmp_path, env=env, umask=0o022)
    assert process.returncode == 0, process.stderr[-3000:]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "run").iterdir()}
    assert modes == {"config.yaml": 0o644, "arrays.npz": 0o644, "metrics.json": 0o644}


def test_bad_input_keeps_the_folders_the_user_made(tmp_path, guard):
    env, _ = guard
    (tmp_path / "mine" / "sub" / "run").mkdir(parents=True)
    for run_dir in ("mine/sub/run", "mine/new/deeper", "made/by/the/run"):
        process = run_cli(*TINY, "d=0", f"hydra.run.dir={run_dir}", cwd=tmp_path, env=env)
        assert process.returncode == 2, process.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "mine", "mine/sub", "mine/sub/run"]


def test_constants_are_folded_in_float64():
    z = torch.tensor([[0.5], [-2.0], [3.0]], dtype=torch.float64)
    assert torch.equal(Target.parse("(16777217-16777216)*z1")(z), z[:, 0])  # 1 in float64, 0 in float32
    assert torch.equal(Target.parse("z1*(1e39/1e38)")(z.float()), 10 * z[:, 0].float())  # inf in float32
    assert torch.equal(Target.parse("He3(z1)/sqrt(6)")(z.float()),  # the paper's targets: as before
                       (z[:, 0] ** 3 - 3 * z[:, 0]).float() / torch.sqrt(torch.tensor(6.0)))


def test_threshold_nan_is_refused_before_computing(tmp_path, guard, earlier):
    env, _ = guard
    shutil.copytree(earlier, tmp_path / "run")
    before = snapshot(tmp_path)
    process = run_cli(*TINY, "metrics.threshold=nan", "hydra.run.dir=run", cwd=tmp_path,
                      env={**env, "GIANTSTEP_VERBOSE": "1"})
    assert process.returncode != 0
    assert "ConfigError: metrics.threshold must be a finite number, got nan" in process.stderr
    assert "giantstep/config.py" in process.stderr and "giantstep/run.py" not in process.stderr
    assert snapshot(tmp_path) == before


def test_artifacts_are_written_as_one_unit(tmp_path, earlier):
    """A failure while writing (here a NaN that JSON cannot hold) leaves the earlier run as it was."""
    from giantstep.run import write_artifacts

    shutil.copytree(earlier, tmp_path / "run")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="JSON"):
        write_artifacts(tmp_path / "run", "d: 1\n", {"d": 1}, {"steps": [{"test_error": float("nan")}]},
                        {"a": np.zeros(3)}, {})
    assert snapshot(tmp_path) == before


def test_explicit_kappa_takes_effect_over_a_scenario_and_is_recorded(tmp_path, guard):
    env, _ = guard
    process = run_cli("scenario=staircase", "train.kappa=1.5", "d=16", "train.steps=1", *SMALL_RUN,
                      "hydra.run.dir=run", cwd=tmp_path, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 64  # 16^1.5, not the scenario's 4d
    assert metrics["config"]["train"]["alpha"] is None and metrics["config"]["train"]["kappa"] == 1.5


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused_before_computing(tmp_path, guard, earlier):
    env, _ = guard
    shutil.copytree(earlier, tmp_path / "run")
    (tmp_path / "run").chmod(0o555)
    before = snapshot(tmp_path)
    try:
        process = run_cli(*TINY, "hydra.run.dir=run", cwd=tmp_path, env=env)
    finally:
        (tmp_path / "run").chmod(0o755)
    assert_refused(process, tmp_path, before, "cannot write into the run folder")


@pytest.mark.parametrize("argument, expected", [
    ("target.expr=z1*z2*z3*z4*z5", "uses z5: the theory covers targets of at most 4 variables"),
    ("theory.max_order=100", "theory.max_order=100 is out of range 1..9"),
    ("train.steps=100000000000000000000", "is out of the theory's range 0..10000"),
    ("target.expr=sqrt(z1+7)", "the theory of target.expr 'sqrt(z1+7)' is not finite"),
])
def test_theory_cli_refuses_what_it_cannot_compute(argument, expected, tmp_path, guard):
    """In a process of its own: a hang (max_order=100 ran for hours) must fail, not block."""
    env, _ = guard
    process = subprocess.run([sys.executable, "-m", "giantstep.theory.cli", argument], cwd=tmp_path,
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and process.stdout == "" and len(lines) == 1, process
    assert lines[0].startswith("giantstep-theory: error: ") and expected in lines[0], lines[0]


@pytest.mark.slow
def test_every_plan_is_accepted_within_the_default_limits():
    """Every cell of every plan at every scale composes, resolves (with its overrides as the
    explicit ones, its recorded config unchanged) and is estimated within the default limits."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from giantstep.config import estimate, resolve
    from giantstep.reproduce.plans import SCALES, available_plans, load_plan
    from giantstep.schema import compose

    parser = OverridesParser.create()
    for scale in SCALES:
        for name in available_plans():
            plan = load_plan(name, scale)
            for cell in plan.cells:
                overrides = [*cell.overrides, f"seed={plan.seeds[0]}"]
                cfg = compose(overrides)
                composed = OmegaConf.to_container(cfg)
                settings = resolve(cfg, {o.key_or_group for o in parser.parse_overrides(overrides)})
                assert OmegaConf.to_container(cfg) == composed, (scale, name, cell.path)
                seconds, memory = estimate(cfg, settings.n, settings.n_train, settings.target.r, "cpu")
                assert sum(seconds.values()) < cfg.limits.max_seconds / 100, (scale, name, cell.path)
                assert sum(memory.values()) < 4e9, (scale, name, cell.path)


@pytest.mark.parametrize("name, config, expected", WORKFLOW_BAD_INPUT,
                         ids=[case[0] for case in WORKFLOW_BAD_INPUT])
def test_bad_workflow_config_fails_before_any_job(runs, name, config, expected):
    process, cwd, _ = runs[f"workflow/{name}"]
    output = process.stdout + process.stderr
    assert process.returncode != 0
    assert any(expected in line for line in output.splitlines()), output
    assert "Traceback (most recent call last)" not in output
    left = [p.relative_to(cwd).as_posix() for p in cwd.rglob("*") if p.is_file()]
    assert [path for path in left if not path.startswith(".snakemake/log/")] == []  # its own log only


def test_verbose_flag_shows_the_traceback(runs):
    process, cwd, before = runs["verbose"]
    assert process.returncode != 0
    assert snapshot(cwd) == before
    assert "Traceback (most recent call last)" in process.stderr
    assert "ConfigError: d must be > 0, got 0" in process.stderr


@pytest.mark.parametrize("name, overrides, expected", DIVERGENCE, ids=[case[0] for case in DIVERGENCE])
def test_divergence_names_the_step_and_leaves_the_earlier_run(runs, name, overrides, expected):
    line = assert_refused(*runs[f"divergence/{name}"], expected)  # no new metrics.json either
    if name != "errors":  # at step 0 nothing was trained: the labels are at fault
        assert "try a smaller learning rate (train.lr.scale)" in line


def test_divergence_of_float32_weights_names_the_step(runs):
    line = assert_refused(*runs["divergence/float32-overflow"], "not finite at step")
    assert "smaller learning rate" in line


def test_same_seed_identical_and_threads_or_chunks_within_1e5(runs):
    documents, arrays = {}, {}
    for name in DETERMINISM_RUNS:
        process, cwd, _ = runs[f"determinism/{name}"]
        assert process.returncode == 0, process.stderr[-3000:]
        documents[name] = json.loads((cwd / "run" / "metrics.json").read_text())
        with np.load(cwd / "run" / "arrays.npz", allow_pickle=False) as stored:
            arrays[name] = {key: stored[key] for key in stored.files}
    reference = documents["reference"]
    assert reference["provenance"]["torch_threads"] == 1
    assert documents["threads-and-chunks"]["provenance"]["torch_threads"] == 2
    assert reference["config"]["chunk_size"] != documents["threads-and-chunks"]["config"]["chunk_size"]
    assert reference["n"] > 5 * 1024  # several chunks of 1024

    assert json.dumps(results_of(documents["again"])) == json.dumps(results_of(reference))
    for key, value in arrays["reference"].items():
        assert np.array_equal(arrays["again"][key], value), key

    compared = [results_of(documents[name]) for name in ("threads-and-chunks", "reference")]
    for document in compared:
        config = document["config"]
        document["config"] = {k: v for k, v in config.items() if k not in ("threads", "chunk_size")}
    # Singular vectors and overlaps have entries near zero, hence a tiny absolute floor.
    assert_close_everywhere(*compared, rel=1e-5, abs_=1e-7)
    for key, value in arrays["reference"].items():
        np.testing.assert_allclose(arrays["threads-and-chunks"][key], value, rtol=1e-5, atol=1e-7,
                                   err_msg=key)


def test_arrays_load_without_pickle(runs):
    _, cwd, _ = runs["determinism/reference"]
    with np.load(cwd / "run" / "arrays.npz", allow_pickle=False) as stored:
        assert stored.files
        for key in stored.files:
            assert stored[key].dtype.kind == "f" and np.isfinite(stored[key]).all(), key


def test_source_never_unpickles_or_evaluates():
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "workflow").rglob("*.py")]
    assert sources
    for path in sources:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            where = f"{path.relative_to(REPO)}:{node.lineno}: {name}"
            assert name not in ("eval", "exec", "pickle.load", "pickle.loads", "torch.load"), where
            if name in ("np.load", "numpy.load"):
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                assert keywords.get("allow_pickle") == "False", where


MALICIOUS = [
    "__import__('os').system('touch PWNED')",
    "open('PWNED', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "z1.__class__",
    "[z1 for z1 in ()]",
    "(lambda: 0)()",
    "exec('1')",
    "eval('z1')",
    "z1 if z1 else z2",
    "'text'",
    "z1 @ z2",
    "z1 < z2",
    "tanh(z1, z2)",
    "relu(z1=1)",
]


@pytest.mark.parametrize("expr", MALICIOUS)
def test_expression_outside_the_grammar_is_rejected(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="target.expr|takes one argument"):
        Target.parse(expr)
    assert not (tmp_path / "PWNED").exists()


def test_expressions_are_interpreted_without_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    z = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    with monkeypatch.context() as patched:
        patched.setattr(builtins, "eval", forbidden)
        patched.setattr(builtins, "exec", forbidden)
        values = Target.parse("He3(z1)/sqrt(6) + tanh(z2)^2 - 0.5*z1*z2")(z)
    expected = (z[:, 0] ** 3 - 3 * z[:, 0]) / 6**0.5 + torch.tanh(z[:, 1]) ** 2 - 0.5 * z[:, 0] * z[:, 1]
    torch.testing.assert_close(values, expected)


def test_python_injection_through_the_cli_is_rejected(runs):
    process, cwd, before = runs["safety"]
    assert_refused(process, cwd, before, "unknown function '__import__('os').system'")
    assert not (cwd / "PWNED").exists()


def test_no_run_reaches_the_network(runs, guard):
    """Every CLI process above was guarded (a batch is one process), and none tried to connect
    or resolve a name."""
    _, log = guard
    guarded = [line for line in log.read_text().splitlines() if line.endswith(" guarded")]
    alone = [name for name in runs if name.startswith(("verbose", "determinism/", "workflow/"))]
    assert len(guarded) >= len(alone) + BATCH_PROCESSES
    assert blocked_attempts(log) == []


def test_network_guard_catches_a_connection(guard):
    """The guard above can fail: a process that tries to connect is refused and recorded."""
    env, log = guard
    before = len(blocked_attempts(log))
    fetch = "import urllib.request; urllib.request.urlopen('http://192.0.2.1/', timeout=2)"
    attempt = subprocess.run(
        [sys.executable, "-c", fetch],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert attempt.returncode != 0
    assert "refused by the test guard" in attempt.stderr
    assert len(blocked_attempts(log)) > before
