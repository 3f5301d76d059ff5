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


PUBLISHED = ("quick", "paper")  # the scales whose report docs/<scale>/ publishes (`make publish`)
RUNS_LINE = re.compile(r"^\*\*The runs\.\*\* (\d+) runs of (\d+) cells \(seeds ([0-9–, ]+)\) at scale "
                       r"`(\w+)`, made at commit ([0-9a-f]{12})\b.*; wall time (\d+:\d\d:\d\d) ", re.M)


def test_published_reports_state_their_runs_and_have_every_file_they_name():
    for scale in PUBLISHED:
        folder = REPO / "docs" / scale
        report = (folder / "REPORT.md").read_text()
        assert report.startswith(f"# Reproduction report — scale `{scale}`\n"), scale
        runs = RUNS_LINE.search(report)
        assert runs, f"docs/{scale}/REPORT.md does not state its runs, commit, seeds and wall time"
        assert runs[4] == scale and int(runs[1]) > 0 and runs[3].startswith("0")
        assert "## Provenance and wall time" in report
        named = set(re.findall(r"\((?:figures|tables)/[^)\s]+\)", report))
        assert named, scale
        missing = [name for name in named if not (folder / name[1:-1]).is_file()]
        assert not missing, (scale, missing)
        for png in folder.glob("figures/*.png"):
            assert png.with_suffix(".pdf").is_file(), png
        for csv in folder.glob("tables/*.csv"):
            assert csv.with_suffix(".md").is_file() and csv.with_suffix(".tex").is_file(), csv
