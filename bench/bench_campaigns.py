"""Fleet work at scale (issue 16), loopback only. Prints each budget's figure and status:

  1. rain delay on 5,000 marked controllers: dry run ≤ 1 s, applied locally ≤ 3 s (one
     transaction), pushed to the cloud ≤ 15 s (`fieldtech cloud serve`, SQLite, its own
     process on 127.0.0.1, as in bench_sync.py)
  2. sorting 10,000 controllers by a column ≤ 50 ms (each column; the first sort by a column
     builds its keys, later ones reuse them)
  3. marking all 10,000 (`*`) with the header's count, painted ≤ 50 ms (the app at 80×24 in
     Textual's headless driver)
  4. the dry run of a CSV import of 2,000 customers with 10,000 controllers ≤ 3 s

    python bench/bench_campaigns.py
    python bench/bench_campaigns.py --controllers 2000 --marked 1000

Setting up the accounts is not timed. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldtech.cloud.api import CloudAPI  # noqa: E402
from fieldtech.cloud.sync import SyncEngine  # noqa: E402
from fieldtech.domain.plans import Tier  # noqa: E402
from fieldtech.offline_store.seed import generate_account, seed_store  # noqa: E402
from fieldtech.offline_store.store import Store  # noqa: E402
from fieldtech.server.accounts import create_account  # noqa: E402
from fieldtech.server.db import Database, make_engine, migrate  # noqa: E402
from fieldtech.server.embedded import free_port  # noqa: E402
from fieldtech.server.seed import seed_account  # noqa: E402
from fieldtech.services.campaigns import BulkChange, CampaignService, Kind  # noqa: E402
from fieldtech.services.fleet_index import FleetIndex  # noqa: E402
from fieldtech.services.queries import FLEET_SORTS  # noqa: E402

PASSWORD = "bench-password"


def status(seconds: float, budget: float) -> str:
    return "met" if seconds <= budget else "NOT MET"


def campaign(args: argparse.Namespace, tmp: Path) -> None:
    db_url = f"sqlite:///{tmp / 'cloud.sqlite3'}"
    engine = make_engine(db_url)
    migrate(engine)
    db = Database(engine)
    made = generate_account(max(1, args.marked // 3), args.marked, tier=Tier.PLATINUM)
    account = create_account(db, email="bench@example.com", password=PASSWORD,
                             name="Bench Irrigation", tier=Tier.PLATINUM,
                             custom=made.account.custom_limits)
    seed_account(db, account.account_id, made)
    engine.dispose()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fieldtech", "cloud", "serve", "--db", db_url,
         "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url)
        token = CloudAPI(url).login("bench@example.com", PASSWORD)["token"]
        store = Store(tmp / "mine.db")
        sync = SyncEngine(store, CloudAPI(url, token))
        sync.sync()
        marked = [r.controller_id for r in store.fleet_rows() if r.controller_id]
        service = CampaignService(store)

        t = time.perf_counter()
        plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=48), marked)
        dry = time.perf_counter() - t
        t = time.perf_counter()
        ticks: list[int] = []
        service.start(plan, progress=lambda done, total: ticks.append(done))
        applied = time.perf_counter() - t
        t = time.perf_counter()
        report = sync.sync()
        pushed = time.perf_counter() - t
        assert report.error is None, report.error
        n = len(marked)
        print(f"rain delay on {n:,} marked: dry run {dry * 1000:.0f} ms (≤ 1 s: "
              f"{status(dry, 1)}); applied locally {applied:.2f} s in one transaction, "
              f"{len(ticks)} progress steps (≤ 3 s: {status(applied, 3)}); pushed "
              f"{report.applied:,} edits in {pushed:.2f} s, {report.requests} requests "
              f"(≤ 15 s: {status(pushed, 15)})")
        store.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def sorting(args: argparse.Namespace, tmp: Path) -> Path:
    path = tmp / "fleet.db"
    store = Store(path)
    seed_store(store, max(1, int(args.controllers * 0.45)), args.controllers)
    rows = store.fleet_rows()
    store.close()
    index = FleetIndex(rows)
    every = list(range(len(index)))
    worst = 0.0
    words = []
    for column in FLEET_SORTS:
        first = _timed(lambda c=column: index.sort(every, c))
        again = statistics.median(_timed(lambda c=column: index.sort(every, "-" + c))
                                  for _ in range(5))
        worst = max(worst, first, again)
        words.append(f"{column} {first * 1000:.0f}/{again * 1000:.0f}")
    print(f"sort {len(index):,} controllers, first/again ms: " + ", ".join(words)
          + f" (≤ 50 ms: {status(worst, 0.05)})")
    return path


def marking(path: Path, runs: int) -> None:
    """Two figures: the work of `*` — marking every controller shown, the header's count, and
    rendering every visible line and the header again (what the frame writes) — timed on the
    event loop; and the key to idle in Textual's Pilot, against a cursor move in the same
    harness (the Pilot's own pauses are most of that)."""
    from fieldtech.app import FieldtechApp
    from fieldtech.screens.topbar import TopBar
    from fieldtech.services.settings import Settings

    async def run() -> tuple[list[float], list[float], list[float], int]:
        with tempfile.TemporaryDirectory() as config:
            app = FieldtechApp(Store(path), Settings.load(Path(config)), path.parent / "d")
            work, star, move = [], [], []
            async with app.run_test(size=(80, 24)) as pilot:
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                fleet = app.screen.fleet_list
                bar = app.screen.query_one("#topbar", TopBar)
                marked = 0
                for _ in range(runs):
                    t = time.perf_counter()
                    fleet.mark_all()
                    bar.set_note(f"{len(fleet.marked)} marked" if fleet.marked else "")
                    for y in range(fleet.size.height):
                        fleet.render_line(y)
                    bar.render()
                    work.append(time.perf_counter() - t)
                    marked = max(marked, len(fleet.marked))
                    await pilot.pause()
                for key, into in [("asterisk", star), ("j", move)] * runs:
                    t = time.perf_counter()
                    await pilot.press(key)
                    await pilot.pause()
                    into.append(time.perf_counter() - t)
            app.store.close()
            return work, star, move, marked

    work, star, move, marked = asyncio.run(run())
    median = statistics.median(work)
    print(f"mark all {marked:,} (`*`, again unmarks) with the header's count and every visible "
          f"line rendered: median {median * 1000:.1f} ms, max {max(work) * 1000:.1f} ms "
          f"(≤ 50 ms: {status(median, 0.05)}); key to idle in the Pilot: `*` "
          f"{statistics.median(star) * 1000:.0f} ms vs a cursor move "
          f"{statistics.median(move) * 1000:.0f} ms")


def csv_dry_run(tmp: Path) -> None:
    from fieldtech.domain.models import Account, new_id
    from fieldtech.domain.plans import TierLimits
    from fieldtech.services.csv_io import COLUMNS, plan_import

    path = tmp / "customers.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for i in range(10_000):
            k = i % 2000
            f.write(f"Customer {k},c{k}@example.com,555-000-{k:04d},\"{k} Elm St, Tucson, AZ\","
                    f"standard,hoa,Yard {i},FT-8,8,FT1-{i:08X},America/Phoenix,,spring\n")
    store = Store(tmp / "import.db")
    store.set_account(Account(id=new_id(), name="Bench", tier=Tier.PLATINUM,
                              custom_limits=TierLimits(20_000, 200, 500)))
    t = time.perf_counter()
    plan = plan_import(store, path)
    took = time.perf_counter() - t
    assert plan.ok, plan.report()
    print(f"CSV import dry run: {len(plan.customers):,} customers, {len(plan.controllers):,} "
          f"controllers, {path.stat().st_size / 1e6:.1f} MB in {took:.2f} s "
          f"(≤ 3 s: {status(took, 3)})")
    store.close()


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _wait_up(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the cloud service did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--marked", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = sorting(args, Path(tmp))
        marking(path, args.runs)
        csv_dry_run(Path(tmp))
        campaign(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
