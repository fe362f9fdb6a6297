"""Load benchmark of the reference cloud service, on loopback only.

1,000 simulated controllers poll their configuration (If-None-Match, so mostly 304) and send
heartbeats, while one contractor syncs (pulls the change log every second, pushes a batch of
config edits every few seconds). Prints requests/s and p50/p99 latency per backend.

    python bench/bench_server_load.py                       # SQLite, and PostgreSQL if configured
    python bench/bench_server_load.py --backend postgres --workers 2 --duration 20

The server is the real `fieldtech cloud serve` in a subprocess (uvicorn, N worker processes) on
127.0.0.1. Load comes from this process (asyncio + httpx) at a fixed offered rate: each device
sends one request every `devices / rate` seconds, alternating heartbeat and config poll, over a
shared pool of keep-alive connections. Latency is measured from the scheduled send time, so a
server that falls behind shows it (no coordinated omission). Bounded: --duration seconds of
load (default 20) after a short warm-up, then everything is stopped and the databases removed.
PostgreSQL comes from FIELDTECH_TEST_POSTGRES_URL (see .ci/postgres.sh); a fresh database is
made and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldtech.domain.plans import Tier, TierLimits  # noqa: E402
from fieldtech.server.accounts import create_account  # noqa: E402
from fieldtech.server.db import Database, make_engine, migrate  # noqa: E402
from fieldtech.server.security import new_device_token, token_hash  # noqa: E402
from fieldtech.server.state import utcnow  # noqa: E402
from fieldtech.server.tables import DeviceTokenRow  # noqa: E402

PASSWORD = "bench-password"


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    first_sent: float = 0.0
    last_done: float = 0.0
    errors: int = 0
    not_sent: int = 0  # scheduled before the end but never sent: the server was behind
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, sent: float, status: int) -> None:
        done = time.perf_counter()
        self.first_sent = min(self.first_sent or sent, sent)
        self.last_done = max(self.last_done, done)
        self.latencies_ms.append((done - sent) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 400:
            self.errors += 1

    def summary(self) -> str:
        if not self.latencies_ms:
            return "no requests"
        seconds = self.last_done - self.first_sent  # achieved rate, not the offered one
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"{len(lat):6d} requests, {len(lat) / seconds:7.1f} req/s, p50 {p50:6.1f} ms, "
            f"p99 {p99:6.1f} ms, errors {self.errors}, "
            f"statuses {dict(sorted(self.statuses.items()))}"
            + (f", not sent (behind schedule) {self.not_sent}" if self.not_sent else "")
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db_url: str, devices: int) -> str:
    """A Platinum account with room for `devices` controllers; returns its admin's e-mail."""
    engine = make_engine(db_url)
    migrate(engine)
    db = Database(engine)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    create_account(
        db,
        email=email,
        password=PASSWORD,
        name="Bench Irrigation",
        tier=Tier.PLATINUM,
        custom=TierLimits(controllers=devices + 100, staff_users=10, included_enthusiast=10),
    )
    engine.dispose()
    return email


def make_fleet(
    base: str, email: str, db_url: str, devices: int
) -> tuple[str, list[tuple[str, str]]]:
    """Customers and controllers through the API (sync batches). Device tokens go straight into
    the database: pairing is rate limited per address and is not what this measures."""
    with httpx.Client(base_url=base, timeout=60) as c:
        token = c.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "token"
        ]
        c.headers["Authorization"] = f"Bearer {token}"
        customers = [str(uuid.uuid4()) for _ in range(devices // 4)]
        controllers = [(str(uuid.uuid4()), customers[i % len(customers)]) for i in range(devices)]
        items = [
            {"key": f"c-{cid}", "op": "customer.create", "data": {"id": cid, "name": f"Home {i}"}}
            for i, cid in enumerate(customers)
        ] + [
            {
                "key": f"k-{kid}",
                "op": "controller.create",
                "data": {"id": kid, "customer_id": cust, "name": f"Yard {i}", "zone_count": 8},
            }
            for i, (kid, cust) in enumerate(controllers)
        ]
        for start in range(0, len(items), 200):
            r = c.post("/v1/sync/batch", json={"items": items[start : start + 200]})
            bad = [x for x in r.json()["results"] if x["status"] != "applied"]
            assert not bad, bad[:2]
    engine = make_engine(db_url)
    tokens = []
    with Database(engine).write() as s:
        for kid, _ in controllers:
            device_token = new_device_token()
            s.add(
                DeviceTokenRow(
                    token_hash=token_hash(device_token), controller_id=kid, created_at=utcnow()
                )
            )
            tokens.append((kid, device_token))
    engine.dispose()
    return token, tokens


async def device_loop(
    client: httpx.AsyncClient,
    token: str,
    period: float,
    start: float,
    stop: float,
    measure_from: float,
    samples: Samples,
    gate: asyncio.Semaphore,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    revision = 0
    beat = random.random() < 0.5
    next_at = start + random.random() * period  # spread the fleet over one period
    while True:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if next_at >= stop:
            return
        if time.perf_counter() >= stop:  # the server fell behind: stop on time, count the rest
            samples.not_sent += math.ceil((stop - next_at) / period)
            return
        try:
            async with gate:  # httpx's pool gets slow with hundreds of waiters: queue here
                if time.perf_counter() >= stop:
                    samples.not_sent += math.ceil((stop - next_at) / period)
                    return
                r = await _device_request(client, beat, headers, revision)
            if not beat and r.status_code == 200:
                revision = r.json()["revision"]
            status = r.status_code
        except httpx.HTTPError:
            status = 599
        if next_at >= measure_from:
            samples.add(next_at, status)
        beat = not beat
        next_at += period


async def _device_request(
    client: httpx.AsyncClient, beat: bool, headers: dict[str, str], revision: int
) -> httpx.Response:
    if beat:
        return await client.post(
            "/v1/device/heartbeat", json={"applied_revision": revision}, headers=headers
        )
    return await client.get(
        "/v1/device/config", headers={**headers, "If-None-Match": f'"{revision}"'}
    )


async def contractor_loop(
    client: httpx.AsyncClient,
    token: str,
    controller_ids: list[str],
    stop: float,
    measure_from: float,
    samples: Samples,
) -> None:
    """Pull changes every second; every 5 s push a batch of 5 config edits."""
    headers = {"Authorization": f"Bearer {token}"}
    cursor, tick = 0, 0
    revisions: dict[str, int] = {}
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        while True:  # drain the log
            r = await client.get(
                "/v1/changes", params={"cursor": cursor, "limit": 500}, headers=headers
            )
            if t0 >= measure_from:
                samples.add(t0, r.status_code)
            page = r.json()
            for change in page["changes"]:
                if change["entity"] == "config" and change["data"]:
                    revisions[change["id"]] = change["data"]["revision"]
            cursor = page["cursor"]
            if not page["more"]:
                break
            t0 = time.perf_counter()
        if tick % 5 == 0:
            chosen = random.sample(controller_ids, 5)
            items = [
                {
                    "key": str(uuid.uuid4()),
                    "op": "config.put",
                    "id": kid,
                    "base_revision": revisions.get(kid, 1),
                    "data": {
                        "zones": [
                            {"number": 1, "name": "Lawn", "run_minutes": random.randint(5, 30)}
                        ]
                    },
                }
                for kid in chosen
            ]
            t1 = time.perf_counter()
            r = await client.post("/v1/sync/batch", json={"items": items}, headers=headers)
            if t1 >= measure_from:
                samples.add(t1, r.status_code)
        tick += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))


async def run_load(
    base: str,
    user_token: str,
    tokens: list[tuple[str, str]],
    rate: float,
    duration: float,
    warmup: float,
    connections: int,
) -> tuple[Samples, Samples, float]:
    devices, contractor = Samples(), Samples()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as dc,
        httpx.AsyncClient(base_url=base, timeout=30) as cc,
    ):
        period = len(tokens) / rate
        start = time.perf_counter() + 0.5
        measure_from = start + warmup
        stop = measure_from + duration
        gate = asyncio.Semaphore(connections)
        await asyncio.gather(
            *(
                device_loop(dc, t, period, start, stop, measure_from, devices, gate)
                for _, t in tokens
            ),
            contractor_loop(cc, user_token, [k for k, _ in tokens], stop, measure_from, contractor),
        )
    return devices, contractor, duration


def bench_backend(name: str, db_url: str, args: argparse.Namespace) -> None:
    email = seed(db_url, args.devices)
    # SQLite has one writer: more processes only fight over its lock.
    workers = 1 if name == "sqlite" else args.workers
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fieldtech",
            "cloud",
            "serve",
            "--db",
            db_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"server did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.2)
        user_token, tokens = make_fleet(base, email, db_url, args.devices)
        devices, contractor, _ = asyncio.run(
            run_load(
                base, user_token, tokens, args.rate, args.duration, args.warmup, args.connections
            )
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"{name:9s} ({workers} worker{'s' if workers > 1 else ''})")
    print(f"{name:9s} devices    : {devices.summary()}")
    print(f"{name:9s} contractor : {contractor.summary()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=500, help="Offered device req/s.")
    parser.add_argument("--duration", type=float, default=20, help="Measured seconds (max 120).")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn workers for PostgreSQL (SQLite: 1)."
    )
    parser.add_argument("--connections", type=int, default=100, help="Device connection pool.")
    args = parser.parse_args()
    args.duration = min(args.duration, 120)
    print(
        f"{args.devices} devices, offered {args.rate:.0f} device req/s for {args.duration:.0f} s, "
        f"{os.cpu_count()} CPUs, loopback only"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            bench_backend("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.backend in ("postgres", "both"):
        url = os.environ.get("FIELDTECH_TEST_POSTGRES_URL")
        if not url:
            print("postgres  : skipped (set FIELDTECH_TEST_POSTGRES_URL, see .ci/postgres.sh)")
            return 0
        base_url = make_url(url)
        name = f"ft_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            bench_backend(
                "postgres", base_url.set(database=name).render_as_string(hide_password=False), args
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
