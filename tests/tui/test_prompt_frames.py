"""A screen's changes are drawn once the app has handled them, not at Textual's next frame tick.

Textual's 60 fps timer stands here for the tick that has not come yet: it is replaced by one
that never ticks (the only fake; the app, its store and its screens are real). Whatever the
screens still draw then, they draw without it. Keys are sent as the terminal's driver sends
them, not with Pilot's press and pause: those draw the screen themselves.
"""

from __future__ import annotations

import asyncio

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from fieldtech.app import FieldtechApp
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.switcher import Switcher
from tests.tui.conftest import SIZE, settle


class NeverTicks:
    """Textual's frame timer, paused for good: resumed, it still never calls back."""

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def no_frame_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Screen, "_update_timer", property(lambda self: NeverTicks()))


def typed(app: App, key: str) -> None:
    """The key as the terminal's driver hands it to the app (Pilot's press, less its pauses)."""
    event = events.Key(key, key)
    event.set_sender(app)
    app._driver.send_message(event)


def left_to_draw(screen: Screen) -> bool:
    return bool(screen._layout_required or screen._repaint_required or screen._dirty_widgets)


class OneLine(App):
    def __init__(self, screen_class: type[Screen]) -> None:
        super().__init__()
        self.screen_class = screen_class
        self.frames = 0

    def get_default_screen(self) -> Screen:
        return self.screen_class()

    def _display(self, screen, renderable) -> None:
        self.frames += 1
        super()._display(screen, renderable)


class Plain(Screen):
    def compose(self) -> ComposeResult:
        yield Static("before", id="line")


class Prompt(PromptFrames, Plain):  # as the app's screens mix it in
    pass


@pytest.mark.parametrize(("screen_class", "drawn"), [(Prompt, True), (Plain, False)])
async def test_a_change_is_drawn_without_the_frame_timer(no_frame_ticks, screen_class,
                                                         drawn) -> None:
    """Textual's own screen leaves the change for its timer (the second case shows it, so the
    first case's check means something); ours draws it once the app is idle."""
    app = OneLine(screen_class)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = app.frames
        app.screen.query_one("#line", Static).update("after, a longer line")
        await asyncio.sleep(0.1)
        assert (app.frames > before) is drawn
        assert left_to_draw(app.screen) is not drawn


async def test_a_switch_is_drawn_whole_without_the_frame_timer(app: FieldtechApp,
                                                                no_frame_ticks) -> None:
    """s and a digit on the real app: the controller screen is laid out and drawn in every
    step a switch takes (resume, the widgets it fills, the layout that follows), nothing left
    for a tick that would come up to 17 ms later."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first, second = app.rows[3], app.rows[10]
        for row in (first, second):  # from the fleet, 1 is the most recent: the second
            app.open_controller(row.controller_id)
            await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        typed(app, "s")
        await asyncio.sleep(0.3)
        assert app.screen.query_one(Switcher).is_open
        assert not left_to_draw(app.screen)
        typed(app, "1")
        await asyncio.sleep(0.5)
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == second.controller_id
        assert not left_to_draw(app.screen)


async def test_back_to_the_controller_just_left_is_drawn_at_once(app: FieldtechApp,
                                                                 monkeypatch) -> None:
    """Esc to the fleet, then s 1 back to the controller the screen still shows: nothing on it
    changes, and the screen went idle while the switcher's batch held the drawing. It waited
    for the next message that came its way (the threads' timer, 0.3 s later; pushed far off
    here so that it cannot rescue the frame)."""
    from fieldtech.screens import controller

    monkeypatch.setattr(controller, "AFTER_FRAME_AT_MOST_S", 60.0)
    drawn: list[bool] = []
    refresh = ControllerScreen._compositor_refresh

    def recorded(self: ControllerScreen) -> None:
        drawn.append(bool(self._compositor._dirty_regions))
        refresh(self)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.rows[3]
        app.open_controller(row.controller_id)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        monkeypatch.setattr(ControllerScreen, "_compositor_refresh", recorded)
        typed(app, "s")
        await asyncio.sleep(0.2)
        typed(app, "1")
        for _ in range(100):  # 5 s at most; drawn in a few ms
            await asyncio.sleep(0.05)
            if any(drawn):
                break
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == row.controller_id
        assert any(drawn), "the controller screen was not drawn"
