"""The benchmark: the numpy reference's mathematics, the flop count, the workflow
overhead arithmetic, and the driver end to end at toy sizes (``--quick``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import reference  # noqa: E402
import run_benchmark  # noqa: E402
from flops import KINDS, engine_flops  # noqa: E402
from workflow_overhead import read_runs, workflow_overhead  # noqa: E402


def small_problem(d=6, p=5, n=9, seed=0):
    rng = np.random.default_rng(seed)
    problem = reference.draw_problem(rng, d, p)
    Z = rng.standard_normal((n, d))
    return problem, Z, problem.labels(Z)


def test_reference_gradient_is_the_per_sample_sum():
    """``gradient_step`` = the sum of docs/method.md §2 written neuron by neuron, sample by sample."""
    problem, Z, y = small_problem()
    W, a = problem.W0, problem.a
    p, n = len(a), len(y)
    expected = np.zeros_like(W)
    for nu in range(n):
        f = sum(a[i] * max(W[i] @ Z[nu], 0.0) for i in range(p)) / math.sqrt(p)
        for i in range(p):
            if W[i] @ Z[nu] > 0:
                expected[i] += (y[nu] - f) * a[i] / math.sqrt(p) * Z[nu] / n
    np.testing.assert_allclose(reference.gradient_step(W, a, Z, y), expected, rtol=1e-12, atol=1e-14)


def test_reference_gradient_is_minus_the_loss_gradient():
    """... and minus the autograd gradient of ``L = (1/2n) sum (y - f)^2`` in ``W``."""
    problem, Z, y = small_problem(seed=1)
    W = torch.tensor(problem.W0, requires_grad=True)
    a, Zt, yt = (torch.tensor(x) for x in (problem.a, Z, y))
    f = torch.relu(Zt @ W.T) @ a / math.sqrt(len(a))
    (0.5 * ((yt - f) ** 2).mean()).backward()
    np.testing.assert_allclose(reference.gradient_step(problem.W0, problem.a, Z, y),
                               -W.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_reference_ridge_is_the_sum_form():
    """Without preprocessing, the readout minimises ``sum (y - F w)^2 + lambda |w|^2``."""
    problem, Z, y = small_problem(d=4, p=6, n=30, seed=2)
    F = reference.features(problem.W0, Z)
    ridge = 0.7
    stacked = np.vstack([F, math.sqrt(ridge) * np.eye(F.shape[1])])
    w, *_ = np.linalg.lstsq(stacked, np.concatenate([y, np.zeros(F.shape[1])]), rcond=None)
    error = reference.ridge_test_error(problem.W0, problem, Z, y, Z, y, ridge, preprocess=False)
    assert error == pytest.approx(np.mean((y - F @ w) ** 2), rel=1e-10)


def test_flop_count_matches_torch_flop_counter():
    """The analytic matmul count equals what ``FlopCounterMode`` sees in a real engine run.

    8 null frames keep the uncounted metric products under 0.5 % at this toy size.
    """
    d, p, n, n_test = 32, 48, 3000, 2500
    overrides = ["target=hermite_124", f"d={d}", f"p={p}", "train.steps=1", f"train.n={n}",
                 "train.preprocess=remove_linear", "train.lr.rule=sqrt_np", f"readout.n_test={n_test}",
                 "chunk_size=1024", "device=cpu", "metrics.n_null=8"]
    script = (
        "import sys, tempfile\n"
        "from torch.utils.flop_counter import FlopCounterMode\n"
        "import giantstep.cli\n"
        "with tempfile.TemporaryDirectory() as out:\n"
        "    sys.argv = ['giantstep', *sys.argv[1:], 'hydra.run.dir=' + out]\n"
        "    with FlopCounterMode(display=False) as counter:\n"
        "        giantstep.cli.main()\n"
        "print('FLOPS', counter.get_total_flops())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *overrides], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    counted = int(done.stdout.split("FLOPS")[-1])
    expected = sum(engine_flops(n=n, d=d, p=p, r=2, steps=1, n_train=n, n_test=n_test,
                                preprocess=True).values())
    assert counted == pytest.approx(expected, rel=0.01)


def write_run(root: Path, name: str, *, wall: float, compute: float, threads: int, finished: float):
    path = root / name / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"provenance": {"wall_seconds": wall, "torch_threads": threads},
                                "timings": {"compute_seconds": compute}}))
    os.utime(path, (finished, finished))


def test_workflow_overhead_from_synthetic_runs(tmp_path):
    now = time.time()
    write_run(tmp_path, "a/seed=0", wall=10.0, compute=9.0, threads=1, finished=now - 20)
    write_run(tmp_path, "a/seed=1", wall=10.0, compute=8.0, threads=1, finished=now - 10)
    write_run(tmp_path, "b/seed=0", wall=20.0, compute=18.0, threads=1, finished=now - 10)
    runs = read_runs(tmp_path)
    assert len(runs) == 3

    given = workflow_overhead(runs, total_wall=25.0, cores=2)  # 50 core-seconds
    assert given["overhead_share"] == pytest.approx(1 - 35.0 / 50.0)
    assert given["in_app_core_seconds"] == pytest.approx(5.0)
    assert given["outside_app_core_seconds"] == pytest.approx(10.0)
    assert given["source"] == "caller"

    # no total given, no Snakemake log: first start (now - 30) to last write (now - 10)
    derived = workflow_overhead(runs, cores=2)
    assert derived["total_wall_seconds"] == pytest.approx(20.0, abs=0.01)
    assert "lower bound" in derived["source"]

    logs = tmp_path / "log"
    logs.mkdir()

    def write_log(begin: float, end: float, text: str):
        name = time.strftime("%Y-%m-%dT%H%M%S", time.localtime(begin)) + f".{len(list(logs.iterdir())):06d}"
        log = logs / f"{name}.snakemake.log"
        log.write_text(text)
        os.utime(log, (end, end))

    ran = "Provided cores: 2\nFinished jobid: 1 (Rule: run)\n"
    write_log(now - 40, now - 5, ran)
    write_log(now - 30, now - 15, ran)  # overlapping: counted once
    write_log(now - 35, now - 1, "Provided cores: 2\nThis was a dry-run (flag -n).\n")
    write_log(now - 36, now - 2, "Congratulations, your workflow is in a good condition!\n")
    from_log = workflow_overhead(runs, log_dir=logs)
    assert from_log["total_wall_seconds"] == pytest.approx(35.0, abs=1.0)
    assert from_log["cores"] == 2
    assert from_log["overhead_share"] == pytest.approx(1 - 35.0 / 70.0, abs=0.02)


def test_agreement_is_a_two_sample_t_test():
    assert run_benchmark.t_quantile(1 - 0.0027 / 2, 4) == pytest.approx(6.62, abs=0.01)
    same = run_benchmark.agreement([[0.30, 0.10], [0.32, 0.12], [0.31, 0.11]],
                                   [[0.31, 0.12], [0.29, 0.10], [0.33, 0.11]])
    assert same["agree"]
    shifted = run_benchmark.agreement([[0.30, 0.10], [0.32, 0.12], [0.31, 0.11]],
                                      [[0.30, 0.30], [0.32, 0.31], [0.31, 0.32]])
    assert not shifted["agree"]


# Per-seed standard deviation of the test errors at the quick size (d=64, p=128, n=d^2,
# 1e4 test points), measured over 30 seeds: engine 0.018 (t=0), 0.016 (t=1); reference
# 0.015, 0.014; mean difference over those 30 seeds +0.002 (t=0), -0.001 (t=1), each
# +-0.004. With 3 seeds each the standard error of the difference of means is about
# 0.013, so 0.05 is a 3.7-sigma margin.
QUICK_MARGIN = 0.05


def test_quick_benchmark_end_to_end(tmp_path):
    """``--quick`` writes the JSON and Markdown; the two implementations agree."""
    out = tmp_path / "bench"
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{run_benchmark.BEGIN}\nold\n{run_benchmark.END}\n\nafter\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run_benchmark.py"), "--quick", "--silent",
         "--out", str(out), "--machine", "test", "--readme", str(readme),
         "--workflow-runs", str(tmp_path / "no-runs")],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "test-quick.json").read_text())
    side = result["side_by_side"]
    assert [run["implementation"] for run in side["runs"]] == [
        "reference", "engine", "engine", "reference", "reference", "engine"]
    assert len({run["n"] for run in side["runs"]}) == 1
    for run in side["runs"]:
        assert run["wall_seconds"] > 0 and run["max_rss_bytes"] > 10e6
        assert len(run["test_error"]) == 2
    for key in ("speedup_wall", "speedup_compute", "memory_ratio"):
        assert side[key] > 0
    differences = np.abs(side["agreement"]["difference"])
    assert (differences <= QUICK_MARGIN).all(), side["agreement"]
    efficiency = result["efficiency"]
    assert efficiency["total_flops"] > 0 and 0 < efficiency["efficiency"] < 1.5
    assert set(efficiency["rates_flops_per_second"]) == set(KINDS)
    large = result["large"]
    assert large["n"] == round(64**2.5) and large["n_train"] == 64**2 and large["max_rss_bytes"] > 0
    assert result["workflow"] == {"measured": False, "reason": f"no runs under {tmp_path / 'no-runs'}"}
    goals = {row["goal"]: row["met"] for row in result["verdicts"]}
    assert goals["workflow overhead (quick scale)"] is None
    assert all(isinstance(met, bool) for goal, met in goals.items() if "workflow" not in goal)
    table = (out / "test-quick.md").read_text()
    assert "| goal | target | measured |" in table and "not measured" in table
    text = readme.read_text()
    assert "old" not in text and table in text and text.endswith("after\n")


def test_seed_programs_benchmark_end_to_end(tmp_path):
    """``seed_programs.py --quick`` times a toy cell's seeds one by one and as one program, and
    the two ways give the same test errors up to float32 rounding."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "seed_programs.py"), "--quick",
                           "--seeds", "2", "--repeats", "1", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = tmp_path.glob("*-seeds-quick.json")
    result = json.loads(written.read_text())
    [case] = result["cases"].values()
    assert result["seeds"] == 2 and case["n"] == 256 and case["chunk_size"] == 4096
    assert case["one_by_one_seconds"] > 0 and case["together_seconds"] > 0
    assert case["speedup"] == pytest.approx(case["one_by_one_seconds"] / case["together_seconds"])
    assert case["test_error_max_relative_difference"] < 1e-5
    assert "| tiny, d=32 | 256 |" in written.with_suffix(".md").read_text()


def test_profile_runs_end_to_end(tmp_path):
    """``profile_runs.py --quick`` splits a toy run's profiled time by kind: the products carry
    their flops, the Gaussian draws are seen, and the kinds add up to the profiled wall time."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "profile_runs.py"), "--quick",
                           "--repeats", "1", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = tmp_path.glob("*-profile-quick.json")
    result = json.loads(written.read_text())
    [case] = result["cases"].values()
    assert result["threads"] == 1 and case["n"] == 4096 and case["compute_seconds"] > 0
    seconds = case["seconds"]
    assert seconds["products"] > 0 and seconds["draws"] > 0 and seconds["element-wise"] > 0
    assert sum(seconds.values()) == pytest.approx(case["profiled_seconds"], rel=1e-6)
    assert sum(case["shares"].values()) == pytest.approx(1.0)
    # the products' flops: two (m, d) x (d, p) products per sample of each step, at the least
    assert case["product_gflops"] >= 2 * 2 * 2 * 4096 * 32 * 64 / 1e9
    assert "aten::normal_" in case["largest_operators"] and len(case["largest_operators"]) <= 6
    assert "| tiny, d=32 | 4096 |" in written.with_suffix(".md").read_text()
