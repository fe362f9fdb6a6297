"""Work orders in the TUI (Pilot, 80×24): plan one from the fleet, tick, quote, time, done."""

from __future__ import annotations

from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.domain.work_orders import KIND
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.work_orders import WorkOrderScreen, WorkOrdersScreen
from tests.tui.conftest import SIZE, settle, wait_for


async def test_plan_a_visit_and_work_through_it(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        customer = app.screen.fleet_list.current[0].customer_id
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkOrdersScreen))
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#in-technician", Input).value = "ana"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.store.documents(KIND)))
        order = app.store.documents(KIND)[0]
        assert order.data["customer_id"] == customer and order.data["technician"] == "ana"
        await wait_for(pilot, lambda: bool(app.screen.visits))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkOrderScreen)
                       and bool(app.screen.data))
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.document(order.id).data["checklist"][0]["done"])
        await pilot.press("f")
        await settle(pilot)
        app.screen.query_one("#in-text", Input).value = "Cracked head, zone 3"
        app.screen.query_one("#in-quote", Input).value = "45.50"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.document(order.id).data.get("findings"))
        await wait_for(pilot, lambda: bool(app.screen.data.get("findings")))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.store.document(order.id).data["findings"][0][
            "quote"] == "approved")
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#in-minutes", Input).value = "75"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.document(order.id).data["minutes"] == 75)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.store.document(order.id).data["status"] == "done")
        # closed with time spent: the customer's time entry, and the technician is told
        await wait_for(pilot, lambda: any("1 h 15 booked as the customer's time entry" in
                                          str(n.message) for n in app._notifications))
        [entry] = app.store.documents("time_entry", customer)
        assert (entry.data["minutes"], entry.data["kind"]) == (75, "visit")
        finding = app.store.document(order.id).data["findings"][0]
        assert finding["quote_cents"] == 4550
        assert app.store.pending_count() >= 5  # every change queued for the cloud


async def test_an_empty_list_says_so_and_what_to_do(app: FieldtechApp) -> None:
    """Every record table's `empty` hint is painted once its rows are read and there are none
    (it was stored and never shown: an empty day was a blank box)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkOrdersScreen))
        await settle(pilot)
        table = app.screen.query_one("#orders-list")
        assert table.rows == []
        assert table.render_line(0).text.strip() == "No visits that day: n plans one."
        assert table.render_line(1).text.strip() == ""
