"""A digit that refills the controller screen renders only what changed (issue 18): the key bar
keeps the lines of each set of keys it shows, and a table keeps the styles of each state of
its focus (the switcher takes the focus and gives it back)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.geometry import Region

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from tests.tui.conftest import SIZE, settle


def _bar_text(bar: KeyBar) -> list[str]:
    return [strip.text for strip in bar.render_lines(Region(0, 0, bar.size.width, 2))]


async def _on_a_controller(app: FieldtechApp, pilot) -> ControllerScreen:
    """On a controller, with three others recent (digits 1-3 open them)."""
    await settle(pilot)
    for row in app.rows[3:10:2]:
        app.open_controller(row.controller_id)
        await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ControllerScreen)
    return screen


async def test_the_key_bar_draws_each_set_of_keys_once(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """`s` turns the key bar to the switcher's keys, Esc (or a digit) back to the screen's:
    each set's lines are drawn once, not again at every `s` and digit."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await _on_a_controller(app, pilot)
        bar = screen.query_one(KeyBar)
        before = _bar_text(bar)
        assert "Rain delay" in before[0]
        drawn: Counter[tuple[object, ...]] = Counter()
        render = KeyBar.render

        def counted(self: KeyBar):
            drawn[self.keys, self.page] += 1
            return render(self)

        monkeypatch.setattr(KeyBar, "render", counted)
        for _ in range(3):
            await pilot.press("s")
            await settle(pilot)
            assert "Rain delay" not in _bar_text(bar)[0]  # the switcher's keys
            await pilot.press("escape")
            await settle(pilot)
            assert _bar_text(bar) == before
        assert max(drawn.values(), default=0) <= 1, drawn
        # A page of the second line is a line of its own, drawn as it shows.
        pages = len(bar._pages(bar.size.width))
        if pages > 1:
            bar.page = 1
            await settle(pilot)
            assert _bar_text(bar)[0] == before[0] and _bar_text(bar)[1] != before[1]
            assert _bar_text(bar)[1].rstrip().endswith(f"2/{pages}")


def _looks(table: RecordTable) -> tuple[object, ...]:
    return (dict(table.styles.base._rules),
            {name: styles.get_rules() for name, styles in table._component_styles.items()},
            table.get_component_rich_style("list--cursor"))


def _looks_fresh(table: RecordTable) -> tuple[object, ...]:
    """What Textual's stylesheet gives the table now, matched from scratch."""
    table.app.stylesheet.update_nodes([table])
    return _looks(table)


@contextmanager
def matching(monkeypatch: pytest.MonkeyPatch, table: RecordTable) -> Iterator[list[DOMNode]]:
    """The nodes of `table` (itself, its component classes) the stylesheet matches while the
    block runs."""
    matched: list[DOMNode] = []
    apply = Stylesheet.apply

    def counted(self: Stylesheet, node: DOMNode, **kwargs: object) -> None:
        if node is table or node._parent is table:
            matched.append(node)
        apply(self, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", counted)
    try:
        yield matched
    finally:
        monkeypatch.setattr(Stylesheet, "apply", apply)


async def _s_and_back(pilot, key: str = "escape") -> None:
    await pilot.press("s")
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


async def test_a_tables_change_of_focus_restyles_it_from_what_it_kept(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The zone table loses the focus as the switcher opens and gets it back with the digit:
    after the first time, its styles for each state come from what it kept, not from the
    stylesheet matched again (~1 ms each, traced), and they are the stylesheet's."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await _on_a_controller(app, pilot)
        table = screen.query_one("#zone-table", RecordTable)
        await _s_and_back(pilot)  # each state seen once
        for digit in ("2", "3"):
            with matching(monkeypatch, table) as matched:
                await pilot.press("s")
                await settle(pilot)
                assert not table.has_focus
                blurred = _looks(table)
                await pilot.press(digit)
                await settle(pilot)
                assert app.screen is screen  # refilled (digit 1 would swap the twin in)
                assert app.screen.focused is table and table.has_focus
                focused = _looks(table)
            assert not matched, matched
            assert focused == _looks_fresh(table)
            assert blurred != focused  # the cursor's colours show the focus


async def test_a_new_theme_restyles_the_tables_focus_anew(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a table kept for its focus was the old theme's: a new theme matches it again once,
    and then keeps the new theme's."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await _on_a_controller(app, pilot)
        table = screen.query_one("#zone-table", RecordTable)
        await _s_and_back(pilot)
        old = _looks(table)
        app.theme = next(name for name in app.available_themes if name != app.theme)
        await settle(pilot)
        with matching(monkeypatch, table) as matched:
            await _s_and_back(pilot)
        assert matched  # the new theme's styles, matched
        assert table.has_focus
        new = _looks(table)
        assert new != old
        assert new == _looks_fresh(table)
        with matching(monkeypatch, table) as matched:
            await _s_and_back(pilot)
        assert not matched, matched  # and kept
        assert _looks(table) == new == _looks_fresh(table)


async def test_what_follows_a_switch_waits_a_moment_after_its_frame(
        app: FieldtechApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fresh read (and the rest that waits for the switch's frame) starts a moment after
    the frame is written, not as soon as its handler returns: the work right after the write
    held the frame's bytes back from the terminal (traced at 100,000)."""
    import fieldtech.screens.controller as controller_module

    monkeypatch.setattr(controller_module, "AFTER_FRAME_AT_MOST_S", 60)  # only the frame
    async with app.run_test(size=SIZE) as pilot:
        screen = await _on_a_controller(app, pilot)
        await pilot.press("s")
        await settle(pilot)
        order: list[str] = []
        display, read = app._display, screen._read

        def painted(shown_on, renderable) -> None:
            display(shown_on, renderable)
            if renderable is not None and not order:
                order.append("frame")
                asyncio.get_running_loop().call_later(
                    controller_module.AFTER_FRAME_GAP_S / 2, order.append, "a moment later")

        def reading(controller_id: str) -> None:
            order.append("read")
            read(controller_id)

        monkeypatch.setattr(app, "_display", painted)
        monkeypatch.setattr(screen, "_read", reading)
        await pilot.press("2")
        await settle(pilot)
        assert app.screen is screen and order[0] == "frame", order
        assert order.index("a moment later") < order.index("read"), order
