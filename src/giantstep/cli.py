"""The Hydra app: ``giantstep <overrides>`` (or ``python -m giantstep``) runs one experiment.

``-m seed=0,1,2`` runs several seeds in one process (Hydra multirun). Artifacts go to
``hydra.run.dir`` (``hydra.sweep.dir/hydra.sweep.subdir`` in multirun). Bad input ends
with one line on stderr and exit code 2, and leaves no run directory behind; set
``GIANTSTEP_VERBOSE=1`` (or ``HYDRA_FULL_ERROR=1``) for the full traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from giantstep.config import resolve
from giantstep.errors import ConfigError, DivergenceError
from giantstep.run import experiment, provenance, write_artifacts
from giantstep.schema import REPO, register_schema

CONF = REPO / "conf"
log = logging.getLogger("giantstep")
register_schema()


def _remove_empty_dirs(run_dir: Path) -> None:
    """Remove ``run_dir`` and its parents below the working directory while they are empty."""
    cwd = Path.cwd().resolve()
    path = run_dir.resolve()
    while path != cwd and cwd in path.parents and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="config")
def app(cfg: DictConfig) -> None:
    """Resolve the config, run the experiment, write the artifacts into the run directory."""
    started = time.perf_counter()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        settings = resolve(cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        metrics, arrays = experiment(settings)
        run_provenance = provenance(settings)
        run_provenance["wall_seconds"] = time.perf_counter() - started
        write_artifacts(
            run_dir,
            OmegaConf.to_yaml(cfg, resolve=True),
            OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
            metrics,
            arrays,
            run_provenance,
        )
    except BaseException:
        _remove_empty_dirs(run_dir)
        raise
    dims = [step["learned_dims"] for step in metrics["steps"]]
    errors = ", ".join(f"{step['test_error']:.4f}" for step in metrics["steps"])
    log.info("learned_dims per step %s, test errors %s -> %s", dims, errors, run_dir / "metrics.json")


def one_line(error: BaseException) -> str:
    """A one-line description of a configuration error and of its cause."""
    parts = [str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__]
    cause = error.__cause__ or error.__context__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        parts.append(str(cause).strip().splitlines()[0])
    return ": ".join(parts)


def main() -> None:
    """Console entry point: run :func:`app`, turning bad input into one line and exit 2."""
    verbose = bool(os.environ.get("GIANTSTEP_VERBOSE") or os.environ.get("HYDRA_FULL_ERROR"))
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach this function
    try:
        app()
    except (ConfigError, DivergenceError, HydraException, OmegaConfBaseException) as error:
        if verbose:
            raise
        print(f"giantstep: error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
