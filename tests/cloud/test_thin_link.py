"""Sync on a thin link (issue 17): gzip both ways, negotiated; a first sync killed halfway goes
on where it stopped; progress while a long sync runs. The real server on 127.0.0.1, real
SQLite stores, a real child process killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from fieldtech.cli import main
from fieldtech.cloud import sync
from fieldtech.cloud.link import CloudLink, LinkState
from fieldtech.cloud.sync import SyncEngine, SyncProgress
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.paths import data_dir, store_path
from fieldtech.offline_store.store import Store


def _fleet(store: Store) -> list[tuple]:
    return sorted((r.customer_id, r.controller_id, r.name) for r in store.fleet_rows())


def test_a_compressed_and_an_uncompressed_client_sync_alike_with_one_server(
        seeded, tmp_path: Path) -> None:
    account = seeded(30, 120, Tier.SILVER)
    plain_api, gzip_api = account.api(compress=False), account.api()
    plain, packed = Store(tmp_path / "plain.db"), Store(tmp_path / "gzip.db")
    first_plain = SyncEngine(plain, plain_api).sync()
    first_gzip = SyncEngine(packed, gzip_api).sync()
    assert first_plain.error is None and first_gzip.error is None
    assert _fleet(plain) == _fleet(packed) and plain.counts() == (30, 120)
    # the same records, in a fraction of the bytes (configurations compress about 10×)
    assert first_gzip.bytes_received * 4 < first_plain.bytes_received, (
        first_gzip.bytes_received, first_plain.bytes_received)
    # the server said it takes gzip bodies; the client that asked for none never sends one
    assert gzip_api.gzip_bodies and not plain_api.gzip_bodies

    # a large batch each way up: 60 configurations from each client, different zones
    mine = [r.controller_id for r in packed.fleet_rows()][:60]
    for store, zone, minutes in ((packed, 1, 33), (plain, 2, 44)):
        for cid in mine:
            config = store.controller(cid).config
            config.zones[zone - 1].run_minutes = minutes
            store.update_controller(cid, config=config)
    push_gzip = SyncEngine(packed, gzip_api).sync()
    push_plain = SyncEngine(plain, plain_api).sync()
    assert push_gzip.error is None and push_plain.error is None
    assert push_gzip.applied == push_plain.applied == 60  # the second rebased on the first
    assert push_gzip.bytes_sent * 3 < push_plain.bytes_sent, (
        push_gzip.bytes_sent, push_plain.bytes_sent)
    for cid in mine[:5]:
        zones = account.get(f"/v1/controllers/{cid}/config")["config"]["zones"]
        assert (zones[0]["run_minutes"], zones[1]["run_minutes"]) == (33, 44)
    SyncEngine(packed, gzip_api).sync()
    assert packed.controller(mine[0]).config.zone(2).run_minutes == 44


CHILD = """
import sys, time
from fieldtech.cloud.api import CloudAPI
from fieldtech.cloud.sync import SyncEngine
from fieldtech.offline_store.store import Store

def told(p):
    print(p.records, flush=True)
    time.sleep(0.05)  # a thin link: the parent's kill lands wherever the sync is by then

SyncEngine(Store(sys.argv[1]), CloudAPI(sys.argv[2], sys.argv[3]), page_size=20,
           progress=told).sync()
print("done", flush=True)
"""


def test_a_first_sync_killed_halfway_goes_on_where_it_stopped(seeded, tmp_path: Path) -> None:
    account = seeded(60, 240, Tier.SILVER)
    total = 60 + 2 * 240  # the log: each customer, each controller and its configuration
    with Store(tmp_path / "whole.db") as whole:  # the same sync, uninterrupted, for comparison
        full = SyncEngine(whole, account.api(), page_size=20).sync()
        want = _fleet(whole)
    path = tmp_path / "killed.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), account.url,
                              account.token], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        assert line.strip() != "done", "the sync ended before it was killed"
        if int(line) >= total // 2:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with Store(path) as store:
        cursor = int(store.sync_value("cursor") or 0)
        assert total // 3 < cursor < total, cursor  # what it had written is kept
        assert store.counts()[1] < 240
        pulled: list[SyncProgress] = []
        resumed = SyncEngine(store, account.api(), page_size=20, progress=pulled.append).sync()
        assert resumed.error is None, resumed.error
        # exactly the changes after the cursor: nothing it had was downloaded again
        assert pulled[-1].phase == "pull" and pulled[-1].records == total - cursor
        assert resumed.bytes_received < full.bytes_received * 0.7, (
            resumed.bytes_received, full.bytes_received)
        assert _fleet(store) == want and store.counts() == (60, 240)


def test_pages_fetched_while_the_store_is_busy_are_written_together(seeded, tmp_path: Path,
                                                                    monkeypatch) -> None:
    account = seeded(60, 240, Tier.SILVER)
    total = 60 + 2 * 240
    monkeypatch.setattr(sync, "WRITE_AT_ONCE", 100)
    with Store(tmp_path / "whole.db") as whole:  # one page a transaction, for comparison
        SyncEngine(whole, account.api(), page_size=20).sync()
        want = _fleet(whole)
    api = account.api()
    told: list[int] = []

    def busy_writer(progress: SyncProgress) -> None:
        told.append(progress.records)
        if len(told) == 1:  # the store is busy: the fetching goes on until PAGES_AHEAD
            # pages wait (some may have come already): until that many more were asked, or
            # none for a second
            asked, seen, quiet_since = api.requests, api.requests, time.monotonic()
            while api.requests < asked + sync.PAGES_AHEAD and \
                    time.monotonic() - quiet_since < 1.0:
                if api.requests != seen:
                    seen, quiet_since = api.requests, time.monotonic()
                time.sleep(0.02)
            time.sleep(0.1)  # the last of them decoded and put in the queue

    with Store(tmp_path / "grouped.db") as store:
        report = SyncEngine(store, api, page_size=20, progress=busy_writer).sync()
        assert report.error is None, report.error
        steps = [b - a for a, b in zip([0, *told], told, strict=False)]
        # the pages fetched while the store was busy went in together, never more than
        # WRITE_AT_ONCE's worth (give or take the page that passes it)
        assert steps[1] >= 2 * 20 and max(steps) < 100 + 20, steps
        assert told[-1] == total and len(told) < total // 20, told
        assert _fleet(store) == want and int(store.sync_value("cursor") or 0) > 0


def test_a_long_sync_tells_its_progress_to_the_app_and_on_the_command_line(
        seeded, tmp_path: Path, monkeypatch, capsys) -> None:
    account = seeded(50, 250, Tier.SILVER)  # 550 changes: two pages of 500
    monkeypatch.setattr(sync, "WRITE_AT_ONCE", 500)  # each page written as it comes
    with Store(tmp_path / "app.db") as store:
        link = CloudLink(store, lambda: account.api())
        seen: list[str] = []
        report = link.sync(progressed=lambda: seen.append(link.status().state_text()))
        assert report is not None and report.error is None
        assert link.state is LinkState.ONLINE and link.status().progress is None
    assert seen[0].startswith("syncing… 500 changes pulled, ") and seen[0].endswith("…")
    assert seen[-1].startswith("syncing… 550 changes pulled, ")

    monkeypatch.setenv("FIELDTECH_TOKEN", account.token)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", account.url)
    assert main(["sync"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 applied, 300 updated from the cloud.")  # stdout: the summary only
    assert "Syncing: 500 changes pulled, " in err
    assert "Syncing: 550 changes pulled, " in err
    with Store(store_path(data_dir())) as store:
        assert store.counts() == (50, 250)
    assert main(["sync"]) == 0  # a short sync prints nothing but its summary
    out, err = capsys.readouterr()
    assert out.startswith("0 applied") and err == ""
