"""The fleet screen's column orders, built in a thread after the read, wait for keys.

Each order is a C sort that keeps the interpreter (up to ~40 ms at 100,000): built while keys
come, it paused only for the event loop's next turn, so a key pressed mid-build waited for
it. It now asks the app's key wait (as the read before it does) between any two pieces.
"""

from __future__ import annotations

import time
from pathlib import Path

from fieldtech.app import KEYS_QUIET_S
from tests.tui.conftest import SIZE, make_app, settle


async def test_the_orders_built_ahead_wait_while_a_key_is_answered(tmp_path: Path) -> None:
    # The build's pieces ask the app's key wait, and a key pressed mid-build holds the next
    # piece until the key is KEYS_QUIET_S old.
    app = make_app(tmp_path)
    asked: list[float] = []  # when the build asked (monotonic)
    waited: list[float] = []  # how long the app's wait held it, a key pressed just before
    key_waits = app.services.key_waits

    def watched() -> object:
        wait = key_waits()  # the app's own, with its budget

        def between() -> None:
            asked.append(time.monotonic())
            if len(asked) == 3:  # a key comes in mid-build: the build waits for it
                app.last_key_at = time.monotonic()
                wait()
                waited.append(time.monotonic() - asked[-1])
                return
            wait()
        return between

    app.services.key_waits = watched
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            index = app.services.fleet.index
            assert index is not None and index.prepared
            assert len(asked) >= 12  # before each of the twelve orders at least
            assert waited and waited[0] >= KEYS_QUIET_S * 0.9  # held until the key is old
            # A reload's new index: its build asks again.
            asked.clear()
            app.load_fleet()
            await settle(pilot)
            assert app.services.fleet.index is not index and app.services.fleet.index.prepared
            assert len(asked) >= 12
    finally:
        app.store.close()
