"""Sync through trouble: a flaky network, a dead cloud, and a client killed mid-sync."""

from __future__ import annotations

import email.utils
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flaky_network import FlakyProxy

from fieldtech.cloud.api import CloudAPI, RetryPolicy, _retry_after
from fieldtech.cloud.sync import SyncEngine
from fieldtech.domain.errors import CloudUnavailable
from fieldtech.domain.models import Controller, ControllerConfig, new_id
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.store import QUEUED, Store


def _edit_many(store: Store, n: int) -> dict[str, tuple[str, int]]:
    """n controllers get a note and zone 1 minutes; returns what each should end with."""
    want = {}
    for i, row in enumerate(store.fleet_rows()[:n]):
        config = store.controller(row.controller_id).config
        config.zones[0].run_minutes = 100 + i
        store.update_controller(row.controller_id, notes=f"visit {i}", config=config)
        want[row.controller_id] = (f"visit {i}", 100 + i)
    return want


def _assert_cloud_has(account, want: dict[str, tuple[str, int]]) -> None:
    for cid, (notes, minutes) in want.items():
        assert account.get(f"/v1/controllers/{cid}")["notes"] == notes
        assert account.get(f"/v1/controllers/{cid}/config")["config"]["zones"][0][
            "run_minutes"] == minutes


def test_flaky_network_500_429_drops_and_lost_answers(seeded, store: Store) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    want = _edit_many(store, 12)
    faults = ["500", "drop", "ok", "429", "lost", "500", "lost", "drop", "429"]
    with FlakyProxy(account.url, faults) as proxy:
        api = CloudAPI(proxy.url, account.token,
                       retry=RetryPolicy(attempts=8, base_s=0.01, cap_s=0.05))
        report = SyncEngine(store, api, batch_size=5).sync()
    assert report.error is None, report.error
    assert not proxy.faults, "every fault was met"
    assert {"lost", "drop", "500", "429"} <= set(proxy.seen)
    assert store.pending_count() == 0 and not report.needs_attention
    _assert_cloud_has(account, want)
    # "lost" answers were applied upstream and sent again: the idempotency keys kept them to
    # one application each — one config update per controller in the audit log.
    for cid in want:
        entries = account.get(f"/v1/controllers/{cid}/audit")["entries"]
        assert sum(e["action"] == "config.update" for e in entries) == 1


def test_a_dead_cloud_stops_the_sync_and_keeps_the_outbox(seeded, store: Store) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    _edit_many(store, 3)
    before = [(e.id, e.state) for e in store.outbox()]
    with FlakyProxy(account.url, ["500"] * 50) as proxy:
        api = CloudAPI(proxy.url, account.token,
                       retry=RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02))
        report = SyncEngine(store, api).sync()
    assert report.error and "Cannot reach the cloud" in report.error
    assert "stay queued" in report.error
    assert [(e.id, e.state) for e in store.outbox()] == before
    assert all(state == QUEUED for _, state in before)


@pytest.mark.parametrize("portal", ["html", "redirect"])
def test_a_captive_portal_is_named_at_once_and_keeps_the_outbox(seeded, store: Store,
                                                                portal: str) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    _edit_many(store, 3)
    before = [(e.id, e.state) for e in store.outbox()]
    with FlakyProxy(account.url, [portal] * 5) as proxy:
        api = CloudAPI(proxy.url, account.token,
                       retry=RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02))
        report = SyncEngine(store, api).sync()
    assert proxy.seen == [portal]  # a sign-in page does not go away by asking again
    assert report.unreachable and not report.signed_out
    assert f"The server at {proxy.url} did not answer as a fieldtech cloud: " in report.error
    assert ("text/html that is not JSON (HTTP 200)" if portal == "html"
            else "redirects to http://portal.example/login (HTTP 302)") in report.error
    assert "stay queued" in report.error
    assert [(e.id, e.state) for e in store.outbox()] == before


@pytest.mark.parametrize("where", [["json"], ["ok", "json"]], ids=["pull", "push"])
def test_json_of_the_wrong_shape_is_a_clear_error_and_keeps_the_outbox(
        seeded, store: Store, where: list[str]) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    want = _edit_many(store, 3)
    total = store.pending_count()
    with FlakyProxy(account.url, where) as proxy:
        report = SyncEngine(store, CloudAPI(proxy.url, account.token)).sync()
    assert proxy.seen[:len(where)] == where
    assert report.unreachable and "did not answer as a fieldtech cloud" in report.error, (
        report.error)
    assert store.pending_count() == total  # nothing dropped, nothing taken as applied
    report = SyncEngine(store, account.api()).sync()
    assert report.error is None and report.applied == total and store.pending_count() == 0
    _assert_cloud_has(account, want)


def test_a_cloud_failing_mid_pull_keeps_the_pages_that_came_before(seeded, tmp_path: Path
                                                                    ) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)  # the log: 10 customers, then 30 controllers,
    # each with its configuration: 70 changes, 7 pages of 10
    with FlakyProxy(account.url, []) as proxy, Store(tmp_path / "whole.db") as whole:
        SyncEngine(whole, CloudAPI(proxy.url, account.token), page_size=10).sync()
        want = sorted((r.controller_id, r.name) for r in whole.fleet_rows())
    pages = [i for i, path in enumerate(proxy.paths) if path.startswith("/v1/changes")]
    assert len(pages) == 7, proxy.paths
    slowed: list[int] = []

    def busy_store(progress: object) -> None:  # pages 2 to 4 and the broken 5th come meanwhile
        if not slowed:
            slowed.append(1)
            time.sleep(0.5)

    with FlakyProxy(account.url, ["ok"] * pages[4] + ["json"]) as proxy, \
            Store(tmp_path / "cut.db") as store:
        report = SyncEngine(store, CloudAPI(proxy.url, account.token), page_size=10,
                            progress=busy_store).sync()
        assert report.unreachable and "did not answer as a fieldtech cloud" in report.error
        assert proxy.seen[pages[4]] == "json"
        # the four pages before the broken one are written, with their cursor
        assert store.counts() == (10, 15)
        assert SyncEngine(store, account.api(), page_size=10).sync().error is None
        assert sorted((r.controller_id, r.name) for r in store.fleet_rows()) == want


def test_an_item_the_clouds_database_fails_on_goes_again_next_time(seeded, store: Store,
                                                                     cloud) -> None:
    from sqlalchemy import text

    from fieldtech.domain.models import Customer

    account = seeded(10, 30, Tier.CONTRACTOR)
    engine = SyncEngine(store, account.api())
    engine.sync()
    busy, fine = Customer(id=new_id(), name="Refused: busy"), Customer(id=new_id(), name="Fine")
    store.create_customer(busy)
    store.create_customer(fine)
    # A real trigger in the cloud's SQLite: inserting this name fails inside the database.
    with cloud.db.write_connection() as conn:
        conn.execute(text("CREATE TRIGGER ft_test_busy BEFORE INSERT ON customer "
                          "WHEN NEW.name = 'Refused: busy' BEGIN SELECT json('not json'); END"))
    try:
        report = engine.sync()
    finally:
        with cloud.db.write_connection() as conn:
            conn.execute(text("DROP TRIGGER ft_test_busy"))
    assert report.retry_later == 1 and not report.needs_attention, report.summary()
    assert [e.state for e in store.outbox_for("customer", busy.id)] == [QUEUED]
    assert account.get(f"/v1/customers/{fine.id}")["name"] == "Fine"  # the rest went in
    report = engine.sync()
    assert report.error is None and report.applied == 1, report.summary()
    assert account.get(f"/v1/customers/{busy.id}")["name"] == "Refused: busy"


def test_an_account_answer_of_the_wrong_shape_is_a_clear_error(seeded, store: Store) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    # A first sync: the account (passes: the store becomes its), the change log (passes),
    # nothing to push, then the account's usage (wrong shape).
    with FlakyProxy(account.url, ["ok", "ok", "json"]) as proxy:
        report = SyncEngine(store, CloudAPI(proxy.url, account.token)).sync()
    assert proxy.seen[:3] == ["ok", "ok", "json"]
    assert report.unreachable and "did not answer as a fieldtech cloud" in report.error
    assert "its account has no" in report.error
    assert store.counts() == (10, 30)  # the pulled page stays
    assert SyncEngine(store, account.api()).sync().error is None


def test_a_portal_page_instead_of_the_push_answer_is_sent_again_next_time(
        seeded, store: Store) -> None:
    account = seeded(10, 30, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    want = _edit_many(store, 3)
    total = store.pending_count()
    with FlakyProxy(account.url, ["ok", "html"]) as proxy:  # the pull passes, the push not
        report = SyncEngine(store, CloudAPI(proxy.url, account.token)).sync()
    assert proxy.seen == ["ok", "html"]
    assert report.unreachable and "did not answer as a fieldtech cloud" in report.error
    assert store.pending_count() == total  # nothing dropped, nothing taken as applied
    report = SyncEngine(store, account.api()).sync()
    assert report.error is None and report.applied == total and store.pending_count() == 0
    _assert_cloud_has(account, want)


def test_a_cloud_that_keeps_answering_429_is_called_busy_not_unreachable(new_account) -> None:
    account = new_account()
    with FlakyProxy(account.url, ["429"] * 3) as proxy:
        api = CloudAPI(proxy.url, None, retry=RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02))
        with pytest.raises(CloudUnavailable) as refused:
            api.login(account.email, account.password)
        assert proxy.seen == ["429"] * 3 and not proxy.faults
        # The next try gets through: busy was the right word, and nothing was half done.
        assert api.login(account.email, account.password)["token"]
    assert "busy (too many requests)" in refused.value.reason
    assert "Cannot reach" not in refused.value.reason

def _in_seconds(seconds: float) -> str:
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=seconds),
                                       usegmt=True)


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_a_429_is_retried_no_sooner_than_retry_after_says(new_account, form: str) -> None:
    account = new_account()
    # "1", or an HTTP date 2 s ahead (whole seconds: between 1 and 2 s from now)
    wait = "1" if form == "seconds" else (lambda: _in_seconds(2))
    with FlakyProxy(account.url, ["429"], retry_after=wait) as proxy:
        # backoff alone would be at most 0.02 s: only Retry-After explains a longer wait
        api = CloudAPI(proxy.url, account.token,
                       retry=RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02))
        started = time.monotonic()
        assert api.account()["id"] == account.account_id
        elapsed = time.monotonic() - started
    assert proxy.seen == ["429", "ok"]
    gap = proxy.arrived[1] - proxy.arrived[0]
    assert 0.9 <= gap <= elapsed < 10, (gap, elapsed)  # waited, and not for minutes


def test_retry_after_reads_both_forms() -> None:
    def asked(value: str) -> float | None:
        return _retry_after(httpx.Response(429, headers={"Retry-After": value}))

    assert asked("7") == 7.0
    assert 55 <= asked(_in_seconds(60)) <= 60
    assert asked(_in_seconds(3600)) == 300.0  # at most five minutes
    assert asked("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date gone by: no wait
    assert asked("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0
    assert asked("-3") == 0.0
    assert asked("soon") is None and asked("nan") is None and asked("") is None


# A child that syncs in small batches through the proxy; the parent kills it with SIGKILL while
# one of its batches is provably in flight (the proxy holds it), or just after an answer.
CHILD = """
import sys
from fieldtech.cloud.api import CloudAPI
from fieldtech.cloud.sync import SyncEngine
from fieldtech.offline_store.store import Store
store = Store(sys.argv[1])
report = SyncEngine(store, CloudAPI(sys.argv[2], sys.argv[3]), batch_size=2).sync()
print(report.summary(), flush=True)
"""
# "unsent": killed before the batch reached the server; "applied": the server applied it and
# the answer never came back; "answered": killed while settling the answer or claiming the next.
KILL_MOMENTS = ("applied", "unsent", "answered")


def test_kill_9_mid_sync_loses_nothing_and_applies_nothing_twice(seeded, tmp_path: Path) -> None:
    account = seeded(10, 40, Tier.CONTRACTOR)
    path = tmp_path / "killed.db"
    with Store(path) as store:
        SyncEngine(store, account.api()).sync()
        want = _edit_many(store, 25)
        owner = store.fleet_rows()[0].customer_id
        made = []
        for i in range(6):
            c = Controller(id=new_id(), customer_id=owner, name=f"New {i}", zone_count=4,
                           config=ControllerConfig.default_for(4))
            store.create_controller(c)
            made.append(c.id)
        total = store.pending_count()
    rnd = random.Random(4)
    mid_sync = in_flight = 0  # kills before the child's summary; of those, with a batch held
    with FlakyProxy(account.url, []) as proxy:
        for round_ in range(9):
            moment = KILL_MOMENTS[round_ % len(KILL_MOMENTS)]
            proxy.hold_batch(rnd.randint(1, 3), moment)  # the first may be a resend
            child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), proxy.url,
                                      account.token], stdout=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 30
            while (not proxy.reached.wait(0.01) and child.poll() is None
                   and time.monotonic() < deadline):
                pass
            killed = proxy.reached.is_set() and child.poll() is None
            if killed:
                if moment == "answered":
                    time.sleep(rnd.random() * 0.02)
                child.send_signal(signal.SIGKILL)
            out, _ = child.communicate(timeout=30)
            proxy.release()
            with Store(path) as store:
                unanswered, left = len(store.sending()), store.pending_count()
            if killed and not out:  # it never got to its summary: the kill landed mid-sync
                mid_sync += 1
                # its claimed entries still wait for an answer: the kill met the batch in flight
                in_flight += moment != "answered" and unanswered > 0
            if left == 0:
                break
    assert in_flight >= 4, f"only {in_flight} kills met a batch in flight ({mid_sync} mid-sync)"
    assert mid_sync >= 6, f"only {mid_sync} kills landed before the sync finished"
    with Store(path) as store:  # one last, uninterrupted sync
        report = SyncEngine(store, account.api()).sync()
        assert report.error is None and not report.needs_attention, report.summary()
        assert store.pending_count() == 0, f"{total} edits, {store.pending_count()} left"
    _assert_cloud_has(account, want)
    for cid in made:
        assert account.get(f"/v1/controllers/{cid}")["zone_count"] == 4
    for cid in want:
        entries = account.get(f"/v1/controllers/{cid}/audit")["entries"]
        assert sum(e["action"] == "config.update" for e in entries) == 1
        assert sum(e["action"] == "controller.update" for e in entries) == 1
    assert account.get("/v1/account")["usage"]["controllers_used"] == 46
