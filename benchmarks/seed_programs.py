"""Seeds as one tensor program against the same seeds one by one; write ``<out>/<machine>-seeds.*``.

For each case (a cell of the quick scale's plans, from small to compute-bound), ``--seeds``
seeds run ``--repeats`` times each way, alternating, in this process after a warm-up:

- one by one: :func:`giantstep.run.experiment` per seed, as the CLI runs them;
- together: :func:`giantstep.run.experiments` of all the seeds, one program with a seed axis
  (every seed's batch in the chunk: ``chunk_size`` is raised to hold them).

It prints and writes the medians, their ratio, and the largest relative difference of the
test errors between the two ways (float32 rounding). This is the measurement behind
:data:`giantstep.run.SEED_PROGRAM_DEVICES`: which devices the workflow batches seeds on.

    python benchmarks/seed_programs.py --threads 1      # CPU as a quick-scale job runs, minutes
    python benchmarks/seed_programs.py --device cuda    # on a GPU machine
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from giantstep import data, run
from giantstep.config import resolve
from giantstep.schema import compose

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmark import REPO, machine_info, machine_tag, write_result  # noqa: E402

CASES = {  # name: the cell's overrides (quick scale's plans)
    "batch reuse, d=100": ["scenario=reuse_committee", "d=100"],
    "learning curve, d=128, kappa=1.5": ["scenario=multi_step", "target=two_stair", "train.kappa=1.5",
                                         "train.steps=6"],
    "staircase climb, d=128": ["scenario=staircase", "target=staircase3", "train.alpha=16", "d=128",
                               "train.steps=12", "readout.n_train=1024", "readout.n_test=1000"],
    "staircase climb, d=512": ["scenario=staircase", "target=staircase3", "train.alpha=16", "d=512",
                               "train.steps=12", "readout.n_train=1024", "readout.n_test=1000"],
}
QUICK_CASES = {"tiny, d=32": ["d=32", "p=64", "train.steps=2", "train.n=256", "readout.n_test=2000"]}


def group_settings(overrides: list[str], seeds: int, device: str) -> list:
    """The settings of ``seeds`` seeds of a cell, with a chunk that holds all their batches."""
    n = resolve(compose([*overrides, f"device={device}"])).n
    chunk = seeds * -(-n // data.BLOCK) * data.BLOCK
    fixed = [*overrides, f"device={device}", f"chunk_size={max(chunk, 4096)}"]
    return [resolve(compose([*fixed, f"seed={seed}"])) for seed in range(seeds)]


def timed(function) -> tuple[float, list]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    out = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, out


def measure(overrides: list[str], seeds: int, repeats: int, device: str) -> dict:
    """Median seconds one by one and together, and the test errors' largest relative difference."""
    group = group_settings(overrides, seeds, device)
    run.experiments(group)  # warm-up: allocator, kernels, theory caches
    alone, together, difference = [], [], 0.0
    for _ in range(repeats):
        seconds, one_by_one = timed(lambda: [run.experiment(s) for s in group])
        alone.append(seconds)
        seconds, batched = timed(lambda: run.experiments(group))
        together.append(seconds)
        for (a, _), (b, _) in zip(one_by_one, batched):
            for x, y in zip(a["steps"], b["steps"]):
                difference = max(difference, abs(x["test_error"] - y["test_error"]) / abs(x["test_error"]))
    return {"overrides": overrides, "n": group[0].n, "chunk_size": group[0].chunk_size,
            "one_by_one_seconds": statistics.median(alone), "together_seconds": statistics.median(together),
            "speedup": statistics.median(alone) / statistics.median(together),
            "test_error_max_relative_difference": difference}


def markdown(result: dict) -> str:
    lines = [f"**{result['date'][:10]}**, `{result['machine_tag']}` ({result['device']}, "
             f"{result['threads']} torch threads): {result['seeds']} seeds, median of {result['repeats']} "
             "alternating repeats.", "",
             "| cell | n per step | one by one | together | speedup | test errors, max rel. diff |",
             "|---|---|---|---|---|---|"]
    for name, case in result["cases"].items():
        lines.append(f"| {name} | {case['n']} | {case['one_by_one_seconds']:.2f} s | "
                     f"{case['together_seconds']:.2f} s | {case['speedup']:.2f}x | "
                     f"{case['test_error_max_relative_difference']:.1e} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's; quick jobs use 1)")
    parser.add_argument("--quick", action="store_true", help="one toy cell, seconds (for the tests)")
    parser.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.repeats < 1:
        parser.error("--seeds must be >= 2 and --repeats >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available here")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine_info(torch.device(args.device))
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine_tag": machine_tag(info),
              "device": args.device, "threads": torch.get_num_threads(), "seeds": args.seeds,
              "repeats": args.repeats, "cases": {}}
    for name, overrides in (QUICK_CASES if args.quick else CASES).items():
        result["cases"][name] = measure(overrides, args.seeds, args.repeats, args.device)
        case = result["cases"][name]
        print(f"{name}: one by one {case['one_by_one_seconds']:.2f} s, "
              f"together {case['together_seconds']:.2f} s ({case['speedup']:.2f}x)", flush=True)
    stem = write_result(args.out, f"{result['machine_tag']}-seeds{'-quick' if args.quick else ''}", result,
                        markdown(result))
    print(f"\n{markdown(result)}\nwrote {stem}.json and {stem}.md")
    return result


if __name__ == "__main__":
    main()
