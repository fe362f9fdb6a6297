"""Marks, sorting and saved views on the fleet (issue 16), driven with a Pilot at 80×24."""

from __future__ import annotations

from fieldtech.app import FieldtechApp
from fieldtech.screens.forms import FormScreen, HelpScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.services.settings import Settings
from tests.tui.conftest import SIZE, settle


def topbar_text(app: FieldtechApp) -> str:
    return str(app.screen.query_one("#topbar", TopBar).render())


async def test_space_marks_and_the_count_shows_in_the_header(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        first = fleet.line_key(fleet.cursor)
        assert first is not None  # the cursor starts on the first controller
        await pilot.press("space", "space")
        await settle(pilot)
        assert first in fleet.marked and len(fleet.marked) == 2
        assert "2 marked" in topbar_text(app)
        await pilot.press("up", "up", "space")  # unmark the first again
        await settle(pilot)
        assert first not in fleet.marked and len(fleet.marked) == 1


async def test_a_range_mark_covers_every_controller_between(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        await pilot.press("space")  # marks one; the range starts there
        for _ in range(6):
            await pilot.press("down")
        await pilot.press("v")
        await settle(pilot)
        start, end = 1, fleet.cursor
        expected = {k for n in range(start, end + 1) if (k := fleet.line_key(n))}
        assert fleet.marked == expected and len(expected) >= 4


async def test_star_marks_everything_the_filter_shows_and_no_more(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:offline", "enter", "asterisk")
        await settle(pilot)
        fleet = app.screen.fleet_list
        offline = {r.controller_id for r in app.store.fleet_rows()
                   if r.controller_id and r.state.value == "offline"}
        assert offline and fleet.marked == offline
        assert f"{len(offline)} marked" in topbar_text(app)
        await pilot.press("asterisk")  # all marked already: unmark them
        await settle(pilot)
        assert not fleet.marked and "marked" not in topbar_text(app)


async def test_star_over_the_whole_fleet_then_space_then_a_new_controller(
        app: FieldtechApp) -> None:
    """`*` on the whole fleet marks every controller (a customer with none adds nothing); the
    marks stay a set of their own (space unmarks one; `*` then marks all again, and again
    unmarks all); after a reload, `*` takes the new fleet's controllers, not the ones kept
    for the last `*`, and so does `*` over a sort of the whole fleet."""
    from fieldtech.domain.models import Customer, new_id

    app.services.edits.create_customer(Customer(id=new_id(), name="Aaron No Controller"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        every = {r.controller_id for r in app.store.fleet_rows() if r.controller_id}
        await pilot.press("asterisk")
        await settle(pilot)
        assert fleet.marked == every and "" not in fleet.marked
        one = next(iter(every))
        fleet.move_to(fleet.line_of(one))
        await pilot.press("space")  # the cursor's controller unmarked: one fewer
        await settle(pilot)
        assert fleet.marked == every - {one} and fleet.shown_keys() == every
        await pilot.press("asterisk")  # not all marked: mark all
        await settle(pilot)
        assert fleet.marked == every
        await pilot.press("asterisk")  # all marked: unmark all
        await settle(pilot)
        assert not fleet.marked and f"{len(every)} marked" not in topbar_text(app)
        model = app.store.controller(next(iter(every)))
        added = app.services.edits.create_controllers(model, 1)
        app.load_fleet()
        await settle(pilot)
        now = {r.controller_id for r in app.store.fleet_rows() if r.controller_id}
        assert len(now) == len(every) + 1, added
        assert not fleet._keys and fleet._keys_of is None  # the last fleet's set let go
        await pilot.press("asterisk")
        await settle(pilot)
        assert fleet.marked == now and f"{len(now)} marked" in topbar_text(app)
        await pilot.press("asterisk")
        app.screen.set_view("", "name")  # a sort: every controller, in another order
        await settle(pilot)
        await pilot.press("asterisk")
        await settle(pilot)
        assert fleet.marked == now and fleet.shown_keys() == now


async def test_sorting_by_name_is_natural_and_flat(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")  # customer → name
        await settle(pilot)
        screen = app.screen
        assert screen.sort == "name" and not screen.fleet_list.grouped
        from fieldtech.domain.text import natural_key
        names = [r.name for r in screen.fleet_list.rows]
        assert names == sorted(names, key=natural_key)
        assert len(names) == len([r for r in app.store.fleet_rows() if r.controller_id])


async def test_a_saved_view_is_kept_in_settings_and_listed(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:offline", "enter", "O", "O")  # by status
        await pilot.press("W")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"Down", "ctrl+s")
        await settle(pilot)
        again = Settings.load(app.settings.path.parent)
        assert [(v.name, v.filter, v.sort) for v in again.views] == [
            ("Down", "status:offline", "status")]
        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        await pilot.press("O")  # a different sort
        await pilot.press("V")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert screen.sort == "status"
        assert all(r.state.value == "offline" for r in screen.fleet_list.rows)


async def test_filter_fields_are_on_the_help_screen(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(f"{k} {d}" for k, d, _ in app.screen.rows)
        for word in ("city:", "model:", "firmware:", "membership:", "status:", "Mark",
                     "Mark range", "Mark all shown", "Sort", "Views", "Save view"):
            assert word in text, word


async def test_the_lists_lines_and_finding_a_record_grouped_and_flat(app: FieldtechApp) -> None:
    """FleetList builds its lines in C and finds a record's line by bisection: the lines must
    be the row-at-a-time reading (a header where the customer changes, then its controllers;
    flat: controllers only) and every record's line must be its own, both ways."""
    from fieldtech.widgets.fleet_list import CONTROLLER, CUSTOMER

    def expected_lines(rows, grouped: bool) -> list[tuple[int, int]]:
        lines, last = [], None
        for i, r in enumerate(rows):
            if grouped and r.customer_id != last:
                lines.append((CUSTOMER, i))
                last = r.customer_id
            if r.controller_id:
                lines.append((CONTROLLER, i))
        return lines

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        # customer again: the grouped list's lines kept from before the sort, not rebuilt
        for sort in ("customer", "name", "customer"):
            app.screen.set_view("", sort)
            await settle(pilot)
            assert fleet.grouped is (sort == "customer")
            if fleet.grouped:
                assert fleet.rows is app.services.fleet.rows
            assert list(fleet._lines) == expected_lines(fleet.rows, fleet.grouped)
            for n, (kind, i) in enumerate(fleet._lines):
                row = fleet.rows[i]
                assert fleet.line_of(row.customer_id if kind == CUSTOMER
                                     else row.controller_id) == n
            assert fleet.shown_keys() == {r.controller_id for r in fleet.rows
                                          if r.controller_id}
            if not fleet.grouped:
                assert fleet.line_of(fleet.rows[0].customer_id) is None  # no header: none
                # a sorted view keeps the cursor on the same controller as the next sort
                fleet.move_to(5)
                here = fleet.current_id
                app.screen.set_view("", "-name")
                await settle(pilot)
                assert fleet.current_id == here and fleet.rows[fleet.cursor].name
        assert fleet.line_of("no-such-record") is None and fleet.line_of("") is None


async def test_back_to_the_grouped_list_after_a_reload_shows_the_new_rows(
        app: FieldtechApp) -> None:
    """The grouped list's lines are kept for going back from a sort or a filter: a reload
    (a new customer) in between must show the new list, not the kept one."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        fleet = screen.fleet_list
        before = len(fleet._lines)
        screen.set_view("", "name")
        await settle(pilot)
        from fieldtech.domain.models import Customer, new_id
        app.services.edits.create_customer(Customer(id=new_id(), name="Aaron Zebra Kept Lines"))
        app.load_fleet()
        await settle(pilot)
        screen.set_view("", "customer")
        await settle(pilot)
        assert fleet.rows is app.services.fleet.rows and len(fleet._lines) == before + 1
        assert any(r.customer_name == "Aaron Zebra Kept Lines" for r in fleet.rows)


async def test_the_fleet_screen_builds_the_columns_orders_after_the_read(
        app: FieldtechApp) -> None:
    """After the fleet is read, every column's order is built ahead (a thread), so the first
    `O` by a column reads a built order; the list it shows is the plain sort of its rows."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.workers.wait_for_complete()
        index = app.services.fleet.index
        assert index is not None and index.prepared
        await pilot.press("O", "O")  # customer → name → status
        await settle(pilot)
        rows = list(app.screen.fleet_list.rows)
        states = list(type(rows[0].state))
        assert rows == sorted(index.rows, key=lambda r: states.index(r.state))
