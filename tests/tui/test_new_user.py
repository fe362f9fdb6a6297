"""What a new user hit (issue 12): each defect as the person met it, driven with a Pilot."""

from __future__ import annotations

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from tests.tui.conftest import SIZE, settle


def set_input(app: FieldtechApp, name: str, value: str) -> None:
    app.screen.query_one(f"#in-{name}", Input).value = value


def error_of(app: FieldtechApp, name: str) -> str:
    return str(app.screen.query_one(f"#err-{name}", Static).render())


def under_cursor(app: FieldtechApp) -> str:
    """The fleet's line under the cursor: a controller's id, or a customer line's."""
    row, is_customer = app.screen.fleet_list.current
    return row.customer_id if is_customer else row.controller_id


async def open_controller(pilot, app: FieldtechApp, index: int = 4) -> str:
    await settle(pilot)
    controller_id = app.rows[index].controller_id
    app.open_controller(controller_id)
    await settle(pilot)
    assert isinstance(app.screen, ControllerScreen)
    return controller_id


async def test_a_huge_zone_count_is_refused_under_its_field_at_once(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        controller_id = await open_controller(pilot, app)
        before = app.store.controller(controller_id)
        await pilot.press("d")
        set_input(app, "zone_count", "99999999999")
        await pilot.press("ctrl+s")  # built 99,999,999,999 zones before checking (froze)
        assert isinstance(app.screen, FormScreen)
        assert "between 1 and 200" in error_of(app, "zone_count")
        await pilot.press("escape", "y")
        await settle(pilot)
        assert app.store.controller(controller_id) == before

        await pilot.press("escape")  # the fleet: a new controller with the same count
        await settle(pilot)
        await pilot.press("c")
        set_input(app, "name", "Huge")
        set_input(app, "zone_count", "99999999999")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FormScreen)
        assert "between 1 and 200" in error_of(app, "zone_count")


async def test_a_reload_keeps_the_fleet_cursor_on_the_new_customer(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        opened = await open_controller(pilot, app, index=20)  # "the last controller opened"
        await pilot.press("escape")
        await settle(pilot)
        assert under_cursor(app) == opened  # back on the one just opened
        await pilot.press("n")
        set_input(app, "name", "Aardvark New")
        await pilot.press("ctrl+s")
        await settle(pilot)
        customer = next(k for k in app.store.customers() if k.name == "Aardvark New")
        assert under_cursor(app) == customer.id

        app.load_fleet()  # what a sync (S, or the background one) does when records changed
        await settle(pilot)
        assert under_cursor(app) == customer.id
        await pilot.press("c")
        assert isinstance(app.screen, FormScreen)
        assert "Aardvark New" in app.screen.title_text


async def test_a_reload_keeps_the_cursor_where_the_person_moved_it(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_controller(pilot, app, index=3)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("down", "down", "down")
        here = under_cursor(app)
        app.load_fleet()
        await settle(pilot)
        assert under_cursor(app) == here


def _messages(app: FieldtechApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def save_template(pilot, app: FieldtechApp, index: int, name: str) -> str:
    """Open the controller at `index`, press T and save it as `name`; the file's text."""
    await open_controller(pilot, app, index=index)
    await pilot.press("T")
    set_input(app, "path", name)
    await pilot.press("ctrl+s")
    await settle(pilot)
    return (app.data_dir / "templates" / f"{name}.toml").read_text()


async def test_a_template_saved_under_a_plain_name_is_offered_by_t(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await save_template(pilot, app, 4, "Residential 4 zone")
        saved = app.data_dir / "templates" / "Residential 4 zone.toml"
        assert saved.is_file()  # in the templates folder, with its extension
        assert "Residential 4 zone" in _messages(app)[-1]

        await open_controller(pilot, app, index=6)
        await pilot.press("t")
        assert isinstance(app.screen, FormScreen)
        select = app.screen.query_one("#in-path")
        assert select.value == str(saved)


async def test_applying_a_template_asks_first_and_keeps_the_targets_state(
        app: FieldtechApp) -> None:
    from dataclasses import replace
    from datetime import UTC, date, datetime, timedelta

    from fieldtech.screens.forms import ConfirmScreen

    store = app.store
    rows = store.fleet_rows()
    source = rows[4]  # and a target of the same zone count (a template's zones must exist)
    target = next(r for r in rows[5:] if r.zone_count == source.zone_count)
    source_id, target_id, target_index = source.controller_id, target.controller_id, rows.index(
        target)
    rain = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0)
    far = date(2099, 1, 1)
    store.edit_controller(source_id, lambda c: {"config": replace(
        c.config, rain_delay_until=rain,
        zones=[replace(z, suspended_until=far, name=f"Bed {z.number}")
               for z in c.config.zones])})
    store.edit_controller(target_id, lambda c: {"config": replace(
        c.config, rain_delay_until=None,
        zones=[replace(z, suspended_until=None) for z in c.config.zones])})
    async with app.run_test(size=SIZE) as pilot:
        text = await save_template(pilot, app, 4, "Beds")
        assert "rain_delay_until" not in text and "suspended_until" not in text

        await open_controller(pilot, app, index=target_index)
        before = store.controller(target_id)
        await pilot.press("t", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # nothing written before the answer
        assert "zone 1 name" in app.screen.question and "Bed 1" in app.screen.question
        assert store.controller(target_id) == before
        await pilot.press("y")
        await settle(pilot)
        after = store.controller(target_id)
        assert after.config.zone(1).name == "Bed 1"
        assert after.config.rain_delay_until is None
        assert all(z.suspended_until is None for z in after.config.zones)

        await pilot.press("y")  # copy from the source: asks, and carries no state either
        assert "copy from" in str(app.screen.query_one("#finder-hint").render())
        app.screen.query_one("#finder-input", Input).value = source.name
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert store.controller(target_id).config == after.config


async def test_fewer_zones_says_which_go_and_asks_first(app: FieldtechApp) -> None:
    from fieldtech.screens.forms import ConfirmScreen

    rows = app.store.fleet_rows()
    row = next(r for r in rows if r.zone_count >= 12)
    index = rows.index(row)
    async with app.run_test(size=SIZE) as pilot:
        await open_controller(pilot, app, index=index)
        pending = app.store.pending_count()
        await pilot.press("d")
        set_input(app, "zone_count", "4")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"zones 5–{row.zone_count} removed" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert app.store.controller(row.controller_id).zone_count == row.zone_count
        assert app.store.pending_count() == pending

        await pilot.press("d")
        set_input(app, "zone_count", "4")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.store.controller(row.controller_id).zone_count == 4


async def test_esc_in_the_plan_code_box_leaves_the_box_not_the_screen(
        app: FieldtechApp) -> None:
    from fieldtech.screens.forms import ConfirmScreen
    from fieldtech.screens.plans import PlansScreen

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PlansScreen)
        await pilot.press("c", *"45F2")
        await pilot.press("escape")
        assert isinstance(app.screen, PlansScreen)  # the whole screen closed, code and all
        assert app.screen.query_one("#plans-code", Input).value == "45F2"
        await pilot.press("i")  # an included plan: asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.press("escape")
        assert not isinstance(app.screen, PlansScreen)


async def test_the_login_form_says_what_is_missing_under_each_field(app: FieldtechApp) -> None:
    from fieldtech.screens.login import LoginScreen

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("L")
        assert isinstance(app.screen, LoginScreen)
        set_input(app, "url", "http://127.0.0.1:9")
        set_input(app, "password", "secret")
        await pilot.press("ctrl+s")
        assert error_of(app, "email") == "Enter your e-mail."
        assert error_of(app, "password") == ""  # was shown under Password
        assert app.screen.focused.id == "in-email"


async def test_a_name_with_an_emoji_keeps_the_columns_after_it_in_place(
        app: FieldtechApp) -> None:
    from rich.cells import cell_len

    from tests.conftest import make_controller

    customer = app.store.customers()[0]
    for name in ("Pool 🌊 side", "Plain side"):
        app.store.create_controller(make_controller(customer, name=name, zones=6))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        columns = {}
        for line, (_kind, i) in enumerate(fleet._lines):
            row = fleet.rows[i]
            if row.name in ("Pool 🌊 side", "Plain side"):
                text = fleet._render(line, 78).text
                assert cell_len(text) == 78
                columns[row.name] = cell_len(text[:text.index("not linked")])
        assert columns["Pool 🌊 side"] == columns["Plain side"]


async def test_ctrl_c_says_how_to_quit_in_plain_words(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        shown = _messages(app)[-1]
        assert "[b]" not in shown and "Press q or ^q to quit" in shown, shown


async def test_every_key_of_the_controller_screen_shows_at_80_by_24(app: FieldtechApp) -> None:
    """x i T t y S u P L o were only under ? (issue 12): the key bar's second line shows
    them, a page at a time."""
    from fieldtech.widgets.key_bar import KeyBar

    async with app.run_test(size=SIZE) as pilot:
        await open_controller(pilot, app)
        bar = app.screen.query_one(KeyBar)
        pages = bar._pages(bar.size.width)
        assert len(pages) > 1
        seen = set()
        for n in range(len(pages)):
            bar.page = n
            await pilot.pause()
            lines = str(bar.render()).split("\n")
            assert len(lines) == 2 and all(len(line) <= 80 for line in lines)
            assert lines[1].rstrip().endswith(f"{n + 1}/{len(pages)}")
            seen.update(word for word in lines[1].split() if len(word) == 1)
        assert set("xiTtySuPLo") <= seen | {"b", "s", "f", "q"}


async def test_the_help_scrolls_and_always_says_how_to_close(app: FieldtechApp) -> None:
    from fieldtech.screens.forms import HelpScreen

    async with app.run_test(size=SIZE) as pilot:
        await open_controller(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        hint = app.screen.query_one(".dialog-hint")
        assert "Esc closes" in str(hint.render())
        assert hint.region.bottom <= 24 and hint.region.height >= 2
        body = app.screen.query_one("#help-body")
        assert body.max_scroll_y > 0
        await pilot.press("pagedown")
        assert body.scroll_y > 0


async def test_at_most_two_toasts_the_newest_on_top(app: FieldtechApp) -> None:
    from textual.widgets._toast import Toast, ToastRack

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        for n in range(1, 6):
            app.notify(f"Notice {n}")
            await pilot.pause()
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["Notice 4", "Notice 5"]
        rack = app.screen.query_one(ToastRack)
        toasts = [str(t._notification.message) for t in rack.query(Toast)]
        assert toasts == ["Notice 5", "Notice 4"]


async def test_the_controller_screen_gives_the_customers_phone_and_membership(
        app: FieldtechApp) -> None:
    from fieldtech.domain.plans import Membership

    row = next(r for r in app.store.fleet_rows()
               if r.controller_id and r.membership != Membership.NONE.value)
    customer = app.store.customer(row.customer_id)
    assert customer.phone
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(row.controller_id)
        await settle(pilot)
        header = str(app.screen.query_one("#ctl-header").render())
        assert customer.phone in header and customer.membership.label in header
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        details = str(app.screen.query_one("#details").render())
        assert customer.membership.promise[:20] in details


async def test_a_new_controllers_time_zone_comes_from_the_customers_others(
        app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.screen.fleet_list.current[0]
        theirs = {app.store.controller(r.controller_id).timezone for r in app.rows
                  if r.customer_id == row.customer_id}
        await pilot.press("c")
        offered = app.screen.query_one("#in-timezone", Input).value
        assert offered in theirs and offered != "UTC"


async def test_the_welcome_says_how_to_sign_in(empty_app: FieldtechApp) -> None:
    async with empty_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        welcome = str(empty_app.screen.query_one("#empty").render())
        assert "sign in to a cloud account" in welcome and "L" in welcome


async def test_the_pending_list_says_whose_controller_and_what_changed(
        app: FieldtechApp) -> None:
    from dataclasses import replace

    from fieldtech.screens.pending import PendingScreen
    from tests.tui.conftest import wait_for

    row = app.store.fleet_rows()[4]
    before = app.store.controller(row.controller_id).config.zone(3).name
    app.store.edit_controller(row.controller_id, lambda c: {"config": replace(
        c.config, zones=[replace(z, name="Roses") if z.number == 3 else z
                         for z in c.config.zones])})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        record, change, _state, _why = app.screen.table.rows[0]
        assert record == f"{row.name} ({row.customer_name})"
        assert change == "zone 3 name"
        detail = str(app.screen.query_one("#pending-detail").render())
        assert f"zone 3 name: “{before}” → “Roses”" in detail


async def test_the_line_under_the_cursor_shows_what_its_columns_cut(app: FieldtechApp) -> None:
    from fieldtech.domain.models import Customer, new_id
    from tests.conftest import make_controller

    for name in ("Willow Creek Dental Group", "Willow Creek HOA North"):
        customer = Customer(id=new_id(), name=name)
        app.store.create_customer(customer)
        app.store.create_controller(make_controller(customer, name="Clubhouse lawn"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        faulty = next(n for n, (kind, i) in enumerate(fleet._lines)
                      if kind == 1 and fleet.rows[i].fault and len(fleet.rows[i].fault) > 12)
        fault = fleet.rows[fleet._lines[faulty][1]].fault
        assert fault not in fleet._render(faulty, 78).text  # cut while the cursor is away
        fleet.move_to(faulty)
        assert f"⚠ {fault}" in fleet._render(faulty, 78).text

        await pilot.press("f", *"willow creek club")
        await settle(pilot)
        results = app.screen.query_one("#finder-list")
        shown = results._render(results.cursor, results.scrollable_content_region.width).text
        assert "Willow Creek Dental Group" in shown or "Willow Creek HOA North" in shown
