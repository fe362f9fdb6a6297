"""The cloud as it runs in production: `fieldtech cloud serve` processes, several workers, and
kill -9 in the middle of heartbeats."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import PASSWORD, fresh_database, new_serial

from fieldtech.domain.plans import Tier
from fieldtech.server.accounts import create_account
from fieldtech.server.db import Database, make_engine

ROOT = Path(__file__).resolve().parents[2]
LEAK = {"kind": "flow_high", "zone": 1, "detail": "Leak on zone 1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cloud:
    """`fieldtech cloud serve` in its own process group, so kill -9 reaches every worker."""

    def __init__(self, db_url: str, workers: int):
        self.db_url, self.workers, self.port = db_url, workers, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fieldtech", "cloud", "serve", "--db", self.db_url,
             "--port", str(self.port), "--workers", str(self.workers)],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "the cloud did not start"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgres"])
def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cloud]:
    with fresh_database(request.param, tmp_path) as url:
        c = Cloud(url, workers=1)
        yield c
        if c.process and c.process.poll() is None:
            c.kill9()


def _account(cloud: Cloud) -> httpx.Client:
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    engine = make_engine(cloud.db_url)
    create_account(Database(engine), email=email, password=PASSWORD, name="Crash Co",
                   tier=Tier.STARTER)
    engine.dispose()
    r = httpx.post(f"{cloud.url}/v1/auth/login", json={"email": email, "password": PASSWORD})
    return httpx.Client(base_url=cloud.url, timeout=30,
                        headers={"Authorization": f"Bearer {r.json()['token']}"})


def _device(cloud: Cloud, staff: httpx.Client) -> tuple[str, str]:
    customer = staff.post("/v1/customers", json={"id": str(uuid.uuid4()), "name": "Site"}).json()
    controller = staff.post("/v1/controllers", json={
        "id": str(uuid.uuid4()), "customer_id": customer["id"], "name": "Yard"}).json()
    code = staff.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    r = httpx.post(f"{cloud.url}/v1/device/pair", json={"code": code, "serial": new_serial()})
    return controller["id"], r.json()["device_token"]


def _changes(staff: httpx.Client) -> list[dict[str, Any]]:
    found, cursor = [], 0
    while True:
        page = staff.get("/v1/changes", params={"cursor": cursor, "limit": 500}).json()
        found += page["changes"]
        cursor = page["cursor"]
        if not page["more"]:
            return found


def test_kill_9_during_heartbeats_loses_nothing_and_doubles_nothing(cloud: Cloud) -> None:
    cloud.start()
    staff = _account(cloud)
    devices = [_device(cloud, staff) for _ in range(3)]
    for cid, _ in devices:
        for seconds in (1, 2, 3):
            r = staff.post(f"/v1/controllers/{cid}/commands", json={
                "kind": "zone.run", "params": {"zone": 1, "seconds": seconds}})
            assert r.status_code == 202, r.text
    handed: list[str] = []  # every command id any heartbeat answer carried
    acknowledged: set[str] = set()  # results the cloud answered 200 to
    stop = threading.Event()

    def beat_forever(token: str) -> None:
        http = httpx.Client(base_url=cloud.url, timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
        n, pending = 0, []
        while not stop.is_set():
            n += 1
            report = {"applied_revision": 1, "faults": [LEAK] if n // 3 % 2 else [],
                      "results": [{"id": i, "ok": True, "message": "ran"} for i in pending]}
            try:
                r = http.post("/v1/device/heartbeat", json=report)
            except httpx.TransportError:  # killed mid-request: it may or may not have landed
                time.sleep(0.2)
                continue
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", 1)))
                continue
            assert r.status_code == 200, r.text
            acknowledged.update(pending)
            pending = [c["id"] for c in r.json()["commands"]]
            handed.extend(pending)
            time.sleep(0.15)
        http.close()

    threads = [threading.Thread(target=beat_forever, args=(token,)) for _, token in devices]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            time.sleep(2.5)
            cloud.kill9()
            cloud.start()
        time.sleep(2.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    for _, token in devices:  # one clean last word from each device: no faults
        last = httpx.post(f"{cloud.url}/v1/device/heartbeat", json={"faults": []},
                          headers={"Authorization": f"Bearer {token}"})
        assert last.status_code == 200, last.text
    assert len(handed) == len(set(handed)), "a command was handed out twice"
    log = _changes(staff)
    assert len({c["seq"] for c in log}) == len(log)
    for cid, _ in devices:
        commands = staff.get(f"/v1/controllers/{cid}/commands").json()["commands"]
        assert all(c["state"] in ("delivered", "done") for c in commands), commands
        assert {c["id"] for c in commands if c["id"] in acknowledged} <= {
            c["id"] for c in commands if c["state"] == "done"}
        states = [c["data"]["faults"] for c in log
                  if c["entity"] == "device_state" and c["id"] == cid]
        # every change of the faults logged once: never the same twice in a row
        assert all(a != b for a, b in itertools.pairwise(states)), states
        assert states[-1] == []  # the last report is what the cloud has
        leaks = [c["data"] for c in log if c["entity"] == "incident"
                 and c["data"]["controller_id"] == cid]
        faulted = sum(1 for s in states if s)
        assert faulted >= 2, "the test never toggled the fault"
        # one incident, reopened on each recurrence: its count is the number of times it began
        assert {i["id"] for i in leaks} == {leaks[0]["id"]}
        assert leaks[-1]["count"] == faulted and leaks[-1]["state"] == "resolved"


def test_long_poll_wakes_across_two_workers(cloud: Cloud) -> None:
    cloud.workers = 2
    cloud.start()
    staff = _account(cloud)
    _cid, token = _device(cloud, staff)
    device = httpx.Client(base_url=cloud.url, headers={"Authorization": f"Bearer {token}"})
    device.post("/v1/device/heartbeat", json={"faults": []})
    waits = []
    for n in range(4):  # new connections each time: the two workers share them out
        cursor = staff.get("/v1/account").json()["change_cursor"]
        answer: dict[str, Any] = {}

        def poll(cursor: int = cursor, answer: dict[str, Any] = answer) -> None:
            with httpx.Client(base_url=cloud.url, headers=staff.headers, timeout=40) as c:
                answer.update(c.get("/v1/changes", params={"cursor": cursor, "wait": 25}).json())
                answer["at"] = time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.7)
        assert t.is_alive()
        with httpx.Client(base_url=cloud.url, headers=device.headers) as fresh:
            faulted = time.monotonic()
            fresh.post("/v1/device/heartbeat", json={"faults": [LEAK] if n % 2 == 0 else []})
        t.join(timeout=30)
        waits.append(answer["at"] - faulted)
        assert answer["changes"], answer
    assert max(waits) < 2.0, waits
