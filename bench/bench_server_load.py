"""Load benchmark of the reference cloud service, on loopback only.

1,000 simulated controllers poll their configuration (If-None-Match, so mostly 304) and send
heartbeats, while one contractor syncs (pulls the change log every second, pushes a batch of
config edits every few seconds). Prints requests/s and p50/p99 latency per backend.

    python bench/bench_server_load.py                       # SQLite, and PostgreSQL if configured
    python bench/bench_server_load.py --backend postgres --workers 2 --duration 20

The server is the real `fieldtech cloud serve` in a subprocess (uvicorn, N worker processes) on
127.0.0.1. Load comes from this process at a fixed offered rate: each device sends one request
every `devices / rate` seconds, alternating heartbeat and config poll, over a shared pool of
keep-alive connections. Latency is measured from the scheduled send time, so a server that
falls behind shows it (no coordinated omission). Bounded: --duration seconds of load (default
20) after a short warm-up, then everything is stopped and the databases removed.

The load generator shares the CPUs with the server and PostgreSQL, so the devices use a minimal
asyncio HTTP/1.1 client on uvloop (`--client raw`, the default; httpx costs several times more
per request, `--client httpx` to compare); the contractor uses httpx. The CPU each part used
during the measured window (this process, the server's processes, PostgreSQL's, the machine) is
printed from /proc. `--runs N` repeats each backend N times (a fresh server and database each
time) and prints the medians: the machine is shared, single runs are noisy.

Issue 10's budget (10,000 controllers heartbeating every 30 s = 333 req/s, 5 clients long-polling
the change log, a contractor pushing edits; p99 <= 100 ms on PostgreSQL with 2 workers):

    python bench/bench_server_load.py --backend postgres --workers 2 --devices 10000 --rate 333 \
        --heartbeats-only --full-report --fault-rate 0.002 --long-polls 5 --duration 30

`--full-report` sends CONTRACT-10's heartbeat (enabled, uptime, running, faults, firmware), each
device primed in the database as if it had reported once (a first report is news, not the
steady state); `--fault-rate` makes that share of heartbeats toggle a fault (each one opens or
resolves an incident: the full path); `--long-polls` clients wait on GET /v1/changes?wait=25.

`--first-reports` (with `--full-report`) skips the priming: every device's first report is news,
all of one account, as after an outage (docs/server.md, "Incidents", has the figures):

    python bench/bench_server_load.py --backend postgres --workers 2 --devices 6000 --rate 400 \
        --heartbeats-only --full-report --first-reports --duration 15 --warmup 0

PostgreSQL comes from FIELDTECH_TEST_POSTGRES_URL (see .ci/postgres.sh); a fresh database is
made and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldtech.domain.plans import Tier, TierLimits  # noqa: E402
from fieldtech.server.accounts import create_account  # noqa: E402
from fieldtech.server.db import OVERFLOW_ENV, POOL_ENV, Database, make_engine, migrate  # noqa: E402
from fieldtech.server.heartbeats import report_digest  # noqa: E402
from fieldtech.server.schemas import HeartbeatIn  # noqa: E402
from fieldtech.server.security import new_device_token, token_hash  # noqa: E402
from fieldtech.server.state import utcnow  # noqa: E402
from fieldtech.server.tables import DeviceStatusRow, DeviceTokenRow  # noqa: E402

PASSWORD = "bench-password"


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    first_sent: float = 0.0
    last_done: float = 0.0
    errors: int = 0
    not_sent: int = 0  # scheduled before the end but never sent: the server was behind
    statuses: dict[int, int] = field(default_factory=dict)
    woken: int = 0  # long-polls answered with news

    def add(self, sent: float, status: int) -> None:
        done = time.perf_counter()
        self.first_sent = min(self.first_sent or sent, sent)
        self.last_done = max(self.last_done, done)
        self.latencies_ms.append((done - sent) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 400:
            self.errors += 1

    def stats(self) -> tuple[float, float, float]:
        """(achieved requests/s, p50 ms, p99 ms)."""
        seconds = self.last_done - self.first_sent  # achieved rate, not the offered one
        lat = sorted(self.latencies_ms)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return len(lat) / seconds, statistics.median(lat), p99

    def summary(self) -> str:
        if not self.latencies_ms:
            return "no requests"
        rate, p50, p99 = self.stats()
        return (
            f"{len(self.latencies_ms):6d} requests, {rate:7.1f} req/s, p50 {p50:6.1f} ms, "
            f"p99 {p99:6.1f} ms, errors {self.errors}, "
            f"statuses {dict(sorted(self.statuses.items()))}"
            + (f", not sent (behind schedule) {self.not_sent}" if self.not_sent else "")
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time. Just enough HTTP for this
    server's answers: a status line, headers, and a Content-Length body (none on 304)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.body = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        status = int(head[9:12])
        length = 0
        if status not in (204, 304):
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                waiter.set_exception(ConnectionError("no Content-Length in the answer"))
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        self.body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("connection closed"))
        self.transport = None

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


class RawPool:
    """Up to `size` keep-alive connections; callers beyond that queue for one."""

    def __init__(self, host: str, port: int, size: int):
        self.host, self.port = host, port
        self.gate = asyncio.Semaphore(size)
        self.idle: list[_RawConnection] = []

    async def request(self, data: bytes) -> tuple[int, bytes]:
        async with self.gate:
            while self.idle and self.idle[-1].transport is None:
                self.idle.pop()  # closed by the server while idle (keep-alive timeout)
            conn = self.idle.pop() if self.idle else await self._connect()
            try:
                status = await conn.request(data)
            except BaseException:
                if conn.transport is not None:
                    conn.transport.close()
                raise
            if conn.transport is not None:
                self.idle.append(conn)
            return status, conn.body

    async def _connect(self) -> _RawConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_RawConnection, self.host, self.port)
        return conn

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, from /proc (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process we can see."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            name = raw[raw.find("(") + 1 : raw.rfind(")")]
            found.append((int(entry), int(raw.rsplit(")", 1)[1].split()[1]), name))
    return found


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of: this process, the server's process tree, PostgreSQL, the machine."""
    procs = _processes()
    tree, grew = {server_pid}, True
    while grew:
        more = {pid for pid, ppid, _ in procs if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)) / _TICKS
    return {
        "generator": time.process_time(),
        "server": sum(_proc_cpu(pid) for pid in tree),
        "postgres": sum(_proc_cpu(pid) for pid, _, name in procs if name.startswith("postgres")),
        "machine": busy,
    }


GRID_RATES = (500, 1000, 2000)  # issue 17: device req/s offered …
GRID_WORKERS = (1, 2, 4)  # … to this many workers on PostgreSQL
GRID: list[dict[str, float]] = []  # one row per run: what --grid prints at the end


def cpu_summary(
    before: dict[str, float], after: dict[str, float], seconds: float, requests: int
) -> str:
    used = {k: after[k] - before[k] for k in before}
    others = used["machine"] - used["generator"] - used["server"] - used["postgres"]
    GRID.append({f"{k}_ms": used[k] * 1000 / max(requests, 1)
                 for k in ("generator", "server", "postgres")} | {"others": others / seconds,
                                                                   "machine": used["machine"]
                                                                   / seconds})

    def share(cpu_seconds: float) -> str:
        return f"{cpu_seconds / seconds * 100:3.0f}%"

    parts = [
        f"{name} {share(used[name])} ({used[name] * 1000 / max(requests, 1):.2f} ms/req)"
        for name in ("generator", "server", "postgres")
    ]
    return (
        f"CPU over the measured {seconds:.0f} s (100% = one core): "
        + ", ".join(parts)
        + f", everything else {share(others)}, machine {share(used['machine'])}"
    )


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


DeviceRequest = Callable[[bool, int], Awaitable[tuple[int, bytes]]]


async def device_loop(
    request: DeviceRequest,
    period: float,
    start: float,
    stop: float,
    measure_from: float,
    samples: Samples,
    gate: asyncio.Semaphore | None,
    heartbeats_only: bool = False,
) -> None:
    revision = 0
    beat = heartbeats_only or random.random() < 0.5
    next_at = start + random.random() * period  # spread the fleet over one period
    while True:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if next_at >= stop:
            return
        if time.perf_counter() >= stop:  # the server fell behind: stop on time, count the rest
            samples.not_sent += math.ceil((stop - next_at) / period)
            return
        try:
            async with gate or contextlib.nullcontext():  # httpx's pool is slow with many waiters
                if time.perf_counter() >= stop:
                    samples.not_sent += math.ceil((stop - next_at) / period)
                    return
                status, body = await request(beat, revision)
            if not beat and status == 200:
                revision = json.loads(body)["revision"]
        except (httpx.HTTPError, OSError):
            status = 599
        if next_at >= measure_from:
            samples.add(next_at, status)
        beat = heartbeats_only or not beat
        next_at += period


class Report:
    """What one device reports: the old three fields, or CONTRACT-10's full heartbeat."""

    def __init__(self, full: bool, fault_rate: float):
        self.full, self.fault_rate = full, fault_rate
        self.uptime = random.randint(1000, 10**6)
        self.faulty = False

    def body(self, revision: int) -> bytes:
        if not self.full:
            return b'{"applied_revision":%d}' % revision
        self.uptime += 30
        if random.random() < self.fault_rate:
            self.faulty = not self.faulty  # news: an incident opens or resolves
        faults = '[{"kind":"zone_no_current","zone":2,"detail":"Zone 2: no current"}]' if (
            self.faulty) else "[]"
        return (
            f'{{"applied_revision":{revision},"firmware":"1.4.2","locally_modified":false,'
            f'"enabled":true,"running":null,"rain_delay_until":null,"uptime_s":{self.uptime},'
            f'"faults":{faults}}}'
        ).encode()


def raw_device(pool: RawPool, token: str, report: Report) -> DeviceRequest:
    """Requests of one device over the raw client, built once (only the revision changes)."""
    host = f"Host: {pool.host}:{pool.port}\r\nAuthorization: Bearer {token}\r\n"

    async def request(beat: bool, revision: int) -> tuple[int, bytes]:
        if beat:
            body = report.body(revision or 1)
            head = (
                f"POST /v1/device/heartbeat HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            return await pool.request(head.encode() + body)
        head = f'GET /v1/device/config HTTP/1.1\r\n{host}If-None-Match: "{revision}"\r\n\r\n'
        return await pool.request(head.encode())

    return request


def httpx_device(client: httpx.AsyncClient, token: str, report: Report) -> DeviceRequest:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def request(beat: bool, revision: int) -> tuple[int, bytes]:
        if beat:
            r = await client.post(
                "/v1/device/heartbeat", content=report.body(revision or 1), headers=headers
            )
        else:
            r = await client.get(
                "/v1/device/config", headers={**headers, "If-None-Match": f'"{revision}"'}
            )
        return r.status_code, r.content

    return request


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
        try:
            while True:  # drain the log
                r = await client.get(
                    "/v1/changes", params={"cursor": cursor, "limit": 500}, headers=headers
                )
                if t0 >= measure_from:
                    samples.add(t0, r.status_code)
                if r.status_code != 200:  # counted above; the next tick tries again
                    print(f"contractor: {r.status_code} {r.text[:200]}", file=sys.stderr)
                    break
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
        except httpx.TransportError:  # a server swamped past the timeout: counted, go on
            samples.errors += 1
        tick += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))


async def long_poll_loop(
    client: httpx.AsyncClient, token: str, stop: float, measure_from: float, samples: Samples
) -> None:
    """A client waiting on the change log (GET /v1/changes?wait=25) until `stop`. Its answers'
    latency is the wait itself, so `samples` counts them; woken = answered with news."""
    headers = {"Authorization": f"Bearer {token}"}
    cursor = (await client.get("/v1/account", headers=headers)).json()["change_cursor"]
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        try:
            r = await asyncio.wait_for(
                client.get("/v1/changes", params={"cursor": cursor, "limit": 500, "wait": 25},
                           headers=headers, timeout=40),
                max(0.1, stop - t0),
            )
        except TimeoutError:
            return  # still waiting at the end: fine, it holds no database connection
        page = r.json()
        cursor = page["cursor"]
        if t0 >= measure_from:
            samples.add(t0, r.status_code)
            samples.woken += bool(page["changes"])


def prime(db_url: str) -> None:
    """Every device as if it had sent one full report already (its first report is news, handled
    by the full path; the steady state is what this measures). One UPDATE, not 10,000 beats."""
    digest = report_digest(HeartbeatIn.model_validate_json(Report(True, 0).body(1)))
    engine = make_engine(db_url)
    with Database(engine).write() as s:
        s.execute(
            update(DeviceStatusRow).values(
                report_digest=digest, applied_revision=1, uptime_s=0, enabled=True, faults=[],
                firmware="1.4.2", last_contact=utcnow(),
            )
        )
    engine.dispose()


async def run_load(
    base: str,
    user_token: str,
    tokens: list[tuple[str, str]],
    args: argparse.Namespace,
    server_pid: int,
) -> tuple[Samples, Samples, str]:
    devices, contractor, polls = Samples(), Samples(), Samples()
    connections = args.connections
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    host, port = base.removeprefix("http://").split(":")
    pool = RawPool(host, int(port), connections)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as dc,
        httpx.AsyncClient(base_url=base, timeout=30) as cc,
    ):
        reports = [Report(args.full_report, args.fault_rate) for _ in tokens]
        if args.client == "raw":
            requests = [raw_device(pool, t, r) for (_, t), r in zip(tokens, reports, strict=True)]
            gate = None
        else:
            requests = [httpx_device(dc, t, r) for (_, t), r in zip(tokens, reports, strict=True)]
            gate = asyncio.Semaphore(connections)
        period = len(tokens) / args.rate
        start = time.perf_counter() + 0.5
        measure_from = start + args.warmup
        stop = measure_from + args.duration
        cpu: list[dict[str, float]] = []

        async def watch_cpu() -> None:
            for at in (measure_from, stop):
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                cpu.append(cpu_snapshot(server_pid))

        await asyncio.gather(
            *(
                device_loop(request, period, start, stop, measure_from, devices, gate,
                            args.heartbeats_only)
                for request in requests
            ),
            contractor_loop(cc, user_token, [k for k, _ in tokens], stop, measure_from, contractor),
            *(long_poll_loop(cc, user_token, stop, measure_from, polls)
              for _ in range(args.long_polls)),
            watch_cpu(),
        )
    pool.close()
    if args.long_polls:
        print(f"long-polls : {len(polls.latencies_ms)} answered in the window, "
              f"{polls.woken} with news, errors {polls.errors}")
    return (
        devices,
        contractor,
        cpu_summary(cpu[0], cpu[1], args.duration, len(devices.latencies_ms)),
    )


def _loop_factory(want_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if want_uvloop:
        try:
            import uvloop

            return uvloop.new_event_loop
        except ImportError:
            pass
    return None


def bench_backend(
    name: str, db_url: str, args: argparse.Namespace
) -> tuple[float, float, float, float, float]:
    """One run; (device req/s, device p50, device p99, contractor p50, contractor p99)."""
    email = seed(db_url, args.devices)
    # SQLite has one writer: more processes only fight over its lock.
    workers = 1 if name == "sqlite" else args.workers
    port = free_port()
    server_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
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
        env={**os.environ, "PYTHONPATH": str(ROOT), **pool_env(workers)},
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: a pipe nobody reads fills up (64 KB of warnings under overload)
        # and every worker then blocks writing its log, and stops answering.
        stderr=server_log,
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
                server_log.seek(0)
                raise SystemExit(f"server did not start: {server_log.read().decode()}")
            time.sleep(0.2)
        user_token, tokens = make_fleet(base, email, db_url, args.devices)
        if args.full_report and not args.first_reports:
            prime(db_url)
        with asyncio.Runner(loop_factory=_loop_factory(args.uvloop)) as runner:
            devices, contractor, cpu = runner.run(
                run_load(base, user_token, tokens, args, proc.pid)
            )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.seek(0)
        logged = server_log.read().decode(errors="replace").splitlines()
        server_log.close()
    print(f"{name:9s} ({workers} worker{'s' if workers > 1 else ''})")
    if logged := [line for line in logged if line.strip()]:
        errors = [line for line in logged if not line.startswith(" ") and "rror" in line]
        print(f"{name:9s} server log: {len(logged)} lines; first error: "
              f"{(errors or logged)[0][:200]}")
    print(f"{name:9s} devices    : {devices.summary()}")
    print(f"{name:9s} contractor : {contractor.summary()}")
    print(f"{name:9s} {cpu}")
    if GRID:
        GRID[-1] |= {"rate": args.rate, "workers": workers}
    if not devices.latencies_ms or not contractor.latencies_ms:
        return (0.0, math.inf, math.inf, math.inf, math.inf)
    return (*devices.stats(), *contractor.stats()[1:])


def pool_env(workers: int) -> dict[str, str]:
    """Connection pools that fit this PostgreSQL's max_connections (100 by default) with room
    for the bench and other users: each worker also holds 8 device connections and 1 LISTEN."""
    per_worker = min(30, max(4, 80 // workers - 9))  # SQLAlchemy's pool + overflow
    size = max(2, per_worker // 3)
    return {POOL_ENV: str(size), OVERFLOW_ENV: str(per_worker - size)}


def print_medians(name: str, runs: list[tuple[float, float, float, float, float]]) -> None:
    if len(runs) < 2:
        return
    rate, p50, p99, c50, c99 = (statistics.median(column) for column in zip(*runs, strict=True))
    p99s = ", ".join(f"{r[2]:.0f}" for r in runs)
    print(
        f"{name:9s} median of {len(runs)} runs: devices {rate:.1f} req/s, p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (each run: {p99s} ms); contractor p50 {c50:.0f} ms, p99 {c99:.0f} ms"
    )


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
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="Device HTTP client: a minimal asyncio one (cheap), or httpx.",
    )
    parser.add_argument(
        "--uvloop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Run the load generator on uvloop when installed.",
    )
    parser.add_argument("--runs", type=int, default=1, help="Repeat, print medians (max 10).")
    parser.add_argument("--heartbeats-only", action="store_true",
                        help="Devices only heartbeat (issue 10's budget), no config polls.")
    parser.add_argument("--full-report", action="store_true",
                        help="CONTRACT-10's full heartbeat, after one priming beat per device.")
    parser.add_argument("--first-reports", action="store_true",
                        help="With --full-report: no priming, so every device's first report "
                             "is news (the full path, under its account's lock): the storm "
                             "after an outage or an upgrade, all of one account.")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="Share of full heartbeats that toggle a fault (an incident).")
    parser.add_argument("--long-polls", type=int, default=0,
                        help="Clients long-polling the change log (max 50).")
    parser.add_argument("--grid", action="store_true",
                        help="PostgreSQL at 500, 1,000 and 2,000 device req/s with 1, 2 and 4 "
                        "workers, --runs each; a table of the medians and CPU per request")
    args = parser.parse_args()
    args.duration = min(args.duration, 120)
    args.runs = max(1, min(args.runs, 10))
    args.long_polls = max(0, min(args.long_polls, 50))
    args.fault_rate = max(0.0, min(args.fault_rate, 1.0))
    print(
        f"{args.devices} devices, offered {args.rate:.0f} device req/s for {args.duration:.0f} s, "
        f"{os.cpu_count()} CPUs, loopback only, {args.client} device client"
    )
    if args.grid:
        return grid(args)
    if args.backend in ("sqlite", "both"):
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(bench_backend("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args))
        print_medians("sqlite", runs)
    if args.backend in ("postgres", "both"):
        if not os.environ.get("FIELDTECH_TEST_POSTGRES_URL"):
            print("postgres  : skipped (set FIELDTECH_TEST_POSTGRES_URL, see .ci/postgres.sh)")
            return 0
        print_medians("postgres", postgres_runs(args))
    return 0


def postgres_runs(args: argparse.Namespace) -> list[tuple[float, float, float, float, float]]:
    """`--runs` runs on PostgreSQL, each on a fresh database, dropped after."""
    base_url = make_url(os.environ["FIELDTECH_TEST_POSTGRES_URL"])
    runs = []
    for _ in range(args.runs):
        name = f"ft_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            db_url = base_url.set(database=name).render_as_string(hide_password=False)
            runs.append(bench_backend("postgres", db_url, args))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return runs


def grid(args: argparse.Namespace) -> int:
    """Issue 17: every rate × workers on PostgreSQL, then one table. CPU per device request
    is what sizes a bigger machine; on a shared 2-core box latency says more about the box."""
    if not os.environ.get("FIELDTECH_TEST_POSTGRES_URL"):
        print("--grid needs PostgreSQL: set FIELDTECH_TEST_POSTGRES_URL (.ci/postgres.sh)")
        return 2
    rows = []
    for rate in GRID_RATES:
        for workers in GRID_WORKERS:
            args.rate, args.workers = rate, workers
            print(f"--- {rate} device req/s offered, {workers} worker(s)")
            GRID.clear()
            runs = postgres_runs(args)
            print_medians("postgres", runs)
            cpu = {k: statistics.median(r[k] for r in GRID) for k in GRID[0]}
            done, p50, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
            rows.append((rate, workers, done, p50, p99, cpu))
    print("\noffered | workers | achieved | p50 ms | p99 ms | server ms CPU/req | "
          "PostgreSQL ms CPU/req | generator ms CPU/req | others (cores) | machine (cores)")
    for rate, workers, done, p50, p99, cpu in rows:
        print(f"{rate:7.0f} | {workers:7d} | {done:8.0f} | {p50:6.1f} | {p99:6.0f} | "
              f"{cpu['server_ms']:17.2f} | {cpu['postgres_ms']:21.2f} | "
              f"{cpu['generator_ms']:20.2f} | {cpu['others']:14.2f} | {cpu['machine']:15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
