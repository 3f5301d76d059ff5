"""The repository's documents: every document the code, configs and docs point to exists, and
none points outside the repository (the method and design pages are the repository's own)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# a relative Markdown link, or a path into docs/ named in code, configs or prose
LINK = re.compile(r"\]\(((?!https?:|#|mailto:)[^)\s#]+)(?:#[^)]*)?\)")
DOC_PATH = re.compile(r"\bdocs/[A-Za-z0-9_./-]+\.md\b")


def tracked(*patterns: str) -> list[Path]:
    files = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    return [REPO / f for f in files]


def test_every_linked_or_named_document_exists():
    missing = []
    for path in tracked("*.md", "*.py", "*.yaml", "*.smk", "*.rst", "Snakefile"):
        text = path.read_text(errors="replace")
        if path.suffix == ".md":
            missing += [f"{path.relative_to(REPO)} -> {link}" for link in LINK.findall(text)
                        if not (path.parent / link).exists()]
        missing += [f"{path.relative_to(REPO)} -> {name}" for name in DOC_PATH.findall(text)
                    if not (REPO / name).exists()]
    assert not missing, missing


def test_no_citation_of_documents_outside_the_repository():
    pattern = re.compile(r"\b(PAPER|DESIGN|STYLE|CLUSTER)\.md\b|\bissue [0-9]+\b")
    cited = [f"{path.relative_to(REPO)}:{number}" for path in tracked() if path.name != "CHANGELOG.md"
             and path.suffix in {".md", ".py", ".yaml", ".smk", ".rst", ".cff", ".toml", ""}
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if pattern.search(line)]
    assert not cited, cited


def test_readme_links_the_method_and_design_pages():
    readme = (REPO / "README.md").read_text()
    assert "(docs/method.md)" in readme and "(docs/design.md)" in readme
