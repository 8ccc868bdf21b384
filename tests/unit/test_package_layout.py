"""The package's areas import one way: tools -> outputs -> pipeline -> the shared root, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from segments.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "include" / "segments"
# Each area and the areas it may import ("" is the root: settings, errors, db, queries).
MAY_IMPORT = {
    "": {""},
    "pipeline": {"", "pipeline"},
    "outputs": {"", "pipeline", "outputs"},
    "tools": {"", "pipeline", "outputs", "tools"},
}
ROOT_MODULES = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}


def area_of(module: str) -> str:
    """'segments.pipeline.model' -> 'pipeline'; 'segments.settings' -> ''."""
    parts = module.split(".")
    return "" if len(parts) < 2 or parts[1] in ROOT_MODULES else parts[1]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("segments"):
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names if alias.name.startswith("segments")}
    return modules


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_area_and_the_areas_below(path):
    area = area_of("segments." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    wrong = sorted(module for module in imported_modules(path) if area_of(module) not in MAY_IMPORT[area])
    assert not wrong, f"{area or 'the root'} may not import {wrong}"

