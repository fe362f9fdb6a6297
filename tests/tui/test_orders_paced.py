"""The fleet screen's column orders, built in a thread after the read, wait for keys.

Each order is a C sort that keeps the interpreter (up to ~40 ms at 100,000): built while keys
come, it paused only for the event loop's next turn, so a key pressed mid-build waited for
it. It now asks the app's key wait (as the read before it does) between any two pieces.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.tui.conftest import SIZE, make_app, settle


async def test_the_orders_built_ahead_wait_while_a_key_is_answered(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    asked: list[float] = []  # when the build asked (monotonic)
    key_waits = app.services.key_waits

    def watched() -> object:
        wait = key_waits()  # the app's own, with its budget

        def between() -> None:
            asked.append(time.monotonic())
            wait()
        return between

    app.services.key_waits = watched
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            index = app.services.fleet.index
            assert index is not None and index.prepared
            assert len(asked) >= 12  # before each of the twelve orders at least
            # A reload's new index: its build asks again.
            asked.clear()
            app.load_fleet()
            await settle(pilot)
            assert app.services.fleet.index is not index and app.services.fleet.index.prepared
            assert len(asked) >= 12
    finally:
        app.store.close()
