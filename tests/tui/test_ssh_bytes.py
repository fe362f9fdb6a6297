"""Over SSH every byte is a wait (issue 18): in a real pty, a list that scrolls by a line writes
about a line, not the list, and what the terminal shows is still exactly the app's screen."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from tests.conftest import SEED_DAY
from tests.tui.pty_app import PtyApp

DOWN, UP = b"\x1b[B", b"\x1b[A"
WHOLE_LIST = 20 * 80  # the list's lines, one byte a cell: less than any repaint of it


@pytest.fixture
def pty_app(tmp_path: Path) -> Iterator[PtyApp]:
    store = Store(tmp_path / "fieldtech.db")
    seed_store(store, 60, 240, today=SEED_DAY)
    first = store.fleet_rows()[0].customer_name
    store.close()
    app = PtyApp(tmp_path)
    try:
        app.wait_for(first)
        yield app
    finally:
        app.close()


def test_a_scroll_step_writes_a_line_not_the_list(pty_app: PtyApp) -> None:
    for _ in range(24):  # to the bottom edge of the view
        pty_app.press(DOWN)
    before = pty_app.text().splitlines()
    steps = [pty_app.press(DOWN) for _ in range(3)]
    after = pty_app.text().splitlines()
    assert after != before
    assert after[1:4] != before[1:4]  # the list did move
    for written in steps:
        assert 0 < len(written) < WHOLE_LIST, written  # before issue 18: ~6 KB a step
    assert b"\x1bD" in b"".join(steps)  # moved by the terminal (index in a scroll region)
    assert len(pty_app.press(UP)) < WHOLE_LIST  # inside the view: the cursor only


def test_held_keys_write_fewer_frames_than_keys_and_end_on_the_screen(pty_app: PtyApp) -> None:
    """Auto-repeat (30 keys a second) writes a frame per COALESCE_S, not one per key: fewer
    bytes than the same steps one by one, and the screen it ends on is the app's."""
    for _ in range(24):  # to the bottom edge of the view: every step below scrolls
        pty_app.press(DOWN)
    one_by_one = sorted(len(pty_app.press(DOWN)) for _ in range(5))[2]
    pty_app.settle(0.1)
    held, next_key = b"", time.monotonic()
    for _ in range(30):  # a key every 1/30 s, whatever the app writes meanwhile
        os.write(pty_app.master, DOWN)
        next_key += 1 / 30
        while (left := next_key - time.monotonic()) > 0:
            held += pty_app.read(left)
    held += pty_app.settle()
    frames = held.count(b"\x1b[r")  # each frame that scrolls ends its scroll region once
    assert 0 < frames <= 22, frames  # one a key (30) before; ~16 at a frame per 60 ms
    assert len(held) < 0.9 * 30 * one_by_one, (len(held), one_by_one)
    shown = pty_app.cells()
    pty_app.resize(24, 81)  # written whole: what the app shows
    pty_app.resize(24, 80)
    assert pty_app.cells() == shown


def test_what_is_shown_after_scrolling_is_the_screen_written_whole(pty_app: PtyApp) -> None:
    for key in [DOWN] * 30 + [UP] * 26 + [b"\x1b[6~", DOWN, b"\x1b[5~"] + [UP] * 3:
        pty_app.press(key)
    shown = pty_app.cells()
    # A new size forgets what the terminal shows: the app writes its screen whole, twice.
    pty_app.resize(24, 81)
    pty_app.resize(24, 80)
    assert pty_app.cells() == shown


def test_esc_and_keys_in_one_read_mean_the_keys_typed_slowly(pty_app: PtyApp) -> None:
    pty_app.press(b"\x1bf")  # as a retransmission delivers them: Esc, then f opens the finder
    assert "Find a controller" in pty_app.text()
    pty_app.press(b"\x1b")  # a lone Esc closes it
    assert "Find a controller" not in pty_app.text()
    pty_app.press(b"f")
    pty_app.press(b"\x1b\x1bq")  # Esc closes the finder, Esc, q quits
    assert pty_app.proc.wait(timeout=10) == 0


def test_the_mouse_reports_clicks_and_the_wheel_not_motion(pty_app: PtyApp) -> None:
    assert b"\x1b[?1000h" in pty_app.written and b"\x1b[?1006h" in pty_app.written
    assert b"\x1b[?1003h" not in pty_app.written  # any motion: events for nothing over SSH


def test_screen_changes_set_the_pointers_shape_only_when_it_changes(pty_app: PtyApp) -> None:
    """Textual sets the mouse pointer's shape at every screen change, mostly to the one it
    has: 13 bytes in a frame of their own before the controller was painted."""
    pty_app.press(b"\r")  # a controller's screen
    pty_app.press(b"\x1b")  # the fleet again
    pty_app.press(b"\r")
    wrote = [pty_app.press(key) for key in (b"\x1b", b"\r", b"\x1b")]
    assert all(wrote), wrote  # each key changed the screen
    assert pty_app.written.count(b"\x1b]22;") <= 1, pty_app.written.count(b"\x1b]22;")


def test_the_switcher_opened_after_a_search_is_the_screen_written_whole(
        pty_app: PtyApp) -> None:
    """A closed switcher keeps what was typed and its results; the frame `s` writes ahead
    (rendered once the screen is quiet) must be the empty switcher `s` shows, not the last
    search's taller one, whose results box the terminal then kept below the new one."""
    for keys in (b"s", b"x", b"\x1b"):
        pty_app.press(keys)
    end = time.monotonic() + 3.0  # quiet: the switcher's frame is rendered ahead
    while (left := end - time.monotonic()) > 0:
        pty_app.read(left)
    pty_app.press(b"s")
    pty_app.settle(1.0)
    shown = pty_app.cells()
    assert "Switch to" in pty_app.text()
    pty_app.resize(24, 81)  # written whole: what the app shows
    pty_app.resize(24, 80)
    assert pty_app.cells() == shown
