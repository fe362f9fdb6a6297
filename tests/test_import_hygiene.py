"""The layers hold: the core loads without textual, and the UI never imports the app back.

The core (domain, store, services, forms, cloud, controller link, simulator, server) is used by
scripts, the CLI and the server alone. The TUI is `fieldtech.app`, `fieldtech.screens` and
`fieldtech.widgets`; screens and widgets reach the app's services through
`screens/services.py` and tell it what happened with messages, so they never import it.
"""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import fieldtech

PACKAGE = Path(fieldtech.__file__).parent
UI = ("fieldtech.app", "fieldtech.screens", "fieldtech.widgets", "fieldtech.terminal")
TOP = ("fieldtech.cli", "fieldtech.__main__")  # entry points: they start the app


def _modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages([str(PACKAGE)], "fieldtech."))


def _is_under(name: str, parents: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in parents)


CORE = [m for m in _modules() if not _is_under(m, UI + TOP)]


def test_the_core_is_most_of_the_package() -> None:
    # A guard against this test checking nothing because the walk found nothing.
    assert {"fieldtech.services.edits", "fieldtech.offline_store.store",
            "fieldtech.cloud.sync", "fieldtech.forms.records"} <= set(CORE)


@pytest.mark.parametrize("part", ["domain", "offline_store", "services", "forms", "cloud",
                                  "controller_link", "simulator", "server"])
def test_core_part_does_not_load_textual(part: str) -> None:
    modules = [m for m in CORE if _is_under(m, (f"fieldtech.{part}",))]
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    try: importlib.import_module(name)\n"
        "    except ImportError as e:\n"  # an optional extra (the server's) may be missing
        "        if 'textual' in str(e): raise\n"
        "bad = sorted(n for n in sys.modules if n == 'textual' or n.startswith('textual.'))\n"
        "print(bad[:3]); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{part} loaded textual: {result.stdout}{result.stderr}"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("folder", ["screens", "widgets"])
def test_screens_and_widgets_never_import_the_app(folder: str) -> None:
    files = sorted((PACKAGE / folder).glob("*.py"))
    assert files
    offenders = {f.name: sorted(i for i in _imports(f) if _is_under(i, ("fieldtech.app", *TOP)))
                 for f in files}
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_the_core_never_imports_the_ui() -> None:
    offenders = {}
    for name in CORE:
        spec_path = PACKAGE.joinpath(*name.split(".")[1:])
        path = spec_path / "__init__.py" if spec_path.is_dir() else spec_path.with_suffix(".py")
        bad = sorted(i for i in _imports(path) if _is_under(i, UI + TOP + ("textual",)))
        if bad:
            offenders[name] = bad
    assert not offenders, offenders
