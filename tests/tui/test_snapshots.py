"""Snapshots of the main screens at 80×24 (pytest-textual-snapshot; cursor blink off).

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.conftest import SIZE, make_app, settle


async def _still(pilot: Pilot) -> None:
    await settle(pilot)
    for box in pilot.app.query(Input):
        box.cursor_blink = False
    for screen in pilot.app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
    await pilot.pause()


def _no_suspensions(app) -> str:
    # Suspensions show only until their date: pick a controller whose screen cannot age.
    for row in app.rows:
        c = app.store.controller(row.controller_id)
        if not any(z.suspended_until for z in c.config.zones) and c.config.programs:
            return row.controller_id
    raise AssertionError("no stable controller in the seed")


def test_fleet_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=_still)


def test_first_run_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, controllers=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=_still)


def test_controller_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def open_one(pilot: Pilot) -> None:
        await settle(pilot)
        app.open_controller(_no_suspensions(app))
        await _still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_one)


def test_switcher_with_recent_controllers(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def visit(pilot: Pilot) -> None:
        await settle(pilot)
        for row in app.rows[2:7]:
            app.open_controller(row.controller_id)
            await settle(pilot)
        await pilot.press("s")
        await _still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=visit)


def test_finder_results(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def search(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f", *"frnt yrd")
        await _still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=search)


def test_zone_form_with_validation_error(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def bad_edit(pilot: Pilot) -> None:
        await settle(pilot)
        app.open_controller(_no_suspensions(app))
        await settle(pilot)
        await pilot.press("e")
        app.screen.query_one("#in-run_minutes", Input).value = "999"
        await pilot.press("ctrl+s")
        await _still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=bad_edit)


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def help_(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await _still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=help_)
