"""The core must load without textual: a script, the server and the sync engine use it alone."""

import subprocess
import sys

import pytest

CORE = [
    "fieldtech.domain",
    "fieldtech.domain.validation",
    "fieldtech.offline_store",
    "fieldtech.cloud",
    "fieldtech.controller_link",
    "fieldtech.simulator",
    "fieldtech.server",
    # Services the screens call: usable from a script, so no textual either.
    "fieldtech.fleet_index",
    "fieldtech.settings",
    "fieldtech.cloud_link",
    "fieldtech.config_files",
    "fieldtech.offline_store.seed",
    "fieldtech.screens.record_forms",
    "fieldtech.screens.onsite_forms",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_load_textual(module: str) -> None:
    code = (
        f"import sys, pkgutil, importlib; m = importlib.import_module({module!r});\n"
        "for info in pkgutil.walk_packages(getattr(m, '__path__', []), m.__name__ + '.'):\n"
        "    try: importlib.import_module(info.name)\n"
        "    except ImportError as e:\n"
        "        if 'textual' in str(e): raise\n"
        "bad = sorted(n for n in sys.modules if n == 'textual' or n.startswith('textual.'))\n"
        "print(bad[:3]); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} loaded textual: {result.stdout}{result.stderr}"
