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
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from giantstep.errors import ConfigError, DivergenceError
from giantstep.schema import REPO, register_schema

CONF = REPO / "conf"
log = logging.getLogger("giantstep")
register_schema()
# Read before main() sets HYDRA_FULL_ERROR for its own use.
VERBOSE = bool(os.environ.get("GIANTSTEP_VERBOSE") or os.environ.get("HYDRA_FULL_ERROR"))


def _remove_empty_dirs(run_dir: Path) -> None:
    """Remove ``run_dir`` and its parents below the working directory while they are empty
    (a multirun's sweep directory holding nothing but Hydra's ``multirun.yaml`` counts as empty)."""
    cwd = Path.cwd().resolve()
    path = run_dir.resolve()
    while path != cwd and cwd in path.parents and path.is_dir():
        left = list(path.iterdir())
        if left == [path / "multirun.yaml"]:
            left[0].unlink()
        elif left:
            break
        path.rmdir()
        path = path.parent


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="config")
def app(cfg: DictConfig) -> None:
    """Resolve the config, run the experiment, write the artifacts into the run directory."""
    started = time.perf_counter()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    from giantstep.config import resolve

    try:
        settings = resolve(cfg)
        # Imported here, not at the top: bad input fails before torch loads (about 1.5 s).
        import torch

        from giantstep.run import experiment, provenance, write_artifacts

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
    except (ConfigError, DivergenceError, OmegaConfBaseException) as error:
        _remove_empty_dirs(run_dir)
        if VERBOSE:
            raise
        # Exit here rather than in main(): Hydra would first print its own
        # "Error executing job" line, and a multirun would go on with the other seeds.
        _fail(error)
    except BaseException:
        _remove_empty_dirs(run_dir)
        raise
    dims = [step["learned_dims"] for step in metrics["steps"]]
    errors = ", ".join(f"{step['test_error']:.4f}" for step in metrics["steps"])
    log.info("learned_dims per step %s, test errors %s -> %s", dims, errors, run_dir / "metrics.json")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def one_line(error: BaseException) -> str:
    """A one-line description of a configuration error and of its cause."""
    if isinstance(error, OverrideParseException):
        lines = [line for line in str(error).strip().splitlines()
                 if line.strip() and not line.startswith("Error parsing override")]
        reason = lines[0].removeprefix("HydraException while evaluating ") if lines else "syntax error"
        hint = " (quote a value with parentheses: key='value')" if "(" in error.override else ""
        return f"cannot parse override '{error.override}': {reason}{hint}"
    line = _first_line(error)
    if isinstance(error, MissingConfigException) and error.options:
        return f"{line} (known: {', '.join(error.options)})"
    cause = error.__cause__ or error.__context__
    if isinstance(error, HydraException) and isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        line = f"{line.rstrip('.')}: {_first_line(cause)}"
    return line


def _fail(error: BaseException) -> NoReturn:
    print(f"giantstep: error: {one_line(error)}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    """Console entry point: run :func:`app`, turning bad input into one line and exit 2."""
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach this function
    # Transparent huge pages for torch's large CPU buffers: a fresh (m, p) chunk costs
    # 4x less in page faults (torch reads this at its first large allocation).
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    try:
        app()
    except (ConfigError, DivergenceError, HydraException, OmegaConfBaseException) as error:
        if VERBOSE:
            raise
        _fail(error)
