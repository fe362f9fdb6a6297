"""A frame is written by the app's thread when nothing is queued before it, else queued behind
what is (issue 18): Textual's writer thread waited for the interpreter, 0.1–13 ms a frame.
Held keys' frames wait for a slot, the last one no longer than the keys have stopped."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from textual import events
from textual.drivers.linux_driver import LinuxDriver

from fieldtech.terminal import driver as driver_module
from fieldtech.terminal import output as output_module
from fieldtech.terminal.driver import KEY_QUIET_GAPS, WRITE_NOW_MAX, FrameWriter, TerminalDriver
from fieldtech.terminal.output import SparingTerminal


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


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _held_keys(monkeypatch: Any, clock: _Clock, times: list[float]) -> TerminalDriver:
    """A driver that has read a Down key at each of `times` (seconds on `clock`)."""
    monkeypatch.setattr(driver_module, "get_time", clock)
    monkeypatch.setattr(output_module, "get_time", clock)
    monkeypatch.setattr(LinuxDriver, "process_message", lambda self, message: None)
    driver = TerminalDriver.__new__(TerminalDriver)
    for at in times:
        clock.now = at
        driver.process_message(events.Key("down", None))
    return driver


def test_held_keys_have_stopped_after_a_little_more_than_their_interval(monkeypatch) -> None:
    clock = _Clock()
    # Auto-repeat at 30 a second, one interval a little late (the pty, the network).
    driver = _held_keys(monkeypatch, clock, [100.0, 100.033, 100.066, 100.110, 100.143])
    assert driver.keys_streaming(100.15)
    assert driver.keys_stopped_at() == pytest.approx(100.143 + KEY_QUIET_GAPS * 0.033)
    driver = _held_keys(monkeypatch, clock, [200.0, 200.040])  # the second key of a stream
    assert driver.keys_stopped_at() == pytest.approx(200.040 + KEY_QUIET_GAPS * 0.040)


class _App:
    """What SparingTerminal._coalesce uses of the app: the driver, the clock, timers."""

    def __init__(self, driver: TerminalDriver, written_at: float) -> None:
        self._driver, self._written_at = driver, written_at
        self._flush_timer: object = None
        self.timers: list[float] = []
        self.flushed = 0

    def set_timer(self, delay: float, callback: Any, name: str = "") -> object:
        self.timers.append(delay)
        return object()

    def _flush_frame(self) -> None:
        self._flush_timer = None
        self.flushed += 1

    _coalesce = SparingTerminal._coalesce


def test_a_frame_held_back_by_held_keys_is_written_once_they_have_stopped(monkeypatch) -> None:
    """While keys are held a frame waits for its slot (COALESCE_S after the last frame); once
    no key has come for a little more than their interval it is written without waiting
    for the slot (the last key's frame waited up to 60 ms), and a key read meanwhile puts
    that off again."""
    clock = _Clock()
    keys = [100.0, 100.033, 100.066, 100.100]
    app = _App(_held_keys(monkeypatch, clock, keys), written_at=100.095)
    clock.now = 100.105  # the last key's frame is ready; its slot is at 100.155
    coalesce = app._coalesce
    coalesce()
    stopped = 100.100 + KEY_QUIET_GAPS * 0.033  # ~100.141: before the slot
    assert app.flushed == 0 and app.timers == [pytest.approx(stopped - clock.now)]
    clock.now = stopped
    coalesce()  # no key came: written now
    assert app.flushed == 1
    # A key read before the timer fires: its wait starts again, up to the slot at most.
    app = _App(_held_keys(monkeypatch, clock, [*keys, 100.133]), written_at=100.095)
    coalesce = app._coalesce
    clock.now = stopped
    coalesce()
    assert app.flushed == 0 and app.timers == [pytest.approx(100.155 - stopped)]
    clock.now = 100.155
    coalesce()  # the slot: written even while keys still come
    assert app.flushed == 1
