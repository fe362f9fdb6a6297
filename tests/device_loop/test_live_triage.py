"""Remote triage end to end, every part real: a simulated controller paired with the reference
cloud on 127.0.0.1 reports a fault; a second client's app (Pilot, its own SQLite store,
long-polling the cloud) shows the incident on its triage screen; acknowledging there stops the
cloud's response clock; a zone run sent from its controller screen really runs on the device;
the device's recovery resolves the incident on screen.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from device_cloud import LiveCloud, Staff
from test_cloud_loop import BEAT_S, loop_of, paired
from textual.pilot import Pilot
from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.cloud.api import CloudAPI
from fieldtech.offline_store import Store
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.triage import TriageScreen
from fieldtech.services.settings import Settings
from fieldtech.simulator import Simulator


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator(count=1, data_dir=tmp_path / "devices", advertise=False,
                         heartbeat_s=BEAT_S, reboot_pause_s=0.2) as simulator:
        yield simulator


async def until(pilot: Pilot, condition: Callable[[], Any], what: str,
                timeout: float = 30.0) -> Any:
    """A deadline for a hung loop, not a budget (bench/bench_triage.py measures the time)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not reached in time: {what}"
        await pilot.pause(0.05)
    return value


def triage_lines(app: FieldtechApp) -> list[str]:
    screen = app.screen
    if not isinstance(screen, TriageScreen) or not screen.query("#triage-list"):
        return []
    table = screen.table
    return ["".join(t for t, _ in table.line_parts(i, 78)) for i in range(table.row_count)]


def cloud_incidents(staff: Staff) -> list[dict[str, Any]]:
    r = staff.http.get("/v1/incidents", params={"state": "all"})
    assert r.status_code == 200, r.text
    return r.json()["incidents"]


async def test_a_fault_is_triaged_from_another_client_through_the_cloud(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud, tmp_path: Path) -> None:
    device, controller_id = await paired(sim, staff, name="Back lawn", zones=6)
    customer_id = staff.http.get(f"/v1/controllers/{controller_id}").json()["customer_id"]
    r = staff.http.patch(f"/v1/customers/{customer_id}", json={"membership": "priority"},
                         headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text  # a 30-minute response promise: the clock runs

    store = Store(tmp_path / "client.db")
    app = FieldtechApp(store, Settings.load(tmp_path / "config"), tmp_path / "data",
                       cloud=lambda: CloudAPI(live_cloud.url, staff.token),
                       sync_every_s=60)  # background sync on: the app long-polls the cloud
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: controller_id in app.rows_by_id, "the first sync")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, TriageScreen), "triage open")

        loop_of(device).inject_fault("flow_high", zone=2, detail="Zone 2: flow 3x its usual")
        line = await until(pilot, lambda: [x for x in triage_lines(app) if "Flow high" in x],
                           "the incident on the second client's screen")
        assert "CRIT" in line[0] and "Prio" in line[0]  # a leak for a fast-response customer
        detail = str(app.screen.query_one("#triage-detail").render())
        assert "Zone 2: flow 3x its usual" in detail and "response due in" in detail

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), "the note form")
        app.screen.query_one("#in-note", Input).value = "Calling the owner"
        await pilot.press("ctrl+s")
        acked = await until(pilot, lambda: [i for i in cloud_incidents(staff)
                                            if i["kind"] == "flow_high"
                                            and i["state"] == "acknowledged"],
                            "acknowledged in the cloud")
        assert acked[0]["ack_note"] == "Calling the owner" and acked[0]["breached_at"] is None
        await until(pilot, lambda: any(x.split()[0] == "ack" for x in triage_lines(app)),
                    "shown as acknowledged")

        await pilot.press("enter")  # the controller, then a zone run through the cloud
        await until(pilot, lambda: isinstance(app.screen, ControllerScreen), "controller")
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), "the run form")
        assert "through the cloud" in app.screen.title_text
        app.screen.query_one("#in-zone", Input).value = "3"
        app.screen.query_one("#in-minutes", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: device.state.run_zone == 3, "zone 3 running on the device")
        await until(pilot, lambda: "running zone 3" in str(
            app.screen.query_one("#ctl-header").render()), "the running zone on screen")

        loop_of(device).recover()
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, TriageScreen), "triage again")
        await until(pilot, lambda: not [x for x in triage_lines(app) if "Flow high" in x],
                    "resolved by the device's recovery")
        resolved = [i for i in cloud_incidents(staff) if i["kind"] == "flow_high"]
        assert resolved[0]["state"] == "resolved"
    store.close()
