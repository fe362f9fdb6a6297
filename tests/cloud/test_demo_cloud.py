"""The demo's in-process cloud: starts on 127.0.0.1, holds the demo fleet, and is in sync with
the demo store from the first sync on (no record to pull, the on-site records included; the
incidents its offline and faulty controllers raised come with the first sync)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from fieldtech.cli.demo import DemoCloud
from fieldtech.cloud.sync import SyncEngine
from fieldtech.offline_store.seed import seed_onsite, seed_store
from fieldtech.offline_store.store import Store
from fieldtech.server.state import utcnow
from fieldtech.server.tables import DeviceStatusRow
from fieldtech.services.triage import open_incidents


def test_demo_cloud_starts_in_sync_with_the_demo_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store(path) as store:
        seed_store(store, 30, 60)
        seed_onsite(store)
    ready = threading.Event()
    got = []

    def on_ready(connect) -> None:
        got.append(connect)
        ready.set()

    # No live controllers here: their heartbeats would change what the syncs below pull
    # (tests/device_loop/test_demo_live.py covers them).
    cloud = DemoCloud(tmp_path, path, 30, 60, live=0)
    cloud.start(on_ready)
    try:
        assert ready.wait(60), cloud.problem
        assert cloud.url.startswith("http://127.0.0.1:")
        with Store(path) as store:
            report = SyncEngine(store, got[0]()).sync()
            assert report.error is None
            assert report.pulled == 0 and report.applied == 0  # already the same fleet ...
            # ... and what its offline and faulty controllers raised, so triage opens on them.
            incidents = open_incidents(store, datetime.now(UTC))
            assert report.live and incidents
            rows = [r for r in store.fleet_rows() if r.controller_id and r.serial]
            offline = {r.controller_id for r in rows if r.state == "offline"}
            sites = {i.customer_id for i in incidents if i.kind == "site_offline"}
            assert offline and offline <= {i.controller_id for i in incidents
                                            if i.kind == "offline"} | {
                r.controller_id for r in rows if r.customer_id in sites}
            for site in sites:  # one incident for a customer whose controllers are all down
                assert all(r.state == "offline" for r in rows if r.customer_id == site)
                assert not [i for i in incidents if i.kind == "offline"
                            and i.customer_id == site]
            faulty = {r.controller_id for r in store.fleet_rows() if r.fault and r.serial}
            assert faulty <= {i.controller_id for i in incidents if i.kind != "offline"}
            opened = sorted(i.opened_at for i in incidents)
            assert opened[0] < opened[-1] - timedelta(minutes=30)  # clocks at different points
            usage = store.usage()
            assert (usage.controllers_used, usage.controllers_limit) == (62, 250)
            cid = store.fleet_rows()[0].controller_id
            store.update_controller(cid, notes="edited in the demo")
            assert SyncEngine(store, got[0]()).sync().applied == 1

        # Ten quiet minutes later the cloud calls every controller offline — unless the demo's
        # reporting controllers keep reporting in, as its heartbeat makes them.
        def states() -> Counter:  # from the cloud started last
            with got[-1]() as api:
                return Counter(c["state"] for c in api.fleet_status()["controllers"])

        online = states()["online"]
        assert online > 0
        with cloud.server.db.write() as s:
            s.execute(update(DeviceStatusRow).where(DeviceStatusRow.last_contact.is_not(None))
                      .values(last_contact=utcnow() - timedelta(minutes=10)))
        assert states()["online"] == 0
        assert cloud.heartbeat() > 0
        assert states()["online"] == online
        # the demo closed for ten minutes: its controllers' last reports are that old ...
        with cloud.server.db.write() as s:
            s.execute(update(DeviceStatusRow).where(DeviceStatusRow.last_contact.is_not(None))
                      .values(last_contact=utcnow() - timedelta(minutes=10)))
    finally:
        cloud.stop()
    # a second start finds the account and signs in again
    again = DemoCloud(tmp_path, path, 30, 60, live=0)
    ready.clear()
    again.start(on_ready)
    try:
        assert ready.wait(60), again.problem
        # ... and they have reported in by the time the app connects, not a heartbeat later:
        # the app's first sync reads the fleet's states once for five minutes (it showed the
        # whole demo fleet offline after a restart).
        assert states()["online"] == online
        with Store(path) as store:
            assert SyncEngine(store, got[-1]()).sync().error is None
    finally:
        again.stop()
