"""A key's frame is drawn as soon as the app has handled it, not at Textual's next frame slot.

Textual draws a screen's changes from a 60 fps timer. The first change after a quiet moment
is drawn at once, but a key's handling often changes the screen in steps (a layout, then the
widgets that layout resized update, then another layout), and each later step waits for the
timer's next tick: up to 17 ms, although nothing was drawn in between (a switch to a
controller waited 16 ms so). Over SSH every such millisecond is added to the round trip
(issue 18), and at 100,000 controllers to the switch (issue 17). Here a screen that goes idle
with changes draws them a moment later (SETTLE_S), or MIN_GAP_S after its last frame if that
is later; the timer still draws them if it ticks first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual._time import get_time
from textual.app import App
from textual.screen import Screen
from textual.timer import Timer

SETTLE_S = 0.002  # after the screen goes idle, for its widgets to read what was sent them
MIN_GAP_S = 1 / 120  # between two frames drawn this way: a stream of changes costs little more


# A mixin, not a Screen: Textual inherits a screen's default CSS along the first DOMNode base
# only, so a Screen here would hide ModalScreen's (its see-through background) from dialogs.
_Mixin = Screen if TYPE_CHECKING else object
_AppMixin = App if TYPE_CHECKING else object


class PromptFrames(_Mixin):
    """Mixed into every screen of the app, before Textual's own screen class."""

    _drawn_at = 0.0  # when this screen last drew a frame (get_time's clock)
    _draw_timer: Timer | None = None

    # Textual calls each class's own `_on_idle` in turn, Screen's after this one (no super()).
    def _on_idle(self, event: events.Idle) -> None:
        if self._draw_timer is None and self._has_changes():
            # Not at once: the screen is idle, but its widgets each read their own messages
            # (a focus, a resize) and may not have yet; drawn now, the frame would miss what
            # they change and a second frame would follow it.
            wait = max(SETTLE_S, self._drawn_at + MIN_GAP_S - get_time())
            self._draw_timer = self.set_timer(wait, self._draw_now, name="draw now")

    def _has_changes(self) -> bool:
        return (self.is_current and not self.app._batch_count
                and bool(self._layout_required or self._scroll_required
                         or self._repaint_required or self._dirty_widgets))

    def _draw_now(self) -> None:
        # What the timer's tick does (lay out, draw, then the screen's callbacks), before it;
        # if it came first, nothing is left to draw.
        self._draw_timer = None
        if self._has_changes():
            self._on_timer_update()

    def _compositor_refresh(self) -> None:
        self._drawn_at = get_time()
        super()._compositor_refresh()


class DrawAfterBatches(_AppMixin):
    """Mixed into the app: the screen on top is told when a batch of changes ends.

    Textual draws nothing during `batch_update`, and a screen that went idle during one does
    not go idle again when it ends (Textual tells the app only). A switch pushes the
    controller screen inside the switcher's batch: when that screen already showed the chosen
    controller nothing else woke it, and it was drawn ~0.3 s later, by a timer.
    """

    def _end_batch(self) -> None:
        super()._end_batch()
        if not self._batch_count and self._screen_stack:
            self.screen.check_idle()
