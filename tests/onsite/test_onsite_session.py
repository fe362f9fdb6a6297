"""What the on-site work leaves for the rest of the session: found devices, direct zone runs,
and what a device changed on a push (real simulated controllers on 127.0.0.1)."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.controller_link import DeviceInfo, open_link
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.onsite import OnsiteScreen
from fieldtech.simulator import Simulator
from tests.onsite.conftest import SIZE_ONSITE, open_onsite, panel, row_of, select, until


async def test_a_typed_device_is_still_listed_after_leaving_the_screen(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "a")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")  # the demo's address and password, prefilled
        await until(pilot, lambda: row_of(app, device.address), what="typed device listed")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OnsiteScreen), what="left")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OnsiteScreen), what="back")
        await until(pilot, lambda: row_of(app, device.address), what="still listed")
        assert row_of(app, device.address)[2] == device.serial


async def test_run_zone_goes_straight_to_a_controller_found_on_site(
        app: FieldtechApp, sim: Simulator, tmp_path) -> None:
    device = sim.device("FT1-SIM00001")  # bound to the record app.bound_id
    pending = app.store.pending_count()
    # A twin answering with the same serial on this host (a demo's simulator, a training rig
    # beside the real one): the run goes to the device the user picked, not the first found.
    async with Simulator(count=1, data_dir=tmp_path / "twin") as twin:
        other = twin.device("FT1-SIM00001")
        async with app.run_test(size=SIZE_ONSITE) as pilot:
            await open_onsite(pilot, other.address)  # both found, the twin looked at first
            await until(pilot, lambda: row_of(app, device.address), what="the device found")
            select(app, device.address)
            await pilot.press("escape")
            app.open_controller(app.bound_id)
            # shown, not only pushed: z acts on the controller once it is read
            await until(pilot, lambda: isinstance(app.screen, ControllerScreen)
                        and app.screen.controller is not None, what="opened")
            await pilot.press("z")
            await until(pilot, lambda: isinstance(app.screen, FormScreen), what="run form")
            assert "straight to the device" in app.screen.title_text
            app.screen.query_one("#in-zone", Input).value = "2"
            app.screen.query_one("#in-minutes", Input).value = "3"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: any("done on site" in str(n.message)
                                           for n in app._notifications), what="ran")
            async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
                assert (await link.read_status()).seconds_left(2) > 100  # really on
                await link.stop_all()
            async with open_link(DeviceInfo(driver="native", address=other.address)) as link:
                assert (await link.read_status()).running == ()  # the twin stayed off
    assert app.store.pending_count() == pending  # a zone run is not an edit of the record


async def test_run_zone_without_the_device_or_a_cloud_says_it_cannot_reach_it(
        app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        app.open_controller(app.prepared_id)  # not linked, never found on site
        # shown, not only pushed: z acts on the controller once it is read
        await until(pilot, lambda: isinstance(app.screen, ControllerScreen)
                    and app.screen.controller is not None, what="opened")
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="run form")
        assert "through the cloud" in app.screen.title_text
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("local only" in str(n.message)
                                       for n in app._notifications), what="refused")


async def test_a_push_says_what_the_opensprinkler_changed(app: FieldtechApp,
                                                          sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    app.store.edit_controller(app.prepared_id, lambda c: {  # bound to it, one odd name
        "serial": device.serial, "config": replace(c.config, zones=[
            replace(z, name='Back\\yard "A"') if z.number == 1 else z
            for z in c.config.zones])})
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "a", "ctrl+s")  # its address and password are prefilled
        await until(pilot, lambda: (row_of(app, device.address) or [""])[-1].startswith("✓"),
                    what="listed with its record")
        select(app, device.address)
        await pilot.press("p", "y")
        await until(pilot, lambda: "Pushed" in panel(app), what="pushed")
        assert "stored as 'Back/yard 'A''" in panel(app)


async def test_a_subnet_probe_does_not_forget_what_an_identify_found(
        app: FieldtechApp, sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    port = device.address.rsplit(":", 1)[1]
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await pilot.press("o", "a", "ctrl+s")  # typed, with its password: identified
        await until(pilot, lambda: (row_of(app, device.address) or ["", "", ""])[2]
                    == device.serial, what="identified")
        await pilot.press("n")
        app.screen.query_one("#in-subnet", Input).value = "127.0.0.1/32"
        app.screen.query_one("#in-ports", Input).value = port
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: "Subnet probe done" in panel(app), what="probed")
        assert row_of(app, device.address)[2] == device.serial  # not back to "?"
