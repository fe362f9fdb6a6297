"""The on-site workflow in the TUI, driven with Pilot against the simulator on 127.0.0.1."""

from __future__ import annotations

from fieldtech.app import FieldtechApp
from fieldtech.simulator import Simulator
from tests.onsite.conftest import SIZE_ONSITE, open_onsite, row_of, until


async def test_discovery_lists_devices_with_their_records_live(app: FieldtechApp,
                                                               sim: Simulator) -> None:
    bound, spare = sim.device("FT1-SIM00001"), sim.device("FT1-SIM00002")
    async with app.run_test(size=SIZE_ONSITE) as pilot:
        await open_onsite(pilot, bound.address)
        await until(pilot, lambda: row_of(app, spare.address), what="second device")
        driver, model, serial, firmware, address, record = row_of(app, bound.address)
        assert (driver, model, serial, firmware) == ("fieldtech", "FT-8", "FT1-SIM00001", "1.4.2")
        assert address == bound.address.removeprefix("http://")
        assert record.startswith("✓ Clubhouse — Willow Creek HOA")
        assert row_of(app, spare.address)[-1] == "— not bound"

        await sim.take_offline(spare.serial)  # goodbye on mDNS: the row goes
        await until(pilot, lambda: row_of(app, spare.address) is None, what="removal")
        assert row_of(app, bound.address) is not None
