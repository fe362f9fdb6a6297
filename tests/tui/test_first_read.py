"""While the whole fleet is still being read (seconds at 100,000 controllers), the app answers
keys as it does after: the controller screen is built ahead, and the read leaves the garbage
collector off until its rows are frozen."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from fieldtech.app import TWIN, TWIN_AFTER_S
from fieldtech.screens.controller import ControllerScreen
from tests.tui.conftest import SIZE, make_app, settle, wait_for


def hold_the_whole_read(app) -> tuple[threading.Event, list[bool]]:
    """The store's whole-fleet read waits for the event it returns; what gc.isenabled() said
    as each read began is noted in the list."""
    release, collecting = threading.Event(), []
    fleet_rows = app.store.fleet_rows

    def held(first: int | None = None, **kw):
        if first is None:
            collecting.append(gc.isenabled())
            release.wait(10)
        return fleet_rows(first, **kw)

    app.store.fleet_rows = held
    return release, collecting


async def test_a_switch_while_the_fleet_is_read_does_not_compose_the_controller_screen(
        tmp_path: Path) -> None:
    """The controller screen is built ahead as soon as the first screenful is painted, not
    once the whole fleet is read: a switch in those seconds composed it (~100 ms more)."""
    app = make_app(tmp_path)
    recent = [r for r in app.store.fleet_rows() if r.controller_id][-1]
    app.store.touch_recent(recent.controller_id)
    release, _ = hold_the_whole_read(app)
    composed: list[str] = []
    compose = ControllerScreen.compose

    def counted(screen: ControllerScreen):
        composed.append("while shown" if screen in app.screen_stack else "ahead")
        return compose(screen)

    ControllerScreen.compose = counted
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.is_screen_installed("controller")
                        and app.get_screen("controller").is_mounted)
            assert not app.rows and composed == ["ahead"]  # the fleet still being read
            await pilot.press("s", "1")
            await until(pilot, lambda: isinstance(app.screen, ControllerScreen)
                        and app.screen.controller is not None)
            assert app.screen.controller.id == recent.controller_id
            assert not app.rows and composed == ["ahead"]
            release.set()
            await settle(pilot)
            # The second (twin) controller screen is built ahead too, once a controller has
            # shown; neither is composed while shown, nor a third.
            await wait_for(pilot, lambda: app.is_screen_installed(TWIN)
                           and app.get_screen(TWIN)._ready)
            await pilot.pause(TWIN_AFTER_S)
            assert app.rows and composed == ["ahead", "ahead"]
    finally:
        ControllerScreen.compose = compose
        release.set()
        app.store.close()


async def until(pilot, condition) -> None:
    """Pause until `condition()` holds, not waiting for workers (the whole read is held)."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.02)


async def test_the_whole_read_runs_without_the_garbage_collector(tmp_path: Path) -> None:
    """Its full passes over the rows piling up held the interpreter 35-120 ms at a time at
    100,000 (in the keys pressed meanwhile) and were half the read's CPU. It is on again once
    the rows are read and frozen, and for a later read too."""
    app = make_app(tmp_path)
    release, collecting = hold_the_whole_read(app)
    release.set()
    try:
        assert gc.isenabled()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: bool(app.rows))
            assert collecting == [False] and gc.isenabled()
            app.load_fleet()
            await wait_for(pilot, lambda: len(collecting) == 2)
            assert collecting == [False, False] and gc.isenabled()
    finally:
        app.store.close()
    assert gc.isenabled()


async def test_a_switch_is_not_kept_waiting_by_the_whole_read(tmp_path: Path) -> None:
    """The whole read leaves the store free between its chunks of rows (the controller a
    digit opens is read at once, not after the fleet: 0.1-0.7 s at 100,000), and waits there
    while keys are answered."""
    app = make_app(tmp_path, customers=30, controllers=4500)
    recent = [r for r in app.store.fleet_rows() if r.controller_id][-1]
    app.store.touch_recent(recent.controller_id)
    release, mid_read = threading.Event(), threading.Event()
    keys_first = app._keys_first

    def held() -> None:  # the read's first pause, rows still to read: held there
        if threading.current_thread() is not threading.main_thread() and not mid_read.is_set():
            mid_read.set()
            release.wait(10)
        keys_first()

    app._keys_first = held
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, mid_read.is_set)
            await pilot.press("s", "1")
            await until(pilot, lambda: isinstance(app.screen, ControllerScreen)
                        and app.screen.controller is not None)
            assert app.screen.controller.id == recent.controller_id
            assert not app.rows and not release.is_set()  # the read still held mid-way
            release.set()
            await settle(pilot)
            assert len(app.rows) == 4500
    finally:
        release.set()
        app.store.close()


def test_keys_held_for_the_whole_read_do_not_hold_it_up(tmp_path: Path, monkeypatch) -> None:
    """A held key repeats faster than the read's quiet wait: each of the read's ~200 pauses
    at 100,000 waited its second, and the read (with its snapshot of the store) stalled for
    minutes. All its pauses together wait KEYS_FIRST_AT_MOST_S."""
    app = make_app(tmp_path, controllers=0)
    try:  # a key always in flight
        monkeypatch.setattr(type(app), "last_key_at", property(lambda self: time.monotonic()),
                            raising=False)
        app._keys_first_until = time.monotonic() + 0.2  # what this read may still wait
        started = time.monotonic()
        for _ in range(10):  # ten pauses: 10 s if each waited its second
            app._keys_first()
        assert time.monotonic() - started < 0.2 + 3.0
    finally:
        app.store.close()


async def test_the_fleet_lists_lines_are_made_in_the_reads_thread(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """At 100,000 making the grouped list's lines took 75-290 ms on the event loop as the
    read ended (the keys pressed then waited); the read's thread makes them. The list shows
    the same lines as made on the event loop."""
    from fieldtech.widgets.fleet_list import FleetList, grouped_lines

    made_on: list[str] = []
    make_lines = FleetList._make_lines

    def noted(self, rows) -> None:
        made_on.append(threading.current_thread().name)
        make_lines(self, rows)

    monkeypatch.setattr(FleetList, "_make_lines", noted)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: bool(app.rows))
            fleet_list = app.screen.fleet_list
            assert fleet_list.rows is app.rows
            made_on.clear()
            app.load_fleet()  # a reload after a sync: the same path
            await settle(pilot)
            assert made_on == []  # the whole list's lines were taken, not made here
            ids, customers, lines = grouped_lines(app.rows)
            assert (fleet_list._ids, fleet_list._customers) == (ids, customers)
            assert [lines[n] for n in range(len(lines))] == [
                fleet_list._lines[n] for n in range(len(fleet_list._lines))]
    finally:
        app.store.close()
