"""The reference cloud on a real 127.0.0.1 port (uvicorn, SQLite file) that simulated
controllers pair with and heartbeat to.

The server does not keep what a heartbeat says beyond its status columns (faults, results,
uptime are not stored on this branch), so the app is wrapped in a small recording ASGI layer:
every request under /v1/device/ is kept with its headers, JSON body and answer status. That is
what the cloud received, byte for byte; nothing is answered by the recorder itself.

The server can be stopped and started again on the same port and database (a dead cloud).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from fieldtech.controller_link.safety import LOOPBACK_ONLY_ENV
from fieldtech.domain.plans import Tier
from fieldtech.server.accounts import create_account
from fieldtech.server.app import create_app
from fieldtech.server.embedded import free_port
from fieldtech.server.ratelimit import Rate
from fieldtech.server.state import Limits

os.environ[LOOPBACK_ONLY_ENV] = "1"
PASSWORD = "correct horse battery"
# Generous, so tests beating every 0.1 s measure the loop, not the limiter (one test has its own)
ROOMY = Limits(user=Rate(1000, 1000), device=Rate(1000, 1000), login=Rate(1000, 1000),
               pairing=Rate(1000, 1000))


@dataclass
class Seen:
    """One device request as the cloud received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float  # time.monotonic() when the answer was sent
    answer_headers: dict[str, str] = field(default_factory=dict)


class RecordingApp:
    """ASGI middleware keeping every /v1/device/ request and its answer's status."""

    def __init__(self, app: Any, seen: list[Seen]):
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/device/"):
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        status: list[int] = []
        answer_headers: dict[str, str] = {}

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                answer_headers.update((k.decode("latin-1"), v.decode("latin-1"))
                                      for k, v in message.get("headers", []))
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        raw = b"".join(chunks)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.seen.append(Seen(scope["method"], scope["path"], headers,
                              json.loads(raw) if raw else None, status[0] if status else 0,
                              time.monotonic(), answer_headers))


class LiveCloud:
    """The reference server on a fixed free port; `stop()` and `start()` again at will."""

    def __init__(self, db_path: Path, limits: Limits = ROOMY):
        self.db_url = f"sqlite:///{db_path}"
        self.limits = limits
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[Seen] = []
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveCloud:
        self.app = create_app(self.db_url, limits=self.limits)
        config = uvicorn.Config(RecordingApp(self.app, self.seen), host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="on",
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name=f"cloud-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "no cloud"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(20)
        self.app.state.server.db.engine.dispose()
        self._server = None

    @property
    def db(self) -> Any:
        return self.app.state.server.db

    def heartbeats(self, status: int | None = None) -> list[Seen]:
        return [s for s in list(self.seen) if s.path == "/v1/device/heartbeat"
                and (status is None or s.status == status)]

    def account(self) -> Staff:
        email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
        create_account(self.db, email=email, password=PASSWORD, name="Green Thumb",
                       tier=Tier.CONTRACTOR)
        r = httpx.post(f"{self.url}/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        return Staff(self, token, httpx.Client(base_url=self.url, timeout=30,
                                               headers={"Authorization": f"Bearer {token}"}))


@dataclass
class Staff:
    """A contractor signed in to the cloud (sync httpx: a few quick calls per test)."""

    cloud: LiveCloud
    token: str
    http: httpx.Client
    made: list[str] = field(default_factory=list)

    def controller(self, name: str = "Front yard", zones: int = 8,
                   serial: str | None = None, model: str = "FT-8") -> dict[str, Any]:
        customer = self.http.post("/v1/customers",
                                  json={"id": str(uuid.uuid4()), "name": f"Customer of {name}"})
        assert customer.status_code == 201, customer.text
        body = {"id": str(uuid.uuid4()), "customer_id": customer.json()["id"], "name": name,
                "zone_count": zones, "serial": serial, "model": model}
        r = self.http.post("/v1/controllers", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def pairing_code(self, controller_id: str) -> str:
        r = self.http.post(f"/v1/controllers/{controller_id}/pairing-code")
        assert r.status_code == 200, r.text
        return r.json()["code"]

    def status(self, controller_id: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/controllers/{controller_id}/status")
        assert r.status_code == 200, r.text
        return r.json()


async def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Wait until `check()` is truthy (→ its value): a deadline for a hung loop, not a budget."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
