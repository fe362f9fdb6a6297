"""Sub-commands of the app itself: the TUI (default), `demo`, `seed`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEMO_CUSTOMERS, DEMO_CONTROLLERS = 110, 236  # Silver (250): close enough to see the quota


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="Open the app on a seeded demo account (its own data dir).")
    p.add_argument("--reset", action="store_true", help="Start the demo data over.")
    p.set_defaults(handler=run_demo)

    p = sub.add_parser("seed", help="Fill a store with a generated, realistic account.")
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--controllers", type=int, default=500)
    p.add_argument("--seed", type=int, default=7, help="Random seed (same seed, same account).")
    p.add_argument("--force", action="store_true", help="Seed even if the store has data.")
    p.set_defaults(handler=run_seed)


def run_app(args: argparse.Namespace) -> int:
    from fieldtech.offline_store.paths import data_dir

    return _launch(data_dir(args.data_dir))


def run_demo(args: argparse.Namespace) -> int:
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.offline_store.seed import seed_store

    directory = data_dir(args.data_dir, demo=True)
    path = store_path(directory)
    if args.reset and path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with Store(path) as store:
        if store.counts()[1] == 0:
            print("Preparing the demo account…", file=sys.stderr)
            seed_store(store, DEMO_CUSTOMERS, DEMO_CONTROLLERS)
    return _launch(directory, label="Greenline Irrigation (demo)")


def run_seed(args: argparse.Namespace) -> int:
    import time

    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.offline_store.seed import seed_store

    if args.customers < 1 or args.controllers < 1:
        print("fieldtech seed: --customers and --controllers must be at least 1.",
              file=sys.stderr)
        return 2
    path = store_path(data_dir(args.data_dir))
    with Store(path) as store:
        if store.counts() != (0, 0) and not args.force:
            print(f"fieldtech seed: {path} already holds data; add --force to add more.",
                  file=sys.stderr)
            return 1
        start = time.perf_counter()
        customers, controllers = seed_store(store, args.customers, args.controllers, args.seed)
    print(f"Seeded {customers} customers and {controllers} controllers into {path} "
          f"in {time.perf_counter() - start:.1f} s.")
    return 0


def _launch(directory: Path, label: str | None = None) -> int:
    from fieldtech.settings import Settings

    settings = Settings.load()
    if settings.use_ssh_profile():
        # Over SSH every byte counts: fewer frames, 256 colours, no animation. Textual reads
        # these once, at import, so they are set before it is imported.
        os.environ.setdefault("TEXTUAL_FPS", "30")
        os.environ.setdefault("TEXTUAL_COLOR_SYSTEM", "256")
        os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from fieldtech.app import FieldtechApp
    from fieldtech.domain.models import Account, new_id
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import store_path

    store = Store(store_path(directory))
    if store.account() is None:  # first run: a local account until one is linked to a cloud
        store.set_account(Account(id=new_id(), name="My company"))
    try:
        FieldtechApp(store, settings, directory, account_label=label).run()
    finally:
        store.close()
    return 0
