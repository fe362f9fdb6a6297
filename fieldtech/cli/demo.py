"""The demo's cloud: the reference service in this process, on a free 127.0.0.1 port.

`fieldtech demo` starts it on a thread after the first paint (importing FastAPI and SQLAlchemy
takes longer than painting), with a SQLite file in the demo data dir. The first time, it makes a
Silver account holding the same generated fleet the demo store was seeded with (so the two start
in sync, close to the plan's 250-controller limit), signs in with a token kept only in memory,
and hands the app a way to connect. Later runs find the account and sign in again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_EMAIL = "demo@greenline.example"
DEMO_PASSWORD = "greenline-demo"  # a local demo account on 127.0.0.1, nothing more
DEMO_TIER = "silver"
CLOUD_DB = "cloud.sqlite3"
# The demo fleet has no hardware: the controllers that were reporting when it was made report
# in this often, as real ones would, so the cloud does not call them offline after 7 minutes.
HEARTBEAT_S = 60.0
LIVE_CONTROLLERS = 6  # brought to life by start_live_controllers
LIVE_ROUND_S = 300.0  # the live controllers' trouble repeats this often


class DemoCloud:
    def __init__(self, directory: Path, store_path: Path, customers: int, controllers: int,
                 live: int = LIVE_CONTROLLERS):
        self.directory = directory
        self.live_count = live  # controllers brought to life against this cloud (0: none)
        self.store_path = store_path
        self.customers, self.controllers = customers, controllers
        self.server: Any = None
        self.url: str | None = None
        self.problem: str | None = None
        self.live: LiveControllers | None = None  # controllers paired with this cloud
        self._on_ready: Callable[[Callable[[], Any]], None] | None = None
        self._thread = threading.Thread(target=self._start, name="demo-cloud", daemon=True)
        self._stopping = threading.Event()

    def start(self, on_ready: Callable[[Callable[[], Any]], None]) -> None:
        """Start in the background; `on_ready(connect)` is called once signed in."""
        self._on_ready = on_ready
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(30)
        if self.live is not None:
            self.live.stop()
        if self.server is not None:
            self.server.stop()

    @staticmethod
    def reset(directory: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{directory / CLOUD_DB}{suffix}").unlink(missing_ok=True)

    def _start(self) -> None:
        try:
            from fieldtech.cloud.api import APP_RETRY, CloudAPI
            from fieldtech.server.embedded import EmbeddedServer

            self.server = EmbeddedServer(f"sqlite:///{self.directory / CLOUD_DB}").start()
            self.url = self.server.url
            self._ensure_account()
            # The reporting controllers report in before the app connects: its first sync
            # reads the fleet's states, then not again for minutes, and after the demo was
            # closed a while their last reports are old (the whole fleet showed offline).
            self.heartbeat()
            token = CloudAPI(self.url).login(DEMO_EMAIL, DEMO_PASSWORD, "demo")["token"]
        except Exception as exc:  # the app still runs, local only; say why at exit
            self.problem = str(exc) or type(exc).__name__
            return
        url = self.url

        def connect() -> Any:
            return CloudAPI(url, token, retry=APP_RETRY)

        if self._on_ready is not None:
            with contextlib.suppress(RuntimeError):  # the app closed before the cloud was up
                self._on_ready(connect)
        if self.live_count and not self._stopping.is_set():  # incidents come and go
            try:
                self.live = start_live_controllers(url, self.directory, self.live_count)
            except Exception as exc:  # the demo goes on without them; say why at exit
                self.problem = f"live controllers: {exc}"
        while not self._stopping.wait(HEARTBEAT_S):
            self.heartbeat()

    def heartbeat(self) -> int:
        """The demo's reporting controllers report in (as their devices would) → how many."""
        from sqlalchemy import select, update

        from fieldtech.server.state import utcnow
        from fieldtech.server.tables import DeviceStatusRow, DeviceTokenRow

        try:
            with self.server.db.write() as s:
                return s.execute(update(DeviceStatusRow)
                                 .where(DeviceStatusRow.last_contact.is_not(None))
                                 # a paired (live) controller reports itself, or goes offline
                                 .where(DeviceStatusRow.controller_id.not_in(
                                     select(DeviceTokenRow.controller_id)))
                                 .values(last_contact=utcnow())).rowcount
        except Exception:  # a busy demo database: the next beat will do
            return 0

    def _ensure_account(self) -> None:
        from sqlalchemy import select

        from fieldtech.domain.plans import Tier
        from fieldtech.offline_store.seed import GeneratedAccount, generate_account
        from fieldtech.offline_store.store import Store
        from fieldtech.server.accounts import create_account
        from fieldtech.server.seed import seed_account, seed_incidents
        from fieldtech.server.tables import AccountRow, UserRow

        db = self.server.db
        with db.read() as s:
            if s.scalar(select(UserRow.id).where(UserRow.email == DEMO_EMAIL)):
                return
        made = generate_account(self.customers, self.controllers, tier=Tier(DEMO_TIER))
        account = create_account(db, email=DEMO_EMAIL, password=DEMO_PASSWORD,
                                 name=made.account.name, tier=Tier(DEMO_TIER))
        with Store(self.store_path) as store:
            # Records the demo store holds as synced that the generator did not make (the
            # on-site walk-through's customer) go to the cloud too; edits waiting in the
            # outbox are left for the first sync to send.
            known = {c.id for c in made.customers}
            extra_customers = [c for c in store.customers()
                               if c.id not in known and store.base("customer", c.id)]
            extra_ids = {c.id for c in extra_customers}
            extra_controllers = [(store.controller(r.controller_id), 1, r.state, r.fault)
                                 for r in store.fleet_rows()
                                 if r.customer_id in extra_ids and r.controller_id]
            seed_account(db, account.account_id, made)
            seed_account(db, account.account_id,
                         GeneratedAccount(made.account, extra_customers, extra_controllers))
            # Contracts (issue 15): the same generated book in the cloud and the store.
            if not store.documents("agreement"):
                from fieldtech.server.documents import seed_documents
                from fieldtech.server.state import utcnow
                from fieldtech.services.contracts import sample_contracts

                # the agreements give the generated memberships (one source of truth)
                book = sample_contracts(account.account_id, [c.id for c in made.customers],
                                        memberships={c.id: c.membership.value
                                                     for c in made.customers})
                seed_documents(db, account.account_id, book, utcnow())
                store.put_synced_documents(book)
            with db.read() as s:
                seq = s.get_one(AccountRow, account.account_id).change_seq
            # The store was seeded from the same generator: it already holds all of this.
            if store.sync_value("cursor") is None:
                store.set_sync_values(cursor=str(seq), account_id=account.account_id)
        # What the generated offline and faulty controllers would have raised, after the
        # cursor: the first sync brings them, and triage opens on them (not empty until the
        # live controllers' first fault).
        seed_incidents(db, account.account_id, made)


class LiveControllers:
    """Simulated controllers paired with demo records, heartbeating; `stop()` at exit."""

    def __init__(self, background: Any, scenario: Any, pairings: list[Any]):
        self.background, self._scenario = background, scenario
        self.pairings = pairings  # what became of each (simulator.cloud_pairing.Pairing)

    def stop(self) -> None:
        self._scenario.cancel()
        self.background.__exit__(None, None, None)


def start_live_controllers(url: str, directory: Path, count: int = LIVE_CONTROLLERS,
                           every_s: float = LIVE_ROUND_S) -> LiveControllers:
    """Bring `count` controllers of the demo account to life against the demo cloud at `url`.

    Each is a simulated controller with a record's serial, paired with it, heartbeating as
    the cloud asks, taking its commands; a repeating scenario (a leak, a dead valve, a site
    outage, a reboot, low voltage, each recovering) makes incidents come and go while you
    watch. Blocking (sign-in and pairing, about a second): call it from a thread, once the
    cloud is up. Device state is kept in `directory`/live-controllers.
    """
    from fieldtech.cloud.api import CloudAPI
    from fieldtech.simulator import BackgroundSimulator
    from fieldtech.simulator.cloud_pairing import adopt_records
    from fieldtech.simulator.scenario import rolling_trouble, run_scenario

    with CloudAPI(url) as api:
        token = api.login(DEMO_EMAIL, DEMO_PASSWORD, "demo live controllers")["token"]
    background = BackgroundSimulator(count=0, advertise=False,
                                     data_dir=directory / "live-controllers")
    sim = background.__enter__()
    try:
        pairings = background.run(adopt_records(sim, url, token, count))
        live = [p.serial for p in pairings if p.problem is None]
        scenario = background.submit(run_scenario(rolling_trouble(live, every_s), sim))
    except BaseException:
        background.__exit__(None, None, None)
        raise
    return LiveControllers(background, scenario, pairings)
