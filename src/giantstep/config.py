"""The checks that types cannot express, and the resolved :class:`Settings` of a run.

Types and names are checked by the schema (:mod:`giantstep.schema`) when Hydra composes
the config; :func:`resolve` then checks presence, ranges and combinations, what the user set
explicitly against what scenarios and defaults set, the run's estimated time and memory
against ``limits``, and the theory of the target, and returns the plain :class:`Settings`
the engine runs on: everything that can be refused is refused before any computing. This
module imports torch only inside :func:`resolve`, after the checks of plain values, so that
these fail without loading it (about 1.5 s).
"""

from __future__ import annotations

import copy
import functools
import math
import os
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from giantstep.errors import ConfigError
from giantstep.schema import Schema

if TYPE_CHECKING:
    import torch

    from giantstep.targets import Target

# Keys that may be null; every other key of the schema needs a value.
NULLABLE = ("train.alpha", "train.n", "readout.n_train", "limits.max_memory_gb")
# The batch size n comes from the first of these that is set (n, then alpha d, then d^kappa).
SIZE_KEYS = ("train.n", "train.alpha", "train.kappa")
# What the estimate of a run's time assumes (order of magnitude, not a benchmark): sustained
# flop/s of the matrix products per device type, Gaussian numbers drawn per second (on the
# CPU for every device) and the fixed cost of each measured step t (readout solve, metrics).
FLOP_RATE = {"cpu": 2e10, "cuda": 5e12}
DRAW_RATE = 2e8
SECONDS_PER_T = 0.01
FUSED_COLUMNS = 8192  # feature columns of one readout pass (giantstep.readout): its steps share a draw
MAX_COUNT = 2**53  # counts beyond this are not exact in float64 nor safe in torch's int64 arithmetic
THREADS_PER_CPU = 4  # more torch threads than this per CPU only thrash (and 100000 crash torch)


@dataclass(frozen=True)
class Settings:
    """A checked configuration with everything derived resolved (``n``, device, dtype)."""

    d: int
    p: int
    seed: int
    device: torch.device
    dtype: torch.dtype
    chunk_size: int
    target: Target
    activation: str
    init: str
    second_layer: str
    symmetric: bool
    steps: int
    resample_every: int
    n: int
    lr_rule: str
    lr_scale: float
    preprocess: str
    normalize: bool
    ridge: float
    n_train: int
    n_test: int
    threshold: float
    n_null: int
    noise_groups: int
    noise_replicates: int
    align_threshold: float
    n_neurons: int
    theory: dict = field(default_factory=dict, compare=False)
    theory_seconds: float = field(default=0.0, compare=False)  # a measurement, not a setting


def _as_float(value: float) -> float:
    """``value`` as a float; an integer too large for one becomes ``inf``."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _finite(name: str, value: float) -> None:
    if not math.isfinite(_as_float(value)):
        raise ConfigError(f"{name} must be a finite number, got {value}")


def _positive(name: str, value: float) -> None:
    _finite(name, value)
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value}")


def _non_negative(name: str, value: float) -> None:
    _finite(name, value)
    if not value >= 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")


def _leaves(tree: dict, prefix: str = "") -> list[str]:
    """Dotted names of the leaves of a nested dict."""
    keys = []
    for key, value in tree.items():
        keys += _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys


def _reject_unknown_keys(given: dict, known: dict, prefix: str = "") -> None:
    """Keys added with ``+key=value`` pass Hydra's struct check; a typo must not be ignored."""
    for key, value in given.items():
        if key not in known:
            raise ConfigError(f"unknown config key '{prefix}{key}' (known: {', '.join(known)})")
        if isinstance(value, dict) and isinstance(known[key], dict):
            _reject_unknown_keys(value, known[key], f"{prefix}{key}.")


def _require_values(cfg: DictConfig, known: dict) -> None:
    """Every key but :data:`NULLABLE` needs a value (``~d`` deletes one, ``???`` leaves one out)."""
    for key in _leaves(known):
        if key not in NULLABLE and OmegaConf.select(cfg, key, throw_on_missing=False) is None:
            raise ConfigError(f"{key} has no value: set it, e.g. {key}=<value> (see conf/config.yaml)")


def _apply_explicit(cfg: DictConfig, explicit: Collection[str], target_group: str) -> None:
    """Make what the user set explicitly take effect, or refuse it; never ignore it silently.

    A batch-size key given explicitly wins over the others that a scenario or a default set
    (``scenario=staircase train.kappa=1.5`` runs ``n = d^1.5``, not the scenario's ``4 d``):
    ``train.n`` and ``train.alpha`` are set to null in ``cfg`` unless given, so the recorded
    config is what ran (``train.kappa`` has no null; ``n`` and ``alpha`` take precedence over it).
    Two given explicitly are refused, and so is ``target.expr`` or ``target.name`` without
    ``target=custom``.
    """
    given = [key for key in SIZE_KEYS if key in explicit and OmegaConf.select(cfg, key) is not None]
    if len(given) > 1:
        first, second = given[:2]
        values = [f"{key}={OmegaConf.select(cfg, key)}" for key in (first, second)]
        raise ConfigError(f"{values[0]} and {values[1]} both set the batch size n: give only one of "
                          f"{', '.join(SIZE_KEYS)}")
    if given:
        for key in ("train.n", "train.alpha"):
            if key != given[0]:
                OmegaConf.update(cfg, key, None)
    for key in ("target.expr", "target.name"):
        if key in explicit and target_group != "custom":
            raise ConfigError(f"{key} is given but target={target_group} has its own: for an expression of "
                              "your own give target=custom target.expr=... (and target.name=... to name it)")


def _check_plain_values(cfg: DictConfig) -> None:
    """Ranges of single values and combinations that need neither torch nor the target."""
    for name in ("d", "p", "chunk_size", "readout.n_test", "metrics.n_null", "metrics.n_neurons",
                 "metrics.noise_replicates", "train.kappa", "train.lr.scale", "metrics.threshold"):
        _positive(name, OmegaConf.select(cfg, name))
    for name in ("seed", "train.steps", "train.resample_every", "readout.ridge", "metrics.align_threshold"):
        _non_negative(name, OmegaConf.select(cfg, name))
    for name in ("train.n", "train.alpha", "readout.n_train"):
        if OmegaConf.select(cfg, name) is not None:
            _positive(name, OmegaConf.select(cfg, name))
    memory_gb = cfg.limits.max_memory_gb
    if not cfg.limits.max_seconds > 0 or (memory_gb is not None and not memory_gb > 0):
        raise ConfigError(f"limits.max_seconds and limits.max_memory_gb must be > 0, got "
                          f"{cfg.limits.max_seconds} and {cfg.limits.max_memory_gb}")
    most = THREADS_PER_CPU * (os.cpu_count() or 1)
    if not 0 <= cfg.threads <= most:
        raise ConfigError(f"threads must be in 0..{most} ({THREADS_PER_CPU} per CPU here; 0: torch's "
                          f"default), got {cfg.threads}")
    if cfg.metrics.noise_groups < 2:
        raise ConfigError(f"metrics.noise_groups must be >= 2, got {cfg.metrics.noise_groups}")
    if cfg.student.symmetric and cfg.p % 2:
        raise ConfigError(f"student.symmetric=true needs an even p, got p={cfg.p}")
    if cfg.student.symmetric and cfg.readout.ridge == 0:
        raise ConfigError("readout.ridge=0 with student.symmetric=true: the paired neurons have equal "
                          "features, so the readout's Gram matrix has rank p/2; use a positive ridge")


def _batch_size(cfg: DictConfig) -> float:
    """``n`` as a float, ``inf`` where it overflows: ``train.n``, ``alpha d`` or ``d^kappa``."""
    try:
        if cfg.train.n is not None:
            return _as_float(cfg.train.n)
        if cfg.train.alpha is not None:
            return cfg.train.alpha * _as_float(cfg.d)
        return _as_float(cfg.d) ** cfg.train.kappa
    except OverflowError:
        return math.inf


def _rounded_counts(n: float, n_train: float) -> tuple[int, int]:
    """``n`` and ``n_train`` rounded (at least 1), once within :data:`MAX_COUNT`."""
    if not max(n, n_train) <= MAX_COUNT:  # with train.steps=0, n costs no time
        raise ConfigError(f"the batch size n={n:.3g} or readout.n_train={n_train:.3g} is more than 2^53 "
                          "samples: use smaller sizes")
    return max(1, round(n)), max(1, round(n_train))


def _check_counts(cfg: DictConfig, n: int, n_train: int, explicit: Collection[str]) -> None:
    """Combinations of the batch sizes with other keys."""
    if cfg.readout.ridge == 0 and n_train < cfg.p:
        raise ConfigError(f"readout.ridge=0 needs readout.n_train >= p, got n_train={n_train} < p={cfg.p}; "
                          "use a positive ridge")
    if n < 2:
        raise ConfigError(f"the batch size n must be >= 2 (for metrics.noise_groups), got n={n}")
    if "metrics.noise_groups" in explicit and cfg.metrics.noise_groups > n:
        raise ConfigError(f"metrics.noise_groups={cfg.metrics.noise_groups} is more than the batch size "
                          f"n={n}: give at most n groups")
    if "metrics.n_neurons" in explicit and cfg.metrics.n_neurons > cfg.p:
        raise ConfigError(f"metrics.n_neurons={cfg.metrics.n_neurons} is more than p={cfg.p}: at most p "
                          "neurons can be saved")


def estimate(cfg: DictConfig, n: float, n_train: float, r: int, device: str) -> tuple[dict, dict]:
    """``(seconds, bytes)`` the run of ``cfg`` needs, each split into its parts (dicts from a
    description naming the keys that drive it to a float, maybe inf), to an order of magnitude.

    Time: the flops of the giant steps (``~ 4 n p d`` each), of the readout at every ``t``
    (features ``2 (n_train + n_test) p d``, Gram ``n_train p^2``, solve ``p^3/3``) and of the
    random frames, at :data:`FLOP_RATE`; the Gaussian inputs at :data:`DRAW_RATE`; and
    :data:`SECONDS_PER_T`. Memory: a chunk's buffers, the ``(p, d)`` and ``(p, p)`` matrices in
    float64, the frames and the bootstrap replicates, and the saved per-neuron arrays.
    """
    d, p, steps = _as_float(cfg.d), _as_float(cfg.p), _as_float(cfg.train.steps)
    n_test, n_null = _as_float(cfg.readout.n_test), _as_float(cfg.metrics.n_null)
    rate = FLOP_RATE[device]
    layers_per_pass = max(1, FUSED_COLUMNS // int(p))  # the readouts share each chunk's draw
    readout_passes = math.ceil((steps + 1) / layers_per_pass)
    passes = 2 if cfg.train.preprocess.name == "remove_linear" else 1
    seconds = {
        f"the giant steps (n={n:.3g} samples per step)":
            steps * n * ((4 * p * d + 2 * p * r) / rate + passes * d / DRAW_RATE),
        "the readout at every step (readout.n_train, readout.n_test, p)": (steps + 1) * (
            (n_train * (2 * p * d + 1.25 * p * p) + 2 * n_test * p * d + p**3 / 3) / rate)
            + readout_passes * (n_train + n_test) * d / DRAW_RATE,
        "the random frames (metrics.n_null)": (steps + 1) * 2 * n_null * p * d * r / rate,
        "the steps themselves (train.steps)": (steps + 1) * SECONDS_PER_T,
    }
    rows = min(_as_float(cfg.chunk_size), max(n, n_train, n_test)) + 1024
    itemsize = 8 if cfg.dtype.name == "float64" else 4
    memory = {
        "a chunk of samples (chunk_size, d, p)": rows * (itemsize * (2 * d + 3 * p) + 4 * d),
        "a chunk's features of the fused readouts (chunk_size, train.steps, p)":
            2 * rows * itemsize * p * min(steps + 1, layers_per_pass),
        "the weights and the readout's matrices (d, p)": 8 * (5 * p * d + 4 * p * p),
        "the random frames (metrics.n_null)": 8 * n_null * r * (3 * d + 2 * p),
        "the bootstrap (metrics.noise_replicates)":
            24 * (_as_float(cfg.metrics.noise_replicates) + min(cfg.metrics.noise_groups, n)) * p * r,
        "the saved neurons (train.steps, metrics.n_neurons)":
            8 * (steps + 1) * min(_as_float(cfg.metrics.n_neurons), p) * (3 * r + 1),
    }
    return seconds, memory


def _machine_memory(device: torch.device) -> float:
    """Bytes of memory of ``device``: the GPU's, or this machine's RAM."""
    import torch

    if device.type == "cuda":
        return float(torch.cuda.get_device_properties(device).total_memory)
    memory = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    try:  # a container's limit (cgroup v2), when lower
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    return min(memory, float(limit)) if limit.isdigit() else memory


def _largest(parts: dict) -> str:
    """The description of the largest part (a NaN part counts as the largest)."""
    return max(parts, key=lambda part: math.inf if math.isnan(parts[part]) else parts[part])


def _check_limits(cfg: DictConfig, n: float, n_train: float, r: int, device: torch.device) -> None:
    """Refuse a run whose estimate (:func:`estimate`) exceeds ``limits``, naming its largest part."""
    seconds, memory = estimate(cfg, n, n_train, r, device.type)
    sizes = f"d={_as_float(cfg.d):.3g}, p={_as_float(cfg.p):.3g}, n={n:.3g}, train.steps={cfg.train.steps}"
    advice = "use smaller sizes, or raise the limit if you mean it"
    total = sum(seconds.values())
    if not total <= cfg.limits.max_seconds:  # also NaN
        raise ConfigError(f"this run would take about {total:.2g} s on {device.type} ({sizes}), mostly "
                          f"{_largest(seconds)}: over limits.max_seconds={cfg.limits.max_seconds:g}; "
                          f"{advice}")
    allowed, where = cfg.limits.max_memory_gb, ""
    if allowed is None:
        allowed, where = _machine_memory(device) / 1e9, f", the memory of this {device.type}"
    total = sum(memory.values()) / 1e9
    if not total <= allowed:
        raise ConfigError(f"this run would need about {total:.2g} GB of memory ({sizes}), mostly "
                          f"{_largest(memory)}: over limits.max_memory_gb={allowed:.3g}{where}; {advice}")


def _check_orthogonal_init(cfg: DictConfig, r: int) -> None:
    """``student.init=orthogonal`` needs room for the drawn rows (``p``, or ``p/2`` paired) beside
    the ``r`` teacher directions."""
    rows = cfg.p // 2 if cfg.student.symmetric else cfg.p
    if cfg.student.init.name == "orthogonal" and rows > cfg.d - r:
        raise ConfigError(f"student.init=orthogonal needs at most d - r = {cfg.d - r} distinct rows "
                          f"orthogonal to the teacher and to each other, got {rows} (p={cfg.p}): use a "
                          "smaller p or a larger d")


def _device(name: str) -> torch.device:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but CUDA is not available here (use device=auto or cpu)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@functools.lru_cache(maxsize=64)
def _theory(expr: str, name: str, activation: str, steps: int, preprocess: str) -> dict:
    """The theory of a target, computed once per process for each of its settings: the seeds of a
    multirun job, and the cells a cost estimate resolves, share it (a quadrature of ~2 s)."""
    from giantstep.targets import Target
    from giantstep.theory.population import theory_summary

    return theory_summary(Target.parse(expr, name=name), activation, steps, preprocess)


def explicit_keys(overrides: Collection[str]) -> frozenset[str]:
    """The keys an override list sets (``key=value``, ``+key=value``, group choices): what
    :func:`resolve` takes as ``explicit``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return frozenset(override.key_or_group for override in parsed if not override.is_delete())


def sample_counts(cfg: DictConfig, explicit: Collection[str] = (),
                  target_group: str | None = None) -> tuple[float, float]:
    """``(n, n_train)`` of a composed config, as floats (``inf`` where they overflow), after the
    checks that need no torch: known keys, required and plain values, explicit keys (which may
    set displaced batch-size keys to null in ``cfg``). The first part of :func:`resolve`."""
    known = OmegaConf.to_container(OmegaConf.structured(Schema), throw_on_missing=False)
    _reject_unknown_keys(OmegaConf.to_container(cfg), known)
    _require_values(cfg, known)
    _apply_explicit(cfg, explicit, target_group or cfg.target.name)
    _check_plain_values(cfg)
    n = _batch_size(cfg)
    return n, _as_float(cfg.readout.n_train) if cfg.readout.n_train is not None else n


def resolve(cfg: DictConfig, explicit: Collection[str] = (), target_group: str | None = None) -> Settings:
    """Check a composed config; return :class:`Settings`. Raise a one-line :class:`ConfigError`.

    ``explicit``: the keys the user set on the command line (scenarios and defaults set the
    others); ``target_group``: the chosen ``target`` config (default ``cfg.target.name``).
    Batch-size keys displaced by an explicit one are set to null in ``cfg`` (see
    :func:`_apply_explicit`). The theory of the target is computed here, once (the run reads
    it from the settings), so a target without a finite theory is refused before the run.
    """
    n, n_train = sample_counts(cfg, explicit, target_group)

    import torch  # only now: the checks above fail without it

    from giantstep.activations import get_activation
    from giantstep.targets import Target, check_r

    get_activation(cfg.student.activation)
    target = Target.parse(cfg.target.expr, name=cfg.target.name)
    device = _device(cfg.device.name)
    _check_limits(cfg, n, n_train, target.r, device)
    n, n_train = _rounded_counts(n, n_train)
    _check_counts(cfg, n, n_train, explicit)
    check_r(cfg.d, target.r)
    if cfg.d < 2 * target.r:
        raise ConfigError(f"d={cfg.d} is too small for r={target.r}: the null frames need d >= 2r")
    _check_orthogonal_init(cfg, target.r)
    tic = time.perf_counter()
    theory = copy.deepcopy(_theory(target.expr, target.name, cfg.student.activation, cfg.train.steps,
                                   cfg.train.preprocess.name))
    theory_seconds = time.perf_counter() - tic
    return Settings(
        d=cfg.d,
        p=cfg.p,
        seed=cfg.seed,
        device=device,
        dtype=getattr(torch, cfg.dtype.name),
        chunk_size=cfg.chunk_size,
        target=target,
        activation=cfg.student.activation,
        init=cfg.student.init.name,
        second_layer=cfg.student.second_layer.name,
        symmetric=cfg.student.symmetric,
        steps=cfg.train.steps,
        resample_every=cfg.train.resample_every,
        n=n,
        lr_rule=cfg.train.lr.rule.name,
        lr_scale=cfg.train.lr.scale,
        preprocess=cfg.train.preprocess.name,
        normalize=cfg.train.normalize,
        ridge=cfg.readout.ridge,
        n_train=n_train,
        n_test=cfg.readout.n_test,
        threshold=cfg.metrics.threshold,
        n_null=cfg.metrics.n_null,
        noise_groups=min(cfg.metrics.noise_groups, n),
        noise_replicates=cfg.metrics.noise_replicates,
        align_threshold=cfg.metrics.align_threshold,
        n_neurons=cfg.metrics.n_neurons,
        theory=theory,
        theory_seconds=theory_seconds,
    )
