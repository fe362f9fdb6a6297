"""The on-site services: match, bind, compare, pull, and test zones against simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from fieldtech.controller_link import (
    DeviceConfig,
    DeviceInfo,
    ZoneTestEvent,
    bind_serial,
    diff_config,
    match_controller,
    match_devices,
    merge_pulled,
    open_link,
    test_zones,
)
from fieldtech.controller_link.errors import (
    BindError,
    NotSupported,
    RecordAlreadyBound,
    SerialAlreadyBound,
)
from fieldtech.controller_link.opensprinkler_map import UNSUPPORTED
from fieldtech.domain.models import Controller, ControllerConfig, Program, ScheduleKind
from fieldtech.simulator import Simulator


def _controller(name: str, serial: str | None = None, zones: int = 8) -> Controller:
    return Controller(id=name, customer_id="c1", name=name, zone_count=zones, serial=serial,
                      config=ControllerConfig.default_for(zones))


def _device(serial: str | None = "FT1-SIM00001", zones: int = 8) -> DeviceInfo:
    return DeviceInfo(driver="native", address="http://127.0.0.1:1", serial=serial,
                      zone_count=zones)


def test_match_by_serial_ignores_case_and_spaces() -> None:
    records = [_controller("Smith"), _controller("Jones", "FT1-SIM00001")]
    assert match_controller(_device(" ft1-sim00001 "), records) is records[1]
    assert match_controller(_device("FT1-SIM00002"), records) is None
    assert match_controller(_device(None), records) is None
    found = match_devices([_device("FT1-SIM00001"), _device("FT1-SIM00009")], records)
    assert [f.record for f in found] == [records[1], None]
    assert found[0].describe().endswith("— controller 'Jones'")
    assert found[1].describe().endswith("— no controller record")


def test_bind_assigns_serial_and_warns_about_zone_count() -> None:
    record = _controller("Smith", zones=6)
    binding = bind_serial(record, _device(), others=[record])
    assert binding.controller.serial == "FT1-SIM00001" and record.serial is None
    assert binding.warnings == ("The device has 8 zones; the record has 6.",)


def test_bind_refusals_say_why() -> None:
    taken = _controller("Jones", "FT1-SIM00001")
    with pytest.raises(SerialAlreadyBound, match="already belongs to controller 'Jones'"):
        bind_serial(_controller("Smith"), _device(), others=[taken])
    bound = _controller("Smith", "FT1-OLD00001")
    with pytest.raises(RecordAlreadyBound, match="confirm"):
        bind_serial(bound, _device())
    assert bind_serial(bound, _device(), replace_existing=True).controller.serial == "FT1-SIM00001"
    with pytest.raises(BindError, match="password"):
        bind_serial(_controller("Smith"), _device(None))
    with pytest.raises(BindError, match="cannot use"):
        bind_serial(_controller("Smith"), _device("nonsense"))


def test_diff_reads_per_zone_program_and_field() -> None:
    record = ControllerConfig.default_for(3)
    device = ControllerConfig.default_for(4)
    record.zones[0].name = "Front lawn"
    device.zones[1].run_minutes = 25
    record.programs = [Program(name="Morning", days=[0, 2], zone_minutes={1: 10, 2: 5})]
    device.programs = [Program(name="Morning", days=[2, 0], zone_minutes={1: 12, 2: 5}),
                       Program(name="Extra")]
    device.rain_delay_until = datetime.now(UTC) + timedelta(hours=5)
    described = [d.describe() for d in diff_config(record, device)]
    assert described == [
        "Zone 1 name: 'Front lawn' in the record, 'Zone 1' on the controller",
        "Zone 2 run time (min): 10 in the record, 25 on the controller",
        "Zone 4: only on the controller",
        "Program 1 'Morning' zone 1 minutes: 10 in the record, 12 on the controller",
        "Program 2 'Extra': only on the controller",
        f"Rain delay until: none in the record, "
        f"{device.rain_delay_until:%Y-%m-%d %H:%M} on the controller",
    ]
    assert diff_config(record, record) == []


def test_diff_skips_what_the_device_cannot_hold_and_pull_keeps_it() -> None:
    record = ControllerConfig.default_for(2)
    record.zones[0].run_minutes = 33
    record.zones[0].cycle_minutes, record.zones[0].soak_minutes = 5, 10
    device_config = ControllerConfig.default_for(8)  # an OpenSprinkler with one board
    device_config.zones[0].name = "S01"
    device_config.programs = [Program(name="Odd", schedule=ScheduleKind.ODD, days=[],
                                      zone_minutes={1: 3, 7: 9})]
    device = DeviceConfig(device_config, unsupported=UNSUPPORTED)
    paths = [d.path for d in diff_config(record, device)]
    assert "zones.1.run_minutes" not in paths and "zones.1.name" in paths
    pulled = merge_pulled(record, device, zone_count=2)
    assert [z.number for z in pulled.zones] == [1, 2]
    assert pulled.zones[0].name == "S01" and pulled.zones[0].run_minutes == 33
    assert pulled.zones[0].cycle_minutes == 5
    assert pulled.programs[0].zone_minutes == {1: 3}  # zone 7 is beyond the record


async def test_zone_test_runs_each_zone_in_turn(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    events: list[ZoneTestEvent] = []
    async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
        async for event in test_zones(link, [1, 2], seconds=2, poll=0.5):
            events.append(event)
        assert (await link.read_status()).running == ()
    kinds = [(e.kind, e.zone) for e in events]
    assert kinds[0] == ("running", 1) and ("done", 1) in kinds and ("running", 2) in kinds
    assert kinds[-1] == ("finished", None)
    assert kinds.index(("done", 1)) < kinds.index(("running", 2))
    assert all(0 < e.seconds_left <= 2 for e in events if e.kind == "running")
    assert events[-1].describe() == "All 2 zones tested"


async def test_cancelling_a_zone_test_stops_everything(sim: Simulator) -> None:
    device = sim.of_kind("opensprinkler")[0]
    info = DeviceInfo(driver="opensprinkler", address=device.address)
    async with open_link(info) as link:
        seen: list[ZoneTestEvent] = []

        async def run() -> None:
            async for event in test_zones(link, [1, 2, 3], seconds=600, poll=0.2):
                seen.append(event)

        task = asyncio.create_task(run())
        while not seen:
            await asyncio.sleep(0.05)
        assert (await link.read_status()).seconds_left(1)  # really running on the device
        task.cancel()  # the "stop everything" key
        with contextlib.suppress(asyncio.CancelledError):
            await task
        status = await link.read_status()
    assert status.running == () and status.queued == ()


async def test_breaking_out_of_a_zone_test_stops_everything(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
        async with contextlib.aclosing(test_zones(link, [4], seconds=600, poll=0.2)) as run:
            async for event in run:
                assert event.kind == "running" and event.zone == 4
                break
        assert (await link.read_status()).running == ()


async def test_zone_test_reports_a_refused_zone(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with open_link(DeviceInfo(driver="native", address=device.address)) as link:
        events = [e async for e in test_zones(link, [1, 42], seconds=1, poll=0.3)]
    assert events[-1].kind == "error" and events[-1].zone == 42
    assert "zone must be 1" in events[-1].describe()


def test_improv_devices_cannot_be_opened_as_links() -> None:
    with pytest.raises(NotSupported, match="Wi-Fi"):
        open_link(DeviceInfo(driver="improv", address="/dev/ttyUSB0", transport="serial"))


def test_differences_read_side_by_side() -> None:
    record = ControllerConfig.default_for(2)
    device = ControllerConfig.default_for(3)
    record.zones[0].name = "Roses"
    record.programs = [Program(name="Night")]
    sides = {d.label: d.sides() for d in diff_config(record, device)}
    assert sides == {"Zone 1 name": ("'Roses'", "'Zone 1'"), "Zone 3": ("—", "has it"),
                     "Program 1 'Night'": ("has it", "—")}
