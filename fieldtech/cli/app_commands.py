"""Sub-commands of the app itself: the TUI (default), `demo`, `seed`."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

DEMO_CUSTOMERS, DEMO_CONTROLLERS = 110, 236  # Silver (250): close enough to see the quota
DEMO_ZONE_TEST_SECONDS = 5  # a demo zone test should not take four minutes
# controller_link's LOOPBACK_INTERFACES and LOOPBACK_ONLY_ENV (a test checks they agree):
# importing them here would load zeroconf and httpx before the first paint.
DEMO_MDNS_INTERFACES = ["127.0.0.1"]
DEMO_LOOPBACK_ONLY_ENV = "FIELDTECH_LOOPBACK_ONLY"


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

    p = sub.add_parser("triage", help="Open incidents, the most urgent response first (for "
                       "scripts and cron): exits 3 while a response is overdue.")
    p.add_argument("--json", action="store_true", help="One JSON object per incident.")
    p.add_argument("--no-sync", action="store_true",
                   help="Show what the store holds; do not ask the cloud first.")
    p.set_defaults(handler=run_triage)

    p = sub.add_parser("import", help="Customers and controllers from a CSV file (a dry run "
                       "first: every bad row with its line and field).")
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
    p.add_argument("--skip-bad", action="store_true",
                   help="Write the good rows even if some are bad (those are reported).")
    p.set_defaults(handler=run_import)

    p = sub.add_parser("export", help="The fleet as a CSV file (the columns import reads).")
    p.add_argument("--csv", dest="file", type=Path, nargs="?", const=Path("fleet.csv"),
                   required=True, help="File to write (default fleet.csv).")
    p.set_defaults(handler=run_export)


def run_app(args: argparse.Namespace) -> int:
    from fieldtech.cloud.saved_sign_in import SignInWatch, has_saved_sign_in
    from fieldtech.offline_store.paths import data_dir

    watch = SignInWatch()
    return _launch(data_dir(args.data_dir),
                   cloud=_saved_cloud(watch) if has_saved_sign_in() else None,
                   remember_sign_in=_remember_sign_in, sign_in_watch=watch)


def _remember_sign_in(url: str, email: str, token: str) -> tuple[str, bool]:
    """`session.remember_sign_in`, imported when the app's sign-in screen first keeps a token:
    the session module (its records, TOML, the keyring's way in) was ~2 ms of every start."""
    from fieldtech.cloud.session import remember_sign_in

    return remember_sign_in(url, email, token)


def _saved_cloud(watch: Any) -> Any:
    """A CloudAPI factory for whoever is signed in. The token is read (keyring: up to 3 s) on
    the first sync, in the sync worker, and kept for the session (`watch` learns it: the same
    token written again is not a new login)."""
    who: list[Any] = []

    def connect() -> Any:
        from fieldtech.cloud.api import APP_RETRY
        from fieldtech.cloud.session import signed_in

        if not who:
            who.append(signed_in())  # NotSignedIn: the header says "sign in (L)"
            watch.token_in_use = who[0].token
        return who[0].api(retry=APP_RETRY)

    return connect


def run_demo(args: argparse.Namespace) -> int:
    from fieldtech.cli.demo import DemoCloud
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.offline_store.seed import ONSITE_CUSTOMER, seed_onsite, seed_store

    # The demo never sends a packet beyond this machine: probes refuse anything but 127.0.0.x.
    os.environ.setdefault(DEMO_LOOPBACK_ONLY_ENV, "1")
    directory = data_dir(args.data_dir, demo=True)
    path = store_path(directory)
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(directory / "simulator", ignore_errors=True)
        DemoCloud.reset(directory)
    with Store(path) as store:
        if store.counts()[1] == 0:
            print("Preparing the demo account…", file=sys.stderr)
            seed_store(store, DEMO_CUSTOMERS, DEMO_CONTROLLERS)
        if not any(c.name == ONSITE_CUSTOMER for c in store.customers()):  # older demo stores
            seed_onsite(store, bound_serial="FT1-SIM00001")
    controllers = DemoControllers(directory / "simulator")
    cloud = DemoCloud(directory, path, DEMO_CUSTOMERS, DEMO_CONTROLLERS)

    def after_first_paint(app: Any) -> None:
        # Both start on threads once the fleet is on screen: the app is usable at once, the
        # header says "local only" until the demo cloud is up (about a second) and synced.
        controllers.start()
        cloud.start(lambda connect: app.call_from_thread(app.connect, connect))

    try:
        return _launch(directory, label="Greenline Irrigation (demo)",
                       mdns_interfaces=DEMO_MDNS_INTERFACES, simulator=controllers,
                       on_first_paint=after_first_paint,
                       zone_test_seconds=DEMO_ZONE_TEST_SECONDS)
    finally:
        cloud.stop()
        controllers.stop()
        for what, problem in (("simulated controllers", controllers.problem),
                              ("cloud", cloud.problem)):
            if problem:
                print(f"The demo's {what} did not start: {problem}", file=sys.stderr)


class DemoControllers:
    """The demo's simulated controllers (3 on mDNS, 1 OpenSprinkler, 1 on a pty serial port).

    Started on a thread after the first paint, so neither importing zeroconf nor mDNS ever
    delays it. Until then (or if they fail to start) the on-site screen just finds nothing.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.background: Any = None
        self.problem: str | None = None
        self._thread = threading.Thread(target=self._start, name="demo-controllers",
                                        daemon=True)

    def _start(self) -> None:
        from fieldtech.simulator import BackgroundSimulator

        background = BackgroundSimulator(count=3, opensprinkler=1, serial=True,
                                         data_dir=self.directory)
        try:
            background.__enter__()
        except Exception as exc:  # the app still runs; on site just finds nothing
            self.problem = str(exc) or type(exc).__name__
            return
        self.background = background

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.ident is not None:  # started: wait for it to finish starting
            self._thread.join(60)
        if self.background is not None:
            self.background.__exit__(None, None, None)

    # What the on-site screen asks of a simulator, to prefill its forms.
    @property
    def serial_path(self) -> str | None:
        return self.background.simulator.serial_path if self.background else None

    def of_kind(self, kind: str) -> list[Any]:
        return self.background.simulator.of_kind(kind) if self.background else []


def _signed_in_refusal(store: Any, path: Path) -> str | None:
    """Why a generated account must not go into this store: it holds a cloud account, or a
    sign-in would sync it with one. Its made-up plan and records would show as that account's,
    and would never be sent (they are written as if pulled). None: seeding is safe."""
    from fieldtech.cloud.credentials import env_token
    from fieldtech.cloud.session import load_session
    from fieldtech.domain.errors import NotSignedIn

    if store is not None and (held := store.sync_value("account_id")):
        return (f"{path} holds cloud account {held}; a generated account would be mixed into "
                "it and never sent. Seed another --data-dir.")
    try:
        session = load_session()
    except NotSignedIn:  # a broken session file: not signed in as far as seeding goes
        session = None
    if session is not None or env_token():
        where = f"{session.url} as {session.email}" if session else "the cloud (FIELDTECH_TOKEN)"
        return (f"you are signed in to {where}, and the app would sync this store with that "
                "account: a generated one would show as it and never be sent. Run fieldtech "
                "logout first (or unset FIELDTECH_TOKEN), or seed with FIELDTECH_CONFIG_DIR "
                "set to another folder.")
    return None


def run_seed(args: argparse.Namespace) -> int:
    import time

    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.offline_store.seed import seed_count_error, seed_new_store, seed_store
    from fieldtech.offline_store.store import prepare_folder

    if problem := seed_count_error(args.customers, args.controllers):
        print(f"fieldtech seed: {problem}", file=sys.stderr)
        return 2
    path = store_path(data_dir(args.data_dir))
    counts = (args.customers, args.controllers, args.seed)
    if not path.exists():  # a bulk load into a new file, moved into place when whole
        prepare_folder(path)  # a data dir that cannot be is said first, as for the app
        if refusal := _signed_in_refusal(None, path):
            print(f"fieldtech seed: {refusal}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        try:
            customers, controllers = seed_new_store(path, *counts)
        except FileExistsError:
            print(f"fieldtech seed: a store appeared at {path} while seeding (the app?); it "
                  "is left as it is. Seed again with --force to add to it.", file=sys.stderr)
            return 1
    else:
        with Store(path) as store:
            if refusal := _signed_in_refusal(store, path):
                print(f"fieldtech seed: {refusal}", file=sys.stderr)
                return 1
            if store.counts() != (0, 0) and not args.force:
                print(f"fieldtech seed: {path} already holds data; add --force to add more.",
                      file=sys.stderr)
                return 1
            start = time.perf_counter()
            customers, controllers = seed_store(store, *counts)
    print(f"Seeded {customers} customers and {controllers} controllers into {path} "
          f"in {time.perf_counter() - start:.1f} s.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Exit 0: written (or a clean dry run); 1: bad rows or over the quota, nothing written
    (with --skip-bad the good rows are, and the exit is still 1 to say some were left)."""
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.services.csv_io import plan_import, write_import

    path = store_path(data_dir(args.data_dir))
    with Store(path) as store:
        plan = plan_import(store, args.file)
        print(plan.report())
        if args.dry_run or plan.quota or (plan.errors and not args.skip_bad):
            if not args.dry_run and not plan.ok:
                print("Nothing was written.", file=sys.stderr)
            return 0 if plan.ok else 1
        customers, controllers = write_import(store, plan, skip_bad=args.skip_bad)
    print(f"Imported {customers} customers and {controllers} controllers into {path}; "
          "they sync with the next `fieldtech sync`.")
    return 1 if plan.errors else 0


def run_export(args: argparse.Namespace) -> int:
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.services.csv_io import export_csv

    path = store_path(data_dir(args.data_dir))
    with Store(path) as store:
        rows = export_csv(store, args.file)
    print(f"Wrote {rows} rows to {args.file}.")
    return 0


def _launch(directory: Path, label: str | None = None,
            on_first_paint: Callable[[Any], None] | None = None, **app_options: Any) -> int:
    # No garbage collection before the first screenful: start-up makes ~50,000 objects that
    # live as long as the app, and the collector's passes over them while they were being
    # made cost 45-80 ms of the start (a bare Textual app: ~15 ms). It runs again after that
    # first paint (the whole fleet's read is then under way in a thread anyway).
    gc.disable()
    try:
        return _run(directory, label, on_first_paint, **app_options)
    finally:
        gc.enable()


def _run(directory: Path, label: str | None,
         on_first_paint: Callable[[Any], None] | None, **app_options: Any) -> int:
    from fieldtech.services.settings import Settings

    settings = Settings.load()
    if settings.use_ssh_profile():
        # Over SSH every byte counts: 256 colours, no animation. A frame writes only what
        # changed (fieldtech/terminal), so 60 a second costs no bytes and a key's frame waits
        # at most 16 ms for its tick. Textual reads these once, at import: set them first.
        os.environ.setdefault("TEXTUAL_FPS", "60")
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
        app_options.setdefault("sync_every_s", settings.sync_every_s or None)
        app = FieldtechApp(store, settings, directory, account_label=label, **app_options)

        def painted() -> None:
            gc.enable()
            if on_first_paint is not None:
                on_first_paint(app)
        app.after_first_paint = painted
        app.run()
    finally:
        store.close()
    # Textual sets 1 when the app stopped on an unhandled error (it has printed the traceback):
    # a script or service manager must not read that as a clean quit.
    return app.return_code or 0


EXIT_BREACHING = 3  # as `fieldtech sync`'s "needs attention": a person must act


def run_triage(args: argparse.Namespace) -> int:
    """The triage list of the local store, synced first when signed in."""
    import json
    from datetime import UTC, datetime

    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.services.triage import describe, due_text, open_incidents

    path = store_path(data_dir(args.data_dir))
    if not path.exists():
        print(f"fieldtech triage: no store at {path} yet.", file=sys.stderr)
        return 1
    with Store(path) as store:
        if not args.no_sync:
            _sync_quietly(store)
        now = datetime.now(UTC)
        rows = open_incidents(store, now)
    breaching = [r for r in rows if r.breaching(now)]
    for r in rows:
        if args.json:
            print(json.dumps({
                "id": r.id, "due_in": due_text(r, now), "breaching": r.breaching(now),
                "severity": r.severity, "state": r.state, "customer": r.customer_name,
                "membership": r.membership, "controller": r.controller_name,
                "controller_id": r.controller_id, "what": r.what, "detail": r.detail,
                "opened_at": r.opened_at.isoformat() if r.opened_at else None,
                "response_due_at": r.due_at.isoformat() if r.due_at else None,
                "acknowledged_by": r.acknowledged_by, "assigned_to": r.assigned_to}))
        else:
            print(f"{due_text(r, now):>6}  {r.severity:<8}  {describe(r, now)}")
    if not args.json:
        print(f"{len(rows)} open, {len(breaching)} breaching.", file=sys.stderr)
    return EXIT_BREACHING if breaching else 0


def _sync_quietly(store: Any) -> None:
    """Pull what the cloud knows first; offline or signed out, say so and show the store."""
    from fieldtech.cloud.saved_sign_in import has_saved_sign_in
    from fieldtech.cloud.session import signed_in
    from fieldtech.cloud.sync import SyncEngine
    from fieldtech.domain.errors import FieldtechError

    if not has_saved_sign_in():
        return
    try:
        with signed_in().api() as api:
            report = SyncEngine(store, api).sync()
    except FieldtechError as exc:
        print(f"fieldtech triage: not synced ({exc}); showing the last known.", file=sys.stderr)
        return
    if report.error:
        print(f"fieldtech triage: not synced ({report.error}); showing the last known.",
              file=sys.stderr)
