"""Sub-commands of the app itself: the TUI (default), `demo`, `seed`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="Open the app on a seeded demo account (separate data dir).")
    p.set_defaults(handler=run_demo)


def run_app(args: argparse.Namespace) -> int:
    raise SystemExit("The app is not built yet.")


def run_demo(args: argparse.Namespace) -> int:
    raise SystemExit("The demo is not built yet.")
