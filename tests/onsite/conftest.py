"""The on-site screen against real simulated controllers on 127.0.0.1 (mDNS pinned there)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from fieldtech.app import FieldtechApp
from fieldtech.controller_link import LOOPBACK_INTERFACES
from fieldtech.controller_link.safety import LOOPBACK_ONLY_ENV
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_onsite, seed_store
from fieldtech.screens.onsite import OnsiteScreen
from fieldtech.services.settings import Settings
from fieldtech.simulator import Simulator

# Belt and braces: discovery refuses anything but 127.0.0.x while these tests run.
os.environ[LOOPBACK_ONLY_ENV] = "1"

MDNS_WAIT = 10.0  # ~1 s on one host; generous on a loaded 2-core machine
SIZE_ONSITE = (80, 24)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    # a failed Wi-Fi join is reported after 0.3 s here, not the real device's 30 s
    async with Simulator(count=2, opensprinkler=1, serial=True,
                         data_dir=tmp_path / "sim",
                         serial_options={"join_fail_seconds": 0.3}) as simulator:
        yield simulator


@pytest.fixture
def app(tmp_path: Path, sim: Simulator) -> FieldtechApp:
    """A seeded app with "Clubhouse" bound to FT1-SIM00001 and "Entrance" not linked yet
    (their ids as `app.bound_id`, `app.prepared_id`)."""
    store = Store(tmp_path / "store.db")
    seed_store(store, 10, 20)
    bound, prepared = seed_onsite(store, bound_serial="FT1-SIM00001")
    a = FieldtechApp(store, Settings.load(tmp_path / "config"), tmp_path / "data",
                  mdns_interfaces=LOOPBACK_INTERFACES, simulator=sim)
    a.bound_id, a.prepared_id = bound, prepared
    yield a
    store.close()


def onsite(app: FieldtechApp) -> OnsiteScreen:
    """The on-site screen, even under a dialog."""
    found = [s for s in app.screen_stack if isinstance(s, OnsiteScreen)]
    assert found, "the on-site screen is not open"
    return found[0]


def panel(app: FieldtechApp) -> str:
    """The panel's words, wrapping undone (for `in` checks)."""
    return " ".join(panel_lines(app))


def panel_lines(app: FieldtechApp) -> list[str]:
    """The panel's lines as they read at 80 columns (markup resolved, tables laid out)."""
    content = onsite(app).query_one("#onsite-panel", Static).content
    if isinstance(content, str):
        content = Text.from_markup(content)
    console = Console(width=78, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(content)
    return [" ".join(line.split()) for line in captured.get().splitlines()]


def row_of(app: FieldtechApp, address: str) -> list[str] | None:
    """The device row for `address` (rows are keyed by address: other simulators on this
    host may advertise the same serial numbers)."""
    if not any(isinstance(s, OnsiteScreen) for s in app.screen_stack):
        return None
    table = onsite(app).query_one("#onsite-devices", DataTable)
    address = address.removeprefix("http://")
    if address not in table.rows:
        return None
    return [str(c) for c in table.get_row(address)]


def row_status(app: FieldtechApp, address: str) -> str:
    """The last cell of the device row ("" while the row is not shown, e.g. mid-refresh)."""
    row = row_of(app, address)
    return row[-1] if row else ""


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = MDNS_WAIT,
                what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached in time: {what}"
        await pilot.pause(0.05)


async def open_onsite(pilot: Pilot, address: str) -> None:
    """From the fleet, `o`, then wait for the device at `address` to be discovered."""
    await pilot.pause()
    await pilot.press("o")
    await until(pilot, lambda: row_of(pilot.app, address), what=f"mDNS finds {address}")
    await until(pilot, lambda: "✓" in row_of(pilot.app, address)[-1] or
                "not bound" in row_of(pilot.app, address)[-1], what="record matched")
    select(pilot.app, address)


def select(app: FieldtechApp, address: str) -> None:
    table = onsite(app).query_one("#onsite-devices", DataTable)
    table.move_cursor(row=table.get_row_index(address.removeprefix("http://")))
