"""What a new user hit (issue 12): each defect as the person met it, driven with a Pilot."""

from __future__ import annotations

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from tests.tui.conftest import SIZE, settle


def set_input(app: FieldtechApp, name: str, value: str) -> None:
    app.screen.query_one(f"#in-{name}", Input).value = value


def error_of(app: FieldtechApp, name: str) -> str:
    return str(app.screen.query_one(f"#err-{name}", Static).render())


def under_cursor(app: FieldtechApp) -> str:
    """The fleet's line under the cursor: a controller's id, or a customer line's."""
    row, is_customer = app.screen.fleet_list.current
    return row.customer_id if is_customer else row.controller_id


async def open_controller(pilot, app: FieldtechApp, index: int = 4) -> str:
    await settle(pilot)
    controller_id = app.rows[index].controller_id
    app.open_controller(controller_id)
    await settle(pilot)
    assert isinstance(app.screen, ControllerScreen)
    return controller_id


async def test_a_huge_zone_count_is_refused_under_its_field_at_once(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(pilot, app)
        before = app.store.controller(controller_id)
        await pilot.press("d")
        set_input(app, "zone_count", "99999999999")
        await pilot.press("ctrl+s")  # built 99,999,999,999 zones before checking (froze)
        assert isinstance(app.screen, FormScreen)
        assert "between 1 and 200" in error_of(app, "zone_count")
        await pilot.press("escape", "y")
        await settle(pilot)
        assert app.store.controller(controller_id) == before

        await pilot.press("escape")  # the fleet: a new controller with the same count
        await settle(pilot)
        await pilot.press("c")
        set_input(app, "name", "Huge")
        set_input(app, "zone_count", "99999999999")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FormScreen)
        assert "between 1 and 200" in error_of(app, "zone_count")


async def test_a_reload_keeps_the_fleet_cursor_on_the_new_customer(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        opened = await open_controller(pilot, app, index=20)  # "the last controller opened"
        await pilot.press("escape")
        await settle(pilot)
        assert under_cursor(app) == opened  # back on the one just opened
        await pilot.press("n")
        set_input(app, "name", "Aardvark New")
        await pilot.press("ctrl+s")
        await settle(pilot)
        customer = next(k for k in app.store.customers() if k.name == "Aardvark New")
        assert under_cursor(app) == customer.id

        app.load_fleet()  # what a sync (S, or the background one) does when records changed
        await settle(pilot)
        assert under_cursor(app) == customer.id
        await pilot.press("c")
        assert isinstance(app.screen, FormScreen)
        assert "Aardvark New" in app.screen.title_text


async def test_a_reload_keeps_the_cursor_where_the_person_moved_it(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_controller(pilot, app, index=3)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("down", "down", "down")
        here = under_cursor(app)
        app.load_fleet()
        await settle(pilot)
        assert under_cursor(app) == here
