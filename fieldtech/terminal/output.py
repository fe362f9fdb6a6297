"""The app's side of the terminal: frames written as what differs from the terminal's cells
(shadow.py), keys and clicks read by fieldtech's driver (driver.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.control import Control
from textual._ansi_sequences import SYNC_END, SYNC_START
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual._time import get_time
from textual.app import App
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.signal import Signal

from fieldtech.terminal.driver import TerminalDriver
from fieldtech.terminal.shadow import FrameAhead, TerminalShadow

if TYPE_CHECKING:
    from textual.timer import Timer

COALESCE_S = 0.06  # while keys stream (held), at most one frame this often


class SparingTerminal(App):
    """Mix into the App: each frame writes only the cells that differ from the terminal's;
    Esc is read at once, and the mouse reports clicks and the wheel only."""

    _shadow: TerminalShadow | None = None

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return TerminalDriver if driver is LinuxDriver else driver

    def _display(self, screen: Any, renderable: Any) -> None:
        driver = self._driver
        if (not isinstance(renderable, LayoutUpdate | ChopsUpdate) or driver is None
                or driver.is_inline or self._batch_count):
            super()._display(screen, renderable)
            return
        if self._shadow is None:
            self._shadow = TerminalShadow(self.console._color_system)
            self.app_resume_signal.subscribe(self, lambda _app: self._shadow_lost())
        self._shadow.apply(renderable, *self.size)
        if self.is_headless:  # tests: the frames counted as a terminal would get them
            if self._shadow.flush():
                self._frame_written()
            super()._display(screen, renderable)
            return
        now = get_time()
        if self._flush_timer is not None:
            return  # a frame is already due: it will write this one too
        if (now < self._written_at + COALESCE_S and isinstance(driver, TerminalDriver)
                and driver.keys_streaming(now)):
            self._coalesce()  # keys held or typed fast: one frame per COALESCE_S, not per key
            return
        self._flush_frame()

    def frame_ahead(self, update: LayoutUpdate) -> FrameAhead | None:
        """What writing `update` would write, worked out now (`display_ahead` writes it)."""
        if self._shadow is None or self.is_headless:
            return None
        return self._shadow.ahead(update, *self.size)

    def display_ahead(self, screen: Any, update: LayoutUpdate, ahead: FrameAhead | None) -> None:
        """`_display(screen, update)`, with the sequence worked out ahead if it still holds."""
        shadow, driver = self._shadow, self._driver
        sequence = None
        if (ahead is not None and shadow is not None and self._flush_timer is None
                and not self._batch_count and isinstance(driver, TerminalDriver)
                and not driver.keys_streaming(get_time())):
            sequence = shadow.take(ahead)
        if sequence is None:
            self._display(screen, update)
        else:
            self._flush_frame(sequence)

    def key_waiting(self) -> bool:
        """Whether a key has been read that the app has not handled to the end yet: work
        that could wait (rendering ahead) should let it go first."""
        driver = self._driver
        if getattr(self, "_key_in_flight", None) is not None or getattr(
                self, "_keys_waiting", None):
            return True  # KeysInOrder: a key routed, or queued behind one
        return isinstance(driver, TerminalDriver) and (
            driver.last_key_read_at > getattr(self, "last_key_at", 0.0))

    _flush_timer: Timer | None = None
    _written_at = 0.0
    frames_written = 0  # frames that changed the terminal: one rendered ahead holds meanwhile

    def _coalesce(self) -> None:
        """Write the pending frame at its slot, or sooner once the held keys have stopped (the
        last key's frame waited up to COALESCE_S for its slot); a key read since moves that."""
        self._flush_timer = None
        driver, now = self._driver, get_time()
        if isinstance(driver, TerminalDriver):
            at = min(self._written_at + COALESCE_S, driver.keys_stopped_at())
            if at - now > 0.001:
                self._flush_timer = self.set_timer(at - now, self._coalesce, name="coalesce")
                return
        self._flush_frame()

    def _flush_frame(self, sequence: str | None = None) -> None:
        self._flush_timer = None
        shadow = self._shadow
        if shadow is None or self._driver is None:
            return
        if sequence is None:
            sequence = shadow.flush()
        cursor = self.screen.outer_size.clamp_offset(self.cursor_position)
        if not sequence and cursor == self._previous_cursor_position:
            self.post_display_hook()  # nothing differs: nothing to write, not even a sync
            return
        self._written_at = get_time()
        self._frame_written()
        if self._running and not self._closed:
            # What App._display writes (begin sync, the frame, the cursor, end sync), in one
            # write, from this thread when nothing is queued before it (TerminalDriver).
            frame = sequence + Control.move_to(*cursor).segment.text
            if self._sync_available:
                frame = SYNC_START + frame + SYNC_END
            self._previous_cursor_position = cursor
            driver = self._driver
            if isinstance(driver, TerminalDriver):
                driver.write_frame(frame)
            else:
                driver.write(frame)
                driver.flush()
        self.post_display_hook()

    _frame_written_signal: Signal[App] | None = None

    @property
    def frame_written_signal(self) -> Signal[App]:
        """Published as each frame that changes the terminal is written (frames_written)."""
        if self._frame_written_signal is None:
            self._frame_written_signal = Signal(self, "frame-written")
        return self._frame_written_signal

    def _frame_written(self) -> None:
        self.frames_written += 1
        if self._frame_written_signal is not None:
            self._frame_written_signal.publish(self)

    def _shadow_lost(self) -> None:
        """The terminal was used by something else (suspended): its cells are not known."""
        if self._shadow is not None:
            self._shadow.invalidate()
        self._pointer_shape = None

    _pointer_shape: str | None = None

    def _set_pointer_shape(self, shape: str) -> None:
        # Textual sets the pointer's shape on every screen change, mostly to the one it has:
        # 13 bytes in a frame of their own (a switch wrote them before its controller).
        if shape != self._pointer_shape:
            self._pointer_shape = shape
            super()._set_pointer_shape(shape)
