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
