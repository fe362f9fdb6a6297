"""The live triage rig for bench_triage.py: the reference cloud in-process on 127.0.0.1 (SQLite
file), a contractor account, a simulated native controller paired with one of its records (a
Priority customer), and a second client: the fieldtech app, headless, with its own store,
long-polling the cloud as it does over SSH. Everything stops when the rig closes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from fieldtech.app import FieldtechApp
from fieldtech.cloud.api import CloudAPI
from fieldtech.domain.plans import Tier
from fieldtech.offline_store import Store
from fieldtech.screens.triage import TriageScreen
from fieldtech.server.accounts import create_account
from fieldtech.server.embedded import EmbeddedServer
from fieldtech.services.settings import Settings
from fieldtech.simulator import Simulator

PASSWORD = "correct horse battery"


class LiveRig:
    def __init__(self, directory: Path, heartbeat_s: float | None = 30.0,
                 cloud_heartbeat_s: int | None = None, sweep_every: float | None = None):
        self.directory = directory
        # The device's own period (faults are reported at once anyway); None: the cloud's.
        self.heartbeat_s = heartbeat_s
        self.cloud_heartbeat_s, self.sweep_every = cloud_heartbeat_s, sweep_every

    async def __aenter__(self) -> LiveRig:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.server = EmbeddedServer(f"sqlite:///{self.directory / 'cloud.sqlite3'}").start()
        state = self.server.app.state.server
        if self.cloud_heartbeat_s:  # a short period, to measure offline detection quickly
            state.heartbeat_s = self.cloud_heartbeat_s
        if self.sweep_every:
            state.sweep_every = self.sweep_every
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        create_account(self.server.db, email=email, password=PASSWORD, name="Bench Irrigation",
                       tier=Tier.GOLD)
        with CloudAPI(self.server.url) as api:
            self.token = api.login(email, PASSWORD)["token"]
        self.http = httpx.Client(base_url=self.server.url, timeout=30,
                                 headers={"Authorization": f"Bearer {self.token}"})
        customer = self._post("/v1/customers", {"id": str(uuid.uuid4()), "name": "Ana Chen",
                                                "membership": "priority"})
        self.controller = self._post("/v1/controllers", {
            "id": str(uuid.uuid4()), "customer_id": customer["id"], "name": "Front yard",
            "zone_count": 8})
        self.sim = Simulator(count=1, data_dir=self.directory / "devices", advertise=False,
                             heartbeat_s=self.heartbeat_s)
        await self.sim.__aenter__()
        self.device = self.sim.devices[0]
        code = self._post(f"/v1/controllers/{self.controller['id']}/pairing-code", {})["code"]
        await self.device.cloud.pair(self.server.url, code)

        self.store = Store(self.directory / "client.db")
        url, token = self.server.url, self.token
        self.app = FieldtechApp(self.store, Settings.load(self.directory / "config"),
                                self.directory / "data", cloud=lambda: CloudAPI(url, token),
                                sync_every_s=60)
        self._run = self.app.run_test(size=(80, 24))
        self.pilot = await self._run.__aenter__()
        await self._until(lambda: self.controller["id"] in self.app.rows_by_id, 30)
        await self.pilot.press("exclamation_mark")
        await self._until(lambda: isinstance(self.app.screen, TriageScreen)
                          and self.app.screen.query("#triage-list"), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._run.__aexit__(None, None, None)
        await self.sim.__aexit__(None, None, None)
        self.store.close()
        self.http.close()
        self.server.stop()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def _rows(self) -> int:
        screen = self.app.screen
        return screen.table.row_count if isinstance(screen, TriageScreen) else -1

    async def _until(self, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the rig did not get there in time")
            await asyncio.sleep(0.005)

    async def fault_to_row(self, kind: str, zone: int) -> float:
        """Seconds from the fault injected on the device to its row in the triage list."""
        before = self._rows()
        started = time.perf_counter()
        self.device.cloud.inject_fault(kind, zone=zone)
        await self._until(lambda: self._rows() > before, 30)
        await self.pilot.pause()  # and painted: the frame after the list changed
        return time.perf_counter() - started

    async def offline_to_row(self) -> float:
        """Seconds from the device's heartbeats stopping to "Offline" in the triage list."""
        started = time.perf_counter()
        self.device.cloud.go_offline()
        await self._until(lambda: any("Offline" in "".join(t for t, _ in self.app.screen.table
                                                           .line_parts(i, 78))
                                      for i in range(max(0, self._rows()))), 600)
        await self.pilot.pause()
        return time.perf_counter() - started

    async def recover_and_settle(self) -> None:
        self.device.cloud.recover()
        await self._until(lambda: self._rows() == 0, 30)
        await asyncio.sleep(0.3)
