"""One experiment: giant steps, a readout and the metrics at every ``t = 0..T``.

:func:`experiment` is a plain function of checked :class:`~giantstep.config.Settings`
returning the ``metrics.json`` content and the per-neuron arrays; :func:`write_artifacts`
writes them as one unit (:func:`check_writable` tells beforehand whether it can). The Hydra
app in :mod:`giantstep.cli` is a thin wrapper.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from giantstep import data
from giantstep.activations import get_activation
from giantstep.config import Settings
from giantstep.data import Sampler
from giantstep.errors import ConfigError, DivergenceError
from giantstep.metrics import (
    TeacherNoise,
    aligned_dims,
    alignment,
    cosines,
    null_frames,
    overlap_matrix,
    teacher_projections,
    update_alignment,
)
from giantstep.model import init_student, stacked
from giantstep.paths import REPO
from giantstep.readout import readout_shift, ridge_readouts
from giantstep.targets import Teacher, teacher_directions
from giantstep.train import batch_index, giant_step, group_bounds, learning_rate


def experiment(s: Settings) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run ``T`` giant steps and measure after each; return ``(metrics, arrays)``.

    ``metrics["steps"][t]`` holds the readout errors and the update alignment after
    ``t`` steps (``t = 0`` is the random-features baseline), the network's own test error with
    its fixed second layer (``network_error``, :func:`giantstep.readout.ridge_readouts`) and the
    batch the step trained on (``batch``, :func:`giantstep.train.batch_index`; 0 at ``t = 0``).
    ``arrays`` holds, for the
    first ``n_neurons`` neurons, cosines ``(T+1, k, r)`` of weights and of update rows
    with each teacher direction, teacher projections ``(T+1, k, r)``, norms outside the
    teacher subspace ``(T+1, k)`` and the second layer ``a: (k,)``.
    """
    return experiments([s])[0]


# Devices on which a batch job runs a cell's seeds together. Not the CPU: there a batched product
# of the seeds is no faster than their products one by one (benchmarks/seed_programs.py, 2-core
# Xeon, 1 thread, 2026-11-30: 0.98x to 0.90x for n = 1448 to 8192 per step, 1.35x only at n = 300;
# the quick workflow's runs 216 against 204 core-seconds), and one by one a batch job's runs are
# the CLI's, byte for byte.
SEED_PROGRAM_DEVICES = frozenset({"cuda"})


def seed_groups(seeds: Sequence[int], s: Settings) -> list[tuple[int, ...]]:
    """The seeds of a cell (settings ``s`` but the seed) in groups that run as one tensor program
    (:func:`experiments`), in order and as equal in size as they can be. On a device of
    :data:`SEED_PROGRAM_DEVICES`, as many seeds as have their whole batch of ``n`` samples (rounded
    up to blocks of :data:`giantstep.data.BLOCK`) in one chunk of ``chunk_size`` rows together:
    small runs, whose products are too small to keep a GPU busy, run together, and a run whose
    batch fills a chunk runs alone. Elsewhere one seed per program."""
    rows = -(-s.n // data.BLOCK) * data.BLOCK
    per_group = max(1, s.chunk_size // rows) if s.device.type in SEED_PROGRAM_DEVICES else 1
    count = math.ceil(len(seeds) / per_group)
    edges = [round(k * len(seeds) / count) for k in range(count + 1)]
    return [tuple(seeds[start:stop]) for start, stop in zip(edges[:-1], edges[1:])]


def experiments(group: Sequence[Settings]) -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """:func:`experiment` of settings that differ in their seed only, as one tensor program.

    The ``S`` seeds train as one student with a seed axis first (``W: (S, p, d)``, inputs
    ``(S, m, d)``: every product is a batched product over the seeds) and each seed keeps its own
    samples, teacher, initialisation and bootstrap signs, so each result is its seed's
    :func:`experiment` up to float32 rounding of the products (amplified by the steps:
    1e-5 relative after 3 steps, 1e-4 after 12). The seeds share the chunk size
    (``S m <= chunk_size``), so memory is that of one run plus ``S`` copies of the weights.
    A run's timings are the program's divided by ``S`` (``timings.seeds_batched = S``).
    Raises :class:`DivergenceError` if any seed diverges (run the seeds one by one to know which).
    """
    s = group[0]
    if any(replace(other, seed=s.seed) != s for other in group):
        raise ValueError("the settings of one tensor program may differ in their seed only")
    started = time.perf_counter()
    seeds = tuple(other.seed for other in group)
    sampler = Sampler(seed=seeds, chunk_size=s.chunk_size, device=s.device, dtype=s.dtype)
    w_stars = [teacher_directions(s.d, s.target.r, data.generator(seed, "teacher")) for seed in seeds]
    teacher = Teacher(s.target, torch.stack(w_stars).to(device=s.device, dtype=s.dtype))
    student = stacked([init_student(
        s.d,
        s.p,
        activation=get_activation(s.activation),
        init=s.init,
        second_layer=s.second_layer,
        symmetric=s.symmetric,
        generator=data.generator(seed, "student"),
        device=s.device,
        dtype=s.dtype,
        w_star=w_star,
    ) for seed, w_star in zip(seeds, w_stars)])
    frames = [null_frames(w_star, s.n_null, data.generator(seed, "null"))
              for seed, w_star in zip(seeds, teacher.w_star)]
    noises = [TeacherNoise(s.noise_replicates, s.p, s.target.r, s.device) for _ in seeds]
    group_sizes = group_bounds(s.n, s.noise_groups).diff()
    eta = learning_rate(s.lr_rule, s.lr_scale, n=s.n, d=s.d, p=s.p)
    W0 = student.W.clone()
    k = min(s.n_neurons, s.p)
    arrays = [{key: [] for key in ("weight_cosines", "update_cosines", "teacher_projection", "norm_outside")}
              for _ in seeds]
    steps, step_seconds, layers = [[] for _ in seeds], [], []
    diverged = None  # a step's divergence, raised after the readouts of the steps before it
    try:
        for t in tqdm(range(s.steps + 1), desc="giant steps", disable=None, leave=False):
            batch = batch_index(t, s.resample_every) if t > 0 else 0
            if t > 0:
                tic = time.perf_counter()
                parts = giant_step(student, teacher, sampler, n=s.n, eta=eta, step=t, batch=batch,
                                   preprocess=s.preprocess, normalize=s.normalize, groups=s.noise_groups)
                # the bootstrap signs of a batch's groups: the same for every step that reuses it
                for seed, noise, seed_parts in zip(seeds, noises, parts):
                    noise.add_step(seed_parts, group_sizes, data.generator(seed, "null", batch))
                step_seconds.append((time.perf_counter() - tic) / len(seeds))
            layers.append(student.W.clone())
            for index in range(len(seeds)):
                W, w_star = student.W[index], teacher.w_star[index]
                delta = W - W0[index]
                steps[index].append(_step_record(s, t, batch, W, delta, w_star, frames[index], noises[index]))
                projection, outside = teacher_projections(W[:k], w_star)
                arrays[index]["weight_cosines"].append(cosines(W[:k], w_star))
                arrays[index]["update_cosines"].append(cosines(delta[:k], w_star))
                arrays[index]["teacher_projection"].append(projection)
                arrays[index]["norm_outside"].append(outside)
    except DivergenceError as error:
        diverged = error
    tic = time.perf_counter()
    readouts = ridge_readouts(torch.stack(layers, dim=1), student.activation, teacher, sampler,
                              n_train=s.n_train, n_test=s.n_test, ridge=s.ridge,
                              shift=readout_shift(teacher, sampler, s.n_train, s.preprocess),
                              second_layer=student.a)
    readout_seconds = (time.perf_counter() - tic) / len(seeds)
    for t in range(len(layers)):  # the earliest failure first: a readout before a step
        for record, errors in zip((seed_steps[t] for seed_steps in steps),
                                  (seed_readouts[t] for seed_readouts in readouts)):
            if not np.isfinite([errors.train_error, errors.test_error]).all():
                raise DivergenceError(record["t"], "readout errors")
            # the fixed second layer may not fit the scale of huge weights: null, not a failed run
            own = errors.network_error
            record.update(test_error=errors.test_error, train_error=errors.train_error,
                          network_error=own if math.isfinite(own) else None)
    if diverged is not None:
        raise diverged
    compute_seconds = (time.perf_counter() - started) / len(seeds)
    results = []
    for index in range(len(seeds)):
        out_arrays = {key: torch.stack(value).cpu().numpy() for key, value in arrays[index].items()}
        out_arrays["a"] = student.a[index, :k].to(torch.float64).cpu().numpy()
        metrics = {
            "n": s.n,
            "eta": eta,
            "theory": s.theory,
            "steps": steps[index],
            "timings": {
                "compute_seconds": compute_seconds,
                "step_seconds": step_seconds,
                "readout_seconds": readout_seconds,
                "theory_seconds": s.theory_seconds,  # computed once, in config.resolve
                "seeds_batched": len(seeds),
            },
        }
        results.append((metrics, out_arrays))
    return results


def _step_record(s: Settings, t: int, batch: int, W: torch.Tensor, delta: torch.Tensor,
                 w_star: torch.Tensor, frames: torch.Tensor, noise: TeacherNoise) -> dict[str, Any]:
    """The metrics of one seed after ``t`` steps (weights ``W: (p, d)``, update ``delta = W - W0``);
    the readout errors follow, fused over every ``t`` (NaN until then)."""
    update = update_alignment(delta, w_star, frames, noise)
    size = alignment(W, w_star)
    learned = update.learned_dims(s.threshold)
    return {
        "t": t,
        "batch": batch,
        "test_error": math.nan,
        "train_error": math.nan,
        "network_error": math.nan,
        "update_snr": update.snr.tolist(),
        "singular_values": update.singular_values.tolist(),
        "null_levels": update.null_levels.tolist(),
        "null_levels_frames": update.null_levels_frames.tolist(),
        "learned_dims": learned,
        "learned_directions": update.directions.tolist(),
        "alignment": size.tolist(),
        "aligned_dims": aligned_dims(size, s.align_threshold, learned, s.d),
        "overlap": overlap_matrix(W, w_star).tolist(),
    }


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux; else what :mod:`platform` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """The repository's commit and whether its tracked files differ from it (``None`` outside a
    git checkout), asked once per process: a process runs the code it loaded at its start, and a
    batch job of hundreds of runs saves two ``git`` calls per run."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = bool(subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def provenance(s: Settings) -> dict[str, Any]:
    """Git commit, package versions, machine, device, seed and threads of this run."""
    commit, dirty = git_state()
    versions = {}
    for package in ("giantstep", "torch", "numpy", "hydra-core", "omegaconf"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    device = torch.cuda.get_device_name(s.device) if s.device.type == "cuda" else "cpu"
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": versions,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "device": str(s.device),
        "device_name": device,
        "dtype": str(s.dtype).removeprefix("torch."),
        "seed": s.seed,
        "torch_threads": torch.get_num_threads(),
    }


ARTIFACTS = ("config.yaml", "arrays.npz", "metrics.json")  # metrics.json last: the completion marker
STAGING_PREFIX = ".giantstep-"  # temporary folders inside a run folder


def check_writable(run_dir: Path) -> None:
    """Refuse, before any computing, a run folder the artifacts could not be written into:
    create and remove a folder there as :func:`write_artifacts` will (permissions are not
    enough to tell: root ignores them, and /proc or a read-only mount refuse root too)."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=run_dir, prefix=STAGING_PREFIX, suffix=".tmp"))
    except OSError as error:
        raise ConfigError(f"cannot write into the run folder {run_dir}: {error.strerror}; "
                          "choose another hydra.run.dir (hydra.sweep.dir in a multirun)") from None


def _write(path: Path, write) -> None:
    """Create ``path`` (mode 0666 less the umask), fill it through ``write(file_object)``, sync it."""
    with open(path, "xb") as stream:
        write(stream)
        stream.flush()
        os.fsync(stream.fileno())


def _replace_artifacts(staging: Path, run_dir: Path) -> None:
    """Move the artifacts of ``staging`` into ``run_dir``, replacing an older run's as a whole.

    The older ``metrics.json`` goes first: from then on the folder holds no completed run
    until the new ``metrics.json`` arrives, last, so an interruption never leaves the older
    run's marker beside the newer run's files.
    """
    (run_dir / "metrics.json").unlink(missing_ok=True)
    for name in ARTIFACTS:
        os.replace(staging / name, run_dir / name)
    descriptor = os.open(run_dir, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the renames themselves
    finally:
        os.close(descriptor)


def write_artifacts(run_dir: Path, config_yaml: str, config: dict, metrics: dict,
                    arrays: dict[str, np.ndarray], run_provenance: dict) -> None:
    """Write ``config.yaml``, ``arrays.npz`` and ``metrics.json`` (the completion marker) as one unit.

    All three are written into a temporary folder inside ``run_dir`` first, so a failure while
    writing (a value JSON cannot hold, a full disk) leaves an older run there untouched; then
    they replace the older ones (:func:`_replace_artifacts`). Leftovers of a writer killed
    mid-way are removed. Files get the usual mode (0644 under umask 022).
    """
    document = {"config": config, "provenance": run_provenance, **metrics}
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(run_dir)
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=STAGING_PREFIX, suffix=".tmp"))
    try:
        _write(staging / "config.yaml", lambda f: f.write(config_yaml.encode()))
        _write(staging / "arrays.npz", lambda f: np.savez(f, **arrays))
        _write(staging / "metrics.json", lambda f: f.write(text.encode()))
        _replace_artifacts(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(run_dir: Path) -> None:
    """Remove the staging folders a writer killed mid-way left in ``run_dir`` (killed after the
    new ``metrics.json`` arrived, a whole run keeps its staging folder beside it)."""
    for leftover in run_dir.glob(f"{STAGING_PREFIX}*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)


def run_into(runs: Sequence[tuple[Path, DictConfig, Settings]], started: float,
             written: Collection[Path] | None = None) -> list[dict[str, Any]]:
    """Run the experiments of ``runs`` (``(run_dir, cfg, settings)`` that differ in their seed
    only) as one tensor program (:func:`experiments`, with ``cfg.threads`` torch threads when
    set) and write the artifacts of each one whose ``run_dir`` is in ``written`` (default: all)
    there (:func:`write_artifacts`, with its ``cfg`` as its config file and its provenance);
    their metrics. ``started``: the ``time.perf_counter()`` at which their own work began (each
    provenance's ``wall_seconds`` is the time from there to the writing, divided among the runs)."""
    cfg = runs[0][1]
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    git_state()  # the commit of the code this process runs: asked before its first run computes
    results = experiments([settings for _, _, settings in runs])
    shared = provenance(runs[0][2])
    wall_seconds = (time.perf_counter() - started) / len(runs)
    for (run_dir, cfg, settings), (metrics, arrays) in zip(runs, results):
        if written is not None and run_dir not in written:
            continue
        record = {**shared, "seed": settings.seed, "wall_seconds": wall_seconds,
                  "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_artifacts(run_dir, OmegaConf.to_yaml(cfg, resolve=True),
                        OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), metrics, arrays, record)
    return [metrics for metrics, _ in results]
