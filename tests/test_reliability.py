"""Reliability (issue 7): bad input fails at once in one line, divergence names its step,
results do not depend on threads or chunking, and nothing is evaluated, unpickled or fetched.

Every CLI case runs in its own empty directory through ``python -m giantstep``, all of them
at once in one module fixture (start-up dominates each), and all under a network guard.
Interruption and concurrency of runs and workflows are in ``test_interruption.py``.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from giantstep.errors import ConfigError
from giantstep.targets import Target

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = ("d=8", "p=16", "readout.n_test=500", "metrics.n_neurons=4")

# (id, overrides after TINY, a text the one error line must contain)
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
    ("multirun", ["-m", "seed=0,1", "d=0"], "d must be > 0, got 0"),  # no sweep directory left
]
# (id, overrides after TINY, the one line must contain); each must stop before metrics.json
DIVERGENCE = [
    ("weights", ["train.lr.scale=1e308"], "weights not finite at step 1"),
    # labels infinite where z1 > 4.09: none of the 400 readout samples, ~9 of the 400 000 training ones
    ("gradient", ["target=custom", "target.expr='exp(1000*relu(z1-4))'", "train.n=400000",
                  "readout.n_train=200", "readout.n_test=200"], "gradient not finite at step 1"),
    ("errors", ["target=custom", "target.expr='sqrt(z1)'"], "readout errors not finite at step 0"),
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
    return [line for line in log.read_text().splitlines() if " blocked " in line]


def results_of(metrics: dict) -> dict:
    """``metrics.json`` without what may differ between identical runs (provenance, timings)."""
    return {key: value for key, value in metrics.items() if key not in NOT_RESULTS}


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


@pytest.fixture(scope="module")
def runs(tmp_path_factory, guard):
    """Every CLI and workflow case of this module, run concurrently, each in an empty directory.

    Returns ``{id: (completed process, its directory)}``.
    """
    env, _ = guard
    root = tmp_path_factory.mktemp("cli")
    cases: dict[str, tuple[list[str], dict]] = {}
    for name, overrides, _ in BAD_INPUT:
        flags = [o for o in overrides if o.startswith("-")]  # before any override, for argparse
        cases[f"bad/{name}"] = ([*flags, *TINY, *(o for o in overrides if o not in flags)], {})
    for name, overrides, _ in DIVERGENCE:
        cases[f"divergence/{name}"] = ([*TINY, *overrides], {})
    cases["divergence/float32-overflow"] = ([*TINY, *FLOAT32_OVERFLOW], {})
    cases["verbose"] = ([*TINY, "d=0"], {"GIANTSTEP_VERBOSE": "1"})
    cases["safety"] = ([*TINY, *SAFETY], {})
    for name, overrides in DETERMINISM_RUNS.items():
        cases[f"determinism/{name}"] = ([*DETERMINISM, *overrides, "hydra.run.dir=run"], {})
    for name, config, _ in WORKFLOW_BAD_INPUT:
        cases[f"workflow/{name}"] = (config, {})

    def launch(item):
        name, (arguments, extra_env) = item
        cwd = root / name
        cwd.mkdir(parents=True)
        if name.startswith("workflow/"):
            process = subprocess.run(
                [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--cores", "1", "--config", *arguments],
                cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
        else:
            process = run_cli(*arguments, cwd=cwd, env={**env, **extra_env})
        return name, (process, cwd)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(launch, cases.items()))


def run_cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """``python -m giantstep <args>`` in ``cwd``, without the verbose flags unless ``env`` sets them."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("GIANTSTEP_VERBOSE", "HYDRA_FULL_ERROR")}
    return subprocess.run([sys.executable, "-m", "giantstep", *args], cwd=cwd, env={**full_env, **env},
                          capture_output=True, text=True, timeout=300)


def assert_one_line_failure(process: subprocess.CompletedProcess, cwd: Path, expected: str) -> str:
    """Exit code 2, exactly one line on stderr naming ``expected``, no traceback, no files."""
    assert process.returncode == 2, (process.returncode, process.stderr[-2000:])
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("giantstep: error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert "Traceback" not in process.stdout + process.stderr
    assert sorted(p.relative_to(cwd).as_posix() for p in cwd.rglob("*")) == []
    return lines[0]


@pytest.mark.parametrize("name, overrides, expected", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_fails_at_once_with_one_line_and_no_run_directory(runs, name, overrides, expected):
    if name == "cuda-without-cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert_one_line_failure(*runs[f"bad/{name}"], expected)


@pytest.mark.parametrize("name, config, expected", WORKFLOW_BAD_INPUT,
                         ids=[case[0] for case in WORKFLOW_BAD_INPUT])
def test_bad_workflow_config_fails_before_any_job(runs, name, config, expected):
    process, cwd = runs[f"workflow/{name}"]
    output = process.stdout + process.stderr
    assert process.returncode != 0
    assert any(expected in line for line in output.splitlines()), output
    assert "Traceback (most recent call last)" not in output
    left = [p.relative_to(cwd).as_posix() for p in cwd.rglob("*") if p.is_file()]
    assert [path for path in left if not path.startswith(".snakemake/log/")] == []  # its own log only


def test_verbose_flag_shows_the_traceback(runs):
    process, _ = runs["verbose"]
    assert process.returncode != 0
    assert "Traceback (most recent call last)" in process.stderr
    assert "ConfigError: d must be > 0, got 0" in process.stderr


@pytest.mark.parametrize("name, overrides, expected", DIVERGENCE, ids=[case[0] for case in DIVERGENCE])
def test_divergence_names_the_step_and_writes_no_metrics(runs, name, overrides, expected):
    line = assert_one_line_failure(*runs[f"divergence/{name}"], expected)  # no metrics.json either
    if name != "errors":  # at step 0 nothing was trained: the labels are at fault
        assert "try a smaller learning rate (train.lr.scale)" in line


def test_divergence_of_float32_weights_names_the_step(runs):
    line = assert_one_line_failure(*runs["divergence/float32-overflow"], "not finite at step")
    assert "smaller learning rate" in line


def test_same_seed_identical_and_threads_or_chunks_within_1e5(runs):
    documents, arrays = {}, {}
    for name in DETERMINISM_RUNS:
        process, cwd = runs[f"determinism/{name}"]
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
    _, cwd = runs["determinism/reference"]
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
    process, cwd = runs["safety"]
    assert_one_line_failure(process, cwd, "unknown function '__import__('os').system'")
    assert not (cwd / "PWNED").exists()


def test_no_run_reaches_the_network(runs, guard):
    """Every CLI run above was guarded, and none tried to connect or resolve a name."""
    _, log = guard
    guarded = [line for line in log.read_text().splitlines() if line.endswith(" guarded")]
    assert len(guarded) >= len(runs)
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
