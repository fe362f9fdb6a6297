"""Importing a file (`i`) or applying a template (`t`) that is wrong: a message, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Input

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
        assert app.is_running and isinstance(app.screen, ControllerScreen)
        shown = messages(app)[-1]
        assert "Not imported — nothing changed" in shown and "• version:" in shown
        assert "whole number" in shown
        assert app.store.controller(controller_id) == before
        assert app.store.pending_count() == pending

        await pilot.press("i")  # fix the file and retry without retyping the path
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
        assert "• version:" in messages(app)[-1]
        assert app.store.controller(controller_id) == before


async def test_a_long_error_list_says_how_many_more(app: FieldtechApp, tmp_path: Path) -> None:
    bad = tmp_path / "many.toml"
    bad.write_text(MANY_PROBLEMS)
    async with app.run_test(size=SIZE) as pilot:
        await open_first_controller(app, pilot)
        await import_file(app, pilot, bad)
        shown = messages(app)[-1]
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
        assert "Type the path of a .toml file" in messages(app)[-1]


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
        assert "There is no file" in messages(app)[-1]
        assert "nothing changed" in messages(app)[-1]
