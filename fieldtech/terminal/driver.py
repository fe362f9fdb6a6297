"""The terminal driver: Esc without a delay and without lost keys, and clicks without motion.

Textual reads a lone ESC as the start of a possible escape sequence and waits ~100 ms (its
input loop wakes every 100 ms, so up to 200 ms) before calling it the Escape key; an ESC
followed by a key in the same read becomes Alt+key, which fieldtech does not bind, so both
keys were lost (what a TCP retransmission delivers after a lost packet: Esc and `f` at once).
Here, as fieldtech binds no Alt key, an ESC followed by anything but `[` or `O` (the two ways a
terminal starts a key's sequence) is the Escape key at once, and an ESC that ends a read is the
Escape key unless the rest of a sequence follows within ESCAPE_GRACE (a terminal writes a key's
sequence in one write; the grace covers one split by the pty or the network).

Mouse: Textual asks for every motion (?1003h), so moving across the window sends events (and
repaints) for nothing; fieldtech asks for clicks and the wheel only (?1000h, SGR coordinates).

Output: Textual hands every write to a thread (so a slow terminal never blocks the app), which
then waits for the interpreter: the app's thread holds it until its switch interval (5 ms) or
its next wait, so a frame reached the terminal 0.1–13 ms after it was ready (measured). A frame
is written in one piece by the app's thread itself when nothing is queued before it and the
terminal can take it at once (`FrameWriter.write_now`); otherwise it queues as before.
"""

from __future__ import annotations

import os
import select
import selectors
import threading
from codecs import getincrementaldecoder
from collections.abc import Iterable, Iterator
from typing import IO

from textual import events
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

ESC = "\x1b"
SEQUENCE_STARTS = "[O"  # CSI and SS3: what may follow ESC in a key's or a report's sequence
ESCAPE_GRACE = 0.005  # an ESC ending a read waits this long for the rest of a sequence
KEY_STREAM_S = 0.06  # keys closer than this are held (auto-repeat is 25–40 a second)
KEY_QUIET_GAPS = 1.25  # held keys have stopped once none came for this many of their intervals


def escape_keys(data: str) -> Iterator[tuple[str, bool]]:
    """`data` cut after every ESC that is the Escape key: (piece, ends with the Escape key)."""
    start = 0
    for i, ch in enumerate(data):
        if ch == ESC and i + 1 < len(data) and data[i + 1] not in SEQUENCE_STARTS:
            yield data[start:i + 1], True
            start = i + 1
    if start < len(data):
        yield data[start:], False


class KeyParser(XTermParser):
    """Textual's parser, with Esc read as fieldtech means it (see the module's docstring)."""

    def feed(self, data: str) -> Iterable[Message]:
        if not data:
            yield from super().feed(data)
            return
        for piece, escape in escape_keys(data):
            yield from super().feed(piece)
            if escape:
                yield from self.escape_now()
        if self._timeout_time is not None:  # an ESC ends the read: wait briefly, not 100 ms
            self._timeout_time = min(self._timeout_time, get_time() + ESCAPE_GRACE)

    def escape_now(self) -> Iterable[Message]:
        """The ESC just read is the Escape key (the parser is waiting for a sequence)."""
        if self._timeout_time is not None:
            self._timeout_time = 0.0
            yield from self.tick()

    @property
    def wait(self) -> float | None:
        """Seconds until a pending ESC is due (None: none pending)."""
        if self._timeout_time is None:
            return None
        return max(0.0, self._timeout_time - get_time())


WRITE_NOW_MAX = 4096  # characters a frame may have to be written by the app's own thread


class FrameWriter(WriterThread):
    """Textual's writer thread, which also lets the app's thread write a frame itself when
    nothing is queued or being written (order kept: everything before it is on its way)."""

    def __init__(self, file: IO[str]) -> None:
        super().__init__(file)
        self._lock = threading.Lock()
        self._pending = 0  # writes queued and not yet flushed

    def write(self, text: str) -> None:
        with self._lock:
            self._pending += 1
        super().write(text)

    def write_now(self, text: str) -> bool:
        """Write `text` in this thread if nothing is ahead of it and the terminal can take it
        without waiting; False if it was queued instead."""
        with self._lock:
            # Larger than a pty's buffer: a slow link could block the app's thread in write();
            # Textual's writer thread is there for that (a screen's frame is 3-7 KB).
            if not self._pending and self.is_alive() and len(text) <= WRITE_NOW_MAX:
                try:
                    _, ready, _ = select.select([], [self._file], [], 0)
                except (OSError, ValueError):
                    ready = []
                if ready:
                    try:
                        self._file.write(text)
                        self._file.flush()
                    except OSError:  # the terminal has gone: the app notices and exits
                        pass
                    return True
        self.write(text)
        return False

    def run(self) -> None:
        """Textual's loop, counting what is still to be flushed."""
        write, flush = self._file.write, self._file.flush
        get, qsize = self._queue.get, self._queue.qsize
        while True:
            text = get()
            if text is None:
                break
            write(text)
            if qsize() == 0:
                flush()
            with self._lock:
                self._pending -= 1
        flush()


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver with fieldtech's Esc, mouse and frame writes (see the module's
    docstring)."""

    @property
    def _writer_thread(self) -> FrameWriter | None:
        return self._frame_writer

    @_writer_thread.setter
    def _writer_thread(self, writer: WriterThread | None) -> None:
        # Textual makes its writer in start_application_mode (again after a suspend): ours.
        self._frame_writer = writer if writer is None or isinstance(writer, FrameWriter) \
            else FrameWriter(writer._file)

    _frame_writer: FrameWriter | None = None

    def write_frame(self, frame: str) -> None:
        """Write a whole frame, from the app's thread if nothing is queued before it."""
        writer = self._frame_writer
        assert writer is not None, "Driver must be in application mode"
        writer.write_now(frame)

    def _enable_mouse_support(self) -> None:
        if not self._mouse:
            return
        self.write("\x1b[?1000h")  # clicks and the wheel
        self.write("\x1b[?1006h")  # SGR coordinates (any column)
        self.flush()

    def _disable_mouse_support(self) -> None:
        if not self._mouse:
            return
        self.write("\x1b[?1000l\x1b[?1006l")
        self.flush()

    def run_input_thread(self) -> None:
        """Textual's loop, with KeyParser, woken when a pending ESC is due (not every 100 ms)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = KeyParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list, final: bool = False) -> None:
            for _key, mask in ready:
                if mask & selectors.EVENT_READ:
                    data = decode(self._read(), final=final)
                    if not data:
                        break
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                wait = parser.wait
                process(selector.select(0.1 if wait is None else min(0.1, wait)))
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass

    def _read(self) -> bytes:
        return os.read(self.fileno, 4096)

    def process_message(self, message: Message) -> None:
        if isinstance(message, events.Key):
            now = get_time()
            self._key_gap, self._last_key_at = now - self._last_key_at, now
            if self._key_gap < KEY_STREAM_S:  # one assignment: read by the app's thread
                self._held_gaps = (*self._held_gaps[-4:], self._key_gap)
        super().process_message(message)

    _last_key_at = 0.0
    _key_gap = 1.0
    _held_gaps: tuple[float, ...] = ()  # the last intervals between held keys

    @property
    def last_key_read_at(self) -> float:
        """When the last key was read (get_time), before the app has handled it."""
        return self._last_key_at

    def keys_stopped_at(self) -> float:
        """When held keys have stopped if no other comes before: the last key's time plus
        KEY_QUIET_GAPS of their usual interval (the lower median of the last five)."""
        gaps = sorted(self._held_gaps) or [KEY_STREAM_S]
        return self._last_key_at + KEY_QUIET_GAPS * gaps[(len(gaps) - 1) // 2]

    def keys_streaming(self, now: float) -> bool:
        """Whether keys are arriving faster than a person types them one by one (held)."""
        return self._key_gap < KEY_STREAM_S and now - self._last_key_at < KEY_STREAM_S
