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
from fieldtech.screens.frames import DrawAfterBatches, PromptFrames
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


async def until(condition, seconds: float = 10.0) -> None:
    """Let the app run until `condition()` holds (it fails the test after `seconds`); not
    Pilot's pause, which draws the screen itself."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition()


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
        await until(lambda: app.screen.query_one(Switcher).is_open
                    and not left_to_draw(app.screen))
        typed(app, "1")
        await until(lambda: isinstance(app.screen, ControllerScreen)
                    and app.screen.controller.id == second.controller_id
                    and not left_to_draw(app.screen))
        assert isinstance(app.screen, ControllerScreen)
        assert app.screen.controller.id == second.controller_id
        assert not left_to_draw(app.screen)


class OneLineBatched(DrawAfterBatches, OneLine):  # as the app mixes it in
    pass


@pytest.mark.parametrize(("app_class", "drawn"), [(OneLineBatched, True), (OneLine, False)])
async def test_a_change_made_inside_a_batch_is_drawn_when_it_ends(app_class, drawn) -> None:
    """Textual draws nothing during `batch_update`; a screen that went idle inside one is not
    told when it ends (Textual tells the app): its change waited for whatever message came
    its way next (a switch back to the controller just left waited 0.3 s so, for a timer).
    The second case shows Textual's own behaviour, so the first case's check means something."""
    app = app_class(Plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = app.frames
        with app.batch_update():
            app.screen.query_one("#line", Static).update("after, a longer line")
            await asyncio.sleep(0.1)  # the screen goes idle inside the batch
        await asyncio.sleep(0.3)
        assert (app.frames > before) is drawn
