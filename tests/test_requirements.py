"""Every module that app/, bench/ and tests/ import is installed by the requirements files.

A package installed by hand on a developer's machine (or CI's) hides a missing requirement
until someone installs from scratch; this test finds it on any machine: each imported module's
distribution must be reachable from requirements*.txt through the installed packages' own
dependencies.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OWN = {"app", "tests", "bench"}


def _requirements(path: Path) -> list[Requirement]:
    found: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            found += _requirements(path.parent / line[2:].strip())
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def _closure(roots: list[Requirement]) -> set[str]:
    """The distributions the requirements install: them and their dependencies, with extras."""
    seen: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in roots]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: the import check below says which import needs it
        for text in requires:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras or {""}):
                todo.append((dependency, frozenset(dependency.extras)))
    return {name for name in seen if "[" not in name}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_import_is_installed_by_the_requirements() -> None:
    reachable = _closure(
        [r for f in sorted(ROOT.glob("requirements*.txt")) for r in _requirements(f)]
    )
    providers = metadata.packages_distributions()
    missing: list[str] = []
    for directory in ("app", "bench", "tests"):
        for path in sorted((ROOT / directory).rglob("*.py")):
            for module in sorted(_imports(path)):
                if module in OWN or module in sys.stdlib_module_names:
                    continue
                dists = {canonicalize_name(d) for d in providers.get(module, [])}
                if not dists & reachable:
                    where = path.relative_to(ROOT)
                    shown = ", ".join(sorted(dists)) or "no installed distribution"
                    missing.append(f"{where}: import {module} ({shown})")
    assert not missing, "imported but not installed by requirements*.txt:\n" + "\n".join(missing)


def test_requirements_are_pinned() -> None:
    """Pinned, so a fresh install gets what the tests passed with."""
    loose = [
        str(r)
        for f in sorted(ROOT.glob("requirements*.txt"))
        for r in _requirements(f)
        if not re.fullmatch(r"==[^,]+", str(r.specifier))
    ]
    assert not loose, f"requirements without an exact version: {loose}"
