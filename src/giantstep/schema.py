"""The typed schema of the Hydra configuration (no values: those live in ``conf/``).

Every field is ``MISSING`` here, so ``conf/config.yaml`` is the single source of the
defaults, while OmegaConf rejects an unknown key or a wrongly typed value at
composition time. This module imports no torch, so the workflow can compose configs
cheaply (:func:`compose`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from giantstep.paths import conf_dir

Init = Enum("Init", ["gaussian", "sphere", "orthogonal"])
SecondLayer = Enum("SecondLayer", ["rademacher", "gaussian", "alternating"])
LrRule = Enum("LrRule", ["constant", "p", "p_sqrt_n_over_d", "sqrt_np", "n_over_d"])
Preprocess = Enum("Preprocess", ["none", "remove_linear"])
Device = Enum("Device", ["auto", "cpu", "cuda"])
DType = Enum("DType", ["float32", "float64"])


@dataclass
class TargetSchema:
    name: str = MISSING
    expr: str = MISSING


@dataclass
class StudentSchema:
    activation: str = MISSING
    init: Init = MISSING
    second_layer: SecondLayer = MISSING
    symmetric: bool = MISSING


@dataclass
class LrSchema:
    rule: LrRule = MISSING
    scale: float = MISSING


@dataclass
class TrainSchema:
    steps: int = MISSING
    kappa: float = MISSING
    alpha: float | None = None
    n: int | None = None
    lr: LrSchema = field(default_factory=LrSchema)
    resample_every: int = MISSING
    preprocess: Preprocess = MISSING
    normalize: bool = MISSING


@dataclass
class ReadoutSchema:
    ridge: float = MISSING
    n_train: int | None = None
    n_test: int = MISSING


@dataclass
class MetricsSchema:
    threshold: float = MISSING
    n_null: int = MISSING
    noise_groups: int = MISSING
    noise_replicates: int = MISSING
    align_threshold: float = MISSING
    n_neurons: int = MISSING


@dataclass
class LimitsSchema:
    max_seconds: float = MISSING
    max_memory_gb: float | None = None


@dataclass
class Schema:
    d: int = MISSING
    p: int = MISSING
    seed: int = MISSING
    device: Device = MISSING
    dtype: DType = MISSING
    chunk_size: int = MISSING
    threads: int = MISSING
    target: TargetSchema = field(default_factory=TargetSchema)
    student: StudentSchema = field(default_factory=StudentSchema)
    train: TrainSchema = field(default_factory=TrainSchema)
    readout: ReadoutSchema = field(default_factory=ReadoutSchema)
    metrics: MetricsSchema = field(default_factory=MetricsSchema)
    limits: LimitsSchema = field(default_factory=LimitsSchema)


def register_schema() -> None:
    """Make the schema available to ``conf/config.yaml`` as the defaults entry ``schema``."""
    ConfigStore.instance().store(name="schema", node=Schema)



def compose(overrides: list[str] | tuple[str, ...] = (), return_hydra_config: bool = False) -> DictConfig:
    """The config ``giantstep <overrides>`` would run with, via Hydra's Compose API (with its
    ``hydra`` node, e.g. the chosen groups, when ``return_hydra_config``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides),
                             return_hydra_config=return_hydra_config)
