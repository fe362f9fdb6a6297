"""Coming back to the fleet (Esc) renders what changed, not the fleet (issue 18): over SSH
its first frame is the wait, so the list's lines rendered before are reused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen
from textual.scrollbar import ScrollBar

from fieldtech.app import FieldtechApp
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.services import WARM_AFTER_S
from fieldtech.screens.switcher import Switcher
from fieldtech.terminal.shadow import TerminalShadow
from fieldtech.widgets.cursor_list import CursorList
from fieldtech.widgets.fleet_list import FleetList
from tests.tui.conftest import SIZE, settle, wait_for


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often the fleet list's lines are built (`_render`) and asked for by Textual's
    render (`render_line`) while the block runs."""
    calls: Counter[str] = Counter()
    for name in ("_render", "render_line"):
        original = getattr(CursorList, name)

        def counted(self, *args, _original=original, _name=name):
            if isinstance(self, FleetList) and self.id == "fleet":
                calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(CursorList, name, counted)
    yield calls
    monkeypatch.undo()


async def test_back_from_a_controller_the_fleet_renders_only_the_cursors_lines(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first, target = app.rows[5], app.rows[9]
        app.open_controller(target.controller_id)
        await settle(pilot)
        app.open_controller(first.controller_id)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        # As over SSH: the switcher takes the focus from the list and gives it back as the
        # controller's screen covers the fleet (a change the covered fleet has to render).
        await pilot.press("s", "2")
        await settle(pilot)
        assert app.current_controller == target.controller_id
        await pilot.pause(WARM_AFTER_S + 0.2)  # the covered fleet renders what changed
        fleet = app.screen_stack[-2]
        assert isinstance(fleet, FleetScreen)
        with counting(monkeypatch) as calls:
            await pilot.press("escape")
            await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert fleet.fleet_list.current_id == target.controller_id  # the cursor followed
        # Before: the whole list (~20 lines) built again and rendered again on the way back.
        assert calls["_render"] <= 2, calls  # the cursor's old and new lines
        assert calls["render_line"] <= 2, calls


async def test_a_change_of_focus_rebuilds_the_cursors_line_only(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet_list = app.screen.query_one("#fleet", FleetList)
        assert fleet_list.has_focus
        with counting(monkeypatch) as calls:
            await pilot.press("f")  # focus to the finder's box: the cursor's colours change
            await settle(pilot)
        assert not fleet_list.has_focus
        assert calls["_render"] == 1, calls  # the cursor's line, in its unfocused colours


def updated_lines(update: object) -> set[int]:
    """The screen lines a compositor update writes."""
    if isinstance(update, ChopsUpdate):
        return {y for y, _, _ in update.spans}
    assert isinstance(update, LayoutUpdate)
    return set(update.region.line_range)


async def test_opening_the_switcher_repaints_the_lists_cursor_line_not_the_list(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """`s` on the fleet: the list losing the focus changes its cursor's colours only. Textual
    repainted the list whole (on blur, and as its cursor's style changed), its scrollbar (as
    each of the list's scrollbar colours was set again, and at every layout) and the whole
    screen (its `focused` repaints it): every line through the compositor and the shadow."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        fleet_list = screen.query_one("#fleet", FleetList)
        switcher = screen.query_one(Switcher)
        bar = fleet_list.vertical_scrollbar
        assert bar.display
        for _ in range(19):  # the cursor below the switcher's box
            await pilot.press("down")
        await settle(pilot)
        lines: set[int] = set()
        bar_renders: list[ScrollBar] = []
        ahead = switcher._ahead.frame if switcher._ahead else None  # written whole, first
        with counting(monkeypatch) as calls:
            display, render = app._display, ScrollBar.render
            monkeypatch.setattr(app, "_display", lambda screen, update: (
                update is ahead or lines.update(updated_lines(update)),
                display(screen, update)))
            monkeypatch.setattr(ScrollBar, "render", lambda self: (
                bar_renders.append(self), render(self))[1])
            await pilot.press("s")
            await settle(pilot)
        assert switcher.is_open and not fleet_list.has_focus
        assert calls["render_line"] == 1, calls  # the cursor's line (before: the list's 21)
        assert bar not in bar_renders
        cursor_y = fleet_list.region.y + fleet_list.cursor - fleet_list.scroll_offset.y
        box = set(switcher.region.line_range)
        assert cursor_y not in box
        assert lines - box == {cursor_y, *screen.query_one("KeyBar").region.line_range}, lines


async def test_what_the_switcher_leaves_on_the_terminal_is_the_screen_rendered_whole(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame applied in turn (what the terminal shows) against the app's screen
    rendered whole, after each change of focus that repaints only the cursor's line."""
    shown = TerminalShadow(None)
    display = app._display

    def shadowed(screen: Screen, update: object) -> None:
        if isinstance(update, LayoutUpdate | ChopsUpdate):
            shown.apply(update, *SIZE)
        display(screen, update)

    monkeypatch.setattr(app, "_display", shadowed)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("s", "escape", "down", "down", "s", "escape", "f", "escape", "tab",
                    "shift+tab", "s", "1", "escape"):
            await pilot.press(key)
            await settle(pilot)
            whole = cells(app.screen._compositor.render_update(full=True))
            assert shown.target == whole, key


def cells(update: object) -> list:
    """What a full frame shows, cell by cell."""
    shadow = TerminalShadow(None)
    shadow.apply(update, *SIZE)
    return shadow.target


async def test_back_from_a_controller_the_fleet_kept_while_covered_is_written_first(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Esc writes the fleet's frame rendered while it was covered, before Textual composes
    its own; that frame is the fleet as it shows (the cursor already on the controller)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first, target = app.rows[5], app.rows[9]
        app.open_controller(first.controller_id)  # a controller over the fleet
        await settle(pilot)
        app.open_controller(target.controller_id)  # another, the fleet still covered
        await settle(pilot)
        await pilot.pause(WARM_AFTER_S + 0.2)
        fleet = app.screen_stack[-2]
        assert isinstance(fleet, FleetScreen)
        kept = fleet._kept_frame
        assert kept is not None
        shown: list[object] = []
        monkeypatch.setattr(app, "_display", lambda screen, update: shown.append(update))
        resumed = []
        resume = Screen._on_screen_resume
        monkeypatch.setattr(Screen, "_on_screen_resume",
                            lambda screen, event: (resumed.append(screen), resume(screen, event)))
        await pilot.press("escape")
        await settle(pilot)
        monkeypatch.undo()
        assert app.screen is fleet and shown and shown[0] is kept[1]  # first, before Textual's
        assert resumed == [fleet]  # Textual's own resume once (its styles: ~20 ms a time)
        assert fleet.fleet_list.current_id == target.controller_id
        assert cells(kept[1]) == cells(fleet._compositor.render_update(full=True))


async def test_a_scroll_step_renders_the_lists_scrollbar_only_when_its_thumb_moves(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held keys: each step scrolls the list, and Textual rendered its scrollbar's lines
    again at each, though the thumb of a long list moves every few steps only. What the bar
    shows is still the bar rendered afresh."""
    from tests.tui.conftest import make_app

    app = make_app(tmp_path, customers=300, controllers=1200)  # 1,500 lines: a small thumb
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            fleet_list = app.screen.query_one("#fleet", FleetList)
            bar = fleet_list.vertical_scrollbar
            renders: list[ScrollBar] = []
            render = ScrollBar.render
            monkeypatch.setattr(ScrollBar, "render", lambda self: (
                renders.append(self), render(self))[1])
            thumbs, steps = set(), 0
            for _ in range(60):
                renders.clear()
                await pilot.press("down")
                await settle(pilot)
                steps += renders.count(bar)
                crop = bar.size.region
                shown = bar.render_lines(crop)
                bar._styles_cache.clear()  # the bar rendered afresh
                assert shown == ScrollBar.render_lines(bar, crop)
                thumbs.add(tuple(strip.text for strip in shown))
            assert len(thumbs) > 1  # the thumb did move
            assert steps <= len(thumbs) + 5, (steps, len(thumbs))  # before: ~40 (a scroll a step)
    finally:
        app.store.close()


async def test_the_switchers_frame_rendered_ahead_is_the_frame_s_draws(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fleet renders the `s` key's frame ahead (the switcher open, the search box
    focused, the list's cursor line and the key bar as they then show, the terminal's
    cursor) and `s` writes it first; what Textual then draws for `s` is that frame, cell for
    cell. Rendering it ahead leaves the fleet as it was: the switcher parked, the list
    focused, nothing more written."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        switcher = screen.query_one(Switcher)
        fleet_list = screen.query_one("#fleet", FleetList)
        for _ in range(3):
            await pilot.press("down")
        await wait_for(pilot, lambda: switcher._ahead is not None)
        kept = switcher._ahead
        assert switcher.parked and not switcher.is_open and fleet_list.has_focus
        assert screen.focused is fleet_list
        closed = cells(screen._compositor.render_update(full=True))
        assert closed != cells(kept.frame)
        await settle(pilot)
        shown: list[object] = []
        display = app._display
        monkeypatch.setattr(app, "_display", lambda screen, update: (
            shown.append(update), display(screen, update)))
        await pilot.press("s")
        await settle(pilot)
        monkeypatch.undo()
        assert switcher.is_open and not fleet_list.has_focus
        assert shown and shown[0] is kept.frame  # first, before Textual's own
        assert cells(kept.frame) == cells(screen._compositor.render_update(full=True))
        assert screen.outer_size.clamp_offset(app.cursor_position) == kept.cursor
        await pilot.press("escape")
        await settle(pilot)
        assert switcher.parked and screen.focused is fleet_list
        assert cells(screen._compositor.render_update(full=True)) == closed
