"""The on-site workflow in the TUI, driven with Pilot against the simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from textual.widgets import Input, OptionList, Select, Static

from fieldtech.app import FieldtechApp
from fieldtech.controller_link import DeviceConfig, DeviceInfo, diff_config, open_link
from fieldtech.domain.work_orders import checklists
from fieldtech.screens.bind_record import BindRecordScreen
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from fieldtech.screens.onsite import OnsiteScreen
from fieldtech.services.edits import EditService
from fieldtech.services.work_orders import WorkOrderService
from fieldtech.simulator import Simulator
from tests.onsite.conftest import (
    SIZE_ONSITE,
    open_onsite,
    panel,
    panel_lines,
    row_of,
    row_status,
    select,
    until,
)


async def test_discovery_lists_devices_with_their_records_live(app: FieldtechApp,
                                                               sim: Simulator) -> None:
    bound, spare = sim.device("FT1-SIM00001"), sim.device("FT1-SIM00002")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, bound.address)
        await until(pilot, lambda: row_of(app, spare.address), what="second device")
        driver, model, serial, firmware, address, record = row_of(app, bound.address)
        assert (driver, model, serial, firmware) == ("fieldtech", "FT-8", "FT1-SIM00001", "1.4.2")
        assert address == bound.address.removeprefix("http://")
        assert record.startswith("✓ Clubhouse — Willow Creek HOA")
        assert row_of(app, spare.address)[-1] == "— not bound"

        await sim.take_offline(spare.serial)  # goodbye on mDNS: the row goes
        await until(pilot, lambda: row_of(app, spare.address) is None, what="removal")
        assert row_of(app, bound.address) is not None


async def _device_config(device) -> DeviceConfig:
    async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
        return await link.read_config()


async def test_binding_a_prepared_record_writes_the_serial_through_the_outbox(
        app: FieldtechApp, sim: Simulator) -> None:
    spare = sim.device("FT1-SIM00002")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, spare.address)
        before = len(app.store.outbox_for("controller", app.prepared_id))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BindRecordScreen), what="bind dialog")
        await pilot.press(*"entrance")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: app.store.controller(app.prepared_id).serial, what="saved")
        assert app.store.controller(app.prepared_id).serial == "FT1-SIM00002"
        outbox = app.store.outbox_for("controller", app.prepared_id)
        assert len(outbox) == before + 1 and outbox[-1].patch == {"serial": "FT1-SIM00002"}
        await until(pilot, lambda: row_status(app, spare.address).startswith("✓ Entrance"),
                    what="row shows the record")
        assert "now bound to Entrance" in panel(app)


async def test_compare_shows_a_change_and_push_makes_the_device_equal(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.device("FT1-SIM00001")
    app.store.edit_controller(app.bound_id, lambda c: {"config": replace(c.config, zones=[
        replace(z, run_minutes=42) if z.number == 2 else z for z in c.config.zones])})
    pending = app.store.pending_count()
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await pilot.press("c")
        await until(pilot, lambda: "difference" in panel(app), what="diff shown")
        lines = [line.split() for line in panel_lines(app)]
        assert ["What", "In", "the", "record", "On", "the", "controller"] in lines
        assert ["Zone", "2", "run", "time", "(min)", "42", "10"] in lines
        assert ["Zone", "1", "name", "'Clubhouse", "front", "lawn'", "'Zone", "1'"] in lines

        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)  # nothing is pushed unconfirmed
        await pilot.press("y")
        await until(pilot, lambda: "Pushed" in panel(app), what="pushed")
        assert "matches the record" in panel(app)
    record = app.store.controller(app.bound_id)
    assert diff_config(record.config, await _device_config(device)) == []
    assert app.store.pending_count() == pending  # a push changes the device, not the record


async def test_pull_makes_the_record_equal_the_device(app: FieldtechApp,
                                                      sim: Simulator) -> None:
    device = sim.device("FT1-SIM00001")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await pilot.press("l", "y")
        await until(pilot, lambda: "Pulled" in panel(app), what="pulled")
        assert "matches the record" in panel(app)
    record = app.store.controller(app.bound_id)
    assert record.config.zones[0].name == "Zone 1"
    assert diff_config(record.config, await _device_config(device)) == []
    outbox = app.store.outbox_for("controller", app.bound_id)
    assert len(outbox) == 1 and "config" in outbox[0].patch


async def test_zone_test_shows_the_running_zone_and_x_stops_everything(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.device("FT1-SIM00001")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await pilot.press("t")
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#in-zones", Input).value = "2-4"
        app.screen.query_one("#in-seconds", Input).value = "120"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "▶ Zone 2 (1 of 3) running" in panel(app), what="running")
        assert "s left" in panel(app)
        async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
            assert (await link.read_status()).seconds_left(2)  # really on, on the device
            await pilot.press("x")
            await until(pilot, lambda: "Stopped: every zone is off" in panel(app),
                        what="stopped")
            status = await link.read_status()
            assert status.running == () and status.queued == ()

            await pilot.press("t", "ctrl+s")  # again, then leave the screen mid-test
            await until(pilot, lambda: "▶ Zone 1" in panel(app), what="running again")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, OnsiteScreen), what="left")
            deadline = asyncio.get_running_loop().time() + 5
            while (await link.read_status()).running:  # leaving stops every zone too
                assert asyncio.get_running_loop().time() < deadline, "zones left running"
                await asyncio.sleep(0.1)


async def test_a_zone_test_on_site_attaches_to_todays_work_order(
        app: FieldtechApp, sim: Simulator) -> None:
    """The customer of the controller on site has a visit today: the zone test's results go
    to that work order, and the technician is told so. A visit of another day, or one done
    already, gets nothing. "Today" is the contractor's (the account's time zone, set here a
    day apart from this computer's): this computer's day is another day."""
    now = datetime.now(UTC)
    zone = next(z for z in ("Pacific/Kiritimati", "Etc/GMT+12")
                if now.astimezone(ZoneInfo(z)).date() != date.today())
    app.store.set_sync_values(timezone=zone)
    theirs = app.store.today()
    orders = WorkOrderService(EditService(app.store))
    customer_id = app.store.controller(app.bound_id).customer_id
    checklist = checklists(None)["Start-up"]
    today = orders.create(customer_id, checklist, theirs, "Sam").record_id
    computers = orders.create(customer_id, checklist, date.today(), "Sam").record_id
    tomorrow = orders.create(customer_id, checklist, theirs + timedelta(days=1),
                             "Sam").record_id
    done = orders.create(customer_id, checklist, theirs, "Sam").record_id
    orders.set_status(done, "done")
    device = sim.device("FT1-SIM00001")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await pilot.press("t")
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#in-zones", Input).value = "2-3"
        app.screen.query_one("#in-seconds", Input).value = "1"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "All 2 zones tested" in panel(app), timeout=30,
                    what="the zone test done")
        tests = await _attached(pilot, app, today)
    assert tests == [(app.bound_id, 2, True), (app.bound_id, 3, True)]
    assert app.store.document(tomorrow).data["zone_tests"] == []
    assert app.store.document(computers).data["zone_tests"] == []
    assert app.store.document(done).data["zone_tests"] == []
    notice = next(str(n.message) for n in app._notifications if "work order" in str(n.message))
    assert notice.startswith("2 zone tests attached to today's work order: Start-up for ")
    assert any(e.entity_id == today and "zone_tests" in e.patch for e in app.store.outbox())


async def test_a_zone_test_stopped_by_leaving_the_screen_still_goes_to_the_work_order(
        app: FieldtechApp, sim: Simulator) -> None:
    """Leaving the on-site screen mid-test stops every zone (as `x` does), and the zones
    tested so far go to today's work order as they do after `x`."""
    orders = WorkOrderService(EditService(app.store))
    customer_id = app.store.controller(app.bound_id).customer_id
    today = orders.create(customer_id, checklists(None)["Start-up"], date.today(),
                          "Sam").record_id
    device = sim.device("FT1-SIM00001")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await pilot.press("t")
        app.screen.query_one("#in-zones", Input).value = "1-3"
        app.screen.query_one("#in-seconds", Input).value = "1"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "▶ Zone 2" in panel(app), timeout=30, what="zone 1 done")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OnsiteScreen), what="left")
        tests = await _attached(pilot, app, today)
    assert tests == [(app.bound_id, 1, True)]


async def _attached(pilot, app: FieldtechApp, order_id: str) -> list[tuple[str, int, bool]]:
    """Wait for a zone test's results on the work order, and the notice that says so; →
    (controller, zone, passed) of each."""
    await until(pilot, lambda: app.store.document(order_id).data["zone_tests"],
                what="the results on the work order")
    await until(pilot, lambda: any("attached to today's work order" in str(n.message)
                                   for n in app._notifications), what="the notice")
    return [(t["controller_id"], t["zone"], t["ok"])
            for t in app.store.document(order_id).data["zone_tests"]]


async def test_a_stopped_controller_shows_a_message_and_leaves_the_store_alone(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.device("FT1-SIM00001")
    before = app.store.controller(app.bound_id)
    pending = app.store.pending_count()
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, device.address)
        await device.server.stop()  # the controller loses power after it was found
        await pilot.press("l", "y")
        await until(pilot, lambda: "Not pulled" in panel(app), what="error shown")
        assert "Nothing was changed in the record" in panel(app)
        assert "Traceback" not in panel(app)
        assert isinstance(app.screen, OnsiteScreen)
    assert app.store.controller(app.bound_id) == before
    assert app.store.pending_count() == pending


async def test_typed_opensprinkler_address_with_a_wrong_password_asks_again(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    pending = app.store.pending_count()
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "a")
        assert isinstance(app.screen, FormScreen)
        assert app.screen.query_one("#in-address", Input).value == device.address
        app.screen.query_one("#in-password", Input).value = "wrong"
        await pilot.press("ctrl+s")
        url = device.address
        await until(pilot, lambda: row_of(app, url), what="typed device listed")
        assert row_of(app, url)[-1] == "password refused"
        assert "password was refused" in panel(app)
        await pilot.press("b")  # binding needs its serial: the password is asked for
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="password form")
        app.screen.query_one("#in-password", Input).value = "opendoor"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BindRecordScreen), what="identified")
        assert row_of(app, url)[2] == device.serial
        await pilot.press("escape")
    assert app.store.pending_count() == pending


async def test_wifi_over_the_cable_reports_errors_and_never_shows_the_password(
        app: FieldtechApp, sim: Simulator) -> None:
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "w")  # the controller is asked which networks it sees first
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="Wi-Fi form")
        assert app.screen.query_one("#in-port", Input).value == sim.serial_path
        picker = app.screen.query_one("#in-ssid", Select)
        assert picker.value == "Site-WiFi"  # the strongest network the scan found
        assert "Guest" in [value for _label, value in picker._options]
        app.screen.query_one("#in-password", Input).value = "short"  # the device refuses it
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Wi-Fi not set" in panel(app), what="Improv error")
        assert "could not join" in panel(app)

        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="Wi-Fi form")
        app.screen.query_one("#in-password", Input).value = "correct horse battery"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "joined" in panel(app), what="provisioned")
        assert sim.device("FT1-USB00001").state.http_url in panel(app)
        shown = panel(app) + " ".join(str(n.message) for n in app._notifications)
        assert "correct horse" not in shown and "short" not in shown
    assert sim.device("FT1-USB00001").state.wifi_ssid == "Site-WiFi"


async def test_a_new_record_for_a_found_device_warns_about_the_quota(
        app: FieldtechApp, sim: Simulator) -> None:
    spare = sim.device("FT1-SIM00002")
    usage = app.store.usage()
    account = app.store.account()
    # One below the plan's limit: this record is the last one the plan allows.
    app.store.set_account(account, controllers_used=usage.controllers_limit - 1)
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, spare.address)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BindRecordScreen), what="dialog")
        quota = str(app.screen.query_one("#bind-quota", Static).render())
        assert f"This is {usage.controllers_limit} of {usage.controllers_limit}" in quota
        await pilot.press(*"willow")
        await pilot.pause()
        options = app.screen.query_one("#bind-options", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[-1] == "＋ New controller for Willow Creek HOA (on-site demo)"
        options.highlighted = options.option_count - 1
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="record form")
        assert app.screen.query_one("#in-serial", Input).value == "FT1-SIM00002"
        app.screen.query_one("#in-name", Input).value = "Pool house"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: row_status(app, spare.address).startswith("✓ Pool house"),
                    what="bound to the new record")
    created = [e for e in app.store.outbox() if e.op == "create"]
    assert len(created) == 1 and created[0].patch["serial"] == "FT1-SIM00002"
    assert created[0].patch["name"] == "Pool house"


async def test_from_a_controller_o_offers_that_record_first(app: FieldtechApp,
                                                            sim: Simulator) -> None:
    spare = sim.device("FT1-SIM00002")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.pause()
        app.open_controller(app.prepared_id)
        await until(pilot, lambda: isinstance(app.screen, ControllerScreen)
                    and app.screen.controller is not None, what="controller shown")
        await pilot.press("o")
        await until(pilot, lambda: row_of(app, spare.address), what="discovered")
        select(app, spare.address)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BindRecordScreen), what="dialog")
        options = app.screen.query_one("#bind-options", OptionList)
        assert str(options.get_option_at_index(0).prompt).startswith("Entrance [dim]— Willow Creek")
        await pilot.press("enter")
        await until(pilot, lambda: app.store.controller(app.prepared_id).serial, what="bound")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ControllerScreen), what="back")
    assert app.store.controller(app.prepared_id).serial == "FT1-SIM00002"


async def test_subnet_probe_only_after_confirming_and_only_on_loopback(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "n")
        assert isinstance(app.screen, FormScreen)
        assert app.screen.query_one("#in-subnet", Input).value == "127.0.0.1/32"
        app.screen.query_one("#in-subnet", Input).value = "10.0.0.0/30"
        await pilot.press("ctrl+s")  # refused before anything is sent
        assert "loopback-only" in str(app.screen.query_one("#err-subnet", Static).render())
        app.screen.query_one("#in-subnet", Input).value = "127.0.0.1/32"
        port = device.address.rsplit(":", 1)[1]
        app.screen.query_one("#in-ports", Input).value = port
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # not confirmed: no probe
        await pilot.pause(0.3)
        assert row_of(app, device.address) is None

        await pilot.press("n")
        app.screen.query_one("#in-ports", Input).value = port
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: row_of(app, device.address), what="probe finds it")
        assert row_of(app, device.address)[-1] == "b identifies it"
        select(app, device.address)
        await pilot.press("b")  # asks it who it is (default password), then offers records
        await until(pilot, lambda: isinstance(app.screen, BindRecordScreen), what="identified")
        assert row_of(app, device.address)[2] == device.serial


async def test_at_80_columns_an_opensprinkler_leaves_the_record_readable(
        app: FieldtechApp, sim: Simulator) -> None:
    """Its long model once squeezed the Record column to one character (issue 12, 12)."""
    from textual.widgets import DataTable

    device, bound = sim.of_kind("opensprinkler")[0], sim.device("FT1-SIM00001")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, bound.address)
        await pilot.press("a")
        assert isinstance(app.screen, FormScreen)
        hint = [str(s.render()) for s in app.screen.query(".field-hint")]
        assert any("opendoor" in h for h in hint)
        assert all(s.size.height >= 1 and s.size.width >= 40 for s in app.screen.query(
            ".field-hint"))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: row_of(app, device.address), what="typed device listed")
        screen = app.screen
        assert isinstance(screen, OnsiteScreen)
        table = screen.query_one("#onsite-devices", DataTable)
        widths = [c.get_render_width(table) for c in table.columns.values()]
        assert sum(widths) <= 80 and widths[-1] >= 12 + 2
        table.move_cursor(row=table.get_row_index(bound.address.removeprefix("http://")))
        await pilot.pause()
        whole = str(screen.query_one("#onsite-current", Static).render())
        assert "✓ Clubhouse — Willow Creek HOA" in whole.replace("\n", " ")
