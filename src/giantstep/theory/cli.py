"""``giantstep-theory``: the theory of docs/method.md §4 as a Markdown table and a JSON file.

Usage (Hydra-style ``key=value``; commas give several values, one row per combination)::

    giantstep-theory target=two_stair,staircase3 student.activation=relu,tanh train.steps=3 \\
        json=theory.json
    giantstep-theory target.expr="z1*z2"

Keys: ``target`` (names of ``conf/target/*.yaml``; default ``two_stair``, or ``custom`` when
``target.expr`` is given), ``target.expr`` (the expression of the ``custom`` target),
``student.activation`` (default ``relu``), ``train.steps`` (default 3),
``train.preprocess`` (``none`` or ``remove_linear``, default ``none``), ``theory.max_order``
(highest Hermite order K, default 4, at most 9), ``json`` (also ``--json PATH``: write the
list of :func:`giantstep.theory.population.theory_summary` dicts there). Bad input: one line on stderr,
exit 2, before anything is computed; that includes a target with more than 4 variables (the
quadrature covers ``r <= 4``) and one that is not finite on the quadrature grid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import yaml

from giantstep.errors import ConfigError
from giantstep.paths import conf_dir
from giantstep.targets import Target, shown
from giantstep.theory.population import MAX_ORDER, check_theory_request, theory_summary
from giantstep.theory.quadrature import MAX_QUADRATURE_R

DEFAULTS = {
    "target": "two_stair",
    "target.expr": None,
    "student.activation": "relu",
    "train.steps": "3",
    "train.preprocess": "none",
    "theory.max_order": str(MAX_ORDER),
    "json": None,
}
COLUMNS = (
    "target",
    "activation",
    "Var",
    "mu_1",
    "linear-kernel err",
    "leap index",
    "dims aware",
    "dims generic",
    "floors aware",
    "floors generic",
    "one step d^l, prep. (aware)",
)


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """``key=value`` tokens (and ``--json PATH``) into a dict over :data:`DEFAULTS`."""
    argv = list(argv)
    if "--json" in argv:
        at = argv.index("--json")
        if at + 1 == len(argv):
            raise ConfigError("--json needs a path")
        argv[at : at + 2] = [f"json={argv[at + 1]}"]
    options = dict(DEFAULTS)
    for token in argv:
        key, sep, value = token.partition("=")
        if not sep or key not in DEFAULTS:
            raise ConfigError(f"unknown argument '{token}' (keys: {', '.join(DEFAULTS)})")
        options[key] = value.strip().strip("'\"")
    if options["target.expr"] is not None and "target" not in {t.partition("=")[0] for t in argv}:
        options["target"] = "custom"
    return options


def load_target(name: str, expr: str | None) -> Target:
    """The named target of ``conf/target/<name>.yaml``, or the ``custom`` one from ``expr``;
    refused when it has more variables than the quadrature covers (Monte Carlo moments would
    be off by a few percent, without a word in the table)."""
    if name == "custom":
        if expr is None:
            raise ConfigError('target=custom needs target.expr, e.g. target.expr="z1*z2"')
        target = Target.parse(expr)
    else:
        targets = conf_dir() / "target"
        path = targets / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in targets.glob("*.yaml"))
            raise ConfigError(f"unknown target '{name}' (known: {', '.join(known)})")
        target = Target.parse(yaml.safe_load(path.read_text())["expr"], name=name)
    if target.r > MAX_QUADRATURE_R:
        raise ConfigError(f"target '{shown(target.expr)}' uses z{target.r}: the theory covers targets "
                          f"of at most {MAX_QUADRATURE_R} variables z1..z{MAX_QUADRATURE_R}")
    return target


def _integer(options: dict, key: str, minimum: int) -> int:
    value = options[key]
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(f"{key}={value} must be an integer >= {minimum}")
    return int(value)


def _numbers(values: list | None, digits: int = 4) -> str:
    if values is None:
        return "-"
    return ", ".join(
        "-" if v is None else f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in values
    )


def table_row(s: dict) -> list[str]:
    """One Markdown row of a :func:`theory_summary` dict, in the order of :data:`COLUMNS`."""
    one_step = s["one_step"] and [o["aware_preprocessed"] for o in s["one_step"]]
    return [
        s["target"] if s["target"] != "custom" else f"`{s['expr']}`",
        s["activation"],
        f"{s['variance']:.4f}",
        f"({_numbers(s['mu1'])})",
        f"{s['linear_kernel_error']:.4f}",
        _numbers(s["leap_index"]),
        _numbers(s["predicted_dims"]),
        _numbers(s["predicted_dims_generic"]),
        _numbers(s["floors"], 3),
        _numbers(s["floors_generic"], 3),
        _numbers(one_step),
    ]


def markdown_table(summaries: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(table_row(s)) + " |" for s in summaries]
    return "\n".join(lines)


def run(argv: list[str]) -> list[dict]:
    """Parse ``argv``, print the table, write the JSON; return the summaries."""
    options = parse_args(argv)
    steps = _integer(options, "train.steps", 0)
    max_order = _integer(options, "theory.max_order", 1)
    check_theory_request(steps, max_order)
    targets = [load_target(name, options["target.expr"]) for name in options["target"].split(",")]
    summaries = [
        theory_summary(target, activation, steps, options["train.preprocess"], max_order)
        for target in targets
        for activation in options["student.activation"].split(",")
    ]
    print(markdown_table(summaries))
    if options["json"]:
        Path(options["json"]).write_text(json.dumps(summaries, indent=1) + "\n")
    return summaries


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: waking a thread pool costs more than it saves
    try:
        run(argv)
    except (ConfigError, OSError) as error:
        print(f"giantstep-theory: error: {error}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
