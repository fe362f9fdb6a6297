"""A digit that refills the controller screen renders only what changed (issue 18): the key bar
keeps the lines of each set of keys it shows."""

from __future__ import annotations

from collections import Counter

import pytest
from textual.geometry import Region

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.widgets.key_bar import KeyBar
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
