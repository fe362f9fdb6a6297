"""`fieldtech demo`'s live controllers: demo records brought to life against a real cloud."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from device_cloud import LiveCloud, Staff

from fieldtech.cli import demo as demo_cloud
from fieldtech.cli.demo import DemoCloud, start_live_controllers
from fieldtech.domain.plans import Tier
from fieldtech.server.accounts import create_account
from fieldtech.server.state import utcnow
from fieldtech.server.tables import DeviceStatusRow
from fieldtech.simulator.scenario import rolling_trouble


def _demo_account(cloud: LiveCloud) -> Staff:
    create_account(cloud.db, email=demo_cloud.DEMO_EMAIL, password=demo_cloud.DEMO_PASSWORD,
                   name="Greenline Irrigation", tier=Tier.SILVER)
    r = httpx.post(f"{cloud.url}/v1/auth/login",
                   json={"email": demo_cloud.DEMO_EMAIL, "password": demo_cloud.DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    return Staff(cloud, token, httpx.Client(base_url=cloud.url, timeout=30,
                                            headers={"Authorization": f"Bearer {token}"}))


def _wait(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def test_live_controllers_pair_with_demo_records_and_trouble_comes_and_goes(
        live_cloud: LiveCloud, tmp_path: Path) -> None:
    staff = _demo_account(live_cloud)
    # an OpenSprinkler record first by name: its firmware does not talk to our cloud, so skipped
    staff.controller("Demo 0", serial="OS-0123456789AB", model="OS-3.3")
    records = [staff.controller(f"Demo {n}", serial=f"FT1-DEMO{n:05d}") for n in range(1, 4)]
    live = start_live_controllers(live_cloud.url, tmp_path, count=2, every_s=2.0)
    try:
        assert [(p.serial, p.problem) for p in live.pairings] == [
            ("FT1-DEMO00001", None), ("FT1-DEMO00002", None)]
        for record in records[:2]:
            _wait(lambda r=record: staff.status(r["id"])["online"], "online in the cloud")
        assert staff.status(records[2]["id"])["last_contact"] is None  # only `count` came alive
        # the round's first step, a leak on the first one, reaches the cloud; then it recovers
        _wait(lambda: any(f.get("kind") == "flow_high" for s in live_cloud.heartbeats()
                          for f in s.body.get("faults", [])), "the leak")
        _wait(lambda: [s for s in live_cloud.heartbeats() if s.body.get("faults") == []
                       and s.at > min(x.at for x in live_cloud.heartbeats()
                                      if x.body.get("faults"))], "the recovery")
    finally:
        live.stop()
        staff.http.close()


def test_the_demo_clouds_stand_in_heartbeat_leaves_live_controllers_alone(
        live_cloud: LiveCloud, staff: Staff, tmp_path: Path) -> None:
    quiet = staff.controller("No hardware", serial="FT1-QUIET0001")
    paired = staff.controller("Paired")
    code = staff.pairing_code(paired["id"])
    r = httpx.post(f"{live_cloud.url}/v1/device/pair",
                   json={"code": code, "serial": "FT1-LIVE00001"})
    assert r.status_code == 200, r.text
    long_ago = utcnow().replace(year=2020)
    with live_cloud.db.write() as s:
        for cid in (quiet["id"], paired["id"]):
            s.get_one(DeviceStatusRow, cid).last_contact = long_ago
    demo = DemoCloud(tmp_path, tmp_path / "store.db", 1, 1)
    demo.server = live_cloud
    demo.heartbeat()
    with live_cloud.db.read() as s:
        assert s.get_one(DeviceStatusRow, quiet["id"]).last_contact > long_ago
        # a paired controller reports itself: when it stops, the cloud must see it offline
        assert s.get_one(DeviceStatusRow, paired["id"]).last_contact.year == 2020


def test_rolling_trouble_uses_the_controllers_there_are() -> None:
    assert rolling_trouble([]).steps == ()
    two = rolling_trouble(["FT1-A00001", "FT1-B00001"], every=100)
    assert [(s.at, s.serial, s.do) for s in two.steps] == [
        (5.0, "FT1-A00001", "fault"), (12.0, "FT1-B00001", "fault"),
        (40.0, "FT1-A00001", "recover"), (60.0, "FT1-B00001", "recover")]
    assert two.repeat_every == 100
