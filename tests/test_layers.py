"""The package's layers, as the tree shows them: the engine at the root, ``theory/`` and
``reproduce/`` beside it. Imports point down only, and the jobs that only read tables
(figures, derived tables, claims, the report) never import torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "giantstep"
# The layers, bottom up; a module may import its own layer and those below it.
# the problem definition: what is learned and how it is named
PROBLEM = {"targets", "activations", "hermite_polys", "errors", "paths", "schema"}
RANKS = {"problem": 0, "theory": 1, "engine": 2, "reproduce": 3}
TORCH_FREE = ["reproduce.labels", "reproduce.tables", "reproduce.claims", "reproduce.figures",
              "reproduce.report", "reproduce.aggregate", "reproduce.plans", "reproduce.provenance",
              "reproduce.scales", "schema", "paths"]


def layer(module: str) -> str:
    """The layer of a module named relative to the package (``theory.cli``, ``train``)."""
    top = module.split(".")[0]
    return top if top in ("theory", "reproduce") else "problem" if top in PROBLEM else "engine"


def imports(path: Path) -> set[str]:
    """The ``giantstep`` modules a source file imports (at any depth), relative to the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found |= {name.removeprefix("giantstep.") for name in names if name.startswith("giantstep.")}
    return found


def modules() -> dict[str, set[str]]:
    return {".".join(path.relative_to(PACKAGE).with_suffix("").parts): imports(path)
            for path in PACKAGE.rglob("*.py")}


def test_imports_point_down_only():
    """problem definition < theory < engine < reproduction: no import points up a layer."""
    wrong = [f"{module} -> {target}" for module, used in modules().items() for target in used
             if RANKS[layer(target)] > RANKS[layer(module)]]
    assert not wrong, f"imports that point up a layer: {wrong}"


def test_a_broken_layering_is_caught(tmp_path, monkeypatch):
    """The check above can fail: an engine module importing the report is reported."""
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    (tmp_path / "reproduce").mkdir()
    (tmp_path / "reproduce" / "report.py").write_text("")
    (tmp_path / "train.py").write_text("from giantstep.reproduce.report import x\n")
    with pytest.raises(AssertionError, match="train -> reproduce.report"):
        test_imports_point_down_only()


@pytest.mark.parametrize("module", TORCH_FREE)
def test_table_and_figure_jobs_do_not_import_torch(module):
    """Importing a reading-only module leaves torch out of ``sys.modules`` (a figure or table job
    starts in about a second, not the three torch takes)."""
    code = f"import sys, giantstep.{module}; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", f"giantstep.{module} imports torch"


def test_the_theory_tables_do_import_torch():
    """The negative case of the check above: the theory tables compute by quadrature in torch."""
    code = "import sys, giantstep.reproduce.theory_tables; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True", done.stderr
