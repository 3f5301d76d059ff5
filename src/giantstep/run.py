"""One experiment: giant steps, a readout and the metrics at every ``t = 0..T``.

:func:`experiment` is a plain function of checked :class:`~giantstep.config.Settings`
returning the ``metrics.json`` content and the per-neuron arrays; :func:`write_artifacts`
writes them as one unit (:func:`check_writable` tells beforehand whether it can). The Hydra
app in :mod:`giantstep.cli` is a thin wrapper.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
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
from giantstep.model import init_student
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
    started = time.perf_counter()
    sampler = Sampler(seed=s.seed, chunk_size=s.chunk_size, device=s.device, dtype=s.dtype)
    w_star = teacher_directions(s.d, s.target.r, data.generator(s.seed, "teacher"))
    teacher = Teacher(s.target, w_star.to(device=s.device, dtype=s.dtype))
    student = init_student(
        s.d,
        s.p,
        activation=get_activation(s.activation),
        init=s.init,
        second_layer=s.second_layer,
        symmetric=s.symmetric,
        generator=data.generator(s.seed, "student"),
        device=s.device,
        dtype=s.dtype,
        w_star=w_star,
    )
    frames = null_frames(teacher.w_star, s.n_null, data.generator(s.seed, "null"))
    noise = TeacherNoise(s.noise_replicates, s.p, s.target.r, s.device)
    group_sizes = group_bounds(s.n, s.noise_groups).diff()
    eta = learning_rate(s.lr_rule, s.lr_scale, n=s.n, d=s.d, p=s.p)
    W0 = student.W.clone()
    k = min(s.n_neurons, s.p)
    arrays: dict[str, list] = {key: [] for key in
                               ("weight_cosines", "update_cosines", "teacher_projection", "norm_outside")}
    steps, step_seconds, layers = [], [], []
    diverged = None  # a step's divergence, raised after the readouts of the steps before it
    try:
        for t in tqdm(range(s.steps + 1), desc="giant steps", disable=None, leave=False):
            batch = batch_index(t, s.resample_every) if t > 0 else 0
            if t > 0:
                tic = time.perf_counter()
                parts = giant_step(student, teacher, sampler, n=s.n, eta=eta, step=t, batch=batch,
                                   preprocess=s.preprocess, normalize=s.normalize, groups=s.noise_groups)
                # the bootstrap signs of a batch's groups: the same for every step that reuses it
                noise.add_step(parts, group_sizes, data.generator(s.seed, "null", batch))
                step_seconds.append(time.perf_counter() - tic)
            layers.append(student.W.clone())
            delta = student.W - W0
            update = update_alignment(delta, teacher.w_star, frames, noise)
            size = alignment(student.W, teacher.w_star)
            learned = update.learned_dims(s.threshold)
            steps.append(
                {
                    "t": t,
                    "batch": batch,
                    "test_error": math.nan,  # the readouts of every t follow the steps, fused
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
                    "overlap": overlap_matrix(student.W, teacher.w_star).tolist(),
                }
            )
            projection, outside = teacher_projections(student.W[:k], teacher.w_star)
            arrays["weight_cosines"].append(cosines(student.W[:k], teacher.w_star))
            arrays["update_cosines"].append(cosines(delta[:k], teacher.w_star))
            arrays["teacher_projection"].append(projection)
            arrays["norm_outside"].append(outside)
    except DivergenceError as error:
        diverged = error
    tic = time.perf_counter()
    readouts = ridge_readouts(torch.stack(layers), student.activation, teacher, sampler, n_train=s.n_train,
                              n_test=s.n_test, ridge=s.ridge,
                              shift=readout_shift(teacher, sampler, s.n_train, s.preprocess),
                              second_layer=student.a)
    readout_seconds = time.perf_counter() - tic
    for record, errors in zip(steps, readouts):  # the earliest failure first: a readout before a step
        if not np.isfinite([errors.train_error, errors.test_error]).all():
            raise DivergenceError(record["t"], "readout errors")
        # the fixed second layer may not fit the scale of huge weights: null, not a failed run
        own = errors.network_error
        record.update(test_error=errors.test_error, train_error=errors.train_error,
                      network_error=own if math.isfinite(own) else None)
    if diverged is not None:
        raise diverged
    compute_seconds = time.perf_counter() - started
    out_arrays = {key: torch.stack(value).cpu().numpy() for key, value in arrays.items()}
    out_arrays["a"] = student.a[:k].to(torch.float64).cpu().numpy()
    metrics = {
        "n": s.n,
        "eta": eta,
        "theory": s.theory,
        "steps": steps,
        "timings": {
            "compute_seconds": compute_seconds,
            "step_seconds": step_seconds,
            "readout_seconds": readout_seconds,
            "theory_seconds": s.theory_seconds,  # computed once, in config.resolve
        },
    }
    return metrics, out_arrays


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux; else what :mod:`platform` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(s: Settings) -> dict[str, Any]:
    """Git commit, package versions, machine, device, seed and threads of this run."""
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
        commit, dirty = None, None
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
    for leftover in run_dir.glob(f"{STAGING_PREFIX}*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=STAGING_PREFIX, suffix=".tmp"))
    try:
        _write(staging / "config.yaml", lambda f: f.write(config_yaml.encode()))
        _write(staging / "arrays.npz", lambda f: np.savez(f, **arrays))
        _write(staging / "metrics.json", lambda f: f.write(text.encode()))
        _replace_artifacts(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_into(run_dir: Path, cfg: DictConfig, settings: Settings, started: float) -> dict[str, Any]:
    """Run the experiment of ``settings`` (with ``cfg.threads`` torch threads when set) and write
    its artifacts into ``run_dir`` (:func:`write_artifacts`, with ``cfg`` as its config file and
    its provenance); its metrics. ``started``: the ``time.perf_counter()`` at which the run's own
    work began (its provenance's ``wall_seconds`` counts from there)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    metrics, arrays = experiment(settings)
    record = provenance(settings)
    record["wall_seconds"] = time.perf_counter() - started
    record["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_artifacts(run_dir, OmegaConf.to_yaml(cfg, resolve=True),
                    OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), metrics, arrays, record)
    return metrics
