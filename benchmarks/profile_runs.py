"""Where a run's compute goes, by kind of operation; write ``<out>/<machine>-profile.*``.

For each case (the benchmark point and the quick scale's costliest cells), one run is timed
``--repeats`` times in this process after a warm-up (median ``compute_seconds``), then run once
more under ``torch.profiler``, whose per-operator self times are summed by kind:

- products: ``mm``, ``bmm``, ``addmm``, ``mv``, ``dot`` (with the profiler's flop count, hence
  their rate);
- draws: ``normal_`` (the Gaussian inputs, drawn again on every pass; :mod:`giantstep.data`);
- solves: the readouts' Cholesky factorisations and solves (``linalg_*``, ``cholesky*``);
- element-wise: every other operator (activations, their derivatives, casts, sums, copies);
- outside operators: the profiled run's wall time less all of the above (Python, dispatch,
  the profiler's own cost).

Shares are of the profiled run. The attribution needs one torch thread (``--threads``, the
default 1, as a quick-scale job runs): with more, the draws run on a pool beside the products.

    python benchmarks/profile_runs.py             # CPU, about 2 minutes
    python benchmarks/profile_runs.py --quick     # one toy case, seconds (for the tests)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from giantstep import run
from giantstep.config import explicit_keys, resolve
from giantstep.schema import compose

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmark import FULL, REPO, engine_overrides, machine_info, machine_tag, write_result  # noqa: E402

CASES = {  # name: overrides; the quick scale's costliest cells (conf/reproduce/), then the benchmark point
    "staircase climb, d=1024": ["scenario=staircase", "target=staircase3", "train.alpha=16", "d=1024",
                                "train.steps=12", "readout.n_train=1024", "readout.n_test=1000"],
    "figure 1, p=256": ["target=hermite_124", "p=256", "train.kappa=2.25", "train.steps=6",
                        "train.lr.rule=p_sqrt_n_over_d", "train.lr.scale=0.25"],
    "staircase, d=128": ["scenario=staircase", "target=hermite_124", "train.steps=6", "d=128"],
    "hard direction, tanh, kappa=4": ["scenario=hard_direction", "d=32", "p=256", "readout.n_train=20000",
                                      "train.kappa=4.0"],
    "benchmark point, d=512": engine_overrides(FULL, FULL["kappa"], 0, "cpu"),
}
QUICK_CASES = {"tiny, d=32": ["d=32", "p=64", "train.steps=2", "train.n=4096", "readout.n_test=2000"]}
PRODUCTS = {"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm", "aten::mv", "aten::dot"}
KINDS = ("products", "draws", "solves", "element-wise", "outside operators")
TOP = 6  # operators listed per case


def kind(name: str) -> str:
    """The kind of an operator of ``torch.profiler`` (its ``aten::`` name)."""
    if name in PRODUCTS:
        return "products"
    if name == "aten::normal_":
        return "draws"
    if name.startswith(("aten::linalg_", "aten::cholesky", "aten::_linalg")):
        return "solves"
    return "element-wise"


def measure(overrides: list[str], repeats: int) -> dict:
    """Median compute seconds of a run, and its profiled seconds by kind (:data:`KINDS`)."""
    settings = resolve(compose(overrides), explicit_keys(overrides))
    run.experiment(settings)  # warm-up: allocator, theory caches
    compute = statistics.median(run.experiment(settings)[0]["timings"]["compute_seconds"]
                                for _ in range(repeats))
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        started = time.perf_counter()
        run.experiment(settings)
        wall = time.perf_counter() - started
    seconds = dict.fromkeys(KINDS, 0.0)
    product_flops, operators = 0, {}
    for event in profiler.key_averages():
        if event.key.startswith("aten::"):
            seconds[kind(event.key)] += event.self_cpu_time_total / 1e6
            product_flops += event.flops if kind(event.key) == "products" else 0
            operators[event.key] = event.self_cpu_time_total / 1e6
    seconds["outside operators"] = max(wall - sum(seconds.values()), 0.0)
    largest = sorted(operators.items(), key=lambda item: -item[1])[:TOP]
    return {"overrides": overrides, "n": settings.n, "compute_seconds": compute, "profiled_seconds": wall,
            "seconds": seconds, "shares": {k: seconds[k] / wall for k in KINDS},
            "largest_operators": {name: {"kind": kind(name), "share": seconds_ / wall}
                                  for name, seconds_ in largest},
            "product_gflops": product_flops / 1e9,
            "product_rate_gflops": product_flops / 1e9 / max(seconds["products"], 1e-9)}


def markdown(result: dict) -> str:
    lines = [f"**{result['date'][:10]}**, `{result['machine_tag']}` ({result['threads']} torch thread"
             f"{'s' if result['threads'] > 1 else ''}): compute is the median of {result['repeats']} runs; "
             "the shares are of one profiled run (`torch.profiler`, self time per operator).", "",
             "| case | n per step | compute | " + " | ".join(KINDS) + " | products' rate |",
             "|---|---|---|" + "---|" * len(KINDS) + "---|"]
    for name, case in result["cases"].items():
        shares = " | ".join(f"{100 * case['shares'][k]:.0f} %" for k in KINDS)
        lines.append(f"| {name} | {case['n']} | {case['compute_seconds']:.2f} s | {shares} | "
                     f"{case['product_rate_gflops']:.0f} Gflop/s |")
    lines += ["", "Largest operators (share of the profiled run):", ""]
    for name, case in result["cases"].items():
        largest = ", ".join(f"`{op.removeprefix('aten::')}` {100 * entry['share']:.0f} %"
                            for op, entry in case["largest_operators"].items())
        lines.append(f"- {name}: {largest}")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: see above)")
    parser.add_argument("--quick", action="store_true", help="one toy case, seconds (for the tests)")
    parser.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be >= 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine_tag": machine_tag(machine_info(torch.device("cpu"))),
              "threads": args.threads, "repeats": args.repeats, "cases": {}}
    for name, overrides in (QUICK_CASES if args.quick else CASES).items():
        case = result["cases"][name] = measure(overrides, args.repeats)
        print(f"{name}: compute {case['compute_seconds']:.2f} s, products "
              f"{100 * case['shares']['products']:.0f} %, draws {100 * case['shares']['draws']:.0f} %",
              flush=True)
    stem = write_result(args.out, f"{result['machine_tag']}-profile{'-quick' if args.quick else ''}", result,
                        markdown(result))
    print(f"\n{markdown(result)}\nwrote {stem}.json and {stem}.md")
    return result


if __name__ == "__main__":
    main()
