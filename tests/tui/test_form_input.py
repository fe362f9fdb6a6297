"""Typing into forms: keys sent in one burst (as over SSH), every error at once, Esc asks first."""

from __future__ import annotations

from textual import events
from textual.widgets import Button, Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from fieldtech.screens.switcher import SearchBox
from fieldtech.widgets.key_bar import KeyBar
from tests.tui.conftest import SIZE, settle

CHARACTERS = {"tab": "\t", "space": " "}


def burst(app: FieldtechApp, *keys: str) -> None:
    """Post every key to the app at once, as a terminal read over SSH delivers them."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else CHARACTERS.get(key)))


def field(app: FieldtechApp, name: str) -> Input:
    return app.screen.query_one(f"#in-{name}", Input)


def error_of(app: FieldtechApp, name: str) -> str:
    return str(app.screen.query_one(f"#err-{name}", Static).render())


async def open_controller(app: FieldtechApp, pilot) -> str:
    await settle(pilot)
    controller_id = app.rows[4].controller_id
    app.open_controller(controller_id)
    await settle(pilot)
    return controller_id


async def test_keys_typed_as_a_dialog_opens_land_in_its_fields(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(app, pilot)
        zone = app.store.controller(controller_id).config.zone(1)

        burst(app, "e", "X")  # zone 1 is under the cursor
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        assert field(app, "name").value == zone.name + "X"

        await pilot.press("escape", "y")  # changed: discard it
        await settle(pilot)
        burst(app, "e", "tab", "tab", "X")  # Name → Enabled → Run time
        await settle(pilot)
        assert field(app, "name").value == zone.name
        assert field(app, "run_minutes").value == f"{zone.run_minutes}X"

        await pilot.press("escape", "y")
        await settle(pilot)
        burst(app, "r", "5")
        await settle(pilot)
        assert int(field(app, "hours").value) == 5


async def test_finder_keeps_every_key_typed_with_its_opening_key(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        burst(app, "f", "s", "i", "d", "e")
        await settle(pilot)
        assert app.screen.query_one(SearchBox).value == "side"


async def test_every_field_shows_its_error_at_once(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(app, pilot)
        before = app.store.controller(controller_id)
        pending_before = app.store.pending_count()

        await pilot.press("e")
        field(app, "run_minutes").value = ""
        field(app, "suspended_until").value = "2025-13-40"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FormScreen), "an invalid form must stay open"
        assert error_of(app, "run_minutes") == "Enter a whole number."
        assert "YYYY-MM-DD" in error_of(app, "suspended_until")
        await pilot.press("escape", "y")
        await settle(pilot)

        app.screen.edit_program(before, None)  # a new program (the controller screen's flow)
        await settle(pilot)
        field(app, "interval_days").value = "06:00"
        field(app, "start_times").value = "25:00"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FormScreen)
        assert error_of(app, "interval_days") == "Enter a whole number."
        assert "HH:MM" in error_of(app, "start_times")
        await settle(pilot)
        assert app.store.controller(controller_id) == before
        assert app.store.pending_count() == pending_before


async def test_escape_asks_before_throwing_away_changes(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(app, pilot)
        before = app.store.controller(controller_id)

        await pilot.press("e", "escape")  # unchanged: closes at once
        assert isinstance(app.screen, ControllerScreen)

        await pilot.press("e", "Z", "escape")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Discard your changes?" in str(app.screen.query_one(".dialog-title", Static)
                                              .render())
        await pilot.press("escape")  # Esc again keeps editing
        assert isinstance(app.screen, FormScreen)
        assert field(app, "name").value.endswith("Z")
        await pilot.press("escape", "n")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("escape", "y")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen)
        assert app.store.controller(controller_id) == before


async def test_a_form_shows_its_own_keys_and_names_its_action(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(app, pilot)
        await pilot.press("e")
        keys = {description for _key, description, _on in app.screen.query_one(KeyBar).keys}
        assert {"Save", "Cancel", "Next field"} <= keys
        assert "Fleet" not in keys and "Edit" not in keys  # the controller screen's
        await pilot.press("escape")

        app.screen.import_config(app.store.controller(controller_id))
        await settle(pilot)
        assert str(app.screen.query_one("#save", Button).label) == "Import (Ctrl+S)"
        keys = {description for _key, description, _on in app.screen.query_one(KeyBar).keys}
        assert "Import" in keys and "Save" not in keys
