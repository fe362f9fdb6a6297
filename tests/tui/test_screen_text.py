"""What screens show at 80×24: whole faults, site time, whole keys, a separated top bar, the
chosen row in view."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App

from fieldtech.app import FieldtechApp
from fieldtech.cloud.link import LinkState, LinkStatus
from fieldtech.domain.plans import Tier, Usage
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.plans import PlansScreen
from fieldtech.screens.switcher import Switcher
from fieldtech.screens.topbar import TopBar
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.text_line import TextBox
from tests.tui.conftest import SIZE, make_app, settle, wait_for

FAULT = "Zone 4: no current (broken wire?) — check the splice box by the gate [north]"


async def test_details_show_the_whole_fault_and_rain_delay_in_site_time(
        app: FieldtechApp) -> None:
    target = next(r for r in app.store.fleet_rows() if r.serial)
    # As a device status report would leave it (the store takes faults from the cloud).
    with sqlite3.connect(app.store.path) as db:
        db.execute("UPDATE controller SET fault=? WHERE id=?", (FAULT, target.controller_id))
    c = app.store.controller(target.controller_id)
    app.store.update_controller(c.id, timezone="America/Los_Angeles", config=replace(
        c.config, rain_delay_until=datetime(2099, 7, 1, 18, 30, tzinfo=UTC)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_controller(target.controller_id)
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # Details
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ControllerScreen)
        details, header = (Text.from_markup(str(screen.query_one(box, TextBox).render())).plain
                           for box in ("#details", "#ctl-header"))
    assert FAULT in details  # whole, and its brackets are text, not markup
    assert "until 2099-07-01 11:30 (America/Los_Angeles)" in details  # PDT = UTC-7
    assert "⚠ Zone 4" in header


async def test_the_key_bar_shows_whole_keys_only(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        shown = str(bar.render()).split("\n")[0]
        assert bar.keys and shown.endswith("Find ")  # "b Previous" goes to the second line
        assert all(f" {key} {what} " in shown for key, what, _ in bar.keys[:7])
        assert not shown.rstrip().endswith(" b")  # never a key without its meaning



class _Bar(App):
    def __init__(self, name: str):
        super().__init__()
        self.account = name

    def compose(self):
        yield TopBar()

    def on_mount(self) -> None:
        now = datetime.now(UTC)
        self.query_one(TopBar).show(self.account, Usage(Tier.SILVER, 238, 250, 3, 5, 10), 0,
                                    link=LinkStatus(LinkState.ONLINE, now, now))


@pytest.mark.parametrize("name", ["Greenline Irrigation (demo account, 2026 season)",
                                  "Greenline Irrigation"])
async def test_a_full_top_bar_still_separates_pending_from_the_link_state(name: str) -> None:
    app = _Bar(name)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = app.query_one(TopBar).render().plain
    assert len(text) <= 80 and "Silver 238/250" in text, text
    assert "pending online" not in text and "online" in text, text


async def test_plans_opened_on_a_customer_far_down_shows_that_customer(
        app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("end")  # the last line of the fleet: a customer near the bottom
        await settle(pilot)
        wanted = app.screen.fleet_list.current[0].customer_id
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PlansScreen) and app.screen.shown)
        screen = app.screen
        table = screen.table
        assert screen.selected().id == wanted
        assert table.cursor > table.scrollable_content_region.height  # needs a scroll
        top = table.scroll_offset.y
        assert top <= table.cursor < top + table.scrollable_content_region.height


async def test_the_top_bar_repaints_only_when_its_words_change() -> None:
    app = _Bar("Greenline Irrigation")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = app.query_one(TopBar)
        repaints = []
        bar.refresh = lambda *a, **k: repaints.append(1)  # counts; the real one paints bytes
        now = datetime.now(UTC)
        usage = Usage(Tier.SILVER, 238, 250, 3, 5, 10)
        bar.show(app.account, usage, 0, link=LinkStatus(LinkState.ONLINE, now, now))
        assert repaints == []  # the 30-second tick, nothing new to say: no bytes
        bar.show(app.account, usage, 1, link=LinkStatus(LinkState.ONLINE, now, now))
        assert repaints == [1]  # one more pending edit
        later = now + timedelta(minutes=2)
        bar.show(app.account, usage, 1, link=LinkStatus(LinkState.ONLINE, now, later))
        assert repaints == [1, 1]  # "synced 2 min ago"


async def test_the_plan_code_label_follows_the_cursor_at_once(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PlansScreen) and app.screen.shown)
        screen = app.screen
        screen.table.focus()
        await pilot.pause()

        def label() -> str:
            return str(screen.query_one("#plans-code-label").render())

        first, second = screen.shown[0].name, screen.shown[1].name
        assert first[:10] in label()
        await pilot.press("down")
        assert second[:10] in label()  # no key later: the move itself updates it
        screen.query_one("#plans-filter").value = second
        await pilot.pause()
        assert screen.selected().name == second and second[:10] in label()


async def test_the_key_bar_leaves_out_keys_a_search_box_takes_as_text(
        app: FieldtechApp) -> None:
    """With the switcher's search box focused, `/` types a slash: the key bar must not offer
    the fleet's "/ Filter" (Textual cannot tell "slash" is a character, so keeps it)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        assert ("/", "Filter", True) in bar.keys  # on the fleet it filters
        await pilot.press("s")
        await settle(pilot)
        assert all(key != "/" for key, _what, _enabled in (*bar.keys, *bar.more)), bar.keys
        assert any(what == "Cancel" for _key, what, _enabled in bar.keys), bar.keys
        await pilot.press("slash")
        await settle(pilot)
        assert app.screen.query_one("#finder-input").value == "/"
        await pilot.press("escape")
        await settle(pilot)
        assert ("/", "Filter", True) in bar.keys


async def test_a_focused_filter_box_says_esc_clears_it(app: FieldtechApp) -> None:
    """In the fleet's `/` box the key bar offers Esc to clear the filter (it was left empty
    once "/ Filter" went), and Esc does that: the box closes, the list has the focus."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        await pilot.press("slash", "a", "n", "a")
        await settle(pilot)
        assert ("esc", "Clear filter", True) in bar.keys, bar.keys
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.focused is app.screen.fleet_list
        assert not app.screen.query_one("#filter").has_class("visible")


async def test_a_key_moved_off_a_letter_is_offered_and_works_in_a_filter_box(
        tmp_path: Path) -> None:
    """The switcher put on F2 (settings' [keys]): in the fleet's filter box, where `s` is a
    letter, F2 is in the key bar and opens the switcher (Textual dropped `s` as typed text
    before moving the binding, so it was gone there); the sync put on `y` is typed there."""
    app = make_app(tmp_path, keys={"switcher": "f2", "sync": "y"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        await pilot.press("slash", "a")
        await settle(pilot)
        shown = [(key, what) for key, what, _on in (*bar.keys, *bar.more)]
        assert ("f2", "Switch") in shown, shown
        assert all(key != "y" and what != "Sync now" for key, what in shown), shown
        await pilot.press("y")
        await settle(pilot)
        assert app.screen.query_one("#filter").value == "ay"
        await pilot.press("f2")
        await settle(pilot)
        assert app.screen.query_one(Switcher).is_open
    app.store.close()


async def test_under_no_color_the_cursor_line_shows_by_reverse_video(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR turns the cursor line's background into a grey (or nothing, on an ANSI
    theme): the cursor line is in reverse video instead, and only it."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        top = fleet.scroll_offset.y
        lines = {y + top: fleet.render_line(y) for y in range(fleet.size.height)}

        def reversed_at(line: int) -> bool:
            return any(s.style and s.style.reverse and s.text.strip() for s in lines[line])

        assert reversed_at(fleet.cursor)
        assert not any(reversed_at(line) for line in lines if line != fleet.cursor)
    app.store.close()


# sha256 of Textual 8.2.8's Screen._binding_chain source, its first 16 hex digits
TEXTUAL_BINDING_CHAIN = "003c1b578e69d2cf"


def test_keymap_first_still_mirrors_textuals_binding_chain() -> None:
    """`KeymapFirst` is Textual 8.2's `Screen._binding_chain` with two steps swapped: a
    Textual whose property reads otherwise must be read again (and this hash updated)."""
    import hashlib
    import inspect

    from textual.screen import Screen

    source = inspect.getsource(Screen._binding_chain.fget)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == TEXTUAL_BINDING_CHAIN, source
