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
grid in order (the last component of a dotted key: ``train.kappa`` -> ``kappa``). A key or
value with characters outside ``[A-Za-z0-9._+-]`` (a quoted expression, say) is written as
those of its characters that are safe plus a hash of the whole: ``expr=He3_z1_sqrt_6-dd188acc``.
Plan values reach the CLI as arguments of a process started without a shell, so they
are data: Hydra parses them, and a value it cannot parse stops the workflow with one line
before any job starts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import yaml
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from giantstep import ENGINE_VERSION
from giantstep.config import explicit_keys, sample_counts
from giantstep.errors import ConfigError
from giantstep.flops import engine_feature_rows
from giantstep.paths import PACKAGE, conf_dir
from giantstep.schema import compose

SCALES = ("smoke", "quick", "paper")
# Left out of a cell's digest: threads, hydra and limits (which only refuse a run before it
# starts) do not change results, and the seeds of a cell are given by the workflow (each
# run's own seed is checked against its path instead).
NOT_IN_DIGEST = ("threads", "hydra", "limits", "seed")
SAFE_NAME = re.compile(r"[A-Za-z0-9._+-]{1,64}")
# The workflow's cache of each cell's digest and work (:func:`cached_cells`), in its working folder.
FACTS_CACHE = Path(".snakemake/giantstep/cells.json")


@dataclass(frozen=True)
class Cell:
    """One grid point of a plan: its path below the plan's run directory and its overrides."""

    path: str
    overrides: tuple[str, ...]

    def arguments(self, seeds: tuple[int, ...], cell_dir: str) -> list[str]:
        """CLI arguments that run this cell's seeds into ``cell_dir/seed=<seed>/``: one list
        item per argument, for a process started without a shell."""
        return ["-m", *self.overrides, "seed=" + ",".join(map(str, seeds)),
                f"hydra.sweep.dir={hydra_quoted(cell_dir)}", "hydra.sweep.subdir='seed=${seed}'"]


def hydra_quoted(text: str) -> str:
    """``text`` as a Hydra override value that Hydra and OmegaConf read back as ``text``.

    Single quotes, with a backslash before each quote and doubled backslashes before a
    quote or at the end (Hydra's quoted strings), and ``${`` escaped (OmegaConf would
    read it as an interpolation).
    """
    text = re.sub(r"(\\*)\$\{", lambda m: m[1] * 2 + "\\${", text)
    text = re.sub(r"(\\*)'", lambda m: m[1] * 2 + "\\'", text)
    text = re.sub(r"(\\+)$", lambda m: m[1] * 2, text)
    return f"'{text}'"


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
    """``<key>=<value>``: the path component of one grid value (see the module docstring)."""
    return f"{path_name(key.rsplit('.', 1)[-1])}={path_name(str(value))}"


def path_name(text: str) -> str:
    """``text`` when it is a safe file name part (up to 64 of ``[A-Za-z0-9._+-]``); otherwise
    its safe characters (runs of others become ``_``) and 8 hex digits of its SHA-256, so that
    two texts give two names and no name holds ``/``, quotes, ``=`` or shell syntax."""
    if SAFE_NAME.fullmatch(text):
        return text
    readable = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_")[:40]
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else digest


def plan_dir() -> Path:
    """``conf/reproduce/`` of the configuration tree (:func:`giantstep.paths.conf_dir`, read at each call)."""
    return conf_dir() / "reproduce"


def available_plans() -> list[str]:
    """Names of the plan files under ``conf/reproduce/``."""
    return sorted(path.stem for path in plan_dir().glob("*.yaml") if not path.stem.startswith("_"))


def scale_seeds(scale: str) -> tuple[int, ...]:
    """The seeds every plan runs at ``scale``."""
    if scale not in SCALES:
        raise ConfigError(f"unknown scale '{scale}' (known: {', '.join(SCALES)})")
    return tuple(yaml.safe_load((plan_dir() / "_seeds.yaml").read_text())[scale])


def load_plan(name: str, scale: str) -> Plan:
    """Read plan ``name`` at ``scale``; one-line :class:`ConfigError` if either is unknown."""
    seeds = scale_seeds(scale)
    path = plan_dir() / f"{name}.yaml"
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


def composed(overrides: Sequence[str]) -> tuple[DictConfig, str]:
    """The config ``giantstep <overrides>`` runs with (:func:`giantstep.schema.compose`) and its
    chosen ``target`` group; Hydra's refusals as a one-line :class:`ConfigError`, worded as the CLI's."""
    try:
        cfg = compose(overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as error:
        from giantstep.cli import one_line  # here: the CLI module registers its Hydra app

        raise ConfigError(one_line(error)) from None
    target = cfg.hydra.runtime.choices.get("target")
    with open_dict(cfg):
        del cfg["hydra"]  # as the Hydra app sees its config
    return cfg, target


@dataclass(frozen=True)
class CellFacts:
    """What the workflow knows of a cell before it runs: its digest and the work of one run."""

    digest: str  # :func:`resolved_digest` of its config: a cell is redone exactly when it changes
    work: float  # features it computes times d (:func:`run_work`): what its batches balance


def run_work(cfg: DictConfig, explicit: frozenset[str], target: str) -> float:
    """The matrix-product work of one run of ``cfg``, in multiply-adds up to the engine's constant
    factors: the samples whose ``p`` features it computes (:func:`giantstep.flops.engine_feature_rows`)
    times ``p d``. 0 where the config is refused: its run job says why. Changes ``cfg`` as
    :func:`giantstep.config.sample_counts` does."""
    try:
        n, n_train = sample_counts(cfg, explicit, target)
        rows = engine_feature_rows(n=n, steps=cfg.train.steps, n_train=n_train, n_test=cfg.readout.n_test)
        return float(rows) * cfg.p * cfg.d
    except (ConfigError, OmegaConfBaseException, TypeError, ValueError):
        return 0.0


def cell_facts(overrides: tuple[str, ...]) -> CellFacts:
    """The digest and the work of the cell ``giantstep <overrides>``; overrides that Hydra
    cannot read raise a one-line :class:`ConfigError`, worded as the CLI words it."""
    cfg, target = composed(overrides)
    digest = resolved_digest(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    return CellFacts(digest, run_work(cfg, explicit_keys(overrides), target))


def config_digest(overrides: tuple[str, ...]) -> str:
    """:func:`resolved_digest` of the config ``giantstep <overrides>`` runs with."""
    return cell_facts(overrides).digest


def resolved_digest(config: dict) -> str:
    """Digest of a resolved config (less :data:`NOT_IN_DIGEST`) and of
    :data:`giantstep.ENGINE_VERSION`. Also the digest of a run's ``metrics.json["config"]``,
    so a run can be checked against the cell it is filed under."""
    kept = {key: value for key, value in config.items() if key not in NOT_IN_DIGEST}
    text = json.dumps({"engine_version": ENGINE_VERSION, "config": kept}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _conf_fingerprint() -> str:
    """Hash of every file a digest depends on: ``conf/**``, the schema's source, and this
    module's (a digest computed another way must not be taken from the cache)."""
    sha = hashlib.sha256(str(ENGINE_VERSION).encode())
    conf = conf_dir()
    files = [(f"conf/{path.relative_to(conf)}", path) for path in sorted(conf.rglob("*.yaml"))]
    files += [(f"giantstep/{name}", PACKAGE / name) for name in ("schema.py", "reproduce/plans.py")]
    for name, path in files:
        sha.update(name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def cached_cells(cells: Sequence[Cell], cache: Path = FACTS_CACHE) -> dict[str, CellFacts]:
    """:func:`cell_facts` of each cell, keyed by its path.

    Composition takes ~0.1 s a config, so the facts are kept in ``cache`` (JSON) under a
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
        by_overrides[key] = known.get(key) or list(astuple(cell_facts(cell.overrides)))
    if any(key not in known for key in by_overrides):
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({fingerprint: {**known, **by_overrides}}))
        os.replace(temporary, cache)
    return {cell.path: CellFacts(*by_overrides[json.dumps(cell.overrides)]) for cell in cells}
