"""Reproduction plans: which runs each figure or table needs, per scale.

A plan is a YAML file ``conf/reproduce/<name>.yaml``::

    description: one line
    neurons: false            # also tabulate per-neuron cosines (arrays.npz)
    scales:
      quick:
        fixed: [d=128, p=512, train.steps=6]       # overrides shared by every cell
        grid: {target: [hermite_124, two_stair], train.kappa: [1.0, 1.5]}

``grid`` may also be a list of such mappings (the union of their products), for
plans whose cells do not form one product.

Plans hold only the overrides that vary; every default stays in ``conf/config.yaml``.
The seeds are the same for every plan at a scale, in ``conf/reproduce/_seeds.yaml``, so
that one workflow rule can declare a cell's per-seed outputs.
A *cell* is one combination of grid values; its runs (one per seed) live in
``results/<scale>/runs/<plan>/<key>=<value>/.../seed=<seed>/`` with the keys of the
grid in order (the last component of a dotted key: ``train.kappa`` -> ``kappa``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from giantstep import ENGINE_VERSION
from giantstep.errors import ConfigError
from giantstep.schema import REPO, compose

PLAN_DIR = REPO / "conf" / "reproduce"
SCALES = ("smoke", "quick", "paper")
NOT_IN_DIGEST = ("threads", "hydra")  # do not change results


@dataclass(frozen=True)
class Cell:
    """One grid point of a plan: its path below the plan's run directory and its overrides."""

    path: str
    overrides: tuple[str, ...]

    def arguments(self, seeds: tuple[int, ...], cell_dir: str) -> str:
        """Shell-quoted CLI arguments that run this cell's seeds into ``cell_dir/seed=<seed>/``."""
        return shlex.join(  # Hydra needs a value holding '=' in quotes
            ["-m", *self.overrides, "seed=" + ",".join(map(str, seeds)),
             f"hydra.sweep.dir='{cell_dir}'", "hydra.sweep.subdir='seed=${seed}'"]
        )


@dataclass(frozen=True)
class Plan:
    """A plan at one scale: its cells, and the seeds each cell runs."""

    name: str
    description: str
    neurons: bool
    seeds: tuple[int, ...]
    cells: tuple[Cell, ...]

    def cell(self, path: str) -> Cell:
        return next(cell for cell in self.cells if cell.path == path)


def _segment(key: str, value) -> str:
    return f"{key.rsplit('.', 1)[-1]}={value}"


def available_plans() -> list[str]:
    """Names of the plan files under ``conf/reproduce/``."""
    return sorted(path.stem for path in PLAN_DIR.glob("*.yaml") if not path.stem.startswith("_"))


def scale_seeds(scale: str) -> tuple[int, ...]:
    """The seeds every plan runs at ``scale``."""
    if scale not in SCALES:
        raise ConfigError(f"unknown scale '{scale}' (known: {', '.join(SCALES)})")
    return tuple(yaml.safe_load((PLAN_DIR / "_seeds.yaml").read_text())[scale])


def load_plan(name: str, scale: str) -> Plan:
    """Read plan ``name`` at ``scale``; one-line :class:`ConfigError` if either is unknown."""
    seeds = scale_seeds(scale)
    path = PLAN_DIR / f"{name}.yaml"
    if name.startswith("_") or not path.is_file():
        raise ConfigError(f"unknown plan '{name}' (known: {', '.join(available_plans())})")
    spec = yaml.safe_load(path.read_text())
    if scale not in spec["scales"]:
        raise ConfigError(f"plan '{name}' has no scale '{scale}'")
    at_scale = spec["scales"][scale]
    grids = at_scale.get("grid", {})
    cells = []
    for grid in grids if isinstance(grids, list) else [grids]:
        short = [key.rsplit(".", 1)[-1] for key in grid]
        if len(set(short)) != len(short):
            raise ConfigError(f"plan '{name}': grid keys must differ in their last component: {list(grid)}")
        for values in itertools.product(*grid.values()):
            pairs = list(zip(grid, values))
            cells.append(Cell(
                path="/".join(_segment(key, value) for key, value in pairs) or "default",
                overrides=tuple(at_scale.get("fixed", [])) + tuple(f"{k}={v}" for k, v in pairs),
            ))
    if len({cell.path for cell in cells}) != len(cells):
        raise ConfigError(f"plan '{name}' at scale '{scale}' has two cells with the same path")
    return Plan(
        name=name,
        description=spec["description"],
        neurons=bool(spec.get("neurons", False)),
        seeds=seeds,
        cells=tuple(cells),
    )


def config_digest(overrides: tuple[str, ...]) -> str:
    """Digest of the composed config of ``overrides`` (less what cannot change results)
    and of :data:`giantstep.ENGINE_VERSION`: a run is redone exactly when it changes."""
    cfg = OmegaConf.to_container(compose(overrides), resolve=True, enum_to_str=True)
    for key in NOT_IN_DIGEST:
        cfg.pop(key, None)
    text = yaml.safe_dump({"engine_version": ENGINE_VERSION, "config": cfg}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _conf_fingerprint() -> str:
    """Hash of every file that composition reads: ``conf/**`` and the schema's source."""
    sha = hashlib.sha256(str(ENGINE_VERSION).encode())
    for path in sorted((REPO / "conf").rglob("*.yaml")) + [REPO / "src" / "giantstep" / "schema.py"]:
        sha.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def cached_digests(cells: list[Cell], cache: Path) -> dict[str, str]:
    """:func:`config_digest` of each cell, keyed by its path.

    Composition takes ~0.1 s a config, so digests are kept in ``cache`` (JSON) under a
    fingerprint of ``conf/`` and the schema: unchanged configs are not composed again.
    """
    fingerprint = _conf_fingerprint()
    try:
        stored = json.loads(cache.read_text())
    except (OSError, ValueError):
        stored = {}
    known = stored.get(fingerprint, {})
    by_overrides = {}
    for cell in cells:
        key = json.dumps(cell.overrides)
        by_overrides[key] = known.get(key) or config_digest(cell.overrides)
    if any(key not in known for key in by_overrides):
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({fingerprint: {**known, **by_overrides}}))
        os.replace(temporary, cache)
    return {cell.path: by_overrides[json.dumps(cell.overrides)] for cell in cells}
