"""Every "today" the app offers is the contractor's (the account's time zone, as memberships
follow: fieldtech.domain.calendar), not this computer's: the report's default month, a time
entry's and a work order's date, the day of visits shown, the zone tests' visit, a
winterization's default date. The clock is moved (calendar.utc_now) to a moment when the
account's zone is already on the next day and month: 2026-03-31 23:30 UTC is 2026-04-01 13:30
in Pacific/Kiritimati (UTC+14), while this computer's own date is whatever today is."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from textual.widgets import Input, Select

import fieldtech.domain.calendar as calendar
from fieldtech.app import FieldtechApp
from fieldtech.domain.models import Customer, new_id
from fieldtech.offline_store.store import Store
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.work_orders import WorkOrdersScreen
from fieldtech.services import contracts
from fieldtech.services.campaigns import Kind
from fieldtech.services.edits import EditService
from fieldtech.widgets.text_line import TextBox
from tests.tui.conftest import SIZE, settle, wait_for

MOMENT = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
ZONE = "Pacific/Kiritimati"
THEIRS = date(2026, 4, 1)


@pytest.fixture
def their_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar, "utc_now", lambda: MOMENT)


def test_a_time_entry_without_a_day_is_on_the_contractors_day(store: Store,
                                                               their_clock: None) -> None:
    # today() keeps the zone in memory; a sync that learns the account's zone is seen at once
    assert store.today() == calendar.contractor_today(None)
    store.set_sync_values(timezone=ZONE)
    assert store.today() == THEIRS
    edits = EditService(store)
    ana = Customer(id=new_id(), name="Ana Chen")
    edits.create_customer(ana)
    contracts.log_time(edits, ana.id, 30, "visit")
    [entry] = store.documents("time_entry", ana.id)
    assert entry.data["date"] == THEIRS.isoformat()


def test_the_contractors_day_after_a_sync_is_known_without_a_read(store: Store,
                                                                  their_clock: None) -> None:
    """A sync that sets the account's zone leaves it known: a switch's `today_as_known()`
    answers while another thread holds the store (a sync writing), not after it."""
    store.set_sync_values(timezone=ZONE)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock:  # as a sync's transaction holds it
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        answer: list[date] = []
        asker = threading.Thread(target=lambda: answer.append(store.today_as_known()))
        asker.start()
        asker.join(3)
        assert answer == [THEIRS]
    finally:
        release.set()
        holder.join()


def test_the_report_command_defaults_to_the_contractors_month(tmp_path: Path, their_clock: None,
                                                              capsys) -> None:
    from fieldtech.cli import main

    with Store(tmp_path / "fieldtech.db") as store:
        store.set_sync_values(timezone=ZONE)
    assert main(["--data-dir", str(tmp_path), "report", "statements", "--no-sync"]) == 0
    assert capsys.readouterr().out.startswith("No customer statements for 2026-04:")
    assert main(["--data-dir", str(tmp_path), "report", "--no-sync", "--month", "2026-13"]) == 2
    assert "--month '2026-13' is not a month" in capsys.readouterr().err


async def test_the_work_orders_day_and_a_new_visits_date_are_the_contractors(
        app: FieldtechApp, their_clock: None) -> None:
    app.store.set_sync_values(timezone=ZONE)
    title = "#orders-title"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkOrdersScreen)
                       and "2026-04-01" in app.screen.query_one(title, TextBox).text)
        screen = app.screen
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "2026-04-02" in screen.query_one(title, TextBox).text)
        await pilot.press("a")
        await wait_for(pilot, lambda: "every day" in screen.query_one(title, TextBox).text)
        table = screen.query_one("#orders-list")
        assert table.render_line(0).text.strip().startswith("No visits planned: n plans one")
        await pilot.press("a")  # back from every day: the contractor's today
        await wait_for(pilot, lambda: "2026-04-01" in screen.query_one(title, TextBox).text)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "2026-03-31" in screen.query_one(title, TextBox).text)
        await pilot.press("right_square_bracket", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        assert app.screen.query_one("#in-date", Input).value == "2026-04-01"


async def test_a_winterizations_default_date_counts_from_the_contractors_day(
        app: FieldtechApp, their_clock: None) -> None:
    app.store.set_sync_values(timezone=ZONE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "B")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        app.screen.query_one("#in-kind", Select).value = Kind.SUSPEND
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.screen.query("#in-until")))
        assert app.screen.query_one("#in-until", Input).value == "2026-07-30"  # + 120 days


async def test_a_controllers_log_time_and_zone_suspension_use_the_contractors_day(
        app: FieldtechApp, their_clock: None) -> None:
    """`h` on a controller offers the contractor's date; a zone's suspension is refused as
    past against the contractor's day (their 2026-03-31 is yesterday), not this computer's."""
    from fieldtech.screens.controller import ControllerScreen

    app.store.set_sync_values(timezone=ZONE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(next(r for r in app.rows if r.controller_id).controller_id)
        await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen))
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        assert app.screen.query_one("#in-date", Input).value == "2026-04-01"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen))
        await pilot.press("e")  # the zone under the cursor
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        form.query_one("#in-suspended_until", Input).value = "2026-03-31"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and "2026-03-31 has passed" in form.query_one(
            "#err-suspended_until").render().plain


async def test_a_controllers_zone_suspension_shows_until_the_contractors_day_ends(
        app: FieldtechApp, their_clock: None) -> None:
    """A zone suspended until the contractor's yesterday shows no more, one until their today
    still does, on the zones tab and in the details (UTC's day is a day behind theirs)."""
    from fieldtech.screens.controller import ControllerScreen

    app.store.set_sync_values(timezone=ZONE)
    controller_id = next(r.controller_id for r in app.store.fleet_rows() if r.controller_id)
    edits = EditService(app.store)
    controller = app.store.controller(controller_id)
    assert controller is not None and len(controller.config.zones) >= 2
    first, second = controller.config.zones[:2]
    edits.set_zone(controller_id, replace(first, suspended_until=date(2026, 3, 31)))
    edits.set_zone(controller_id, replace(second, suspended_until=THEIRS))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(controller_id)
        await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen))
        await settle(pilot)
        table = app.screen.query_one("#zone-table")
        rows = [table.render_line(y).text for y in range(table.size.height)]
        first_row = next(r for r in rows if r.split()[:1] == [str(first.number)])
        second_row = next(r for r in rows if r.split()[:1] == [str(second.number)])
        assert "2026-03-31" not in first_row
        assert THEIRS.isoformat() in second_row
        details = app.screen.query_one("#details", TextBox).text
        assert "until 2026-03-31" not in details and f"until {THEIRS}" in details
