"""Import arrows: Streamlit stays in the UI, and the pipeline's layers import one way.

Every module is found on disk (``llamaprof/**/*.py``, ``app_pages/*.py``, ``streamlit_app.py``),
so a new module is checked without being listed here. Statically, each file's AST gives every
module it imports, wherever the import is written (module top, inside a function, under
``TYPE_CHECKING``): an arrow is an arrow. Dynamically, a fresh interpreter imports every module
outside ``llamaprof/ui/`` and must end without ``streamlit`` loaded.

Arrows broken today are listed in ``KNOWN_BROKEN`` with the offending imports; their tests are
``xfail(strict=True)``, so removing the import turns the test into an XPASS, which fails until
the entry here goes too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    """``llamaprof/analyze/__init__.py`` -> ``llamaprof.analyze``; ``streamlit_app.py`` -> itself."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package, the app's pages and the app's entry point, by name.
SOURCES: dict[str, Path] = {
    _module_name(path): path
    for path in sorted(
        [
            *(ROOT / "llamaprof").rglob("*.py"),
            *(ROOT / "app_pages").glob("*.py"),
            ROOT / "streamlit_app.py",
        ]
    )
}


def _within(name: str, pattern: str) -> bool:
    """``name`` is the module or package ``pattern`` or inside it; ``x*`` is a name prefix."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern or name.startswith(pattern + ".")


def imports_of(source: str, module: str, *, is_package: bool = False) -> dict[str, int]:
    """Absolute names of the modules ``source`` imports, each with the line that first does.

    ``from X import n`` counts as importing ``X.n`` when that is a module on disk (a submodule
    of llamaprof), otherwise as importing ``X``; relative imports resolve from ``module``.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                names.append(sub if sub in SOURCES else origin)
        for name in names:
            found.setdefault(name, node.lineno)
    return found


def _imports(module: str) -> dict[str, int]:
    path = SOURCES[module]
    return imports_of(path.read_text(), module, is_package=path.name == "__init__.py")


@dataclass(frozen=True)
class Arrow:
    """A rule: the modules it applies to must import nothing from ``forbidden``."""

    id: str
    applies: Callable[[str], bool]
    forbidden: tuple[str, ...]


def _in_any(*patterns: str) -> Callable[[str], bool]:
    return lambda name: any(_within(name, pattern) for pattern in patterns)


def _outside(*patterns: str) -> Callable[[str], bool]:
    return lambda name: not any(_within(name, pattern) for pattern in patterns)


def _package_module(name: str) -> bool:
    return _within(name, "llamaprof")


ARROWS = [
    # Only llamaprof/ui/ (and app_pages/, streamlit_app.py) may import streamlit.
    Arrow(
        "streamlit-in-ui-only",
        lambda name: _package_module(name) and not _within(name, "llamaprof.ui"),
        ("streamlit",),
    ),
    # capture/ depends on the core, never the reverse; only the CLI and the app drive it.
    Arrow(
        "capture-from-cli-and-ui-only",
        _outside("llamaprof.capture", "llamaprof.cli", "llamaprof.ui", "app_pages"),
        ("llamaprof.capture",),
    ),
    # The readers know the model only, nothing downstream of it.
    Arrow(
        "sources-below-analysis",
        _in_any("llamaprof.sources"),
        (
            "llamaprof.analyze",
            "llamaprof.render",
            "llamaprof.charts*",
            "llamaprof.cli",
            "llamaprof.ui",
        ),
    ),
    # Analyses return data; presentation and capture sit on top of them.
    Arrow(
        "analyze-below-presentation",
        _in_any("llamaprof.analyze"),
        (
            "llamaprof.render",
            "llamaprof.charts*",
            "llamaprof.cli",
            "llamaprof.ui",
            "llamaprof.capture",
        ),
    ),
    # The model (a run, the capture record) is what readers produce and analyses consume.
    Arrow(
        "model-below-readers",
        _in_any("llamaprof.model", "llamaprof.record"),
        (
            "llamaprof.sources",
            "llamaprof.analyze",
            "llamaprof.render",
            "llamaprof.charts*",
            "llamaprof.cli",
            "llamaprof.ui",
            "llamaprof.capture",
        ),
    ),
    # Text rendering and charts are shared by the CLI and the app, so they import neither.
    Arrow(
        "render-and-charts-below-cli-and-ui",
        _in_any("llamaprof.render", "llamaprof.charts*"),
        ("llamaprof.cli", "llamaprof.ui", "llamaprof.capture"),
    ),
    # Ground modules (errors, units, the event columns, the nsys tool, ...) sit under the
    # readers: everything may import them, they import none of the layers.
    Arrow(
        "ground-below-everything",
        _in_any(
            "llamaprof.errors",
            "llamaprof.units",
            "llamaprof.events",
            "llamaprof.numeric",
            "llamaprof.rounding",
            "llamaprof.reports",
            "llamaprof.versions",
            "llamaprof.writable",
            "llamaprof.policy",
            "llamaprof.nsys",
            "llamaprof.orphans",
            "llamaprof.server_args",
            "llamaprof.summaries",
        ),
        (
            "llamaprof.sources",
            "llamaprof.analyze",
            "llamaprof.render",
            "llamaprof.charts*",
            "llamaprof.cli",
            "llamaprof.ui",
            "llamaprof.capture",
            "llamaprof.loading",
            "llamaprof.cache",
            "llamaprof.discover",
        ),
    ),
    # Loading a run (the cache, the record beside it) and the folder scan sit between the
    # readers and the analyses.
    Arrow(
        "loading-below-analysis",
        _in_any("llamaprof.loading", "llamaprof.cache", "llamaprof.discover"),
        (
            "llamaprof.analyze",
            "llamaprof.render",
            "llamaprof.charts*",
            "llamaprof.cli",
            "llamaprof.ui",
            "llamaprof.capture",
        ),
    ),
    # The CLI and the UI are the top: nothing below imports them (the command's entry point,
    # ``llamaprof.__main__``, is the CLI's way in).
    Arrow("cli-is-a-top", _outside("llamaprof.cli", "llamaprof.__main__"), ("llamaprof.cli",)),
    Arrow(
        "ui-is-a-top",
        _outside("llamaprof.ui", "app_pages", "streamlit_app"),
        ("llamaprof.ui",),
    ),
]

def _cases() -> list:
    cases = []
    for arrow in ARROWS:
        for module in SOURCES:
            if not arrow.applies(module):
                continue
            cases.append(pytest.param(arrow, module, id=f"{arrow.id}:{module}"))
    return cases


@pytest.mark.parametrize(("arrow", "module"), _cases())
def test_import_arrow(arrow: Arrow, module: str) -> None:
    """The module imports nothing its layer must not reach."""
    offending = {
        name: line
        for name, line in _imports(module).items()
        if any(_within(name, pattern) for pattern in arrow.forbidden)
    }
    where = SOURCES[module].relative_to(ROOT)
    assert [f"{where}:{line} imports {name}" for name, line in offending.items()] == []


@pytest.mark.parametrize(
    "module",
    [m for m, path in SOURCES.items() if path.name != "__init__.py" and "." in m],
)
def test_no_module_imports_its_own_package(module: str) -> None:
    """A module never imports names from its own package's ``__init__`` (which may import
    the module back: a cycle that works only in some import orders); submodules are fine."""
    package = module.rpartition(".")[0]
    if SOURCES.get(package) is None:
        return
    lines = [line for name, line in _imports(module).items() if name == package]
    assert lines == [], f"{SOURCES[module].relative_to(ROOT)}:{lines[0]} imports {package}"


def test_every_layer_is_found_on_disk() -> None:
    """The walk finds the package's layers, the app's pages and its entry point."""
    assert {
        "llamaprof.sources",
        "llamaprof.model",
        "llamaprof.record",
        "llamaprof.analyze",
        "llamaprof.render",
        "llamaprof.charts",
        "llamaprof.charts_llama",
        "llamaprof.capture",
        "llamaprof.cli",
        "llamaprof.ui",
        "app_pages.compare",
        "streamlit_app",
    } <= SOURCES.keys()


def test_the_ui_is_where_streamlit_is_imported() -> None:
    """The static check sees streamlit where it is: the UI modules, every page, the entry point."""
    importers = {module for module in SOURCES if "streamlit" in _imports(module)}
    pages = {module for module in SOURCES if module.startswith("app_pages.")}
    assert pages | {"streamlit_app", "llamaprof.ui.common"} <= importers
    assert all(
        _within(module, "llamaprof.ui") or module in pages | {"streamlit_app"}
        for module in importers
    )


def test_imports_of_resolves_relative_and_from_imports() -> None:
    """Relative imports resolve from the module; ``from X import sub`` names the submodule."""
    source = (
        "import streamlit.runtime as rt\n"
        "from . import compare\n"
        "from ..capture import command\n"
        "from ..units import format_ns\n"
        "def f():\n"
        "    from llamaprof import charts\n"
        "    from streamlit import config\n"
    )
    assert imports_of(source, "llamaprof.analyze.fairness") == {
        "streamlit.runtime": 1,
        "llamaprof.analyze.compare": 2,
        "llamaprof.capture.command": 3,
        "llamaprof.units": 4,
        "llamaprof.charts": 6,
        "streamlit": 7,
    }
    assert imports_of("from .stats_text import x\n", "llamaprof.sources", is_package=True) == {
        "llamaprof.sources.stats_text": 1
    }


#: Imports each named module in turn; prints the first after which streamlit is loaded.
_IMPORT_ALL = """\
import importlib, json, sys
first = None
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    if any(m == "streamlit" or m.startswith("streamlit.") for m in sys.modules):
        first = name
        break
print(json.dumps(first))
"""


def test_no_module_outside_the_ui_loads_streamlit() -> None:
    """A fresh interpreter importing every llamaprof module outside ui/ never loads streamlit."""
    names = [
        module
        for module in SOURCES
        if _package_module(module) and not _within(module, "llamaprof.ui")
    ]
    assert "llamaprof.analyze.compare" in names and "llamaprof.cli.capture" in names
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(names)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert json.loads(out.stdout) is None  # else: the module whose import loaded streamlit
