"""Issue 10's triage budgets, measured as a person meets them.

    python bench/bench_triage.py [--controllers 10000] [--incidents 2000] [--idle 60]
                                 [--faults 20]

1. The triage screen in a real pty at 80×24 (the SSH profile: 256 colours), on a store of
   `--controllers` controllers and `--incidents` open incidents: `!` to the list painted, a key
   (↓, space) to its repaint, and the bytes an idle minute writes (the countdowns).
2. A fault injected on a simulated controller paired with the reference cloud (in-process, on
   127.0.0.1) to the incident painted in a second client's triage list (a headless app with the
   same code as the TUI, long-polling the cloud): median over `--faults`.

Budgets: open ≤ 50 ms, a key ≤ 50 ms, an idle minute ≤ 2 KB; fault to painted ≤ 2 s.
Loopback only; every server and device it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import LIVE, Term, env_for, ms  # noqa: E402

from fieldtech.offline_store import Store  # noqa: E402
from fieldtech.offline_store.seed import seed_store  # noqa: E402
from fieldtech.widgets.key_bar import PAGE_EVERY_S  # noqa: E402


def incidents_for(store: Store, count: int) -> None:
    """`count` open incidents on as many controllers, due over the next hours (some late)."""
    rows = [r for r in store.fleet_rows() if r.controller_id][:count]
    now = datetime.now(UTC)
    kinds = ["offline", "zone_no_current", "flow_high", "rain_sensor", "low_voltage"]
    changes = []
    for n, row in enumerate(rows):
        due = now + timedelta(minutes=(n % 240) - 20)
        changes.append({"entity": "incident", "id": f"bench-{n}", "op": "upsert", "data": {
            "id": f"bench-{n}", "controller_id": row.controller_id,
            "customer_id": row.customer_id, "kind": kinds[n % len(kinds)],
            "zone": (n % 8) + 1 if n % len(kinds) == 1 else None,
            "severity": ("critical", "warning", "info")[n % 3], "state": "open",
            "detail": f"Bench incident {n}", "opened_at": (now - timedelta(minutes=n % 90))
            .isoformat(), "response_due_at": due.isoformat(), "count": 1,
            "membership": "priority"}})
    store.apply_changes(changes, int(store.sync_value("cursor") or 0) + 1)


def screen_budgets(args: argparse.Namespace, work: Path) -> None:
    store = Store(work / "fieldtech.db")
    started = time.perf_counter()
    seed_store(store, args.controllers // 4, args.controllers)
    incidents_for(store, args.incidents)
    first_customer = store.fleet_rows()[0].customer_name.encode()
    store.close()
    print(f"seeded {args.controllers} controllers and {args.incidents} open incidents in "
          f"{time.perf_counter() - started:.1f} s")
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "settings.toml").write_text("cursor_blink = false\n")
    app = [sys.executable, "-m", "fieldtech"]
    term = Term(app, env_for(work, ssh=True))
    term.read_until(first_customer)
    term.drain()
    opens, keys = [], []
    for _ in range(args.runs):
        opens.append(term.key_until(b"!", b"Triage"))
        for key in (b"\x1b[B", b" ", b"\x1b[B", b"\x1b[A"):
            took, _size, _burst = term.key(key)
            keys.append(took)
        term.key(b"\x1b")
    print(f"triage opened (! to painted): median {ms(statistics.median(opens))}, first "
          f"{ms(opens[0])}, max {ms(max(opens))} over {len(opens)} (budget ≤ 50 ms)")
    print(f"a key on the triage list (↓ ↑ space) to painted: median "
          f"{ms(statistics.median(keys))}, max {ms(max(keys))} over {len(keys)} "
          "(budget ≤ 50 ms)")
    term.key_until(b"!", b"Triage")
    term.drain()
    # Two windows of args.idle seconds: from the moment triage is painted (with the key bar's
    # one round of pages, ~12 s) and from after that round: what a screen left open writes.
    settled = 2 * PAGE_EVERY_S + 1
    opened = time.monotonic()
    writes: list[tuple[float, int]] = []
    while time.monotonic() < opened + settled + args.idle:
        before = len(term.screen)
        term._read(1.0)
        if len(term.screen) > before:
            writes.append((time.monotonic() - opened, len(term.screen) - before))
    first = sum(n for t, n in writes if t < args.idle)
    steady = sum(n for t, n in writes if settled <= t < settled + args.idle)
    print(f"idle {args.idle:.0f} s on the triage screen over SSH, from opening: {first} B "
          f"(with the key bar's one round of pages); from {settled} s on: {steady} B "
          "(budget ≤ 2 KB a minute)")
    term.close()


async def fault_to_painted(args: argparse.Namespace, work: Path) -> None:
    """A fault on a paired simulated controller, until the row is in a second client's list."""
    from bench_live import LiveRig

    async with LiveRig(work / "live") as rig:
        times = []
        for n in range(args.faults):
            kind = ("zone_no_current", "flow_high")[n % 2]
            took = await rig.fault_to_row(kind, zone=1 + n % 4)
            times.append(took)
            await rig.recover_and_settle()
        times.sort()
        print(f"fault injected → incident painted in a second client's triage: median "
              f"{ms(statistics.median(times))}, max {ms(times[-1])} over {len(times)} "
              f"(budget ≤ 2 s; heartbeat every {rig.heartbeat_s:.0f} s)")


async def offline_detection(args: argparse.Namespace, work: Path) -> None:
    """At a short period (the cloud tells the device to beat every `--offline-period` s), time
    from the last heartbeat to "offline" in the second client's list; the rule is the same at
    the default 30 s (three missed heartbeats, then the next sweep)."""
    from bench_live import LiveRig

    period = args.offline_period
    async with LiveRig(work / "offline", heartbeat_s=None, cloud_heartbeat_s=period,
                       sweep_every=period / 4) as rig:
        await asyncio.sleep(period * 2)  # a few heartbeats at the cloud's period first
        took = await rig.offline_to_row()
    from fieldtech.domain.incidents import HEARTBEAT_S, MISSED_BEATS

    print(f"offline declared and painted {took:.1f} s after the heartbeats stopped at a "
          f"{period} s period ({MISSED_BEATS} missed + the sweep: {MISSED_BEATS * period} s "
          f"+ ≤{period / 4:.1f} s); at the default {HEARTBEAT_S} s that rule gives ≤ "
          f"{MISSED_BEATS * HEARTBEAT_S + 10} s (budget ≤ 120 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--faults", type=int, default=20)
    parser.add_argument("--offline-period", type=int, default=2)
    parser.add_argument("--skip-screen", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ft-bench-triage-"))
    try:
        if not args.skip_screen:
            screen_budgets(args, work)
        if not args.skip_live:
            asyncio.run(fault_to_painted(args, work))
            asyncio.run(offline_detection(args, work))
    finally:
        for term in list(LIVE):
            term.close()
        os.environ.pop("FIELDTECH_TOKEN", None)


if __name__ == "__main__":
    main()
