"""Editing with validation next to the field; creating customers and controllers offline."""

from __future__ import annotations

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.domain import ControllerState, Customer, new_id
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.pending import PendingScreen
from tests.conftest import make_controller
from tests.tui.conftest import SIZE, make_app, settle, wait_for


def set_input(app: FieldtechApp, name: str, value: str) -> None:
    app.screen.query_one(f"#in-{name}", Input).value = value


def error_of(app: FieldtechApp, name: str) -> str:
    return str(app.screen.query_one(f"#err-{name}", Static).render())


async def test_zone_edit_shows_error_next_to_field_and_saves_nothing(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await settle(pilot)
        target = app.rows[4]
        app.open_controller(target.controller_id)
        await settle(pilot)
        before = app.store.controller(target.controller_id).config.zone(1)
        pending_before = app.store.pending_count()

        await pilot.press("e")  # zone 1 is under the cursor
        assert isinstance(app.screen, FormScreen)
        set_input(app, "run_minutes", "999")
        set_input(app, "cycle_minutes", "5")
        set_input(app, "soak_minutes", "")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FormScreen), "an invalid form must stay open"
        assert "between 0 and 720" in error_of(app, "run_minutes")
        assert "both a cycle and a soak" in error_of(app, "soak_minutes")
        assert error_of(app, "name") == ""
        assert app.store.controller(target.controller_id).config.zone(1) == before
        assert app.store.pending_count() == pending_before

        set_input(app, "run_minutes", "25")
        set_input(app, "soak_minutes", "20")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen)
        zone = app.store.controller(target.controller_id).config.zone(1)
        assert (zone.run_minutes, zone.cycle_minutes, zone.soak_minutes) == (25, 5, 20)
        assert app.store.pending_count() == pending_before + 1
        pending = app.store.outbox_for("controller", target.controller_id)
        assert pending[-1].patch["config"]["zones"][0]["run_minutes"] == 25


async def test_program_form_parses_days_starts_and_zone_minutes(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[2]
        app.open_controller(target.controller_id)
        await settle(pilot)
        count = len(app.store.controller(target.controller_id).config.programs)
        await pilot.press("a")
        set_input(app, "name", "Night drip")
        set_input(app, "days", "Mon Thursday Funday")
        set_input(app, "start_times", "21:00 25:61")
        set_input(app, "zone_minutes", "1=15 2=20")
        await pilot.press("ctrl+s")
        assert "Funday" in error_of(app, "days")
        set_input(app, "days", "Mon Thu")
        await pilot.press("ctrl+s")
        assert "HH:MM" in error_of(app, "start_times")
        set_input(app, "start_times", "21:00 04:30")
        await pilot.press("ctrl+s")
        await settle(pilot)
        programs = app.store.controller(target.controller_id).config.programs
        assert len(programs) == count + 1
        p = programs[-1]
        assert (p.name, p.days, p.start_times, p.zone_minutes) == (
            "Night drip", [0, 3], ["21:00", "04:30"], {1: 15, 2: 20})


async def test_first_run_create_customer_then_controller_offline(
        empty_app: FieldtechApp) -> None:
    app = empty_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#empty").has_class("visible")
        await pilot.press("n")
        set_input(app, "name", "Rosa Patel")
        set_input(app, "email", "not-an-email")
        await pilot.press("ctrl+s")
        assert "e-mail" in error_of(app, "email")
        set_input(app, "email", "rosa@mail.example")
        set_input(app, "address", "12 Oak St, Fresno, CA")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.rows)
        assert [k.name for k in app.store.customers()] == ["Rosa Patel"]
        assert not app.screen.query_one("#empty").has_class("visible")

        await pilot.press("c")
        await pilot.pause()
        set_input(app, "name", "Back yard")
        set_input(app, "zone_count", "6")
        set_input(app, "serial", "")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen)
        (row,) = app.store.fleet_rows()
        assert (row.name, row.zone_count, row.serial, row.state) == (
            "Back yard", 6, None, ControllerState.NOT_LINKED)
        controller = app.store.controller(row.controller_id)
        assert controller.location == "12 Oak St, Fresno, CA"  # prefilled from the customer
        assert [z.number for z in controller.config.zones] == [1, 2, 3, 4, 5, 6]
        assert [(e.op, e.entity) for e in app.store.outbox()] == [
            ("create", "customer"), ("create", "controller")]
        assert "not linked" in str(app.screen.query_one("#ctl-header").render())


async def test_creating_past_the_plan_limit_warns_but_keeps_the_draft(tmp_path) -> None:
    app = make_app(tmp_path, customers=5, controllers=25)  # Starter: 25 of 25
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        warnings = [n.message for n in app._notifications]
        assert any("26 of 25" in m and "Starter" in m for m in warnings)
        set_input(app, "name", "Extra site")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(app.store.fleet_rows()) == 26  # kept locally; the cloud decides later
    app.store.close()


async def test_serial_is_checked_and_binding_changes_state(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = next(r for r in app.rows if r.serial is None)
        app.open_controller(target.controller_id)
        await settle(pilot)
        await pilot.press("d")
        set_input(app, "serial", "12")
        await pilot.press("ctrl+s")
        assert "serial number" in error_of(app, "serial")
        set_input(app, "serial", "ft1-00c0ffee")
        await pilot.press("ctrl+s")
        await settle(pilot)
        row = app.store.controller_row(target.controller_id)
        assert row.serial == "FT1-00C0FFEE" and row.state is ControllerState.OFFLINE


async def test_rain_delay_set_and_cleared(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[6]
        app.open_controller(target.controller_id)
        await settle(pilot)
        await pilot.press("r")
        set_input(app, "hours", "48")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.store.controller(target.controller_id).config.rain_delay_until is not None
        await pilot.press("r")
        set_input(app, "hours", "0")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.store.controller(target.controller_id).config.rain_delay_until is None


async def test_two_quick_edits_both_kept(app: FieldtechApp) -> None:
    """The second edit is applied to the stored record, not the screen's stale copy."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[8]
        app.open_controller(target.controller_id)
        await settle(pilot)
        await pilot.press("e")
        set_input(app, "name", "Roses by the gate")
        await pilot.press("ctrl+s")
        # No waiting for the save or the reload: straight on to zone 2.
        await pilot.press("down", "e")
        set_input(app, "name", "Hedge line")
        await pilot.press("ctrl+s")
        await settle(pilot)
        config = app.store.controller(target.controller_id).config
        assert (config.zone(1).name, config.zone(2).name) == ("Roses by the gate", "Hedge line")


async def test_discarding_the_open_controllers_creation_returns_to_the_fleet(
        app: FieldtechApp) -> None:
    """The controller screen under the pending screen must not keep showing a record that
    is gone, and the switcher must not offer it."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.rows[0]
        await pilot.press("c")  # a new controller for the customer under the cursor
        await pilot.pause()
        set_input(app, "name", "Mistake")
        set_input(app, "zone_count", "4")
        set_input(app, "serial", "")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen)
                       and app.screen.controller and app.screen.controller.name == "Mistake")
        mistake = app.current_controller
        assert mistake != first.controller_id
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        pending = app.screen
        assert [(p.record.split(" (")[0], p.change) for p in pending.edits] == [
            ("Mistake", "new controller")]
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: not pending.edits)
        assert mistake not in {r.controller_id for r in app.store.fleet_rows()}
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert app.current_controller is None and mistake not in app.recent_ids
        assert mistake not in app.rows_by_id
        await pilot.press("b")  # no "previous" that no longer exists
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)


async def test_discarding_a_new_customer_whose_controller_waits_is_refused_plainly(
        empty_app: FieldtechApp) -> None:
    app = empty_app
    customer = Customer(id=new_id(), name="Rosa Patel", email="rosa@mail.example")
    app.store.create_customer(customer)
    app.store.create_controller(make_controller(customer))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        assert app.screen.edits[0].change == "new customer"
        await pilot.press("x", "y")  # the cursor is on the customer's creation
        await settle(pilot)
        assert any("discard or move it first" in str(n.message)
                   for n in app._notifications), [n.message for n in app._notifications]
        assert [(e.op, e.entity) for e in app.store.outbox()] == [
            ("create", "customer"), ("create", "controller")]
        assert isinstance(app.screen, PendingScreen) and len(app.screen.edits) == 2
