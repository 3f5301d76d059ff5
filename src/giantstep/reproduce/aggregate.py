"""Tidy tables from run artifacts: one row per run and step, or per run, step and neuron.

Every run is checked first (:func:`check_run`): a run that is not whole, or not the run of
the cell it is filed under (made by hand with other overrides, say), stops the table with
one line naming the file (:class:`DamagedRunError`) instead of entering it. The workflow
applies the same check before it builds its DAG (:func:`repair_runs`), removing what fails
so that it is recomputed.

Columns of :func:`runs_table` (``R`` = the largest ``r`` among the runs):
plan, cell, seed, target, expr, r, d, p, n, kappa and alpha (the run's ``train.kappa``, resp.
``train.alpha``, when that set ``n``; otherwise what its ``n`` is: ``log n / log d``, resp.
``n / d``), activation, init, second_layer, symmetric, preprocess, lr_rule, lr_scale, eta,
resample_every (``train.resample_every``: 1 fresh batches, k each batch for k steps, 0 one batch), ridge,
n_train, n_test, steps (``T``), threshold and align_threshold (the run's own ``metrics.*``), t, test_error,
train_error, network_error (the network's own half squared error with its fixed second layer; NaN where it
overflowed),
learned_dims (update SNR above the threshold), aligned_dims (learned and of size at least
align_threshold), snr_1..snr_R (against the noise along the teacher), snr_frames_1..snr_R
(against random frames, for comparison), align_1..align_R (eigenvalues of the overlap
matrix), overlap_jk for j <= k (its entries: ``overlap_jj`` is the mean squared cosine of the
weights with ``w*_j``), dir1_z1..dirR_zR (learned directions in teacher coordinates), predicted_dims,
predicted_dims_generic, floor, floor_generic, linear_kernel_error, variance. Timings are left
out on purpose: a table depends only on
the runs' results, so reruns and other machines give byte-identical tables.

Columns of :func:`neurons_table`: plan, cell, seed, target, t, neuron, a,
update_cos_1..R, weight_cos_1..R, projection_1..R, norm_outside.

Columns of :func:`provenance_table` (one row per run; where, when and from which commit it ran,
so by design not the same on a rerun): plan, cell, seed, git_commit, git_dirty, cpu, cpu_count,
device_name, torch_threads, wall_seconds, finished_at (empty where a run did not record it).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from giantstep.reproduce.plans import resolved_digest

RUN_FILES = ("metrics.json", "arrays.npz", "config.yaml")  # what one run writes, metrics.json last
TOP_KEYS = ("config", "theory", "steps", "n", "eta")
THEORY_KEYS = ("r", "linear_kernel_error", "variance")
STEP_KEYS = ("t", "test_error", "train_error", "learned_dims", "aligned_dims", "update_snr",
             "singular_values", "null_levels_frames", "alignment", "learned_directions", "overlap")
ARRAYS = ("weight_cosines", "update_cosines", "teacher_projection", "norm_outside", "a")
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DamagedRunError(ValueError):
    """A run that is not whole, or not the run of the cell it is filed under; the message is
    one line: the file, then what is wrong with it."""


def check_run(metrics_path: Path, digest: str) -> dict:
    """The ``metrics.json`` document of one run, once checked; :class:`DamagedRunError` if not.

    Checked: valid JSON holding every key the tables read, finite numbers only, one step per
    ``t = 0..T``, the seed of its ``seed=<s>`` folder, the config of its cell (``digest``, the
    cell's :func:`giantstep.reproduce.plans.config_digest`), and beside it a readable ``arrays.npz``
    with one entry per step and ``config.yaml`` holding the same config.
    """
    metrics = _read_metrics(metrics_path)
    problem = _metrics_problem(metrics, metrics_path.parent.name, digest)
    if problem:
        raise DamagedRunError(f"{metrics_path}: {problem}")
    _check_arrays(metrics_path.with_name("arrays.npz"), len(metrics["steps"]))
    _check_config_file(metrics_path.with_name("config.yaml"), metrics["config"])
    return metrics


def _read_metrics(path: Path) -> dict:
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        raise DamagedRunError(f"{path}: missing") from None
    except OSError as error:
        raise DamagedRunError(f"{path}: cannot be read ({error.strerror})") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedRunError(f"{path}: not valid JSON, truncated? ({error})") from None
    if not isinstance(metrics, dict):
        raise DamagedRunError(f"{path}: not a JSON object")
    return metrics


def _metrics_problem(metrics: dict, folder: str, digest: str) -> str | None:
    """What is wrong with a ``metrics.json`` document of the run in ``folder``, or None."""
    missing = [key for key in TOP_KEYS if key not in metrics]
    if missing:
        return f"no '{missing[0]}'"
    config, theory, steps = metrics["config"], metrics["theory"], metrics["steps"]
    if not (isinstance(config, dict) and isinstance(theory, dict) and isinstance(steps, list)):
        return "'config', 'theory' or 'steps' has the wrong type"
    bad = _non_finite(metrics)
    if bad:
        return f"{bad} is not a finite number"
    if folder != f"seed={config.get('seed')}":
        return f"seed {config.get('seed')} in a folder {folder}"
    if resolved_digest(config) != digest:
        return (f"not the config of its cell (digest {resolved_digest(config)}, the cell's {digest}): "
                "made with other overrides, or before conf/ changed")
    return _steps_problem(steps, config["train"]["steps"]) or next(
        (f"no 'theory.{key}'" for key in THEORY_KEYS if key not in theory), None)


def _steps_problem(steps: list, expected: int) -> str | None:
    if len(steps) != expected + 1:
        return f"{len(steps)} steps, expected {expected + 1} (t = 0..{expected})"
    for t, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("t") != t:
            return f"steps[{t}] is not the step t = {t}"
        missing = [key for key in STEP_KEYS if key not in step]
        if missing:
            return f"no 'steps[{t}].{missing[0]}'"
    return None


def _non_finite(value, where: str = "") -> str | None:
    """Where in a JSON document the first non-finite number is (``steps[1].test_error``), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (where or "the document")
    if isinstance(value, dict):
        items = ((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next((found for name, item in items if (found := _non_finite(item, name))), None)


def _check_arrays(path: Path, steps: int) -> None:
    """``arrays.npz`` readable, with every array, one entry per step and finite values."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = [key for key in ARRAYS if key not in stored.files]
            arrays = {key: stored[key] for key in ARRAYS if key not in missing}
    except FileNotFoundError:
        raise DamagedRunError(f"{path}: missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DamagedRunError(f"{path}: cannot be read ({error or type(error).__name__})") from None
    if missing:
        raise DamagedRunError(f"{path}: no array '{missing[0]}'")
    shape = arrays["update_cosines"].shape
    shapes = {"weight_cosines": shape, "teacher_projection": shape, "norm_outside": shape[:2],
              "a": shape[1:2]}
    if len(shape) != 3 or shape[0] != steps or any(arrays[k].shape != v for k, v in shapes.items()):
        raise DamagedRunError(f"{path}: arrays of shapes {[arrays[k].shape for k in ARRAYS]}, "
                              f"not {steps} steps of (neurons, r)")
    bad = [key for key in ARRAYS if not np.isfinite(arrays[key]).all()]
    if bad:
        raise DamagedRunError(f"{path}: '{bad[0]}' holds non-finite values")


def _check_config_file(path: Path, config: dict) -> None:
    try:
        written = yaml.load(path.read_text(), Loader=YAML_LOADER)
    except FileNotFoundError:
        raise DamagedRunError(f"{path}: missing") from None
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise DamagedRunError(f"{path}: cannot be read ({type(error).__name__})") from None
    if written != config:
        raise DamagedRunError(f"{path}: not the config in metrics.json beside it")


@dataclass(frozen=True)
class Repair:
    """What :func:`repair_runs` found: one line per damaged run, and every run to recompute."""

    lines: list[str]
    stale: set[Path]  # the metrics.json of each run that is missing or failed its check


def repair_runs(runs: Mapping[Path, str], tables: Sequence[Path], remove: bool) -> Repair:
    """Make the workflow recompute every run of a plan that fails :func:`check_run`.

    ``runs`` maps each run's ``metrics.json`` to its cell's digest; ``tables`` are the
    plan's tables built from them. A run that fails, its files are removed, and so are the
    tables once any run fails or is missing: Snakemake does not rebuild a missing file
    whose downstream outputs exist, so without them it would keep the tables as they are.
    A run with no ``metrics.json`` keeps the files it has (they may be a run in progress;
    its job removes them). With ``remove`` false (a dry run) nothing is removed.
    """
    lines, stale = [], set()
    for path, digest in runs.items():
        if not path.exists():
            stale.add(path)
            if any(path.with_name(name).exists() for name in RUN_FILES):
                lines.append(f"{path.parent}: incomplete, no metrics.json (deleted, or the run was killed)")
            continue
        try:
            check_run(path, digest)
        except DamagedRunError as error:
            stale.add(path)
            lines.append(str(error))
            if remove:
                for name in RUN_FILES:
                    path.with_name(name).unlink(missing_ok=True)
    if stale and remove:
        for table in tables:
            table.unlink(missing_ok=True)
    return Repair(lines, stale)


def _checked_runs(metric_paths: list[Path], runs_root: Path,
                  digests: Mapping[str, str]) -> Iterator[tuple[Path, str, str, int, dict]]:
    """``(path, plan, cell, seed, metrics)`` of each run, sorted by path, each checked against
    the digest of its cell (``digests``: cell path -> digest)."""
    for path in sorted(map(Path, metric_paths)):
        plan, cell, seed = _run_key(path, runs_root)
        if cell not in digests:
            raise DamagedRunError(f"{path}: '{cell}' is not a cell of plan '{plan}'")
        yield path, plan, cell, seed, check_run(path, digests[cell])


def _run_key(path: Path, runs_root: Path) -> tuple[str, str, int]:
    """``(plan, cell, seed)`` from ``runs_root/<plan>/<cell...>/seed=<s>/metrics.json``."""
    parts = path.parent.relative_to(runs_root).parts
    return parts[0], "/".join(parts[1:-1]), int(parts[-1].removeprefix("seed="))


def runs_table(metric_paths: list[Path], runs_root: Path, digests: Mapping[str, str]) -> pd.DataFrame:
    """One row per run and step ``t = 0..T`` (see the module docstring for the columns);
    ``digests`` maps each cell path to its digest, against which each run is checked."""
    rows = []
    for _, plan, cell, seed, m in _checked_runs(metric_paths, runs_root, digests):
        cfg, theory = m["config"], m["theory"]
        base = {
            "plan": plan, "cell": cell, "seed": seed,
            "target": cfg["target"]["name"], "expr": cfg["target"]["expr"], "r": theory["r"],
            "d": cfg["d"], "p": cfg["p"], "n": m["n"], **batch_size(cfg["train"], m["n"], cfg["d"]),
            "activation": cfg["student"]["activation"], "init": cfg["student"]["init"],
            "second_layer": cfg["student"]["second_layer"], "symmetric": cfg["student"]["symmetric"],
            "preprocess": cfg["train"]["preprocess"], "lr_rule": cfg["train"]["lr"]["rule"],
            "lr_scale": cfg["train"]["lr"]["scale"], "eta": m["eta"],
            "resample_every": cfg["train"]["resample_every"], "ridge": cfg["readout"]["ridge"],
            "n_train": cfg["readout"]["n_train"] or m["n"], "n_test": cfg["readout"]["n_test"],
            "steps": cfg["train"]["steps"],
            "threshold": cfg["metrics"]["threshold"], "align_threshold": cfg["metrics"]["align_threshold"],
            "linear_kernel_error": theory["linear_kernel_error"], "variance": theory["variance"],
        }
        for step in m["steps"]:
            t = step["t"]
            row = base | {
                "t": t, "test_error": step["test_error"], "train_error": step["train_error"],
                "network_error": step.get("network_error"),  # null where it overflowed
                "learned_dims": step["learned_dims"], "aligned_dims": step["aligned_dims"],
                "predicted_dims": _at(theory.get("predicted_dims"), t),
                "predicted_dims_generic": _at(theory.get("predicted_dims_generic"), t),
                "floor": _at(theory.get("floors"), t),
                "floor_generic": _at(theory.get("floors_generic"), t),
            }
            for k, snr in enumerate(step["update_snr"], start=1):
                row[f"snr_{k}"] = snr
            frames = zip(step["singular_values"], step["null_levels_frames"])
            for k, (value, level) in enumerate(frames, start=1):
                row[f"snr_frames_{k}"] = value / level if level > 0 else 0.0
            for k, size in enumerate(step["alignment"], start=1):
                row[f"align_{k}"] = size
            for j, overlaps in enumerate(step["overlap"], start=1):
                for k, value in enumerate(overlaps[j - 1:], start=j):
                    row[f"overlap_{j}{k}"] = value
            for k, direction in enumerate(step["learned_directions"], start=1):
                for j, value in enumerate(direction, start=1):
                    row[f"dir{k}_z{j}"] = value
            rows.append(row)
    return pd.DataFrame(rows)


PROVENANCE_KEYS = ("git_commit", "git_dirty", "cpu", "cpu_count", "device_name", "torch_threads",
                   "wall_seconds", "finished_at")


def provenance_table(metric_paths: list[Path], runs_root: Path, digests: Mapping[str, str]) -> pd.DataFrame:
    """One row per run: its ``metrics.json["provenance"]`` entries :data:`PROVENANCE_KEYS`."""
    return pd.DataFrame([
        {"plan": plan, "cell": cell, "seed": seed,
         **{key: m.get("provenance", {}).get(key) for key in PROVENANCE_KEYS}}
        for _, plan, cell, seed, m in _checked_runs(metric_paths, runs_root, digests)
    ], columns=["plan", "cell", "seed", *PROVENANCE_KEYS])


def batch_size(train: dict, n: int, d: int) -> dict[str, float]:
    """``kappa`` and ``alpha`` of a run with ``train`` config that ran ``n`` samples per step:
    the configured value of the one that set ``n`` (``train.n``, then ``train.alpha``, then
    ``train.kappa``, as :mod:`giantstep.config` reads them), and for the others what ``n`` is,
    ``log n / log d`` and ``n / d``."""
    by_alpha = train["n"] is None and train["alpha"] is not None
    by_kappa = train["n"] is None and train["alpha"] is None
    return {"kappa": train["kappa"] if by_kappa else math.log(n) / math.log(d),
            "alpha": train["alpha"] if by_alpha else n / d}


def _at(values: list | None, t: int):
    return None if values is None else values[t]


def neurons_table(metric_paths: list[Path], runs_root: Path, digests: Mapping[str, str]) -> pd.DataFrame:
    """One row per run, step and saved neuron, from each run's ``arrays.npz`` (runs checked
    as in :func:`runs_table`)."""
    frames = []
    for path, plan, cell, seed, m in _checked_runs(metric_paths, runs_root, digests):
        target = m["config"]["target"]["name"]
        with np.load(path.parent / "arrays.npz", allow_pickle=False) as arrays:
            steps, k, r = arrays["update_cosines"].shape
            t, neuron = np.meshgrid(np.arange(steps), np.arange(k), indexing="ij")
            columns = {"t": t.ravel(), "neuron": neuron.ravel(), "a": np.tile(arrays["a"], steps)}
            for j in range(r):
                columns[f"update_cos_{j + 1}"] = arrays["update_cosines"][..., j].ravel()
                columns[f"weight_cos_{j + 1}"] = arrays["weight_cosines"][..., j].ravel()
                columns[f"projection_{j + 1}"] = arrays["teacher_projection"][..., j].ravel()
            columns["norm_outside"] = arrays["norm_outside"].ravel()
        frame = pd.DataFrame(columns)
        frame.insert(0, "target", target)
        frame.insert(0, "seed", seed)
        frame.insert(0, "cell", cell)
        frame.insert(0, "plan", plan)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
