"""Two keystrokes land on the right controller; filter and finder find the long tail."""

from __future__ import annotations

from textual.widgets import Input, Static

from fieldtech.app import FieldtechApp
from fieldtech.offline_store import Store
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.switcher import Switcher
from fieldtech.widgets.fleet_list import FleetList
from tests.tui.conftest import SIZE, settle, wait_for


async def open_by_id(pilot, app: FieldtechApp, controller_id: str) -> None:
    app.open_controller(controller_id)
    await settle(pilot)


def header(app: FieldtechApp) -> str:
    return str(app.screen.query_one("#ctl-header").render())


def switcher_open(app: FieldtechApp) -> bool:
    """The switcher shows over the current screen (no screen change) and has the keys."""
    found = app.screen.query(Switcher)
    return bool(found) and found.first().is_open and found.first().display and (
        not found.first().parked) and app.focused is app.screen.query_one("#finder-input")


async def test_the_fleets_switcher_waits_rendered_off_the_screen(app: FieldtechApp) -> None:
    """Over SSH the first `s` mounted and rendered the switcher (~20 ms of its frame): it is
    mounted ahead, filled and rendered, off the screen. There it shows nothing, takes no
    focus (Tab), and `s` shows what it showed before, rendering none of its text again."""
    from textual.widget import Widget

    from fieldtech.widgets.text_line import TextBox

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        switcher = screen.query_one(Switcher)
        assert switcher.parked and not switcher.is_open
        assert not any(w in screen._compositor.visible_widgets
                       for w in switcher.walk_children(with_self=True))
        for _ in range(4):
            await pilot.press("tab")
            assert app.focused is None or switcher not in app.focused.ancestors_with_self
        renders: list[Widget] = []
        text_render, static_render = TextBox.render, Static.render

        def counted(render):
            def wrapped(self):
                renders.append(self)
                return render(self)
            return wrapped

        TextBox.render, Static.render = counted(text_render), counted(static_render)
        try:
            await pilot.press("s")
            await settle(pilot)
        finally:
            TextBox.render, Static.render = text_render, static_render
        assert switcher_open(app) and screen.query_one(Switcher) is switcher
        assert not [w for w in renders if switcher in w.ancestors_with_self], renders
        shown = [str(w.render()) for w in switcher.query(TextBox)]
        assert shown[0] == "Switch to…" and "1–9 open" in shown[1]
        await pilot.press("escape")
        await settle(pilot)
        assert switcher.parked and not switcher.is_open and isinstance(app.screen, FleetScreen)


async def test_switcher_key_then_digit_opens_that_recent_controller(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = app.rows
        visited = [rows[3], rows[10], rows[20]]
        for r in visited:
            await open_by_id(pilot, app, r.controller_id)
        # Most recent first, without rows[20] on screen: 1 = rows[10], 2 = rows[3].
        await pilot.press("s")
        assert isinstance(app.screen, ControllerScreen) and switcher_open(app)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen) and not switcher_open(app)
        # No dialog screen came and went: the fleet, then the one controller screen.
        assert [type(s) for s in app.screen_stack[-2:]] == [FleetScreen, ControllerScreen]
        assert app.current_controller == rows[3].controller_id
        assert app.screen.controller.id == rows[3].controller_id
        assert rows[3].name in header(app) and rows[3].customer_name in header(app)

        await pilot.press("s", "1")  # rows[20] is now first (rows[3] shows)
        await settle(pilot)
        assert app.screen.controller.id == rows[20].controller_id


async def test_digits_never_search_and_the_controller_shown_is_no_candidate(
        app: FieldtechApp) -> None:
    """Issue 12: with two recents `s 9` searched for "9"; the one shown was number 1."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = app.rows[2], app.rows[11]
        await open_by_id(pilot, app, a.controller_id)
        await open_by_id(pilot, app, b.controller_id)
        await pilot.press("s")
        items = str(app.screen.query_one("#switcher-items").render())
        assert a.name in items and "2" not in items.split()  # b shows: only a, on 1
        await pilot.press("9")
        assert switcher_open(app)
        assert app.screen.query_one("#finder-input", Input).value == ""
        assert "Nothing on 9" in str(app.screen.query_one("#finder-hint").render())
        await pilot.press("1")
        await settle(pilot)
        assert app.screen.controller.id == a.controller_id


async def test_first_switch_straight_from_the_fleet(tmp_path) -> None:
    """At start-up, before any controller was shown: s + digit opens a stored recent one."""
    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    for r in (rows[40], rows[12], rows[3]):  # rows[3] most recent
        app.store.touch_recent(r.controller_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", "2")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == rows[12].controller_id
    app.store.close()


async def test_switch_works_before_the_whole_fleet_is_read(tmp_path) -> None:
    """At 100,000 controllers the whole fleet takes seconds to read: the recents and their
    rows come with the first screenful, so s + digit opens one while the rest still loads."""
    import threading

    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    far = rows[-1]  # not in the first screenful
    for r in (rows[12], far):  # `far` most recent
        app.store.touch_recent(r.controller_id)
    release = threading.Event()
    fleet_rows = app.store.fleet_rows

    def slow_fleet_rows(first: int | None = None, **kw):
        if first is None:  # the whole fleet: held until the switch has been made
            release.wait(10)
        return fleet_rows(first, **kw)

    app.store.fleet_rows = slow_fleet_rows
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert not app.rows  # still loading
            await pilot.press("s")
            items = str(app.screen.query_one("#switcher-items").render())
            assert far.name in items and rows[12].name in items
            await pilot.press("1")
            for _ in range(50):
                await pilot.pause(0.02)
                if isinstance(app.screen, ControllerScreen) and app.screen.controller:
                    break
            assert not app.rows  # the switch did not wait for the fleet
            assert app.screen.controller.id == far.controller_id
            assert far.customer_name in header(app)
            await pilot.press("s", "1")  # the other recent: the one shown is no candidate
            for _ in range(50):
                await pilot.pause(0.02)
                if app.screen.controller.id == rows[12].controller_id:
                    break
            assert app.screen.controller.id == rows[12].controller_id
            release.set()
            await settle(pilot)
            assert app.rows and app.services.fleet.shortcut_rows == {}
            assert [r.controller_id for r, _ in app.services.fleet.shortcuts([])] == [
                rows[12].controller_id, far.controller_id]
    finally:
        release.set()
        app.store.close()


async def test_previous_key_jumps_back_and_forth(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = app.rows[1], app.rows[7]
        await open_by_id(pilot, app, a.controller_id)
        await open_by_id(pilot, app, b.controller_id)
        await pilot.press("b")
        await settle(pilot)
        assert app.screen.controller.id == a.controller_id
        await pilot.press("b")
        await settle(pilot)
        assert app.screen.controller.id == b.controller_id
        # From the fleet, back is the controller just left; then back and forth as before.
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == b.controller_id
        await pilot.press("b")
        await settle(pilot)
        assert app.screen.controller.id == a.controller_id


async def test_pinned_controller_keeps_digit_one(app: FieldtechApp, tmp_path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pinned, other = app.rows[5], app.rows[9]
        await open_by_id(pilot, app, pinned.controller_id)
        await pilot.press("p")
        await settle(pilot)
        await open_by_id(pilot, app, other.controller_id)
        await pilot.press("s", "1")
        await settle(pilot)
        assert app.screen.controller.id == pinned.controller_id
    assert pinned.controller_id in (tmp_path / "config" / "settings.toml").read_text()


async def test_digit_is_search_text_once_typing_started(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_by_id(pilot, app, app.rows[0].controller_id)
        serial_row = next(r for r in app.rows if r.serial and r.serial.startswith("FT1-"))
        await pilot.press("s", *serial_row.serial.lower())
        assert switcher_open(app)
        assert app.screen.query_one("#finder-input", Input).value == serial_row.serial.lower()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.controller.id == serial_row.controller_id


async def test_finder_fuzzy_query_opens_the_match(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[42]
        # Customer name without vowels, then a piece of the controller name.
        query = "".join(ch for ch in target.customer_name.lower() if ch not in "aeiou")
        await pilot.press("f", *query)
        results = app.screen.query_one("#finder-list", FleetList)
        assert any(r.customer_id == target.customer_id for r in results.rows)
        # Move to the exact target among the customer's controllers, then open it.
        index = next(i for i, r in enumerate(results.rows)
                     if r.controller_id == target.controller_id)
        for _ in range(index):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.controller.id == target.controller_id


async def test_slash_filters_the_fleet_and_escape_clears(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = app.rows[30]
        await pilot.press("slash", *target.customer_name.lower())
        fleet = app.screen.query_one(FleetList)
        assert fleet.rows and all(
            target.customer_name.lower() in f"{r.customer_name} {r.name}".lower()
            or target.customer_name.lower() in r.address.lower()
            for r in fleet.rows)
        assert len(fleet.rows) < len(app.rows)
        await pilot.press("enter")  # back to the list
        await pilot.press("escape")
        assert len(app.screen.query_one(FleetList).rows) == len(app.rows)


async def test_enter_on_fleet_opens_controller_and_escape_returns(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetList)
        await pilot.press("down", "down", "down")
        row, is_customer = fleet.current
        await pilot.press("enter")
        await settle(pilot)
        if is_customer:  # a customer header opens the customer form instead
            await pilot.press("escape")
            await pilot.press("down", "enter")
            await settle(pilot)
            row = fleet.current[0]
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == row.controller_id
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_help_lists_the_keys(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        for words in ("Filter", "Switch", "Find", "New controller", "s then 1–9"):
            assert words in text
        assert "Scroll Left" not in text and "Copy selected text" not in text  # Textual's
        assert "settings.toml under [keys]" in text


async def test_help_on_a_controller_shows_bracket_keys_as_keys(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(app.rows[2].controller_id)
        await settle(pilot)
        await pilot.press("question_mark")
        lines = " ".join(str(s.render()) for s in app.screen.query(Static)).splitlines()
        assert any(line.split() == ["[", "Previous", "tab"] for line in lines), lines
        assert any(line.split() == ["]", "Next", "tab"] for line in lines), lines
        assert not any("[/b]" in line or "Focus Next" in line for line in lines), lines


async def test_fleet_reload_leaves_the_open_switcher_its_keys(tmp_path) -> None:
    """The whole fleet arriving (or a reload) while the switcher is open keeps its focus."""
    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    for r in (rows[12], rows[3]):  # rows[3] most recent
        app.store.touch_recent(r.controller_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        app.screen.show_rows()  # what the fleet load does when it lands
        await pilot.pause()
        assert switcher_open(app)
        await pilot.press("2")
        await settle(pilot)
        assert app.screen.controller.id == rows[12].controller_id
    app.store.close()


async def test_switch_between_controllers_is_painted_in_one_event_loop_turn(
        app: FieldtechApp) -> None:
    """s + digit: hiding the switcher and the new controller are one paint, not two.

    Widgets report their changes to the screen from their own queues; a paint that ran before
    the last report came in left the rest for the next frame (≥ 16 ms later at 60 fps).
    """
    import asyncio

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = app.rows[2], app.rows[11]
        await open_by_id(pilot, app, a.controller_id)
        await open_by_id(pilot, app, b.controller_id)
        await pilot.press("s")
        await settle(pilot)  # open, and both controllers cached
        loop = asyncio.get_running_loop()
        turn, counting, paints = [0], [True], []

        def tick() -> None:  # counts the event loop's turns while the switch runs
            turn[0] += 1
            if counting[0]:
                loop.call_soon(tick)

        display = app._display

        def counted(screen, renderable) -> None:
            if renderable is not None:
                paints.append(turn[0])
            display(screen, renderable)

        app._display = counted
        loop.call_soon(tick)
        try:
            await pilot.press("1")
            await settle(pilot)
        finally:
            counting[0] = False
            del app._display
        assert app.screen.controller.id == a.controller_id and not switcher_open(app)
        assert paints, "nothing painted"
        assert len(set(paints)) == 1, f"painted in several turns: {paints}"


async def test_finder_keystroke_is_painted_in_one_event_loop_turn(app: FieldtechApp) -> None:
    """Each keystroke in the finder: its text and its results are one paint, with no layout.

    The box reports its new text and the list its results to the screen from their own queues,
    on later turns; a paint between the two showed the text a frame (16–30 ms) before the
    results. The first letter (results appear) and the last one taken back are no different.
    """
    import asyncio

    from textual.screen import Screen

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        results = app.screen.query_one("#finder-list", FleetList)
        app.screen.query_one("#finder-input", Input).cursor_blink = False  # paints of its own
        await settle(pilot)
        loop = asyncio.get_running_loop()
        turn, counting, paints, layouts = [0], [False], [], []

        def tick() -> None:  # counts the event loop's turns while a keystroke runs
            turn[0] += 1
            if counting[0]:
                loop.call_soon(tick)

        display = app._display
        switcher = app.screen.query_one(Switcher)

        def counted(screen, renderable) -> None:
            # Paints of the finder (not of the top bar's clock, say).
            if renderable is not None and any(
                    switcher in w.ancestors_with_self for w in screen._dirty_widgets):
                paints.append(turn[0])
            display(screen, renderable)

        refresh_layout = Screen._refresh_layout

        def counted_layout(screen, *args, **kwargs) -> None:
            layouts.append(turn[0])
            refresh_layout(screen, *args, **kwargs)

        app._display = counted
        Screen._refresh_layout = counted_layout
        try:
            for key in [*"frnt yrd", "backspace", "backspace", *["backspace"] * 6, "o"]:
                paints.clear()
                layouts.clear()
                counting[0] = True
                loop.call_soon(tick)
                await pilot.press(key)
                await settle(pilot)
                counting[0] = False
                await pilot.pause()
                query = app.screen.query_one("#finder-input", Input).value
                assert paints, f"{key!r}: nothing painted"
                assert len(set(paints)) == 1, f"{key!r} painted in several turns: {paints}"
                assert not layouts, f"{key!r}: a layout pass"
                assert bool(results.rows) == bool(query.strip())
        finally:
            del app._display
            Screen._refresh_layout = refresh_layout
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.controller.id == results.rows[0].controller_id


async def test_switch_to_a_zone_table_that_scrolls_is_one_layout(
        app: FieldtechApp, monkeypatch) -> None:
    """s + digit between an 8-zone and a 24-zone controller: the zone table's scrollbar comes
    (and goes) in the layout the switch makes anyway, not in a second one a frame later (the
    screen refilled: no twin rendered ahead to swap in)."""
    from textual.screen import Screen

    monkeypatch.setattr(FieldtechApp, "_build_twin", lambda app: None)
    # The switcher's frame rendered ahead 0.15 s after the digit lays the screen out too,
    # after the switch and not on its path (tested in test_screen_change_cost.py).
    monkeypatch.setattr(Switcher, "REHEARSE_AFTER_KEY_S", 30.0)

    layouts: list[Screen] = []
    refresh_layout = Screen._refresh_layout

    def counted_layout(screen, *args, **kwargs) -> None:
        layouts.append(screen)
        refresh_layout(screen, *args, **kwargs)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        few = next(r for r in app.rows if r.controller_id and r.zone_count <= 8)
        many = next(r for r in app.rows if r.controller_id and r.zone_count >= 24)
        await open_by_id(pilot, app, few.controller_id)
        await open_by_id(pilot, app, many.controller_id)
        Screen._refresh_layout = counted_layout
        try:
            for shown in (few, many, few):
                await pilot.press("s")
                await settle(pilot)
                layouts.clear()
                await pilot.press("1")
                await settle(pilot)
                table = app.screen.query_one("#zone-table")
                assert app.screen.controller.id == shown.controller_id
                assert table.show_vertical_scrollbar == (shown.zone_count > table.size.height)
                assert len(layouts) == 1, f"{len(layouts)} layouts to show {shown.name}"
        finally:
            Screen._refresh_layout = refresh_layout


async def test_the_controller_screen_is_built_ahead_and_shows_the_controller_picked(
        tmp_path) -> None:
    """Issue 18: once the fleet is read the controller screen is composed and mounted, hidden;
    the first s + digit then builds nothing and shows the controller picked, tables filled."""
    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    for r in (rows[40], rows[12], rows[3]):  # rows[3] most recent
        app.store.touch_recent(r.controller_id)
    composed: list[ControllerScreen] = []
    compose = ControllerScreen.compose

    def counted_compose(screen):
        composed.append(screen)
        return compose(screen)

    ControllerScreen.compose = counted_compose
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.is_screen_installed("controller")
                           and app.get_screen("controller")._ready)
            screen = app.get_screen("controller")
            assert isinstance(app.screen, FleetScreen) and screen not in app.screen_stack
            assert composed == [screen] and screen.is_running and screen.controller is None
            await pilot.press("s", "2")
            await settle(pilot)
            assert composed == [screen], "the first digit composed the screen again"
            assert app.screen is screen and screen.controller.id == rows[12].controller_id
            assert rows[12].name in header(app) and rows[12].customer_name in header(app)
            zones = screen.query_one("#zone-table")
            assert zones.row_count == rows[12].zone_count and zones.size.height > 0
            assert zones.rows[0][1] in "".join(
                seg.text for seg in zones.render_line(0))  # painted, not only filled
    finally:
        ControllerScreen.compose = compose
        app.store.close()


async def test_the_fresh_read_after_a_cached_switch_waits_for_its_frame(
        app: FieldtechApp, monkeypatch) -> None:
    """A switch to a cached controller paints it, then reads it again from the store: after
    the frame (a thread beside it slows the frame), and never showing a controller other
    than the one last picked."""
    import fieldtech.screens.controller as controller_module

    # Only the frame may start the read here, not the bound on waiting for one (a busy host).
    monkeypatch.setattr(controller_module, "AFTER_FRAME_AT_MOST_S", 60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = app.rows[2], app.rows[11]
        await open_by_id(pilot, app, a.controller_id)
        await open_by_id(pilot, app, b.controller_id)
        screen = app.screen
        assert isinstance(screen, ControllerScreen)
        await pilot.press("s")
        await settle(pilot)
        order: list[str] = []
        display, read = app._display, screen._read

        def painted(shown_on, renderable) -> None:
            if renderable is not None:
                order.append("paint")
            display(shown_on, renderable)

        def reading(controller_id: str) -> None:
            order.append(f"read {controller_id}")
            read(controller_id)

        app._display, screen._read = painted, reading
        try:
            await pilot.press("1")
            await settle(pilot)
        finally:
            del app._display, screen._read
        assert screen.controller.id == a.controller_id
        assert f"read {a.controller_id}" in order, "no fresh read after the cached switch"
        assert order.index("paint") < order.index(f"read {a.controller_id}"), order
        # A read of b that ends now (started before the switch to a) is kept, not shown.
        started = screen._forgotten
        late = screen._read_one(b.controller_id)
        screen._read_done(late, started)
        await settle(pilot)
        assert screen.controller.id == a.controller_id and a.name in header(app)
        assert b.controller_id in screen._cache  # for a switch back
        # one that started before b's copy was dropped (b edited meanwhile) is not kept: it
        # may hold b as it was before the edit
        screen.forget(b.controller_id)
        screen._read_done(late, started)
        assert b.controller_id not in screen._cache



async def test_a_switch_quit_before_its_frame_is_in_the_next_runs_recents(
        app: FieldtechApp) -> None:
    # The recents' write waits for the switch's frame (a write beside it slowed it). A thread
    # worker started at unmount runs only once the app has returned, racing the next read and
    # the store's close: the store holds the switch and writes it as it closes.
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        wanted = next(r.controller_id for r in app.store.fleet_rows()
                      if r.controller_id not in app.store.recent())
        app.open_controller(wanted)
        app.exit()
    app.store.close()  # as `fieldtech` does once the app has stopped
    with Store(app.store.path) as next_run:
        assert next_run.recent()[0] == wanted
