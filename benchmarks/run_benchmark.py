"""Benchmark the engine against the numpy reference; write ``results/benchmarks/<machine>.*``.

What it measures, each as a goal printed met / not met:

1. side by side at ``d = 512, p = 1024, n = d^2``, target A, preprocessing,
   ``eta = 10 sqrt(n p)``, ``1e5`` test points: ``--repeats`` alternating runs of the
   engine (``giantstep`` CLI) and of ``benchmarks/reference.py``, each a subprocess whose
   wall time and peak RSS (``os.wait4``) are its own; seeds ``0..repeats-1`` on both
   sides, so the test errors must agree within the spread over seeds;
2. efficiency: the run's matmul flops (:mod:`flops`) over (compute time x the
   ``torch.matmul`` float32 rate measured here on the run's own shapes);
3. past memory: one step at ``n = d^2.5`` (the reference would need ``8 n (d + p)`` bytes,
   73 GB, for it) plus the readout, with its peak RSS. The readout trains on ``d^2``
   samples (``--large-full-readout``: on ``n``; streamed, so the memory is the same, but
   it adds about 5 minutes on 2 cores);
4. workflow overhead: from ``results/quick/runs/**/metrics.json`` when they exist;
5. GPU (``--device cuda``): the engine on CUDA in float32, once more with TF32 matmuls
   (``torch.set_float32_matmul_precision("high")``) and its error against float32.

``--quick`` runs the same at toy sizes in well under a minute (for the tests).

    python benchmarks/run_benchmark.py                       # CPU, about 10 minutes
    python benchmarks/run_benchmark.py --readme README.md    # and refresh the README table
    python benchmarks/run_benchmark.py --device cuda         # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flops import KINDS, engine_flops, shapes  # noqa: E402
from workflow_overhead import read_runs, workflow_overhead  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BLOCK = 1024  # the engine's sample block (giantstep.data.BLOCK): chunks are whole blocks
MB = 1e6

FULL = {"d": 512, "p": 1024, "kappa": 2.0, "large_kappa": 2.5, "n_test": 100_000}
QUICK = {"d": 64, "p": 128, "kappa": 2.0, "large_kappa": 2.5, "n_test": 10_000}

GOALS = {
    "speedup": 2.0,  # reference wall / engine wall, CPU
    "memory_ratio": 0.15,  # engine peak RSS / reference peak RSS
    "efficiency": 0.80,  # matmul flops / (compute seconds x measured rate)
    "large_rss_bytes": 2e9,  # n = d^2.5 run
    "workflow_overhead": 0.25,  # share of the quick workflow's wall time
    "gpu_speedup": 50.0,  # CPU reference wall / engine wall on one GPU
}


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    """A finished child process: its wall time, peak RSS and output."""

    wall_seconds: float
    max_rss_bytes: int
    stdout: str
    stderr: str


def measure(command: list[str]) -> Process:
    """Run ``command`` in the repository root; its own wall time and peak RSS.

    ``os.wait4`` gives the child's resource usage (with its own children's, e.g. ``git``),
    unlike ``RUSAGE_CHILDREN`` which accumulates over every child of this process.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-3000:]}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return Process(wall, usage.ru_maxrss * scale, stdout, stderr)


def engine_overrides(sizes: dict, kappa: float, seed: int, device: str) -> list[str]:
    """The CLI overrides of the benchmark's learning-curve point (target A, one step)."""
    return [
        "target=hermite_124", f"d={sizes['d']}", f"p={sizes['p']}", f"seed={seed}",
        f"device={device}", "dtype=float32", "train.steps=1", f"train.kappa={kappa}",
        "train.preprocess=remove_linear", "train.lr.rule=sqrt_np", "train.lr.scale=10",
        "readout.ridge=1", f"readout.n_test={sizes['n_test']}",
        *sizes.get("engine_overrides", ()),
    ]


# On CUDA the CLI runs inside this wrapper: TF32 on request, and the peak GPU memory.
CUDA_WRAPPER = """
import sys, torch
if sys.argv.pop(1) == "tf32":
    torch.set_float32_matmul_precision("high")
import giantstep.cli
sys.argv[0] = "giantstep"
try:
    giantstep.cli.main()
finally:
    if torch.cuda.is_available():
        print("CUDA_PEAK_BYTES", torch.cuda.max_memory_allocated(), file=sys.stderr)
"""


def run_engine(sizes: dict, kappa: float, seed: int, device: str, tf32: bool = False,
               extra: tuple[str, ...] = ()) -> dict:
    """One engine run through its CLI; wall, RSS, timings and test errors at ``t = 0, 1``."""
    with tempfile.TemporaryDirectory(prefix="giantstep-bench-") as run_dir:
        overrides = [*engine_overrides(sizes, kappa, seed, device), *extra,
                     f"hydra.run.dir={run_dir}"]
        if device == "cuda":
            command = [sys.executable, "-c", CUDA_WRAPPER, "tf32" if tf32 else "float32", *overrides]
        else:
            command = [sys.executable, "-m", "giantstep", *overrides]
        process = measure(command)
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    timings = metrics["timings"]
    run = {
        "implementation": "engine", "seed": seed, "n": metrics["n"],
        "n_train": metrics["config"]["readout"]["n_train"] or metrics["n"],
        "wall_seconds": process.wall_seconds, "max_rss_bytes": process.max_rss_bytes,
        "compute_seconds": timings["compute_seconds"],
        "step_seconds": sum(timings["step_seconds"]),
        "readout_seconds": timings["readout_seconds"],  # all readouts of a run, fused
        "app_seconds": metrics["provenance"]["wall_seconds"],
        "test_error": [step["test_error"] for step in metrics["steps"]],
    }
    peak = re.search(r"CUDA_PEAK_BYTES (\d+)", process.stderr)
    if peak:
        run["cuda_peak_bytes"] = int(peak.group(1))
    return run


def run_reference(sizes: dict, kappa: float, seed: int) -> dict:
    """One run of ``benchmarks/reference.py`` (numpy float64, everything materialised)."""
    command = [sys.executable, str(REPO / "benchmarks" / "reference.py"), "--d", str(sizes["d"]),
               "--p", str(sizes["p"]), "--kappa", str(kappa), "--seed", str(seed),
               "--n-test", str(sizes["n_test"])]
    process = measure(command)
    point = json.loads(process.stdout.strip().splitlines()[-1])
    return {
        "implementation": "reference", "seed": seed, "n": point["n"],
        "wall_seconds": process.wall_seconds, "max_rss_bytes": process.max_rss_bytes,
        "compute_seconds": point["seconds"]["compute"],
        "step_seconds": point["seconds"]["step"],
        "readout_seconds": point["seconds"]["readout"],
        "test_error": point["test_error"],
    }


# --------------------------------------------------------------------------- analysis


def t_quantile(q: float, dof: int) -> float:
    """The ``q`` quantile of Student's t with ``dof`` degrees of freedom (``q > 0.5``)."""
    scale = math.exp(math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2)) / math.sqrt(dof * math.pi)

    def cdf(x: float) -> float:
        u = np.linspace(0.0, x, 20001)
        return 0.5 + float(np.trapezoid(scale * (1 + u * u / dof) ** (-(dof + 1) / 2), u))

    low, high = 0.0, 1000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < q else (low, middle)
    return low


def agreement(engine: list[list[float]], reference: list[list[float]],
              false_alarm: float = 0.0027) -> dict:
    """Do the mean test errors agree within the spread over seeds, at each ``t``?

    ``engine``, ``reference``: per seed, the errors ``[t=0, t=1]``; the seeds differ in
    everything (teacher, initialisation, data). Criterion: a two-sample t test with the
    per-seed standard deviation pooled over both implementations -- the difference of the
    means is at most ``t_(1 - false_alarm/2, dof)`` standard errors (the 3-sigma level:
    6.6 s.e. with 3 seeds each, 4.3 with 5).
    """
    E, R = np.asarray(engine, dtype=float), np.asarray(reference, dtype=float)
    dof = len(E) + len(R) - 2
    pooled = np.sqrt((((E - E.mean(0)) ** 2).sum(0) + ((R - R.mean(0)) ** 2).sum(0)) / dof)
    standard_error = pooled * math.sqrt(1 / len(E) + 1 / len(R))
    difference = E.mean(0) - R.mean(0)
    critical = t_quantile(1 - false_alarm / 2, dof)
    return {
        "engine_mean": E.mean(0).tolist(), "reference_mean": R.mean(0).tolist(),
        "difference": difference.tolist(), "seed_std": pooled.tolist(),
        "standard_error": standard_error.tolist(), "critical_t": critical,
        "agree": bool((np.abs(difference) <= critical * standard_error).all()),
    }


def chunk_rows(n: int, chunk_size: int) -> int:
    """Rows of the engine's full chunks: ``chunk_size`` rounded down to blocks, at most ``n``."""
    return min(max(1, chunk_size // BLOCK) * BLOCK, n)


def matmul_seconds(left: torch.Tensor, right: torch.Tensor, seconds: float) -> float:
    """Median time of ``torch.matmul(left, right, out=...)`` over repeats lasting about ``seconds``.

    The output is preallocated: this is the rate of the arithmetic, not of the allocator.
    """
    out = torch.empty(left.shape[0], right.shape[1], device=left.device, dtype=left.dtype)
    cuda = left.device.type == "cuda"

    def once() -> float:
        tic = time.perf_counter()
        torch.matmul(left, right, out=out)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - tic

    once()
    repeats = max(3, min(200, int(seconds / max(once(), 1e-6))))
    return statistics.median(once() for _ in range(repeats))


def matmul_rates(m: int, d: int, p: int, r: int, device: torch.device,
                 seconds: float = 0.5) -> dict[str, float]:
    """``torch.matmul`` float32 flop/s on each kind of product of the run, in the same layouts."""
    generator = torch.Generator(device=device).manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, device=device)

    z, W, w_star, C = randn(m, d), randn(p, d), randn(r, d), randn(m, p)
    operands = {"labels": (z, w_star.T), "features": (z, W.T), "gradient": (C.T, z),
                "gram": (C.T, C), "moments": (randn(1, m), C), "noise": (C.T, randn(m, r))}
    rates = {}
    for kind, (left, right) in operands.items():
        rows, inner, cols = shapes(m, d, p, r)[kind]
        rates[kind] = 2.0 * rows * inner * cols / matmul_seconds(left, right, seconds)
    return rates


def read_chunk_size(sizes: dict) -> int:
    """The engine's ``chunk_size``: a ``--set chunk_size=...``, else ``conf/config.yaml``'s."""
    for override in sizes.get("engine_overrides", ()):
        if override.startswith("chunk_size="):
            return int(override.split("=", 1)[1])
    text = (REPO / "conf" / "config.yaml").read_text()
    return int(re.search(r"^chunk_size:\s*(\d+)", text, re.MULTILINE).group(1))


def efficiency(sizes: dict, n: int, compute_seconds: float, device: torch.device,
               rate_seconds: float) -> dict:
    """Matmul flops of the run, the measured rates on its shapes, and their ratio."""
    r = 2
    flops = engine_flops(n=n, d=sizes["d"], p=sizes["p"], r=r, steps=1, n_train=n,
                         n_test=sizes["n_test"], preprocess=True)
    m = chunk_rows(n, read_chunk_size(sizes))
    rates = matmul_rates(m, sizes["d"], sizes["p"], r, device, rate_seconds)
    ideal = sum(flops[kind] / rates[kind] for kind in KINDS)
    total = sum(flops.values())
    return {
        "chunk_rows": m, "flops": flops, "total_flops": total,
        "rates_flops_per_second": rates, "measured_rate": total / ideal,
        "ideal_seconds": ideal, "compute_seconds": compute_seconds,
        "achieved_flops_per_second": total / compute_seconds,
        "efficiency": ideal / compute_seconds,
    }


def reference_bytes(n: int, d: int, p: int, n_train: int, n_test: int) -> float:
    """Peak float64 arrays of the reference: the step's ``Z`` and ``(n, p)`` buffer, or the
    readout's ``Z`` and features with the test inputs, whichever is larger."""
    return 8.0 * max(n * (d + p), n_train * (d + p) + n_test * d)


# --------------------------------------------------------------------------- machine


def machine_info(device: torch.device) -> dict:
    """Where the benchmark ran."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = None
    info = {
        "hostname": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
        "memory_bytes": memory, "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        info["git_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def machine_tag(info: dict) -> str:
    """A stable file name for the kind of machine: ``cpu-2c-amd-epyc``, ``cuda-nvidia-h200``."""
    if "gpu" in info:
        name = f"cuda-{info['gpu']}"
    else:
        name = f"cpu-{info['cores']}c-{info['cpu']}"
    name = re.sub(r"\(r\)|\(tm\)|processor|cpu @.*", "", name.lower())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:60]


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- the benchmark


def side_by_side(sizes: dict, repeats: int, device: str, log) -> dict:
    """``repeats`` alternating runs of both implementations (order swapped every repeat)."""
    runs = []
    for seed in range(repeats):
        order = ("reference", "engine") if seed % 2 == 0 else ("engine", "reference")
        for implementation in order:
            if implementation == "engine":
                run = run_engine(sizes, sizes["kappa"], seed, device)
            else:
                run = run_reference(sizes, sizes["kappa"], seed)
            log(f"  {implementation:9s} seed={seed}: {run['wall_seconds']:6.1f} s wall, "
                f"{run['max_rss_bytes'] / MB:7.0f} MB, test errors "
                + ", ".join(f"{e:.4f}" for e in run["test_error"]))
            runs.append(run)

    def summary(name):
        mine = [run for run in runs if run["implementation"] == name]
        return {
            "median_wall_seconds": statistics.median(run["wall_seconds"] for run in mine),
            "median_compute_seconds": statistics.median(run["compute_seconds"] for run in mine),
            "max_rss_bytes": max(run["max_rss_bytes"] for run in mine),
            "test_errors": [run["test_error"] for run in mine],
        }

    engine, reference = summary("engine"), summary("reference")
    return {
        "runs": runs, "engine": engine, "reference": reference,
        "speedup_wall": reference["median_wall_seconds"] / engine["median_wall_seconds"],
        "speedup_compute": reference["median_compute_seconds"] / engine["median_compute_seconds"],
        "memory_ratio": engine["max_rss_bytes"] / reference["max_rss_bytes"],
        "agreement": agreement(engine["test_errors"], reference["test_errors"]),
    }


def gpu_checks(sizes: dict, float32_run: dict, log) -> dict:
    """TF32 matmuls against float32 on CUDA, same seed (same inputs: drawn on the CPU)."""
    tf32 = run_engine(sizes, sizes["kappa"], float32_run["seed"], "cuda", tf32=True)
    difference = [abs(a - b) for a, b in zip(tf32["test_error"], float32_run["test_error"])]
    log(f"  TF32 seed={tf32['seed']}: {tf32['wall_seconds']:.1f} s wall, |test error - float32| "
        + ", ".join(f"{x:.2e}" for x in difference))
    device = torch.device("cuda")
    m = chunk_rows(float32_run["n"], read_chunk_size(sizes))
    torch.set_float32_matmul_precision("high")
    try:
        tf32_rates = matmul_rates(m, sizes["d"], sizes["p"], 2, device)
    finally:
        torch.set_float32_matmul_precision("highest")
    return {"tf32_run": tf32, "tf32_abs_error_difference": difference,
            "tf32_rates_flops_per_second": tf32_rates,
            "float32_cuda_peak_bytes": float32_run.get("cuda_peak_bytes")}


def run_benchmark(args) -> dict:
    sizes = dict(QUICK if args.quick else FULL, engine_overrides=list(args.set))
    device = torch.device(args.device)
    log = (lambda message: print(message, flush=True)) if not args.silent else (lambda m: None)
    info = machine_info(device)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if args.quick else "full", "machine": info,
        "machine_tag": args.machine or machine_tag(info), "sizes": sizes,
        "repeats": args.repeats, "load_average_start": load_average(), "goals": GOALS,
    }
    started = time.perf_counter()
    n = round(sizes["d"] ** sizes["kappa"])
    log(f"side by side: d={sizes['d']} p={sizes['p']} n={n} n_test={sizes['n_test']}, "
        f"{args.repeats} alternating runs each")
    result["side_by_side"] = side_by_side(sizes, args.repeats, args.device, log)

    log("matmul rate on the run's shapes")
    engine_runs = [r for r in result["side_by_side"]["runs"] if r["implementation"] == "engine"]
    compute = statistics.median(run["compute_seconds"] for run in engine_runs)
    result["efficiency"] = efficiency(sizes, n, compute, device, 0.1 if args.quick else 1.0)

    if args.skip_large:
        result["large"] = {"measured": False, "reason": "--skip-large"}
    else:
        large_n = round(sizes["d"] ** sizes["large_kappa"])
        n_train = large_n if args.large_full_readout else n
        log(f"past memory: one step at n = d^{sizes['large_kappa']:g} = {large_n}, "
            f"readout on {n_train} samples")
        run = run_engine(sizes, sizes["large_kappa"], 0, args.device,
                         extra=(f"readout.n_train={n_train}",))
        run["reference_estimated_bytes"] = reference_bytes(large_n, sizes["d"], sizes["p"],
                                                           n_train, sizes["n_test"])
        run["measured"] = True
        log(f"  engine: {run['wall_seconds']:.1f} s wall, {run['max_rss_bytes'] / MB:.0f} MB, "
            f"test errors " + ", ".join(f"{e:.4f}" for e in run["test_error"]))
        result["large"] = run

    runs_dir = Path(args.workflow_runs)
    if runs_dir.is_dir() and any(runs_dir.rglob("metrics.json")):
        result["workflow"] = {"measured": True, **workflow_overhead(
            read_runs(runs_dir), total_wall=args.workflow_wall_seconds,
            cores=args.workflow_cores, log_dir=REPO / ".snakemake" / "log")}
    else:
        shown = runs_dir.resolve()
        shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else runs_dir
        result["workflow"] = {"measured": False, "reason": f"no runs under {shown}"}

    if device.type == "cuda":
        seed0 = next(r for r in engine_runs if r["seed"] == 0)
        result["gpu"] = gpu_checks(sizes, seed0, log)
        if args.cpu_baseline:
            baseline = json.loads(Path(args.cpu_baseline).read_text())
            result["gpu"]["cpu_baseline_reference_wall_seconds"] = (
                baseline["side_by_side"]["reference"]["median_wall_seconds"])
    result["load_average_end"] = load_average()
    result["benchmark_seconds"] = time.perf_counter() - started
    result["verdicts"] = verdicts(result)
    return result


def verdicts(result: dict) -> list[dict]:
    """Each goal: its target, the measured value and met (``None``: not measured)."""
    side, gpu = result["side_by_side"], "gpu" in result
    rows = []
    if not gpu:
        rows.append({"goal": "speed vs reference (wall, median)", "target": f">= {GOALS['speedup']}x",
                     "value": f"{side['speedup_wall']:.2f}x",
                     "met": side["speedup_wall"] >= GOALS["speedup"]})
    rows.append({"goal": "peak memory vs reference", "target": f"<= {GOALS['memory_ratio']:.0%}",
                 "value": f"{side['memory_ratio']:.1%}",
                 "met": side["memory_ratio"] <= GOALS["memory_ratio"]})
    rows.append({"goal": "test errors agree within seed spread",
                 "target": f"abs diff <= {side['agreement']['critical_t']:.1f} s.e.",
                 "value": ", ".join(f"{d:+.4f} ({s:.4f})" for d, s in zip(
                     side["agreement"]["difference"], side["agreement"]["standard_error"])),
                 "met": side["agreement"]["agree"]})
    eff = result["efficiency"]["efficiency"]
    rows.append({"goal": "matmul efficiency", "target": f">= {GOALS['efficiency']:.0%}",
                 "value": f"{eff:.1%}", "met": eff >= GOALS["efficiency"]})
    large = result["large"]
    if large.get("measured"):
        rows.append({"goal": "n = d^2.5 within 2 GB", "target": f"<= {GOALS['large_rss_bytes'] / MB:.0f} MB",
                     "value": f"{large['max_rss_bytes'] / MB:.0f} MB",
                     "met": large["max_rss_bytes"] <= GOALS["large_rss_bytes"]})
    else:
        rows.append({"goal": "n = d^2.5 within 2 GB", "target": "<= 2000 MB",
                     "value": "not measured", "met": None})
    workflow = result["workflow"]
    if workflow["measured"]:
        share = workflow["overhead_share"]
        rows.append({"goal": "workflow overhead (quick scale)",
                     "target": f"<= {GOALS['workflow_overhead']:.0%}",
                     "value": f"{share:.1%}", "met": share <= GOALS["workflow_overhead"]})
    else:
        rows.append({"goal": "workflow overhead (quick scale)",
                     "target": f"<= {GOALS['workflow_overhead']:.0%}", "value": "not measured", "met": None})
    if gpu:
        engine_wall = side["engine"]["median_wall_seconds"]
        for label, reference_wall in (
            ("GPU vs reference on this host's CPU", side["reference"]["median_wall_seconds"]),
            ("GPU vs CPU-baseline reference", result["gpu"].get("cpu_baseline_reference_wall_seconds")),
        ):
            if reference_wall is not None:
                speedup = reference_wall / engine_wall
                rows.append({"goal": label, "target": f">= {GOALS['gpu_speedup']:.0f}x",
                             "value": f"{speedup:.1f}x", "met": speedup >= GOALS["gpu_speedup"]})
    return rows


# --------------------------------------------------------------------------- reporting


def markdown(result: dict) -> str:
    """The Markdown tables of a result (what the README shows)."""
    side, eff, info = result["side_by_side"], result["efficiency"], result["machine"]
    e, r = side["engine"], side["reference"]
    sizes = result["sizes"]
    n = side["runs"][0]["n"]
    where = f"{info['cpu']}, {info['cores']} cores" + (f", {info['gpu']}" if "gpu" in info else "")
    lines = [
        f"**{result['date'][:10]}**, `{result['machine_tag']}` ({where}; torch {info['torch']}, "
        f"numpy {info['numpy']}; commit {info.get('git_commit')}; {result['mode']} mode; "
        f"load average {result['load_average_start']} -> {result['load_average_end']}).",
        "",
        f"One step plus ridge readout at t = 0 and 1, target A, d = {sizes['d']}, p = {sizes['p']}, "
        f"n = d^{sizes['kappa']:g} = {n}, {sizes['n_test']} test points; median of "
        f"{result['repeats']} alternating runs (seeds 0..{result['repeats'] - 1})"
        + (f"; engine overrides `{' '.join(sizes['engine_overrides'])}`."
           if sizes.get("engine_overrides") else "."),
        "",
        f"| | engine ({info['device']}, float32, streamed) "
        "| reference (numpy float64, materialised) | ratio |",
        "|---|---|---|---|",
        f"| wall time, whole process | {e['median_wall_seconds']:.1f} s | {r['median_wall_seconds']:.1f} s "
        f"| {side['speedup_wall']:.2f}x |",
        f"| compute time (in-process) | {e['median_compute_seconds']:.1f} s | "
        f"{r['median_compute_seconds']:.1f} s | {side['speedup_compute']:.2f}x |",
        f"| peak RSS | {e['max_rss_bytes'] / MB:.0f} MB | {r['max_rss_bytes'] / MB:.0f} MB | "
        f"{side['memory_ratio']:.1%} |",
    ]
    agree = side["agreement"]
    for t in (0, 1):
        lines.append(
            f"| test error t = {t} (mean over seeds) | {agree['engine_mean'][t]:.4f} | "
            f"{agree['reference_mean'][t]:.4f} | diff {agree['difference'][t]:+.4f}, "
            f"seed s.d. {agree['seed_std'][t]:.4f} |")
    lines += [
        "",
        f"Matmul efficiency: {eff['total_flops'] / 1e12:.2f} Tflop of matrix products in "
        f"{eff['compute_seconds']:.1f} s = {eff['achieved_flops_per_second'] / 1e9:.0f} Gflop/s, "
        f"against {eff['measured_rate'] / 1e9:.0f} Gflop/s measured for `torch.matmul` float32 on the "
        f"run's shapes (chunks of {eff['chunk_rows']} rows): {eff['efficiency']:.1%}.",
    ]
    large = result["large"]
    if large.get("measured"):
        lines.append(
            f"Past memory: one step at n = d^{sizes['large_kappa']:g} = {large['n']}, readout on "
            f"{large['n_train']} samples: {large['wall_seconds']:.0f} s, "
            f"peak RSS {large['max_rss_bytes'] / MB:.0f} MB (the reference would need "
            f"{large['reference_estimated_bytes'] / 1e9:.0f} GB); test errors "
            + ", ".join(f"{x:.4f}" for x in large["test_error"]) + ".")
    workflow = result["workflow"]
    if workflow["measured"]:
        lines.append(
            f"Workflow overhead (quick scale, {workflow['runs']} runs, {workflow['cores']} cores, "
            f"{workflow['total_wall_seconds']:.0f} s wall from {workflow['source']}): "
            f"{workflow['overhead_share']:.1%} outside the engine's compute.")
    else:
        lines.append(f"Workflow overhead: not measured ({workflow['reason']}).")
    if "gpu" in result:
        g = result["gpu"]
        tf32_rate = sum(eff["flops"].values()) / sum(
            eff["flops"][kind] / g["tf32_rates_flops_per_second"][kind] for kind in KINDS)
        peak = g["float32_cuda_peak_bytes"]
        lines.append(
            f"GPU peak memory (float32 run): {peak / MB:.0f} MB. TF32 matmuls: measured rate "
            f"{tf32_rate / 1e9:.0f} Gflop/s on the run's shapes; engine "
            f"{g['tf32_run']['wall_seconds']:.1f} s wall; |test error - float32| at t = 0, 1: "
            + ", ".join(f"{x:.1e}" for x in g["tf32_abs_error_difference"]) + ".")
    lines += ["", "| goal | target | measured | |", "|---|---|---|---|"]
    for row in result["verdicts"]:
        mark = {True: "met", False: "**not met**", None: "not measured"}[row["met"]]
        lines.append(f"| {row['goal']} | {row['target']} | {row['value']} | {mark} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"


def update_readme(path: Path, table: str) -> bool:
    """Replace the text between the benchmark markers of ``path``; False if it has none."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}")
    return True


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes, under a minute")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each (>= 2)")
    parser.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    parser.add_argument("--machine", help="file name tag (default: from the CPU or GPU model)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra override for every engine run (e.g. chunk_size=4096)")
    parser.add_argument("--skip-large", action="store_true", help="skip the n = d^2.5 run")
    parser.add_argument("--large-full-readout", action="store_true",
                        help="readout of the n = d^2.5 run on n samples too (default: n = d^2; "
                             "same memory, 5 more minutes on 2 cores)")
    parser.add_argument("--workflow-runs", default=str(REPO / "results" / "quick" / "runs"))
    parser.add_argument("--workflow-wall-seconds", type=float,
                        help="the quick workflow's wall time (default: from Snakemake's log)")
    parser.add_argument("--workflow-cores", type=int, help="cores the workflow ran on")
    parser.add_argument("--cpu-baseline", help="a CPU result JSON to compare a GPU run with")
    parser.add_argument("--readme", help="a Markdown file whose benchmark block to refresh")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error("--repeats must be >= 2 (the seed spread needs two runs of each)")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available here")
    return args


def write_result(out: str | Path, name: str, result: dict, table: str) -> Path:
    """Write a benchmark's ``result`` to ``<out>/<name>.json`` and its ``table`` to ``.md``;
    return ``<out>/<name>``."""
    stem = Path(out) / name
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(table)
    return stem


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run_benchmark(args)
    table = markdown(result)
    stem = write_result(args.out, result["machine_tag"] + ("-quick" if args.quick else ""), result, table)
    if not args.silent:
        print()
        print(table)
        print(f"wrote {stem}.json and {stem}.md in {result['benchmark_seconds']:.0f} s")
    if args.readme and not update_readme(Path(args.readme), table):
        print(f"{args.readme} has no {BEGIN} ... {END} block; not updated", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
