"""Imports run one way (ARCHITECTURE.md): sentiment <- pipeline <- crawlers <- revmon <- dashboard.

Read from the source with ``ast``, so a lazy import inside a function counts as much as one at
the top of a module: both make the lower package depend on the higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["sentiment", "pipeline", "crawlers", "revmon", "dashboard"]


def imported_packages(path: Path) -> set[str]:
    """The top-level project packages a module imports, anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - allowed)
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_packages(path) - allowed
    }
    assert offenders == {}, f"{package} may import only {sorted(allowed)}"


def test_the_platform_names_live_below_the_crawlers() -> None:
    """Storage validates against the platform list, so it must not come from crawlers/."""
    from pipeline import platforms

    items = (ROOT / "crawlers" / "items.py").read_text(encoding="utf-8")
    assert "frozenset" not in items
    assert "google" in platforms.PLATFORMS and "mention" in platforms.KINDS
