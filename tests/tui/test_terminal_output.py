"""A frame is written by the app's thread when nothing is queued before it, else queued behind
what is (issue 18): Textual's writer thread waited for the interpreter, 0.1–13 ms a frame."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from fieldtech.terminal.driver import WRITE_NOW_MAX, FrameWriter


class _Gated:
    """A terminal whose writes wait at a gate (a slow link), telling when one has begun."""

    def __init__(self, out: Any):
        self.out, self.gate, self.entered = out, threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []

    def write(self, text: str) -> int:
        self.threads.append(threading.current_thread())
        self.entered.set()
        self.gate.wait(10)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

    def fileno(self) -> int:
        return self.out.fileno()


def _drained(writer: FrameWriter) -> None:
    deadline = time.monotonic() + 10
    while writer._pending:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_frame_goes_out_at_once_when_nothing_is_queued_and_after_what_is() -> None:
    read_fd, write_fd = os.pipe()
    out = os.fdopen(write_fd, "w")
    terminal = _Gated(out)
    writer = FrameWriter(terminal)  # type: ignore[arg-type]
    writer.start()
    try:
        writer.write("a")  # the writer thread is in the middle of writing it (slow link)
        assert terminal.entered.wait(10)
        assert not writer.write_now("b")  # so "b" is queued behind it, never before it
        terminal.gate.set()
        _drained(writer)
        terminal.threads.clear()
        assert writer.write_now("c")  # nothing ahead: written here, now
        assert terminal.threads == [threading.current_thread()]
        # larger than a pty's buffer: the writer thread's, so a slow link never blocks ours
        assert not writer.write_now("d" * (WRITE_NOW_MAX + 1))
        _drained(writer)
        assert terminal.threads[-1] is writer
        expected = b"abc" + b"d" * (WRITE_NOW_MAX + 1)
        got = b""
        while len(got) < len(expected):
            got += os.read(read_fd, 65536)
        assert got == expected
    finally:
        terminal.gate.set()
        writer.stop()
        out.close()
        os.close(read_fd)
