"""The Hydra app: ``giantstep <overrides>`` (or ``python -m giantstep``) runs one experiment.

``-m seed=0,1,2`` runs several seeds in one process (Hydra multirun). Artifacts go to
``hydra.run.dir`` (``hydra.sweep.dir/hydra.sweep.subdir`` in multirun; by default each job's
folder is named by its number and overrides, see :func:`job_dir`, and two jobs of one process
never write into one folder). Bad input ends with one line on stderr and exit code 2, before
anything is computed; it removes the folders the run created (only those: the
:class:`RunDirectories` callback notes which existed before) and changes nothing of an earlier
run in that folder. Set ``GIANTSTEP_VERBOSE=1`` (or ``HYDRA_FULL_ERROR=1``) for the full
traceback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from giantstep import schema
from giantstep.errors import ConfigError, DivergenceError
from giantstep.paths import CONF_VARIABLE, conf_dir
from giantstep.schema import register_schema

log = logging.getLogger("giantstep")
# Read before main() sets HYDRA_FULL_ERROR for its own use.
VERBOSE = bool(os.environ.get("GIANTSTEP_VERBOSE") or os.environ.get("HYDRA_FULL_ERROR"))
JOB_DIR_CHARS = 120  # a job folder's name is cut to this length (file names stop at 255 bytes)


def job_dir(number: int, overrides: str) -> str:
    """The folder of job ``number`` of a sweep: ``<number>_<overrides>``, one safe path component.

    ``overrides`` is Hydra's ``job.override_dirname`` (``d=16,p=32``); every character other
    than letters, digits and ``._=,+-`` becomes ``_`` (values may hold ``/``, quotes,
    parentheses), and a long name is cut and ends with a hash of the whole, so it stays unique.
    """
    safe = re.sub(r"[^A-Za-z0-9._=,+-]", "_", overrides)
    if len(safe) > JOB_DIR_CHARS:
        safe = safe[: JOB_DIR_CHARS - 17] + "_" + hashlib.sha256(overrides.encode()).hexdigest()[:16]
    return f"{number}_{safe}" if safe else str(number)


def help_options(group: str) -> str:
    """The options of a config group, ``conf/<group>/*.yaml``, for ``--help``."""
    return ", ".join(sorted(path.stem for path in (conf_dir() / group).glob("*.yaml")))


def help_choices(enum: str) -> str:
    """The values of one of the schema's enums (``LrRule``, ``Preprocess``), for ``--help``."""
    return ", ".join(member.name for member in getattr(schema, enum))


def help_values(*keys: str, _root_: DictConfig) -> str:
    """This run's values of ``keys`` (enums by name), for ``--help``."""
    values = (OmegaConf.select(_root_, key) for key in keys)
    return ", ".join(getattr(value, "name", str(value)) for value in values)


register_schema()
OmegaConf.register_new_resolver("job_dir", job_dir, replace=True)
OmegaConf.register_new_resolver("help_options", help_options, replace=True)
OmegaConf.register_new_resolver("help_choices", help_choices, replace=True)
OmegaConf.register_new_resolver("help_values", help_values, replace=True)


@dataclass
class _Folders:
    """What this process knows about its run folders (a multirun runs its jobs one by one)."""

    existing: set[Path] | None = None  # folders that existed before Hydra made the run's; None: unknown
    planned: Path | None = None  # hydra.run.dir, or hydra.sweep.dir in a multirun
    sweep_file: tuple[Path, bytes | None, tuple[int, int] | None] | None = None  # multirun.yaml before
    claimed: set[Path] = field(default_factory=set)  # run folders of this process's jobs
    completed: int = 0  # jobs that wrote their artifacts


FOLDERS = _Folders()


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(path))


def _note_existing(planned: str, walk: bool) -> None:
    """Note ``planned`` and its parents that exist, and with ``walk`` every folder below it."""
    path = _absolute(planned)
    existing = {folder for folder in (path, *path.parents) if folder.is_dir()}
    if walk and path.is_dir():
        existing |= {_absolute(top) / name for top, names, _ in os.walk(path) for name in names}
    FOLDERS.existing, FOLDERS.planned = existing, path


class RunDirectories(Callback):
    """Hydra callback (``hydra.callbacks.run_dirs``): before Hydra creates the run folder, note
    which folders on its path exist, so that a failed run removes only those it created.

    Exceptions here would only be Hydra warnings: without a note, nothing is removed.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            HydraConfig.instance().set_config(config)  # for ${hydra:...} in hydra.run.dir
            _note_existing(config.hydra.run.dir, walk=False)
        except Exception:  # see the class docstring
            FOLDERS.existing = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            _note_existing(config.hydra.sweep.dir, walk=True)
            sweep_file = FOLDERS.planned / "multirun.yaml"
            if sweep_file.is_file():
                stat = sweep_file.stat()
                times = (stat.st_atime_ns, stat.st_mtime_ns)
                FOLDERS.sweep_file = (sweep_file, sweep_file.read_bytes(), times)
            else:
                FOLDERS.sweep_file = (sweep_file, None, None)
        except Exception:  # see the class docstring
            FOLDERS.existing = None


def _restore_sweep_file() -> None:
    """Undo Hydra's ``multirun.yaml`` of a sweep none of whose jobs completed."""
    if FOLDERS.completed or FOLDERS.sweep_file is None:
        return
    path, content, times = FOLDERS.sweep_file
    if not path.is_file():  # Hydra could not write it
        return
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
        os.utime(path, ns=times)


def _remove_created(run_dir: Path | None) -> None:
    """Remove ``run_dir`` and its parents while they are empty and were made by this process."""
    if FOLDERS.existing is None or run_dir is None:
        return
    _restore_sweep_file()
    path = _absolute(run_dir)
    while path not in FOLDERS.existing and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


def _claim(run_dir: Path) -> None:
    """Refuse a second job of this process into one folder: it would replace the first's results."""
    path = _absolute(run_dir)
    if path in FOLDERS.claimed:
        raise ConfigError(f"two jobs of this sweep write into {run_dir}: make hydra.sweep.subdir differ "
                          "between jobs, e.g. with ${hydra:job.num} (the default does)")
    FOLDERS.claimed.add(path)


# The configuration tree is looked up once, at import: $GIANTSTEP_CONF must be set before the process starts.
@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def app(cfg: DictConfig) -> None:
    """Check everything, run the experiment, write the artifacts into the run directory."""
    started = time.perf_counter()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    from giantstep.config import explicit_keys, resolve

    try:
        _claim(run_dir)
        hydra_config = HydraConfig.get()
        settings = resolve(cfg, explicit_keys(hydra_config.overrides.task),
                           hydra_config.runtime.choices.get("target"))
        # Imported here, not at the top: bad input fails before torch loads (about 1.5 s).
        from giantstep.run import check_writable, run_into

        check_writable(run_dir)
        metrics = run_into([(run_dir, cfg, settings)], started)[0]
        FOLDERS.completed += 1
    except (ConfigError, DivergenceError, OmegaConfBaseException) as error:
        _remove_created(run_dir)
        if VERBOSE:
            raise
        # Exit here rather than in main(): Hydra would first print its own
        # "Error executing job" line, and a multirun would go on with the other seeds.
        _fail(error)
    except BaseException:
        _remove_created(run_dir)
        raise
    dims = [step["learned_dims"] for step in metrics["steps"]]
    errors = ", ".join(f"{step['test_error']:.4f}" for step in metrics["steps"])
    log.info("learned_dims per step %s, test errors %s -> %s", dims, errors, run_dir / "metrics.json")


def _cut(text: str, length: int = 80) -> str:
    """``text`` cut to ``length`` characters for a one-line message (an override may be long)."""
    return text if len(text) <= length else text[:length] + "..."


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def one_line(error: BaseException) -> str:
    """A one-line description of a configuration error and of its cause."""
    if isinstance(error, OSError) and error.filename:  # Hydra could not create the run folder
        return (f"cannot use the folder {error.filename}: {error.strerror}; "
                "choose another hydra.run.dir (hydra.sweep.dir in a multirun)")
    if isinstance(error, OverrideParseException):
        lines = [line for line in str(error).strip().splitlines()
                 if line.strip() and not line.startswith("Error parsing override")]
        reason = lines[0].removeprefix("HydraException while evaluating ") if lines else "syntax error"
        hint = " (quote a value with parentheses: key='value')" if "(" in error.override else ""
        return f"cannot parse override '{_cut(error.override)}': {_cut(reason)}{hint}"
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
    # 4x less in page faults (torch reads this once, at its first allocation).
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    if not (conf_dir() / "config.yaml").is_file():
        _fail(ConfigError(f"no config.yaml in the configuration tree {conf_dir()} (from ${CONF_VARIABLE} "
                          "when set, else conf/ of the source tree or of the installed package)"))
    try:
        app()
    except (ConfigError, DivergenceError, HydraException, OmegaConfBaseException, OSError) as error:
        _remove_created(FOLDERS.planned)
        if VERBOSE:
            raise
        _fail(error)
