"""Two `fieldtech cloud serve` processes on two 127.0.0.1 ports, one PostgreSQL and nothing else
shared (issue 17): clients alternate between them as behind a load balancer, and every rule
that must hold for the whole service holds — quota, idempotent retries, the change-log cursor,
login and pairing limits, long-polls woken by the other node."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import PASSWORD, fresh_database, new_serial, problem

from fieldtech.domain.plans import Tier
from fieldtech.server.accounts import create_account
from fieldtech.server.change_feed import RECHECK_ENV
from fieldtech.server.db import Database, make_engine, migrate
from fieldtech.server.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
LONG_POLL_WAIT = 25  # seconds; the nodes look again only every 120 s, so only NOTIFY wakes


class Node:
    """One `fieldtech cloud serve` process (one worker) in its own process group."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> Node:
        # A port found free may be taken before the server binds it: then try another.
        for _attempt in range(5):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            env = {**os.environ, "PYTHONPATH": str(ROOT), RECHECK_ENV: "120"}
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fieldtech", "cloud", "serve", "--db", self.db_url,
                 "--host", "127.0.0.1", "--port", str(port)],
                env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            if self._up():
                return self
        raise AssertionError("the node did not start on any of 5 ports")

    def _up(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken: it exited
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the node did not answer within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Cluster:
    def __init__(self, db_url: str, nodes: list[Node]):
        self.db = Database(make_engine(db_url))
        self.nodes = nodes
        self._clients: list[httpx.Client] = []

    def clients(self, token: str | None = None) -> list[httpx.Client]:
        """One client per node, in node order (what a load balancer alternates between)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        made = [httpx.Client(base_url=n.url, headers=headers, timeout=60) for n in self.nodes]
        self._clients += made
        return made

    def account(self, tier: Tier = Tier.STARTER) -> tuple[str, str, list[httpx.Client]]:
        """A new account, signed in → (account id, e-mail, a client per node)."""
        email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
        made = create_account(self.db, email=email, password=PASSWORD, name="Two Node Co",
                              tier=tier)
        r = self.clients()[0].post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return made.account_id, email, self.clients(r.json()["token"])

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self.db.engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_database("postgres", tmp_path_factory.mktemp("two-nodes")) as url:
        engine = make_engine(url)
        migrate(engine)  # as a deployment does before it starts the nodes
        engine.dispose()
        nodes = [Node(url), Node(url)]
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(Node.start, nodes))
            made = Cluster(url, nodes)
            yield made
            made.close()
        finally:
            for node in nodes:
                node.stop()


def _new_controller(customer_id: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "customer_id": customer_id, "name": "Back lawn"}


def test_the_quota_race_across_nodes_lets_exactly_the_free_slots_in(cluster: Cluster) -> None:
    _, _, (a, b) = cluster.account(Tier.STARTER)  # 25 controllers
    customer = {"id": str(uuid.uuid4()), "name": "Race Estate"}
    assert a.post("/v1/customers", json=customer).status_code == 201
    items = [{"key": str(uuid.uuid4()), "op": "controller.create", "id": str(uuid.uuid4()),
              "data": _new_controller(customer["id"])} for _ in range(22)]
    r = b.post("/v1/sync/batch", json={"items": items})
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 22

    bodies = [_new_controller(customer["id"]) for _ in range(50)]
    start = threading.Barrier(50)

    def create(i: int) -> int:
        start.wait()
        return (a, b)[i % 2].post("/v1/controllers", json=bodies[i]).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(create, range(50)))
    assert statuses.count(201) == 3, statuses
    assert statuses.count(409) == 47, statuses
    for client in (a, b):
        assert client.get("/v1/account").json()["usage"]["controllers_used"] == 25
        assert len(client.get("/v1/controllers").json()["controllers"]) == 25


def test_a_batch_retried_on_the_other_node_applies_once(cluster: Cluster) -> None:
    _, _, (a, b) = cluster.account(Tier.CONTRACTOR)
    customer_id = str(uuid.uuid4())
    items = [{"key": str(uuid.uuid4()), "op": "customer.create", "id": customer_id,
              "data": {"name": "Retry Ranch"}}]
    items += [{"key": str(uuid.uuid4()), "op": "controller.create", "id": str(uuid.uuid4()),
               "data": _new_controller(customer_id)} for _ in range(4)]
    first = a.post("/v1/sync/batch", json={"items": items})
    again = b.post("/v1/sync/batch", json={"items": items})  # the answer was lost: retried
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert {x["status"] for x in first.json()["results"]} == {"applied"}
    # the same new batch sent to both nodes at the same moment: still once each
    twins = [{"key": str(uuid.uuid4()), "op": "controller.create", "id": str(uuid.uuid4()),
              "data": _new_controller(customer_id)} for _ in range(6)]
    start = threading.Barrier(2)

    def send(client: httpx.Client) -> dict[str, Any]:
        start.wait()
        return client.post("/v1/sync/batch", json={"items": twins}).json()

    with ThreadPoolExecutor(2) as pool:
        one, two = pool.map(send, (a, b))
    assert one == two and {x["status"] for x in one["results"]} == {"applied"}
    usage = b.get("/v1/account").json()["usage"]
    assert usage["controllers_used"] == 10
    entries = a.get("/v1/audit", params={"limit": 500}).json()["entries"]
    assert sum(e["action"] == "controller.create" for e in entries) == 10


def test_the_change_log_cursor_misses_nothing_while_both_nodes_write(cluster: Cluster) -> None:
    _, _, (a, b) = cluster.account(Tier.CONTRACTOR)
    cursor = a.get("/v1/account").json()["change_cursor"]
    made: list[str] = []

    def write(client: httpx.Client) -> None:
        for _ in range(30):
            customer = {"id": str(uuid.uuid4()), "name": "Cursor Court"}
            r = client.post("/v1/customers", json=customer)
            assert r.status_code == 201, r.text
            made.append(customer["id"])

    seen: list[tuple[int, str]] = []
    readers = itertools.cycle((a, b))

    def read_once() -> bool:
        nonlocal cursor
        r = next(readers).get("/v1/changes", params={"cursor": cursor, "limit": 7})
        assert r.status_code == 200, r.text
        page = r.json()
        seen.extend((c["seq"], c["id"]) for c in page["changes"])
        cursor = page["cursor"]
        return page["more"]

    writers = [threading.Thread(target=write, args=(c,)) for c in (a, b)]
    for w in writers:
        w.start()
    while any(w.is_alive() for w in writers):  # read while both nodes write
        read_once()
    for w in writers:
        w.join()
    while read_once():
        pass
    seqs = [seq for seq, _ in seen]
    assert seqs == sorted(set(seqs)), "every change once, in order"
    assert sorted(i for _, i in seen) == sorted(made) and len(made) == 60


def test_login_and_pairing_limits_hold_across_nodes(cluster: Cluster) -> None:
    _, email, _signed_in = cluster.account()
    anonymous = cluster.clients()
    # wrong passwords for one e-mail from one address: 10, then 429 — on whichever node
    for i in range(10):
        r = anonymous[i % 2].post("/v1/auth/login", json={"email": email, "password": "no"})
        problem(r, 401, "bad-credentials")
    for client in anonymous:  # one node alone would have allowed 10 of its own
        r = client.post("/v1/auth/login", json={"email": email, "password": "no"})
        problem(r, 429, "rate-limited")
        assert int(r.headers["Retry-After"]) >= 1
    # pairing from one address: 10 tries, then 429 on both nodes
    guess = {"code": "AAAA-BBBB", "serial": new_serial()}
    for i in range(10):
        problem(anonymous[i % 2].post("/v1/device/pair", json=guess), 422,
                "pairing-code-invalid")
    for client in anonymous:
        problem(client.post("/v1/device/pair", json=guess), 429, "rate-limited")


def test_a_long_poll_on_one_node_wakes_for_a_change_on_the_other(cluster: Cluster) -> None:
    _, _, (a, b) = cluster.account()
    cursor = a.get("/v1/account").json()["change_cursor"]
    answer: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        r = a.get("/v1/changes", params={"cursor": cursor, "wait": LONG_POLL_WAIT})
        answer["seconds"] = time.monotonic() - started
        answer["page"] = r.json()

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)  # the long-poll is waiting on node A
    customer = {"id": str(uuid.uuid4()), "name": "Notify Nursery"}
    assert b.post("/v1/customers", json=customer).status_code == 201
    waiting.join(timeout=LONG_POLL_WAIT + 30)
    assert [c["id"] for c in answer["page"]["changes"]] == [customer["id"]]
    # Woken, not timed out: node A looks again only every 120 s, so only node B's NOTIFY,
    # through PostgreSQL, can have ended the wait before it ran out.
    assert answer["seconds"] < LONG_POLL_WAIT, answer
