"""Deleting controllers and customers (D), with a confirmation that says how to undo it; and
a serial another controller holds, refused next to the field."""

from __future__ import annotations

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from fieldtech.screens.pending import PendingScreen
from tests.tui.conftest import SIZE, settle, wait_for


def notes(app: FieldtechApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def put_cursor_on(app: FieldtechApp, record_id: str) -> None:
    """The fleet's cursor on a controller's line, or on a customer's header line."""
    fleet = app.screen.fleet_list
    fleet.move_to(next(n for n, (kind, i) in enumerate(fleet._lines)
                       if record_id in (fleet.rows[i].controller_id, fleet.rows[i].customer_id)
                       and (fleet.rows[i].controller_id == record_id) == (kind == 1)))


async def test_delete_the_open_controller_then_undo_it_from_pending(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[3]
        app.open_controller(target.controller_id)
        await settle(pilot)

        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert f"“{target.name}” ({target.customer_name}, " in question
        assert "removed from the cloud at the next sync" in question
        assert "pending changes (u, then x to discard) bring it back" in question
        await pilot.press("n")  # no: nothing happens
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen) and app.store.pending_count() == 0

        await pilot.press("D", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen)
                       and target.controller_id not in app.rows_by_id)
        assert app.current_controller is None and target.controller_id not in app.recent_ids
        assert [(e.op, e.entity, e.entity_id) for e in app.store.outbox()] == [
            ("delete", "controller", target.controller_id)]
        assert any("removed from the cloud at the next sync" in n for n in notes(app))

        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        pending = app.screen
        assert [(p.record, p.change) for p in pending.edits] == [
            (f"{target.name} ({target.customer_name})", "delete controller")]
        await pilot.press("x")
        assert "The record comes back." in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: not pending.edits)
        await pilot.press("escape")
        await wait_for(pilot, lambda: target.controller_id in app.rows_by_id)
        assert app.store.controller(target.controller_id).name == target.name


async def test_delete_on_the_fleet_a_controller_then_its_customer(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        counts = {}
        for r in app.rows:
            counts[r.customer_id] = counts.get(r.customer_id, 0) + 1
        several = next(k for k, n in counts.items() if n > 1)
        single = next(r for r in app.rows if counts[r.customer_id] == 1)

        # a customer who still has controllers: refused, saying what to do, with no dialog
        put_cursor_on(app, several)
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert any(f"still has {counts[several]} controllers: delete or move them first" in n
                   for n in notes(app)), notes(app)

        put_cursor_on(app, single.controller_id)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"controller “{single.name}”" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: single.controller_id not in app.rows_by_id)

        put_cursor_on(app, single.customer_id)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"customer “{single.customer_name}”" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: single.customer_id not in {r.customer_id
                                                                 for r in app.rows})
        assert [(e.op, e.entity) for e in app.store.outbox()] == [
            ("delete", "controller"), ("delete", "customer")]


async def test_a_serial_another_controller_holds_is_refused_next_to_the_field(
        app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        holder = next(r for r in app.rows if r.serial)
        target = next(r for r in app.rows if r.controller_id != holder.controller_id)
        app.open_controller(target.controller_id)
        await settle(pilot)
        before = app.store.pending_count()
        await pilot.press("d")
        app.screen.query_one("#in-serial", Input).value = holder.serial.lower()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen), "the form stays open with the error"
        error = str(app.screen.query_one("#err-serial", Static).render())
        assert (f"{holder.serial} is already the serial of {holder.name} "
                f"({holder.customer_name})") in error
        assert app.store.pending_count() == before
