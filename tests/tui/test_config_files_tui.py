"""The configuration keys as a technician uses them: export (x) then import (i) onto another
controller, save a template (T) then apply it (t), copy from another controller (y)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.domain.models import Customer, Program, Zone
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.switcher import SwitcherScreen
from tests.conftest import make_controller
from tests.tui.conftest import SIZE, settle, wait_for


def _source_and_targets(app: FieldtechApp) -> tuple[str, list[str]]:
    """A controller with a configuration of its own, and three blank ones of its zone count."""
    store = app.store
    customer = store.customers()[0]
    source = make_controller(customer, zones=6, name="Source yard")
    source.config.zones = [Zone(n, f"Bed {n}", run_minutes=n + 3) for n in range(1, 7)]
    source.config.programs = [Program("Dawn", days=[1, 3], start_times=["05:30"],
                                      zone_minutes={1: 4, 6: 9})]
    store.create_controller(source)
    targets = [make_controller(Customer(id=customer.id, name=customer.name), zones=6,
                               name=f"Blank {n}") for n in range(3)]
    for t in targets:
        store.create_controller(t)
    return source.id, [t.id for t in targets]


async def _open(pilot, app: FieldtechApp, controller_id: str) -> None:
    app.open_controller(controller_id)
    await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen)
                   and app.screen.controller and app.screen.controller.id == controller_id)


async def _save_form(pilot, app: FieldtechApp, key: str) -> str:
    """Press `key`, accept the form as offered; the path it offered."""
    await pilot.press(key)
    assert isinstance(app.screen, FormScreen), key
    path = app.screen.query_one("#in-path").value
    await pilot.press("ctrl+s")
    await settle(pilot)
    return path


def _config(app: FieldtechApp, controller_id: str) -> dict:
    return app.store.controller(controller_id).config.to_dict()


async def test_export_import_template_and_copy_through_the_keys(tmp_path: Path) -> None:
    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    source, (by_import, by_template, by_copy) = _source_and_targets(app)
    wanted = _config(app, source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open(pilot, app, source)
        exported = Path(await _save_form(pilot, app, "x"))
        await wait_for(pilot, exported.exists)
        assert 'name = "Bed 6"' in exported.read_text()
        name = await _save_form(pilot, app, "T")
        template = app.data_dir / "templates" / f"{name}.toml"  # a name goes in the folder
        await wait_for(pilot, template.exists)

        pending = app.store.pending_count()
        await _open(pilot, app, by_import)
        assert _config(app, by_import) != wanted
        offered = await _save_form(pilot, app, "i")
        assert offered == str(exported)  # the newest export is offered
        await pilot.press("y")  # after saying what it overwrites
        await wait_for(pilot, lambda: _config(app, by_import) == wanted)

        await _open(pilot, app, by_template)
        await pilot.press("t")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")  # the first (only) template
        await settle(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: _config(app, by_template) == wanted)

        await _open(pilot, app, by_copy)
        await pilot.press("y")
        assert isinstance(app.screen, SwitcherScreen)
        app.screen.query_one("#finder-input", Input).value = "Source yard"
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: _config(app, by_copy) == wanted)

        assert app.store.pending_count() == pending + 3  # one queued edit each, to sync later
    app.store.close()
