"""A snapshot of the on-site screen at 80×24.

mDNS on a shared host may also see other people's simulators, and serial ports differ per
machine, so here (only here) a fixed browser and an empty port list stand in for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from fieldtech.app import FieldtechApp
from fieldtech.controller_link import LOOPBACK_INTERFACES, DeviceInfo, DiscoveryEvent
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_onsite, seed_store
from fieldtech.screens import onsite
from fieldtech.services.settings import Settings
from tests.conftest import SEED_DAY
from tests.tui.conftest import SIZE, settle

FOUND = [
    DeviceInfo(driver="native", address="http://127.0.0.1:8101", model="FT-8",
               serial="FT1-SIM00001", firmware="1.4.2", name="Simulated controller 1"),
    DeviceInfo(driver="native", address="http://127.0.0.1:8102", model="FT-8",
               serial="FT1-SIM00002", firmware="1.4.2", name="Simulated controller 2"),
]


class FixedBrowser:
    """Finds FOUND at once, then nothing more."""

    def __init__(self, interfaces: list[str] | None):
        self.interfaces = interfaces

    async def __aenter__(self) -> FixedBrowser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[DiscoveryEvent]:
        for n, device in enumerate(FOUND):
            yield DiscoveryEvent("found", f"controller-{n}", device)
        await asyncio.Event().wait()


def test_onsite_screen(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onsite, "MdnsBrowser", FixedBrowser)
    monkeypatch.setattr(onsite, "list_serial_ports", lambda: [])
    store = Store(tmp_path / "store.db")
    seed_store(store, 10, 20, today=SEED_DAY)
    seed_onsite(store, bound_serial="FT1-SIM00001")
    app = FieldtechApp(store, Settings.load(tmp_path / "config"), tmp_path / "data",
                       mdns_interfaces=LOOPBACK_INTERFACES)

    async def open_onsite(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("o")
        # Not settle(): the browser's worker runs for as long as the screen is open.
        screen = pilot.app.screen
        assert isinstance(screen, onsite.OnsiteScreen)
        for _ in range(200):
            table = screen.query_one("#onsite-devices", DataTable)
            if table.row_count == 2 and screen.records and screen.ports == []:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_onsite)
    store.close()
