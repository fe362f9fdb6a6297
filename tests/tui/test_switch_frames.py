"""A switch to the controller screen is one layout and one render (issues 17 and 18): the
screen built ahead is laid out ahead, the data is in before the layout, a repaint of the whole
screen goes into the layout's render, and no garbage collection runs inside that frame."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.screen import Screen

from fieldtech.app import TWIN, FieldtechApp
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.switcher import FOCUS_BACK_LATER_S, Switcher, SwitcherScreen
from tests.conftest import SEED_DAY
from tests.tui.conftest import SIZE, make_app, settle, wait_for
from tests.tui.pty_app import PtyApp


@pytest.fixture(autouse=True)
def _no_switcher_rendered_ahead_after_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """These count a switch's layouts and frames until it has settled; the switcher's `s`
    frame, rendered ahead 0.15 s after the key (after its frame, not on its path), fell
    inside a slow settle (tested in test_screen_change_cost.py)."""
    monkeypatch.setattr(Switcher, "REHEARSE_AFTER_KEY_S", 30.0)


def _few_zones(app: FieldtechApp) -> list[str]:
    """Controllers whose zones fit the table (no scrollbar comes or goes)."""
    return [r.controller_id for r in app.store.fleet_rows()
            if r.controller_id and r.zone_count <= 8]


class Frames:
    """Counts the controller screen's layouts and the frames painted, with whether the garbage
    collector was on at each paint."""

    def __init__(self, app: FieldtechApp) -> None:
        self.app = app
        self.layouts: list[Screen] = []
        self.paints: list[tuple[Screen, bool]] = []
        self.frames: list[tuple[Screen, object]] = []

    def __enter__(self) -> Frames:
        self._layout = Screen._refresh_layout
        self._display = self.app._display
        layout = self._layout

        def counted_layout(screen, *args, **kwargs) -> None:
            self.layouts.append(screen)
            layout(screen, *args, **kwargs)

        def counted_display(screen, renderable) -> None:
            if renderable is not None:
                self.paints.append((screen, gc.isenabled()))
                self.frames.append((screen, renderable))
            self._display(screen, renderable)

        Screen._refresh_layout = counted_layout
        self.app._display = counted_display
        return self

    def __exit__(self, *exc: object) -> None:
        Screen._refresh_layout = self._layout
        del self.app._display

    def clear(self) -> None:
        self.layouts.clear()
        self.paints.clear()
        self.frames.clear()

    def on(self, screen: Screen) -> tuple[int, int]:
        return (sum(s is screen for s in self.layouts),
                sum(s is screen for s, _ in self.paints))


async def test_the_controller_screen_built_ahead_is_laid_out_ahead(tmp_path) -> None:
    """Its widgets have their sizes before the first digit (the layout made while mounting
    it sized none of them: the first digit laid it out three times)."""
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.is_screen_installed("controller")
                           and app.get_screen("controller")._ready)
            screen = app.get_screen("controller")
            assert screen not in app.screen_stack
            assert screen.query_one("#ctl-header").size.width > 0
            assert screen.query_one("#zone-table").size.height > 0
            assert not screen._layout_required
    finally:
        app.store.close()


async def _two_shown(app: FieldtechApp, pilot) -> tuple[str, str]:
    """Two controllers with few zones opened in turn (b shows): s + 1 then opens a."""
    await settle(pilot)
    a, b = _few_zones(app)[:2]
    for controller_id in (a, b):
        app.open_controller(controller_id)
        await settle(pilot)
    return a, b


def _two_recents(tmp_path) -> tuple[FieldtechApp, list[str]]:
    """An app whose two most recent controllers have few zones; the first is digit 1."""
    app = make_app(tmp_path)
    picked = _few_zones(app)[:2]
    for controller_id in reversed(picked):  # picked[0] the most recent: digit 1
        app.store.touch_recent(controller_id)
    return app, picked


async def _switcher_open_ahead(app: FieldtechApp, pilot) -> tuple[Screen, object]:
    """`s` over the fleet, once the controller screen is built: (that screen, the frame it
    rendered ahead showing digit 1's controller)."""
    await wait_for(pilot, lambda: app.is_screen_installed("controller")
                   and app.get_screen("controller")._ready)
    screen = app.get_screen("controller")
    await pilot.press("s")
    # Its last round: under load a round may render again (a new frame) after the first.
    await wait_for(pilot, lambda: screen._ahead_frame is not None and not screen._ahead_timers)
    return screen, screen._ahead_frame[1]


async def test_the_first_digit_writes_the_frame_rendered_ahead(tmp_path) -> None:
    """`s` over the fleet shows digit 1's controller on the hidden controller screen, lays it
    out and renders it: the digit writes that frame, nothing laid out or rendered first."""
    app, picked = _two_recents(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen, ahead = await _switcher_open_ahead(app, pilot)
            assert screen not in app.screen_stack and screen.controller.id == picked[0]
            with Frames(app) as frames:
                await pilot.press("1")
                await settle(pilot)
            assert app.screen is screen and screen.controller.id == picked[0]
            assert frames.on(screen)[0] == 0, "laid out again"
            assert next(f for s, f in frames.frames if s is screen) is ahead
    finally:
        app.store.close()


async def test_another_digit_never_writes_the_frame_rendered_ahead(tmp_path) -> None:
    """Digit 2 refills the screen shown ahead with digit 1's controller: one layout at most,
    one frame, and never the one showing the other controller."""
    app, picked = _two_recents(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen, ahead = await _switcher_open_ahead(app, pilot)
            with Frames(app) as frames:
                await pilot.press("2")
                await settle(pilot)
            assert app.screen is screen and screen.controller.id == picked[1]
            layouts, paints = frames.on(screen)
            assert layouts <= 1 and paints == 1, frames.on(screen)
            assert all(f is not ahead for _, f in frames.frames)
            assert screen._ahead_frame is None
    finally:
        app.store.close()


async def test_a_switch_between_controllers_is_one_layout_and_one_paint(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The switcher closing moves the focus, which asks for a repaint of the whole screen:
    painted with the layout's frame, not rendered again after it (the screen refilled: no
    twin to swap in)."""
    monkeypatch.setattr(FieldtechApp, "_build_twin", lambda app: None)
    async with app.run_test(size=SIZE) as pilot:
        a, b = await _two_shown(app, pilot)
        screen = app.screen
        with Frames(app) as frames:
            for shown in (a, b, a):
                await pilot.press("s")
                await settle(pilot)
                frames.clear()
                await pilot.press("1")
                await settle(pilot)
                assert screen.controller.id == shown
                assert frames.on(screen) == (1, 1), frames.on(screen)


async def _twin_ready(app: FieldtechApp, pilot) -> ControllerScreen:
    """The second controller screen, built ahead once a controller has shown."""
    await wait_for(pilot, lambda: app.is_screen_installed(TWIN) and app.get_screen(TWIN)._ready)
    twin = app.get_screen(TWIN)
    assert isinstance(twin, ControllerScreen) and twin not in app.screen_stack
    return twin


async def test_a_switch_between_controllers_writes_the_twins_frame_rendered_ahead(
        app: FieldtechApp) -> None:
    """`s` over a controller shows digit 1's controller on the hidden twin, laid out and
    rendered; the digit swaps the twin in and writes that frame: nothing refilled, laid out or
    rendered on its path. The screen swapped out is the twin for the next switch."""
    async with app.run_test(size=SIZE) as pilot:
        a, b = await _two_shown(app, pilot)
        for shown in (a, b, a):
            twin, left = await _twin_ready(app, pilot), app.screen
            await pilot.press("s")
            await wait_for(pilot, lambda twin=twin: twin._ahead_frame is not None)
            ahead = twin._ahead_frame[1]
            assert twin.controller.id == shown
            with Frames(app) as frames:
                await pilot.press("1")
                await settle(pilot)
            assert app.screen is twin and app.controller_screen() is twin
            assert app.get_screen(TWIN) is left and left not in app.screen_stack
            assert twin.controller.id == shown
            assert frames.on(twin)[0] == 0, "laid out again"
            assert next(f for s, f in frames.frames if s is twin) is ahead
            assert not any(s is left for s, _ in frames.frames)
            # the screen swapped out has its focus back (after the frame): on its table
            await wait_for(pilot, lambda left=left: left.focused is not None
                           and left.focused.id == "zone-table" and left.focused.has_focus)
            assert twin.focused.id == "zone-table" and twin.focused.has_focus


async def test_the_twins_share_what_they_read(app: FieldtechApp) -> None:
    """A copy one controller screen forgets (an edit) is gone for the other too."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = _few_zones(app)[:2]
        app.open_controller(a)
        await settle(pilot)
        twin = await _twin_ready(app, pilot)
        app.open_controller(b)
        await settle(pilot)
        assert a in twin._cache and b in twin._cache
        app.controller_screen().forget(a)
        assert a not in twin._cache and twin._forgotten == app.controller_screen()._forgotten


async def _switch_ahead(app: FieldtechApp, pilot) -> tuple[ControllerScreen, object]:
    """s + 1 between controllers, once the twin holds digit 1's frame rendered ahead: (the
    twin, now shown, and that frame)."""
    twin = await _twin_ready(app, pilot)
    await pilot.press("s")
    await wait_for(pilot, lambda: twin._ahead_frame is not None)
    ahead = twin._ahead_frame[1]
    await pilot.press("1")
    await settle(pilot)
    assert app.screen is twin
    return twin, ahead


def _drawn(app: FieldtechApp, frame) -> str:
    return frame.render_segments(app.console)


async def test_a_switch_to_the_twin_keeps_the_tab_and_shows_the_rows_from_the_top(
        app: FieldtechApp) -> None:
    """The one screen refilled by a switch kept its tab and put the cursors on the first
    rows: the twin shown ahead takes the shown screen's tab before its fill and render, and
    shows its controller anew even if it showed it before (its cursor where it was left).
    The frame written is the one rendered ahead, and it is what the screen draws fresh."""
    async with app.run_test(size=SIZE) as pilot:
        a, b = await _two_shown(app, pilot)
        first, _ = await _switch_ahead(app, pilot)  # a, on the zones
        assert first.controller.id == a and first.active_tab == "zones"
        await pilot.press("down", "down")
        assert first.query_one("#zone-table").cursor == 2
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert first.active_tab == "programs"

        with Frames(app) as frames:
            second, ahead = await _switch_ahead(app, pilot)  # b, the screen left for a
        assert second is not first and second.controller.id == b
        assert second.active_tab == "programs"
        assert second.focused is second.query_one("#program-table") and second.focused.has_focus
        assert next(f for s, f in frames.frames if s is second) is ahead
        assert _drawn(app, ahead) == _drawn(app, second._compositor.render_update(full=True))

        again, _ = await _switch_ahead(app, pilot)  # a again, on the screen that showed it
        assert again is first and again.controller.id == a
        assert again.active_tab == "programs"
        assert again.query_one("#zone-table").cursor == 0  # as a refill puts it


async def test_a_cancelled_switcher_leaves_no_frame_ahead(app: FieldtechApp) -> None:
    """Esc drops what the twin showed ahead: a later switch to that controller (b, back)
    refills the screen shown and never writes a frame from back then."""
    async with app.run_test(size=SIZE) as pilot:
        a, _ = await _two_shown(app, pilot)
        twin, shown = await _twin_ready(app, pilot), app.screen
        await pilot.press("s")
        await wait_for(pilot, lambda: twin._ahead_frame is not None)
        ahead = twin._ahead_frame[1]
        await pilot.press("escape")
        await settle(pilot)
        assert twin._expected is None and twin._ahead_frame is None
        with Frames(app) as frames:
            await pilot.press("b")  # back to a, digit 1 of the cancelled switcher
            await settle(pilot)
        assert app.screen is shown and shown.controller.id == a
        assert frames.frames and all(f is not ahead for _, f in frames.frames)


async def test_another_choice_stops_what_the_twin_was_to_show_ahead(app: FieldtechApp) -> None:
    """Digit 2 (or 1 before the twin was ready) refills the screen shown: the twin's show and
    render ahead, still to come, do not run (~10-20 ms in a later frame), and a frame it had
    rendered is dropped."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b, c = _few_zones(app)[:3]
        for controller_id in (c, a, b):  # s: 1 is a, 2 is c
            app.open_controller(controller_id)
            await settle(pilot)
        twin, shown = await _twin_ready(app, pilot), app.screen
        assert twin.controller is None  # built, never shown
        await app.action_switcher()
        assert twin._expected == a
        shown.query_one(Switcher).action_shortcut(2)  # before the twin's show ahead (40 ms)
        await pilot.pause(0.3)
        await settle(pilot)
        assert app.screen is shown and shown.controller.id == c
        assert twin.controller is None and twin._ahead_frame is None

        await pilot.press("s")  # 1 is b now, 2 is a
        await wait_for(pilot, lambda: twin._ahead_frame is not None)
        await pilot.press("2")
        await settle(pilot)
        assert app.screen is shown and shown.controller.id == a
        assert twin._expected is None and twin._ahead_frame is None


async def test_the_switcher_dialog_gets_no_focus_back_once_closed(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a dialog the switcher is a dialog of its own, popped as it closes: the focus goes
    back later only to a screen swapped out and kept (the twin), never to that one."""
    later: list[Screen] = []
    set_timer = Screen.set_timer

    def noted(screen: Screen, delay: float, *args, **kwargs):
        if delay == FOCUS_BACK_LATER_S:
            later.append(screen)
        return set_timer(screen, delay, *args, **kwargs)

    monkeypatch.setattr(Screen, "set_timer", noted)
    async with app.run_test(size=SIZE) as pilot:
        await _two_shown(app, pilot)
        await pilot.press("question_mark")
        await app.action_switcher()  # what `s` does (over the help, where s is no key)
        await settle(pilot)
        assert isinstance(app.screen, SwitcherScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SwitcherScreen)
        assert later == []


async def test_no_garbage_collection_inside_a_switchs_frame(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector is off from the digit until its frame is written, and on again after
    (the screen refilled, not swapped: its frame is rendered on the digit's path)."""
    monkeypatch.setattr(FieldtechApp, "_build_twin", lambda app: None)
    async with app.run_test(size=SIZE) as pilot:
        a, _ = await _two_shown(app, pilot)
        screen = app.screen
        with Frames(app) as frames:
            await pilot.press("s")
            await settle(pilot)
            frames.clear()
            await pilot.press("1")
            await settle(pilot)
        assert screen.controller.id == a
        assert [on for s, on in frames.paints if s is screen] == [False]
        assert gc.isenabled()


async def test_the_collector_left_off_by_someone_else_stays_off(app: FieldtechApp) -> None:
    """A bulk job that turned the collector off keeps it off: a switch turns on only what it
    turned off."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a, b = _few_zones(app)[:2]
        gc.disable()
        try:
            app.open_controller(a)
            await settle(pilot)
            app.open_controller(b)
            await settle(pilot)
            assert not gc.isenabled()
        finally:
            gc.enable()


async def test_quitting_before_a_switchs_frame_turns_the_collector_back_on(
        app: FieldtechApp) -> None:
    """The app quits (or its test ends) between a switch and its frame: the process goes on
    with its collector on (left off, the next test's read found it off)."""
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.open_controller(_few_zones(app)[0])
            await settle(pilot)
            app.screen._pause_gc()  # what a digit does, its frame not yet written
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.enable()


@pytest.fixture
def pty_app(tmp_path: Path) -> Iterator[PtyApp]:
    store = Store(tmp_path / "fieldtech.db")
    seed_store(store, 30, 120, today=SEED_DAY)
    rows = [r for r in store.fleet_rows() if r.controller_id]
    for r in (rows[40], rows[12], rows[3], rows[7]):  # rows[7] the most recent
        store.touch_recent(r.controller_id)
    first = store.fleet_rows()[0].customer_name
    store.close()
    app = PtyApp(tmp_path)
    try:
        app.wait_for(first)
        app.wait_for("Switch")  # the key bar
        yield app
    finally:
        app.close()


def test_what_a_switch_shows_is_the_screen_written_whole(pty_app: PtyApp) -> None:
    """After a digit from the fleet and switches between controllers, the terminal shows exactly
    what the app's screen is: a new size makes the app write its screen whole (twice)."""
    # From the fleet (digit 1 shown ahead, then digit 2 instead of it), between controllers
    # (digit 1: the twin swapped in with its frame rendered ahead; 2: the screen refilled).
    for keys in (b"s", b"1", b"s", b"1", b"s", b"1", b"s", b"2", b"s", b"1", b"\x1b", b"s",
                 b"2", b"\x1b", b"s", b"1", b"s", b"1"):
        pty_app.press(keys)
        pty_app.settle(1.0)  # the fresh read after a cached switch repaints what changed
        if keys in (b"1", b"2"):
            shown = pty_app.cells()
            assert "Zones" in pty_app.text()
            pty_app.resize(24, 81)
            pty_app.resize(24, 80)
            assert pty_app.cells() == shown
