"""`GET /v1/changes?wait=`: answers at once when there is news, else wakes on the next change
(well within 2 s) without holding a database connection while it waits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from server_helpers import Account, Server, changes, cursor_now, paired_device, problem

LEAK = {"kind": "flow_high", "zone": 1, "detail": "Leak on zone 1"}


def test_answers_at_once_when_changes_exist(server: Server, acme: Account) -> None:
    acme.customer()
    started = time.monotonic()
    found, _ = changes(acme, 0, wait=25)
    assert found and time.monotonic() - started < 5  # not the 25 s it may wait
    problem(acme.http.get("/v1/changes", params={"wait": 31}), 422, "validation")


def test_waits_then_answers_empty_with_the_same_cursor(server: Server, acme: Account) -> None:
    cursor = cursor_now(acme)
    started = time.monotonic()
    found, new_cursor = changes(acme, cursor, wait=1)
    assert found == [] and new_cursor == cursor
    assert time.monotonic() - started >= 0.9


def test_wakes_within_two_seconds_of_a_heartbeat_fault(server: Server, acme: Account) -> None:
    device = paired_device(server, acme)
    device.beat(faults=[])
    cursor = cursor_now(acme)
    listening = threading.Event()

    def long_poll() -> tuple[list[dict], float]:
        listening.set()
        found, _ = changes(acme, cursor, wait=25)
        return found, time.monotonic()

    with ThreadPoolExecutor(max_workers=1) as pool:
        polled = pool.submit(long_poll)
        listening.wait()
        time.sleep(0.5)  # let the request reach the server and start waiting
        assert not polled.done()
        faulted = time.monotonic()
        device.beat(faults=[LEAK])
        found, returned = polled.result(timeout=25)
    assert returned - faulted < 2.0
    assert "incident" in {c["entity"] for c in found}


def test_waiting_long_polls_hold_no_database_connection(server: Server, acme: Account) -> None:
    cursor = cursor_now(acme)
    pool = server.db.engine.pool
    with ThreadPoolExecutor(max_workers=5) as threads:
        polls = [threads.submit(changes, acme, cursor, wait=3) for _ in range(5)]
        time.sleep(1.0)
        held = []
        for _ in range(10):  # the sweeper may hold one for a moment; five waits would hold five
            held.append(pool.checkedout())
            time.sleep(0.05)
        assert min(held) == 0, held
        assert all(p.result(timeout=10)[0] == [] for p in polls)
