"""Coming back to the fleet (Esc) renders what changed, not the fleet (issue 18): over SSH
its first frame is the wait, so the list's lines rendered before are reused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen
from textual.scrollbar import ScrollBar
from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.services import WARM_AFTER_S
from fieldtech.screens.switcher import Switcher
from fieldtech.terminal.shadow import TerminalShadow
from fieldtech.widgets.cursor_list import CursorList
from fieldtech.widgets.fleet_list import FleetList
from tests.tui.conftest import SIZE, make_app, settle, wait_for


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
    screen (its `focused` repaints it): every line through the compositor and the shadow.
    The path of an `s` right after a key: the switcher's frame is not rendered ahead here
    (0.15 s after the Down keys it could come inside the count, or not)."""
    monkeypatch.setattr(Switcher, "REHEARSE_AFTER_KEY_S", 30.0)
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
        shown = await _press_s_recording_frames(app, pilot, monkeypatch)
        assert switcher.is_open and not fleet_list.has_focus
        assert shown and shown[0] is kept.frame  # first, before Textual's own
        assert cells(kept.frame) == cells(screen._compositor.render_update(full=True))
        assert screen.outer_size.clamp_offset(app.cursor_position) == kept.cursor
        await pilot.press("escape")
        await settle(pilot)
        assert switcher.parked and screen.focused is fleet_list
        assert cells(screen._compositor.render_update(full=True)) == closed


async def _press_s_recording_frames(app: FieldtechApp, pilot,
                                    monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Press `s` and settle; → every frame the app displayed meanwhile, in order."""
    shown: list[object] = []
    display = app._display
    monkeypatch.setattr(app, "_display", lambda screen, update: (
        shown.append(update), display(screen, update)))
    await pilot.press("s")
    await settle(pilot)
    monkeypatch.undo()
    return shown


async def _s_writes_ahead(app: FieldtechApp, pilot, switcher: Switcher,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait for the `s` key's frame rendered ahead, press `s`: that frame is written first,
    and the terminal (the shadow's cells) then shows the screen as rendered whole."""
    await wait_for(pilot, lambda: switcher._ahead is not None)
    kept = switcher._ahead
    shown = await _press_s_recording_frames(app, pilot, monkeypatch)
    screen = app.screen
    assert switcher.is_open and shown and shown[0] is kept.frame
    whole = cells(screen._compositor.render_update(full=True))
    assert cells(kept.frame) == whole
    assert [[c and c[:2] for c in row] for row in app._shadow.target] == [
        [c and c[:2] for c in row] for row in whole]


async def test_the_switcher_rendered_ahead_after_a_search_or_the_finder_is_the_empty_one(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing the switcher keeps what was typed and its results (and the finder its
    state); the parked switcher is set back to what `s` shows before it renders ahead, so
    the frame `s` writes first is the empty switcher, not the last search's taller one (the
    terminal kept that one's results below the new switcher)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        for keys in (["s", "x", "escape"], ["f", "x", "escape"]):
            for key in keys:
                await pilot.press(key)
                if key != "escape":
                    await settle(pilot)
            # Right after Esc: 0.15 s later the switcher is set back to what `s` shows.
            assert switcher.parked and switcher.query_one("#finder-input", Input).value
            await settle(pilot)
            await _s_writes_ahead(app, pilot, switcher, monkeypatch)
            await pilot.press("escape")
            await settle(pilot)


async def test_the_switcher_rendered_ahead_has_the_shortcuts_s_shows(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each controller opened leads the recents: the switcher renders ahead with the
    shortcuts `s` shows now (the app's), not its last opening's, on the fleet and on a
    controller (where the one shown is not a shortcut)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("down", "enter"):
            await pilot.press(key)
            await settle(pilot)
        assert app.screen.query(Switcher)  # the controller's
        await _s_writes_ahead(app, pilot, app.screen.query_one(Switcher), monkeypatch)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")  # the fleet: its switcher last filled before any was opened
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        switcher = app.screen.query_one(Switcher)
        await _s_writes_ahead(app, pilot, switcher, monkeypatch)
        assert switcher.shortcuts == app.switcher_shortcuts() != []


async def test_frames_written_while_idle_do_not_stop_the_rehearsals(
        app: FieldtechApp) -> None:
    """Only a frame written right after a rehearsal (one it could have caused) counts
    towards the few allowed before a key; the key bar's pages, syncs and the clock write
    frames all along while idle, and after each the `s` key's frame is rendered again."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        fleet_list = app.screen.query_one("#fleet", FleetList)
        for _ in range(Switcher.REHEARSALS_PER_KEY + 3):
            await wait_for(pilot, lambda: switcher._ahead is not None)
            await pilot.pause(Switcher.REHEARSAL_LOOP_S)  # not the rehearsal's own doing
            written = app.frames_written
            fleet_list.action_cursor(1)  # a change on screen, no key
            await settle(pilot)
            assert app.frames_written > written and switcher._ahead is None


async def test_a_covered_switcher_sets_no_rehearsal_timer(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fleet's parked switcher, under a controller, waits for its screen to be back on
    top: frames written on the controller set no timer of its."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, FleetScreen)
        timers: list[object] = []
        set_timer = switcher.set_timer
        monkeypatch.setattr(switcher, "set_timer", lambda *args, **kwargs: (
            timers.append(kwargs.get("name")), set_timer(*args, **kwargs))[1])
        written = app.frames_written
        for _ in range(3):
            await pilot.press("down")
            await settle(pilot)
            assert switcher._rehearse_timer is None
        assert app.frames_written > written and not timers
        monkeypatch.undo()
        await pilot.press("escape")
        await settle(pilot)
        await wait_for(pilot, lambda: switcher._ahead is not None)


async def test_frames_written_right_after_each_rehearsal_stop_them_until_a_key(
        app: FieldtechApp) -> None:
    """A rehearsal that made a frame be written would start another, and so on: a few,
    then the switcher waits for a key."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        fleet_list = app.screen.query_one("#fleet", FleetList)
        rehearsed: list[bool] = []
        rehearse = switcher._rehearse

        def looping() -> None:
            rehearse()
            if switcher._ahead is not None:
                rehearsed.append(True)
                fleet_list.action_cursor(1)  # a frame written right after it

        switcher._rehearse = looping
        await wait_for(pilot, lambda: len(rehearsed) >= Switcher.REHEARSALS_PER_KEY)
        await pilot.pause(4 * Switcher.REHEARSE_AFTER_S)
        assert len(rehearsed) == Switcher.REHEARSALS_PER_KEY
        await pilot.press("down")
        await wait_for(pilot, lambda: len(rehearsed) > Switcher.REHEARSALS_PER_KEY)


async def test_the_frame_ahead_is_not_written_over_a_switcher_holding_a_search(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop: text typed into the parked switcher after its rehearsal (its results
    list shown) makes `s` draw afresh, not write the frame rendered ahead."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        await wait_for(pilot, lambda: switcher._ahead is not None)
        kept = switcher._ahead
        switcher.query_one("#finder-input", Input).value = "x"  # off the screen: no frame
        await settle(pilot)
        assert switcher._ahead is kept and not switcher._shows_opening(kept.shortcuts)
        shown = await _press_s_recording_frames(app, pilot, monkeypatch)
        assert switcher.is_open and kept.frame not in shown
        whole = cells(app.screen._compositor.render_update(full=True))
        assert [[c and c[:2] for c in row] for row in app._shadow.target] == [
            [c and c[:2] for c in row] for row in whole]


# A person's pause before `s`: well within a second of the key before (the frame ahead
# waited for a second without keys, and `s` took the path before).
S_SOON_AFTER_A_KEY = 0.6


async def _s_soon_after(app: FieldtechApp, pilot, monkeypatch: pytest.MonkeyPatch,
                        *keys: str) -> Switcher:
    """Press `keys` (each settled), pause S_SOON_AFTER_A_KEY, press `s`: the frame `s` writes
    first is the one rendered ahead, and the terminal then shows the screen, cell for cell."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
    await pilot.pause(S_SOON_AFTER_A_KEY)
    switcher = app.screen.query_one(Switcher)
    kept = switcher._ahead
    assert kept is not None, keys
    shown = await _press_s_recording_frames(app, pilot, monkeypatch)
    assert switcher.is_open and shown and shown[0] is kept.frame, keys
    whole = cells(app.screen._compositor.render_update(full=True))
    assert cells(kept.frame) == whole
    assert [[c and c[:2] for c in row] for row in app._shadow.target] == [
        [c and c[:2] for c in row] for row in whole]
    return switcher


async def test_s_soon_after_another_key_writes_the_frame_rendered_ahead(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `s` key's frame is rendered ahead once the key before it has been drawn, not a
    second after it: `s` after Down, after a digit (on the controller), after Esc closed the
    switcher there, after Esc back to the fleet and after held Down writes it first, and
    the terminal shows what it would have without it."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen
        await _s_soon_after(app, pilot, monkeypatch, "down")
        await _s_soon_after(app, pilot, monkeypatch, "escape", "enter")  # a controller
        first = app.current_controller
        await _s_soon_after(app, pilot, monkeypatch, "escape", "escape", "down", "enter")
        assert app.current_controller != first
        switcher = await _s_soon_after(app, pilot, monkeypatch, "1")  # back to the first
        assert app.current_controller == first and switcher.screen is app.screen
        assert not isinstance(app.screen, FleetScreen)
        await _s_soon_after(app, pilot, monkeypatch, "escape")
        await _s_soon_after(app, pilot, monkeypatch, "escape", "escape")
        assert app.screen is fleet
        await _s_soon_after(app, pilot, monkeypatch, "escape", *["down"] * 12)


async def test_no_frame_is_rendered_ahead_while_a_key_waits_to_be_handled(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering ahead (10-25 ms on the event loop) lets a key read and not yet handled go
    first: it is put off, not dropped."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        waiting = [True]
        monkeypatch.setattr(app, "key_waiting", lambda: waiting[0])
        await pilot.press("down")
        await settle(pilot)
        assert switcher._ahead is None
        await pilot.pause(S_SOON_AFTER_A_KEY)
        assert switcher._ahead is None and switcher._rehearse_timer is not None
        waiting[0] = False
        await wait_for(pilot, lambda: switcher._ahead is not None)


async def _typing_in_the_filter_box(pilot, monkeypatch: pytest.MonkeyPatch
                                    ) -> tuple[Switcher, list[bool]]:
    """`x` typed in the fleet's filter box; then each rehearsal due says whether it rendered
    the switcher's frame (appended to the list returned)."""
    await settle(pilot)
    switcher = pilot.app.screen.query_one(Switcher)
    for key in ("slash", "x"):
        await pilot.press(key)
        await settle(pilot)
    assert isinstance(pilot.app.screen.focused, Input)
    rendered: list[bool] = []
    rehearse = switcher._rehearse
    monkeypatch.setattr(switcher, "_rehearse", lambda: (
        rehearse(), rendered.append(switcher._ahead is not None)))
    return switcher, rendered


async def test_nothing_is_rendered_ahead_while_s_would_be_typed(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the fleet's filter box `s` is a letter: the switcher's frame is not rendered ahead
    (10-25 ms in a pause of the typing, for nothing) until the box gives the focus back."""
    async with app.run_test(size=SIZE) as pilot:
        switcher, rendered = await _typing_in_the_filter_box(pilot, monkeypatch)
        await pilot.pause(3 * S_SOON_AFTER_A_KEY)  # past the second rehearsals waited before
        assert rendered and not any(rendered)  # due (the box's cursor blinks), and declined
        await pilot.press("enter")  # the filter kept, the focus back on the list
        await settle(pilot)
        assert not isinstance(app.screen.focused, Input)
        await wait_for(pilot, lambda: switcher._ahead is not None)


@pytest.mark.parametrize(("key", "ahead"), [("f2", True), ("w", False)])
async def test_the_switcher_put_on_another_key_is_rendered_ahead_where_that_key_opens_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, ahead: bool) -> None:
    """With the switcher put on F2 (settings' [keys]) the filter box does not type that key:
    the frame is rendered ahead there too. Put on `w`, the box types it: not rendered."""
    app = make_app(tmp_path, keys={"switcher": key})
    async with app.run_test(size=SIZE) as pilot:
        switcher, rendered = await _typing_in_the_filter_box(pilot, monkeypatch)
        if ahead:
            await wait_for(pilot, lambda: any(rendered))
        else:
            await pilot.pause(3 * S_SOON_AFTER_A_KEY)  # past the second rehearsals
            assert rendered and not any(rendered), rendered  # due, and declined
        await pilot.press(key)
        await settle(pilot)
        assert switcher.is_open is ahead  # F2 opened it; `w` was typed into the box
    app.store.close()


async def test_no_frame_is_rendered_ahead_over_a_layout_textual_has_not_done_yet(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcuts grew (back on the fleet, the controller left is offered too): the items'
    Static asks for its new height in its own turn, which may come after the screen's. A frame
    rendered before that showed one item where `s` shows two (seen once in the whole suite);
    the rehearsal waits for the layout, and `s` writes what it then shows."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one(Switcher)
        await wait_for(pilot, lambda: switcher._ahead is not None)
        rows = [r for r in app.store.fleet_rows() if r.controller_id][:3]
        more = [(row, False) for row in rows]
        monkeypatch.setattr(app, "switcher_shortcuts", lambda: more)
        switcher._rehearse()  # fills the parked switcher with the three
        assert switcher._items_text == switcher._shortcut_text()
        switcher._rehearse()  # again before the Static's turn: as a loaded event loop may
        early = switcher._ahead  # if rendered then for these: kept while no frame comes
        await wait_for(pilot, lambda: switcher._ahead is not None
                       and switcher._ahead.shortcuts == more)
        kept = switcher._ahead
        shown = await _press_s_recording_frames(app, pilot, monkeypatch)
        assert switcher.is_open and shown and shown[0] is kept.frame
        whole = cells(app.screen._compositor.render_update(full=True))
        assert cells(kept.frame) == whole
        if early is not None and early.shortcuts == more:  # not over the old layout
            assert cells(early.frame) == whole
