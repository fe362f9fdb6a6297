"""A closed form is freed: the fleet reloads must not keep it alive for good."""

from __future__ import annotations

import gc
import weakref

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from tests.tui.conftest import SIZE, settle


async def test_a_saved_and_closed_form_is_freed(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(app.rows[4].controller_id)
        await settle(pilot)
        forms: list[weakref.ref[FormScreen]] = []
        for minutes in ("21", "22"):
            await pilot.press("e")  # zone 1 is under the cursor
            assert isinstance(app.screen, FormScreen)
            forms.append(weakref.ref(app.screen))
            app.screen.query_one("#in-run_minutes").value = minutes
            await pilot.press("ctrl+s")
            await settle(pilot)  # the save, then the fleet reload it starts
            assert isinstance(app.screen, ControllerScreen)
        # The app moves long-lived objects out of the collector's sight after each reload
        # (gc.freeze); a form still open then must be freed once it closes, by the next load.
        app.load_fleet()
        await settle(pilot)
        gc.collect()
        assert [f() for f in forms] == [None, None]
