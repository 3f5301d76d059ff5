"""The checks that types cannot express, and the resolved :class:`Settings` of a run.

Types and names are checked by the schema (:mod:`giantstep.schema`) when Hydra composes
the config; :func:`resolve` then checks ranges and combinations and returns the plain
:class:`Settings` the engine runs on. This module imports torch only inside :func:`resolve`,
after the checks of plain values, so that these fail without loading it (about 1.5 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from giantstep.errors import ConfigError
from giantstep.schema import Schema

if TYPE_CHECKING:
    import torch

    from giantstep.targets import Target


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


def _positive(name: str, value: float) -> None:
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"{name} must be > 0, got {value}")


def _reject_unknown_keys(given: dict, known: dict, prefix: str = "") -> None:
    """Keys added with ``+key=value`` pass Hydra's struct check; a typo must not be ignored."""
    for key, value in given.items():
        if key not in known:
            raise ConfigError(f"unknown config key '{prefix}{key}' (known: {', '.join(known)})")
        if isinstance(value, dict) and isinstance(known[key], dict):
            _reject_unknown_keys(value, known[key], f"{prefix}{key}.")


def _device(name: str) -> torch.device:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but CUDA is not available here (use device=auto or cpu)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve(cfg: DictConfig) -> Settings:
    """Check ranges and combinations of a composed config; return :class:`Settings`."""
    _reject_unknown_keys(
        OmegaConf.to_container(cfg),
        OmegaConf.to_container(OmegaConf.structured(Schema), throw_on_missing=False),
    )
    for name in ("d", "p", "chunk_size", "readout.n_test", "metrics.n_null", "metrics.n_neurons",
                 "metrics.noise_replicates", "metrics.align_threshold"):
        _positive(name, OmegaConf.select(cfg, name))
    _positive("train.kappa", cfg.train.kappa)
    _positive("train.lr.scale", cfg.train.lr.scale)
    if cfg.train.steps < 0:
        raise ConfigError(f"train.steps must be >= 0, got {cfg.train.steps}")
    if cfg.readout.ridge < 0:
        raise ConfigError(f"readout.ridge must be >= 0, got {cfg.readout.ridge}")
    if cfg.threads < 0:
        raise ConfigError(f"threads must be >= 0 (0: torch's default), got {cfg.threads}")
    if cfg.train.n is not None:
        n = cfg.train.n
        _positive("train.n", n)
    elif cfg.train.alpha is not None:
        _positive("train.alpha", cfg.train.alpha)
        n = max(1, round(cfg.train.alpha * cfg.d))
    else:
        n = max(1, round(cfg.d**cfg.train.kappa))
    n_train = cfg.readout.n_train if cfg.readout.n_train is not None else n
    _positive("readout.n_train", n_train)
    if cfg.readout.ridge == 0 and n_train < cfg.p:
        raise ConfigError(f"readout.ridge=0 needs readout.n_train >= p, got n_train={n_train} < p={cfg.p}; "
                          "use a positive ridge")
    if cfg.metrics.noise_groups < 2 or n < 2:
        raise ConfigError(f"metrics.noise_groups and the batch size n must be >= 2, got "
                          f"{cfg.metrics.noise_groups} and n={n}")
    if cfg.student.symmetric and cfg.p % 2:
        raise ConfigError(f"student.symmetric=true needs an even p, got p={cfg.p}")

    import torch  # only now: the checks above fail without it

    from giantstep.activations import get_activation
    from giantstep.targets import Target, check_r

    get_activation(cfg.student.activation)
    target = Target.parse(cfg.target.expr, name=cfg.target.name)
    check_r(cfg.d, target.r)
    if cfg.d < 2 * target.r:
        raise ConfigError(f"d={cfg.d} is too small for r={target.r}: the null frames need d >= 2r")
    return Settings(
        d=cfg.d,
        p=cfg.p,
        seed=cfg.seed,
        device=_device(cfg.device.name),
        dtype=getattr(torch, cfg.dtype.name),
        chunk_size=cfg.chunk_size,
        target=target,
        activation=cfg.student.activation,
        init=cfg.student.init.name,
        second_layer=cfg.student.second_layer.name,
        symmetric=cfg.student.symmetric,
        steps=cfg.train.steps,
        n=int(n),
        lr_rule=cfg.train.lr.rule.name,
        lr_scale=cfg.train.lr.scale,
        preprocess=cfg.train.preprocess.name,
        normalize=cfg.train.normalize,
        ridge=cfg.readout.ridge,
        n_train=int(n_train),
        n_test=cfg.readout.n_test,
        threshold=cfg.metrics.threshold,
        n_null=cfg.metrics.n_null,
        noise_groups=min(cfg.metrics.noise_groups, int(n)),
        noise_replicates=cfg.metrics.noise_replicates,
        align_threshold=cfg.metrics.align_threshold,
        n_neurons=cfg.metrics.n_neurons,
    )
