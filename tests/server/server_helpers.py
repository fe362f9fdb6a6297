"""Helpers for the server tests: the running server, signed-in accounts, problem checks."""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from fieldtech.domain.documents import DocumentKind, register
from fieldtech.domain.errors import FieldError
from fieldtech.domain.plans import Tier, TierLimits
from fieldtech.domain.validation import check_int, check_name
from fieldtech.server.accounts import create_account, issue_plan_codes
from fieldtech.server.db import Database
from fieldtech.server.ratelimit import Rate
from fieldtech.server.state import Limits, utcnow

PASSWORD = "correct horse battery"
# Generous limits so the tests measure behaviour, not the limiter (which has its own tests).
TEST_LIMITS = Limits(
    user=Rate(per_second=1000, burst=1000),
    device=Rate(per_second=1000, burst=1000),
    login=Rate(per_second=0.2, burst=10),
    login_address=Rate(per_second=1000, burst=1000),  # every test signs in from 127.0.0.1
    plan_code=Rate(per_second=1000, burst=1000),
    pairing=Rate(per_second=1000, burst=1000),
)


class Clock:
    """The server's clock, which a test may move forward (offline after 3 missed heartbeats)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Server:
    backend: str
    base_url: str
    db: Database
    clock: Clock
    app: Any
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def account(self, tier: Tier = Tier.STARTER, custom: TierLimits | None = None) -> Account:
        """A new contractor account and a client signed in as its admin."""
        email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
        new = create_account(
            self.db,
            email=email,
            password=PASSWORD,
            name=f"Contractor {email[6:12]}",
            tier=tier,
            custom=custom,
        )
        token = self.login(email)
        return Account(self, new.account_id, email, token, self.client(token))

    def login(self, email: str, password: str = PASSWORD) -> str:
        r = self.client().post("/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def plan_codes(self, n: int) -> list[str]:
        return issue_plan_codes(self.db, n)


@dataclass
class Account:
    server: Server
    id: str
    email: str
    token: str
    http: httpx.Client

    def customer(self, name: str = "Ada Lovelace", **fields: Any) -> dict[str, Any]:
        r = self.http.post("/v1/customers", json={"id": str(uuid.uuid4()), "name": name, **fields})
        assert r.status_code == 201, r.text
        return r.json()

    def controller(self, customer_id: str, name: str = "Front yard", **fields: Any) -> dict:
        body = {"id": str(uuid.uuid4()), "customer_id": customer_id, "name": name, **fields}
        r = self.http.post("/v1/controllers", json=body)
        assert r.status_code == 201, r.text
        return r.json()


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert `r` is an RFC 9457 problem of this status and type; return its body."""
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == f"https://fieldtech.dev/problems/{slug}", body
    assert body["status"] == status
    return body


def new_serial() -> str:
    """A serial no other test uses (serials are unique across the whole service)."""
    return "FT1-" + uuid.uuid4().hex[:10].upper()


def unlinked_customer(
    server: Server, owner: Account, controllers: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]], httpx.Client]:
    """A customer with a login and `controllers` (serials bound), who then left `owner`:
    → (customer, controllers, a client signed in as the customer)."""
    email = f"family-{uuid.uuid4().hex[:8]}@example.com"
    customer = owner.customer("Family", email=email, self_management="modify")
    made = [owner.controller(customer["id"], serial=new_serial()) for _ in range(controllers)]
    r = owner.http.post(
        f"/v1/customers/{customer['id']}/users", json={"email": email, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    home = server.client(server.login(email))
    assert owner.http.post(f"/v1/customers/{customer['id']}/unlink").status_code == 200
    return customer, made, home


@dataclass
class Device:
    """A controller paired with the cloud, and a client holding its device token."""

    id: str
    customer_id: str
    serial: str
    http: httpx.Client

    def beat(self, **report: Any) -> dict[str, Any]:
        r = self.http.post("/v1/device/heartbeat", json=report)
        assert r.status_code == 200, r.text
        return r.json()


def paired_device(
    server: Server, owner: Account, customer_id: str | None = None, zone_count: int = 8
) -> Device:
    """A new controller (of a new customer unless given) paired as its hardware would."""
    customer_id = customer_id or owner.customer()["id"]
    controller = owner.controller(customer_id, zone_count=zone_count)
    code = owner.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    serial = new_serial()
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": serial})
    assert r.status_code == 200, r.text
    return Device(controller["id"], customer_id, serial, server.client(r.json()["device_token"]))


def changes(account: Account, cursor: int = 0, **params: Any) -> tuple[list[dict], int]:
    """The account's change-log entries after `cursor`, and the new cursor."""
    r = account.http.get("/v1/changes", params={"cursor": cursor, "limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["changes"], r.json()["cursor"]


def cursor_now(account: Account) -> int:
    return account.http.get("/v1/account").json()["change_cursor"]


def postgres_url() -> str | None:
    url = os.environ.get("FIELDTECH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the server tests on PostgreSQL: source .ci/postgres.sh")
        pytest.skip("FIELDTECH_TEST_POSTGRES_URL is not set (see .ci/postgres.sh)")
    return url


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of this backend (a SQLite file in `directory`); dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'cloud.sqlite3'}"
        return
    base = make_url(postgres_url())
    name = f"ft_test_{uuid.uuid4().hex[:12]}"  # a fresh database per run
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(base, name)


def drop_database(base: URL, name: str) -> None:
    """Drop a test database, even while an autovacuum worker is in it.

    `WITH (FORCE)` ends the other sessions in it, but PostgreSQL 15 refuses to end an
    autovacuum worker for a role that is not a member of pg_signal_backend ("must be a member
    of the role whose process is being terminated"): a test that wrote a lot is exactly when
    autovacuum arrives (a clean-clone CI run lost a whole submission to it). A plain DROP asks
    autovacuum to leave and waits for it, so that is the fallback, retried for a few seconds;
    a database still held after that is left behind with a warning rather than failing a test
    that passed (they are named ft_test_*/ft_mig_* and cost nothing but disk).
    """
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        last: Exception | None = None
        for statement in [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'] + \
                [f'DROP DATABASE IF EXISTS "{name}"'] * 10:
            try:
                with admin.connect() as conn:
                    conn.execute(text(statement))
                return
            except DBAPIError as error:
                last = error
                time.sleep(0.5)
        warnings.warn(f"test database {name} was left behind: {last}", stacklevel=2)
    finally:
        admin.dispose()


def _note_errors(data: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    check_name(errors, "title", data.get("title"), "note")
    if "cents" in data:
        check_int(errors, "cents", data["cents"], 0, 10**9)
    return errors


# Two document kinds for the server's tests: one every staff member handles, one only those who
# may see money (the billing permission), both tied to a customer.
NOTE = register(DocumentKind("test_note", _note_errors, customer_field="customer_id"))
LEDGER = register(DocumentKind("test_ledger", _note_errors, customer_field="customer_id",
                               permission="billing"))


def document(account: Account, kind: str = "test_note", /, **data: Any) -> dict[str, Any]:
    """A document made over REST (201 asserted); the test kinds get a title by default."""
    if kind.startswith("test_"):
        data = {"title": "Visit", **data}
    body = {"id": str(uuid.uuid4()), "kind": kind, "data": data}
    r = account.http.post("/v1/documents", json=body)
    assert r.status_code == 201, r.text
    return r.json()
