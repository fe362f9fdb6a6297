"""Importing a file (`i`) or applying a template (`t`) that is wrong: what is wrong shows under
the file's field, the form stays open with the path as typed (issue 12: it closed), never a
crash, nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.offline_store.paths import templates_dir
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from tests.tui.conftest import SIZE, settle

BAD_VERSION = 'format = "fieldtech-controller-config"\nversion = "two"\n[config]\n'
MANY_PROBLEMS = ('format = "fieldtech-controller-config"\nversion = 1\n'
                 + "".join(f'[[config.zones]]\nnumber = {n}\nname = "Z"\nrun_minute = 1\n'
                           for n in range(1, 10)))


def messages(app: FieldtechApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def path_error(app: FieldtechApp) -> str:
    assert isinstance(app.screen, FormScreen), "the form must stay open"
    return str(app.screen.query_one("#err-path", Static).render())


def typed_path(app: FieldtechApp) -> str:
    return app.screen.query_one("#in-path", Input).value


async def open_first_controller(app: FieldtechApp, pilot) -> str:
    await settle(pilot)
    controller_id = app.rows[2].controller_id
    app.open_controller(controller_id)
    await settle(pilot)
    assert isinstance(app.screen, ControllerScreen)
    return controller_id


async def import_file(app: FieldtechApp, pilot, path: Path | str) -> None:
    await pilot.press("i")
    assert isinstance(app.screen, FormScreen)
    app.screen.query_one("#in-path", Input).value = str(path)
    await pilot.press("ctrl+s")
    await settle(pilot)


async def test_a_bad_version_is_a_message_and_the_typed_path_is_offered_again(
        app: FieldtechApp, tmp_path: Path) -> None:
    bad = tmp_path / "hand.toml"
    bad.write_text(BAD_VERSION)
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_first_controller(app, pilot)
        before, pending = app.store.controller(controller_id), app.store.pending_count()
        await import_file(app, pilot, bad)
        assert app.is_running
        shown = path_error(app)
        assert "Nothing changed" in shown and "• version:" in shown
        assert "whole number" in shown
        assert typed_path(app) == str(bad)  # fix the file, Ctrl+S again: nothing to retype
        assert app.store.controller(controller_id) == before
        assert app.store.pending_count() == pending

        bad.write_text(BAD_VERSION.replace('"two"', "1"))  # fixed: no zones, still refused
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "lists no zones" in path_error(app)
        await pilot.press("escape", "y")
        await settle(pilot)
        await pilot.press("i")  # closed, the typed path is offered again
        assert typed_path(app) == str(bad)
        await pilot.press("escape")


async def test_a_template_with_a_bad_version_is_a_message(app: FieldtechApp) -> None:
    folder = templates_dir(app.data_dir)
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text(BAD_VERSION)
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_first_controller(app, pilot)
        before = app.store.controller(controller_id)
        await pilot.press("t")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.is_running
        assert "• version:" in path_error(app)
        assert app.store.controller(controller_id) == before


async def test_a_long_error_list_says_how_many_more(app: FieldtechApp, tmp_path: Path) -> None:
    bad = tmp_path / "many.toml"
    bad.write_text(MANY_PROBLEMS)
    async with app.run_test(size=SIZE) as pilot:
        await open_first_controller(app, pilot)
        await import_file(app, pilot, bad)
        shown = path_error(app)
        assert shown.count("• ") == 6
        assert "… and 3 more." in shown


async def test_with_no_exports_the_folder_is_offered_and_says_what_to_type(
        app: FieldtechApp) -> None:
    exports = app.data_dir / "exports"
    async with app.run_test(size=SIZE) as pilot:
        await open_first_controller(app, pilot)
        await pilot.press("i")
        assert typed_path(app) == f"{exports}/"  # nothing exported yet: the folder
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.is_running
        assert "Type the path of a .toml file" in path_error(app)


async def test_the_default_is_the_newest_export(app: FieldtechApp) -> None:
    exports = app.data_dir / "exports"
    exports.mkdir(parents=True)
    (exports / "older.toml").write_text("")
    (exports / "newer.toml").write_text("")
    os.utime(exports / "older.toml", (1, 1))
    async with app.run_test(size=SIZE) as pilot:
        await open_first_controller(app, pilot)
        await pilot.press("i")
        assert typed_path(app) == str(exports / "newer.toml")


async def test_a_missing_file_is_a_message(app: FieldtechApp, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_first_controller(app, pilot)
        await import_file(app, pilot, tmp_path / "nope[bold].toml")  # markup-like, too
        assert app.is_running
        assert "There is no file" in path_error(app)
        assert "Nothing changed" in path_error(app)
