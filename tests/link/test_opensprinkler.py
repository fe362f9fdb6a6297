"""The OpenSprinkler driver against the simulated firmware over real loopback HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fieldtech.controller_link import opensprinkler_map as osmap
from fieldtech.controller_link.errors import (
    DataMissing,
    NotPermitted,
    NotSupported,
    OutOfRange,
    PageNotFound,
    WrongPassword,
    opensprinkler_error,
)
from fieldtech.controller_link.opensprinkler import (
    OpenSprinklerClient,
    OpenSprinklerLink,
    password_hash,
)
from fieldtech.domain.models import Program, ScheduleKind
from fieldtech.simulator import Simulator


@pytest.fixture
def os_address(sim: Simulator) -> str:
    return sim.of_kind("opensprinkler")[0].address


def test_password_is_lowercase_md5() -> None:
    assert password_hash("opendoor") == "a6d82bced638de3def1e9bbb4983225c"


async def test_identify(sim: Simulator, os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        info = await link.identify()
    assert info.driver == "opensprinkler" and info.firmware == "221"
    assert info.serial == "OS-024F53000001" and info.zone_count == 8


async def test_wrong_password_is_understood_from_fwv_only_reply(os_address: str) -> None:
    async with OpenSprinklerLink(os_address, password="letmein") as link:
        with pytest.raises(WrongPassword, match="refused the password"):
            await link.identify()  # /jo answers {"fwv":221}
        with pytest.raises(WrongPassword):
            await link.run_zone(1, 10)  # /cm answers {"result":2}


@pytest.mark.parametrize("code", [2, 3, 16, 17, 18, 19, 32, 48, 64, 99])
def test_every_result_code_has_a_named_readable_error(code: int) -> None:
    error = opensprinkler_error(code)
    assert error.result == code
    assert str(error).startswith("The OpenSprinkler") and len(str(error)) > 30
    assert type(error).__name__ != "OpenSprinklerError"


async def test_result_codes_from_the_device(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        await link.run_zone(1, 30)
        with pytest.raises(NotPermitted):
            await link.run_zone(1, 30)  # already queued → 48
        with pytest.raises(OutOfRange):
            await link.client.get("/cm", sid=5, en=0)  # not running → 17
        with pytest.raises(DataMissing):
            await link.client.get("/cm", sid=2, en=1)  # no t → 16
        with pytest.raises(OutOfRange):
            await link.client.get("/cv", rd=-1)
        with pytest.raises(PageNotFound):
            await link.client.get("/nope")


async def test_stations_and_programs_round_trip(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        config = base.config
        config.zones[0].name = 'Front "big" lawn & roses'
        config.zones[1].enabled = False
        config.zones[2].master_valve = True
        config.programs = [
            Program(name="Weekdays", days=[0, 2, 4], start_times=["06:00", "18:30"],
                    zone_minutes={1: 10, 2: 5}),
            Program(name="Odd days", schedule=ScheduleKind.ODD, days=[], start_times=["05:00"],
                    zone_minutes={3: 7}),
            Program(name="Every 3", schedule=ScheduleKind.INTERVAL, days=[], interval_days=3,
                    start_times=["21:15"], zone_minutes={8: 1}),
        ]
        after = await link.apply_config(config, base)
    zones = after.config.zones
    assert zones[0].name == "Front 'big' lawn & roses"  # the firmware turns " into '
    assert (zones[1].enabled, zones[2].master_valve) == (False, True)
    assert [p.to_dict() for p in after.config.programs] == [p.to_dict() for p in config.programs]
    assert after.unsupported >= {"zone.run_minutes"}


async def test_unknown_program_data_survives_a_push(sim: Simulator, os_address: str) -> None:
    device = sim.of_kind("opensprinkler")[0].state
    weather, date_range = osmap.WEATHER, osmap.DATE_RANGE
    flag = osmap.ENABLED | weather | date_range | osmap.FIXED_STARTS
    device.s["pd"] = [
        # weather-adjusted, date range, a 90-second duration and station 8 the record lacks
        [flag, 0b0010101, 0, [360, -1, -1, -1], [90, 600, 0, 0, 0, 0, 0, 300], "Lawn", [60, 300]],
        # monthly: our model cannot show it, it must stay untouched
        [1 | (osmap.TYPE_MONTHLY << 4) | osmap.FIXED_STARTS, 15, 0, [420, -1, -1, -1],
         [60] * 8, "Monthly", [33, 408]],
    ]
    monthly = list(device.s["pd"][1])
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        assert [p.name for p in base.config.programs] == ["Lawn"]
        assert "Monthly" in base.notes[0] and "kept on the controller" in base.notes[0]
        assert base.config.programs[0].zone_minutes == {1: 2, 2: 10, 8: 5}
        config = base.config
        config.zones = config.zones[:6]  # the record has 6 zones
        config.programs[0].start_times = ["07:00"]
        await link.apply_config(config, base)
    lawn = next(p for p in device.s["pd"] if p[5] == "Lawn")
    assert lawn[0] & weather and lawn[0] & date_range and lawn[6] == [60, 300]
    assert lawn[3][0] == 420
    assert lawn[4][0] == 90 and lawn[4][7] == 300  # odd seconds and the unknown station kept
    assert monthly in device.s["pd"]


async def test_removed_programs_are_deleted_and_new_ones_appended(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        base.config.programs = [Program(name=f"P{i}", zone_minutes={1: i + 1}) for i in range(3)]
        base = await link.apply_config(base.config, base)
        base.config.programs = [base.config.programs[2]]
        after = await link.apply_config(base.config, base)
    assert [p.name for p in after.config.programs] == ["P2"]


async def test_status_rain_delay_and_enable(os_address: str) -> None:
    async with OpenSprinklerLink(os_address) as link:
        await link.run_zone(2, 20)
        await link.run_zone(4, 20)
        status = await link.read_status()
        assert status.seconds_left(2) in (19, 20) and status.queued == (4,)
        await link.set_rain_delay(5)
        until = (await link.read_status()).rain_delay_until
        assert until is not None
        assert abs(until - (datetime.now(UTC) + timedelta(hours=5))) < timedelta(seconds=5)
        await link.stop_all()
        await link.set_enabled(False)
        status = await link.read_status()
        assert status.running == () and status.enabled is False
        with pytest.raises(NotPermitted):
            await link.run_zone(1, 10)


async def test_one_request_at_a_time(sim: Simulator, os_address: str) -> None:
    server = sim.of_kind("opensprinkler")[0].server
    assert server is not None
    async with OpenSprinklerLink(os_address) as link:
        await asyncio.gather(*(link.read_status() for _ in range(8)))
    assert server.max_active == 1 and server.requests >= 8


async def test_firmware_details(os_address: str) -> None:
    async with httpx.AsyncClient() as client:
        head = await client.head(f"http://{os_address}/jo")
        missing = await client.get(f"http://{os_address}/xyz?pw={password_hash('opendoor')}")
        upper = await client.get(f"http://{os_address}/jo?pw={password_hash('opendoor').upper()}")
    assert head.status_code == 400
    assert missing.status_code == 404 and missing.headers["content-type"] == "text/plain"
    assert upper.json() == {"fwv": 221}  # upper-case hex is refused, byte for byte
    assert missing.headers["connection"] == "close"


async def test_client_accepts_host_port_forms(os_address: str) -> None:
    client = OpenSprinklerClient(f"http://{os_address}/")
    try:
        assert (await client.get("/jo"))["fwv"] == 221
    finally:
        await client.aclose()


async def test_parallel_requests_stall_like_the_firmware(os_address: str) -> None:
    """Two clients at once (what the driver's lock prevents): the second waits ~1 s."""
    url = f"http://{os_address}/jo?pw={password_hash('opendoor')}"
    loop = asyncio.get_running_loop()

    async def timed() -> float:
        async with httpx.AsyncClient() as client:
            started = loop.time()
            await client.get(url)
            return loop.time() - started

    times = sorted(await asyncio.gather(timed(), timed()))
    assert times[0] < 0.5 and times[1] >= 0.9


async def test_invalid_config_sends_nothing(sim: Simulator, os_address: str) -> None:
    server = sim.of_kind("opensprinkler")[0].server
    assert server is not None
    async with OpenSprinklerLink(os_address) as link:
        base = await link.read_config()
        base.config.zones[0].name = "Renamed"
        base.config.programs = [Program(name="Bad", start_times=["25:00"])]
        before = server.requests
        # a LinkError naming the program, as every driver error is (issue 13, point 5)
        with pytest.raises(NotSupported, match=r"program 'Bad': Start times are HH:MM"):
            await link.apply_config(base.config, base)
    assert server.requests == before
    assert sim.of_kind("opensprinkler")[0].state.s["snames"][0] == "S01"  # type: ignore[union-attr]
