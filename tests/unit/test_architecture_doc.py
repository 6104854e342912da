"""docs/ARCHITECTURE.md stays the map of the code: every path it names exists, and every
module and core subpackage of app/ is named in it."""

from __future__ import annotations

import re

from tests.unit.test_readme import ROOT

DOC = ROOT / "docs" / "ARCHITECTURE.md"
NAMED = re.compile(r"`(app/[\w/.]*)`")


def named_paths() -> set[str]:
    return set(NAMED.findall(DOC.read_text()))


def modules_of_app() -> set[str]:
    """Every module of app/ but package markers and the migrations' revisions."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "__init__.py" and "versions" not in path.parts
    }


def test_every_path_the_document_names_exists():
    missing = sorted(path for path in named_paths() if not (ROOT / path).exists())
    assert not missing, f"docs/ARCHITECTURE.md names what is not there: {missing}"


def test_every_module_of_app_is_named():
    unnamed = sorted(modules_of_app() - named_paths())
    assert not unnamed, f"docs/ARCHITECTURE.md does not name: {unnamed}"


def test_every_core_subpackage_is_named():
    subpackages = {
        f"app/core/{path.parent.name}/" for path in (ROOT / "app" / "core").glob("*/__init__.py")
    }
    assert subpackages >= {"app/core/intake/", "app/core/store/"}
    assert not subpackages - named_paths()
