"""Entry points: `fieldtech`, `fieldtech demo`, `fieldtech seed`, `fieldtech cloud serve`, …

Each part of the system registers its own sub-commands (a `commands.py` beside it) so this file
stays a table of contents. Registration only builds argparse parsers; the heavy imports happen
inside the handlers, which keeps `fieldtech --help` and the TUI's start-up fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # argparse (and gettext with it) is loaded only to read other commands
    import argparse

EXIT_PROBLEM = 1  # as the cloud commands' "refused": fix something, then run it again

# Modules with a `register(subparsers)` function. A part that is not installed (e.g. the server
# extra) still registers its commands; its handler explains what to install.
COMMAND_MODULES = (
    "fieldtech.cli.app_commands",  # the TUI, demo, seed, export/import
    "fieldtech.cloud.commands",  # login, logout, auth status, sync
    "fieldtech.server.commands",  # cloud serve
    "fieldtech.simulator.commands",  # simulate
    "fieldtech.cli.report",  # report (contracts and billing)
)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="fieldtech",
        description="Fleet, offline configuration, on-site discovery and cloud sync for "
        "irrigation contractors. With no command, opens the app on your own data.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--data-dir", help="Where the local store lives (default: the user data dir)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module: show it
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _opening_the_app(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = build_parser().parse_args(argv)
    if args.data_dir:  # one data dir for the whole run: every command, and what it starts
        os.environ["FIELDTECH_DATA_DIR"] = args.data_dir
    handler = getattr(args, "handler", None)
    if handler is None:
        from fieldtech.cli.app_commands import run_app

        handler = run_app
    from fieldtech.domain.errors import FieldtechError

    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except FieldtechError as exc:  # written for the user (e.g. a store that cannot be opened)
        print(f"fieldtech: {exc}", file=sys.stderr)
        return EXIT_PROBLEM


def _opening_the_app(argv: list[str]) -> SimpleNamespace | None:
    """The arguments of `fieldtech [--data-dir DIR]`, the app itself, read without building
    every command's parser (importing their modules: ~9 ms of the app's start); None for
    anything else."""
    if not argv:
        return SimpleNamespace(data_dir=None)
    if len(argv) == 1 and argv[0].startswith("--data-dir="):
        return SimpleNamespace(data_dir=argv[0].partition("=")[2])
    if len(argv) == 2 and argv[0] == "--data-dir" and not argv[1].startswith("-"):
        return SimpleNamespace(data_dir=argv[1])
    return None


def _version() -> str:
    from fieldtech import __version__

    return f"fieldtech {__version__}"


if __name__ == "__main__":
    sys.exit(main())
