"""A frame is written by the app's thread when nothing is queued before it, else queued behind
what is (issue 18): Textual's writer thread waited for the interpreter, 0.1–13 ms a frame."""

from __future__ import annotations

import os
import threading
import time

from fieldtech.terminal.driver import FrameWriter


def test_a_frame_goes_out_at_once_when_nothing_is_queued_and_after_what_is() -> None:
    read_fd, write_fd = os.pipe()
    out = os.fdopen(write_fd, "w")
    writer = FrameWriter(out)
    try:
        writer.write("a")  # queued: the thread has not started
        assert not writer.write_now("b")  # behind "a", so queued too, never before it
        writer.start()
        deadline = time.monotonic() + 10
        while writer._pending:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        writer_thread = []
        write = out.write
        out.write = lambda text: (writer_thread.append(threading.current_thread()),  # type: ignore[method-assign]
                                  write(text))[1]
        assert writer.write_now("c")  # nothing ahead: written here, now
        assert writer_thread == [threading.current_thread()]
        assert os.read(read_fd, 100) == b"abc"
    finally:
        writer.stop()
        out.close()
        os.close(read_fd)
