"""What real OpenSprinkler firmware 2.2.1 does that the driver got wrong (issue 13, points 1–6),
against the simulator made faithful to it, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from fieldtech.controller_link import identify_address, test_zones
from fieldtech.controller_link import opensprinkler_map as osmap
from fieldtech.controller_link.errors import DeviceTimeout
from fieldtech.controller_link.onsite import diff_config
from fieldtech.controller_link.opensprinkler import OpenSprinklerLink
from fieldtech.domain.models import Program
from fieldtech.simulator import Simulator
from fieldtech.simulator.opensprinkler import OpenSprinklerDevice, stored_name

FIXED = osmap.ENABLED | osmap.FIXED_STARTS
MON_WED_FRI = 0b0010101


@pytest.fixture
def os_address(sim: Simulator) -> str:
    return sim.of_kind("opensprinkler")[0].address


@pytest.fixture
def device(sim: Simulator) -> OpenSprinklerDevice:
    state = sim.of_kind("opensprinkler")[0].state
    assert isinstance(state, OpenSprinklerDevice)
    return state


def entry(name: str, durations: list[int], flag: int = FIXED, days1: int = 0,
          starts: tuple[int, ...] = (360, -1, -1, -1), date_range: tuple[int, int] = (33, 415)
          ) -> list[object]:
    return [flag, MON_WED_FRI, days1, list(starts), durations, name, list(date_range)]


# --- 1. stations start on the firmware's next 1 s tick -------------------------------------


async def test_a_zone_test_sees_each_zone_run(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        events = [e async for e in test_zones(link, [1, 2], seconds=2, poll=0.2)]
    running = [e.zone for e in events if e.kind == "running"]
    assert 1 in running and 2 in running  # not "done" at 0.0 s because /jc lags the tick
    assert events[-1].kind == "finished"


async def test_a_zone_runs_right_after_a_stop_all(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        await link.run_zone(1, 60)
        await link.stop_all()  # the firmware clears its queue on the next tick
        await link.run_zone(2, 60)  # refused with 48 until then
        status = await link.read_status()
        await link.stop_all()
    assert status.seconds_left(2) and not status.seconds_left(1)


# --- 2. date ranges are [enabled, from, to] ------------------------------------------------


async def test_a_push_keeps_a_programs_date_range(device: OpenSprinklerDevice,
                                                  os_address: str) -> None:
    device.s["pd"] = [entry("Spring", [600] * 8, FIXED | osmap.DATE_RANGE,
                            date_range=(97, 351))]
    async with OpenSprinklerLink(os_address) as link:
        assert (await link.client.get("/jp"))["pd"][0][6] == [1, 97, 351]
        base = await link.read_config()
        base.config.programs[0].start_times = ["07:00"]
        await link.apply_config(base.config, base)
        assert (await link.client.get("/jp"))["pd"][0][6] == [1, 97, 351]


# --- 3. programs keep their own hidden settings when one before them goes ------------------


async def test_deleting_a_program_keeps_hidden_settings_with_their_programs(
        device: OpenSprinklerDevice, os_address: str) -> None:
    weather = FIXED | osmap.WEATHER
    device.s["pd"] = [
        entry("Front", [30, 600, 0, 0, 0, 0, 0, 0], weather),  # 30 s: shows as 0 min
        entry("Deleted", [600, 0, 0, 0, 0, 0, 120, 240], weather),
        entry("Back", [0, 0, 600, 0, 0, 0, 0, 0]),
    ]
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        config = base.config
        config.zones = config.zones[:6]  # stations 7 and 8 are not in the record
        del config.programs[1]
        config.programs.append(Program(name="New", zone_minutes={4: 5}))
        after = await link.apply_config(config, base)
    front, back, new = device.s["pd"]
    assert front[5] == "Front" and front[0] & osmap.WEATHER and front[4][0] == 30
    assert back[5] == "Back" and not back[0] & osmap.WEATHER and back[4][6:] == [0, 0]
    assert new[5] == "New" and not new[0] & osmap.WEATHER and new[4][6:] == [0, 0]
    # what was read back carries the record's ids: a second push pairs them again
    assert [p.id for p in after.config.programs] == [p.id for p in config.programs]


# --- 4. names as the firmware stores them --------------------------------------------------


async def test_names_are_written_as_the_firmware_keeps_them(device: OpenSprinklerDevice,
                                                            os_address: str) -> None:
    long_name = "a" * 31 + "é"  # 32 characters, 33 bytes: the firmware cut it mid-character
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        config = base.config
        config.zones[0].name = 'Back\\yard "A"'
        config.zones[1].name = long_name
        config.programs = [Program(name=long_name, zone_minutes={1: 5})]
        after = await link.apply_config(config, base)  # reads back: valid JSON throughout
        again = await link.read_config()
    assert again.config.zones[0].name == "Back/yard 'A'"
    assert again.config.zones[1].name == "a" * 31
    assert again.config.programs[0].name == "a" * 31
    assert any("stored as 'Back/yard 'A''" in n for n in after.notes)
    assert diff_config(config, again) == []  # the device's spelling is not a difference


async def test_a_name_already_cut_mid_character_still_reads(device: OpenSprinklerDevice,
                                                            os_address: str) -> None:
    device.s["snames"][0] = stored_name("b" * 31 + "é")  # left by an older push
    async with OpenSprinklerLink(os_address) as link:
        read = await link.read_config()
    assert read.config.zones[0].name.startswith("b" * 31)


# --- 5. values the firmware allows and the record does not ---------------------------------


async def test_values_the_record_cannot_hold_stay_on_the_device(device: OpenSprinklerDevice,
                                                                os_address: str) -> None:
    interval = FIXED | osmap.TYPE_INTERVAL << 4
    device.s["pd"] = [
        entry("Daily", [600] * 8, interval, days1=1),
        entry("Six weekly", [600] * 8, interval, days1=45),
        entry("No start", [600] * 8, starts=(-1, -1, -1, -1)),
        entry("Sun", [65534, 600, 0, 0, 0, 0, 0, 0]),
    ]
    before = [list(p) for p in device.s["pd"]]
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        assert [p.name for p in base.config.programs] == ["Sun"]
        assert base.config.programs[0].zone_minutes == {2: 10}
        assert len(base.notes) == 3 and "every 45 days" in " ".join(base.notes)
        base.config.zones[0].name = "Renamed"  # an unrelated edit must go through
        base.config.programs[0].start_times = ["05:00"]
        await link.apply_config(base.config, base)
    assert device.s["snames"][0] == "Renamed"
    assert device.s["pd"][:3] == before[:3]
    assert device.s["pd"][3][4][0] == 65534 and device.s["pd"][3][3][0] == 300


# --- 6. a frozen firmware: one bounded wait, OpenSprinkler wording ------------------------


@contextlib.asynccontextmanager
async def frozen_server() -> AsyncIterator[tuple[str, list[int]]]:
    """Accepts connections and never answers, like a firmware stopped with SIGSTOP."""
    connections: list[int] = []
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", connections
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_frozen_controller_is_waited_for_once() -> None:
    async with frozen_server() as (address, connections):
        with pytest.raises(DeviceTimeout) as caught:
            await identify_address(address, timeout=0.5)
    assert len(connections) == 1  # no second wait on /rpc after /jo timed out
    assert "OpenSprinkler" in str(caught.value) and "weak Wi-Fi" not in str(caught.value)


async def test_reordering_programs_moves_them_with_their_settings(
        device: OpenSprinklerDevice, os_address: str) -> None:
    device.s["pd"] = [
        entry("A", [600] * 8, FIXED | osmap.WEATHER),
        [1 | (osmap.TYPE_MONTHLY << 4) | osmap.FIXED_STARTS, 15, 0, [420, -1, -1, -1],
         [60] * 8, "Monthly", [33, 415]],  # the record cannot show it: it stays on the device
        entry("B", [300] * 8),
        entry("C", [120] * 8),
    ]
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        config = base.config
        config.programs = [config.programs[2], config.programs[0], config.programs[1]]
        after = await link.apply_config(config, base)
        again = await link.apply_config(after.config, after)  # in order: nothing moves
    names = [p[5] for p in device.s["pd"]]
    assert [n for n in names if n != "Monthly"] == ["C", "A", "B"] and "Monthly" in names
    a = device.s["pd"][names.index("A")]
    assert a[0] & osmap.WEATHER and a[4][0] == 600
    assert [p.id for p in again.config.programs] == [p.id for p in config.programs]
