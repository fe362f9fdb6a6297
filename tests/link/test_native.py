"""The native driver against simulated controllers over real loopback HTTP and a real pty."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from fieldtech.controller_link.errors import (
    DeviceTimeout,
    DeviceUnreachable,
    InvalidRequest,
    ProtocolError,
    RevisionConflict,
    RpcError,
    SerialPortBusy,
    SerialPortNotFound,
)
from fieldtech.controller_link.native import NativeLink
from fieldtech.controller_link.serial_port import open_port
from fieldtech.domain.models import Program, ScheduleKind
from fieldtech.simulator import Simulator


async def test_identify_over_http(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with NativeLink.http(device.address) as link:
        info = await link.identify()
    assert (info.driver, info.serial, info.zone_count) == ("native", device.serial, 8)
    assert info.address == device.address and info.transport == "http"


async def test_push_then_read_back_keeps_unknown_fields(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    # a newer firmware's field our model does not know, on a zone and at the top level
    device.state.config["zones"][0]["flow_sensor"] = "k=2.1"
    device.state.config["eco_mode"] = True
    async with NativeLink.http(device.address) as link:
        before = await link.read_config()
        config = replace(before.config)
        config.zones[0].name = "Front lawn"
        config.programs = [Program(name="Morning", schedule=ScheduleKind.ODD,
                                   start_times=["05:30"], zone_minutes={1: 12, 3: 4})]
        after = await link.apply_config(config, before)
        again = await link.read_config()
    assert int(after.revision) == int(before.revision) + 1 == int(again.revision)
    assert again.config.zones[0].name == "Front lawn"
    assert again.config.programs == config.programs
    saved = json.loads(Path(sim.data_dir, f"{device.serial}.json").read_text())
    assert saved["config"]["zones"][0]["flow_sensor"] == "k=2.1"
    assert saved["config"]["eco_mode"] is True


async def test_stale_revision_is_a_conflict(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with NativeLink.http(device.address) as link:
        base = await link.read_config()
        await link.apply_config(base.config, base)  # someone else pushed meanwhile
        with pytest.raises(RevisionConflict, match="changed since it was read"):
            await link.apply_config(base.config, base)


async def test_invalid_config_is_refused_with_fields(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with NativeLink.http(device.address) as link:
        base = await link.read_config()
        base.config.zones[0].run_minutes = 9999
        with pytest.raises(InvalidRequest) as caught:
            await link.apply_config(base.config, base)
    assert caught.value.data[0]["field"] == "zones.1.run_minutes"


async def test_zone_really_runs_and_stops(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with NativeLink.http(device.address) as link:
        # Long enough that a stalled machine (a CI run once lost ~4 s here) cannot end it
        # before the second read: the countdown must move, and the zone still run.
        await link.run_zone(3, 60)
        first = (await link.read_status()).seconds_left(3)
        assert first is not None and 55 <= first <= 60
        await asyncio.sleep(1.1)
        later = (await link.read_status()).seconds_left(3)
        assert later is not None and 0 < later < first
        await link.stop_all()
        assert (await link.read_status()).running == ()
        with pytest.raises(InvalidRequest, match="zone must be 1"):
            await link.run_zone(99, 5)


async def test_rain_delay_and_disable(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    async with NativeLink.http(device.address) as link:
        await link.set_rain_delay(24)
        status = await link.read_status()
        assert status.rain_delay_until is not None
        await link.set_enabled(False)
        assert (await link.read_status()).enabled is False
        with pytest.raises(RpcError, match="disabled"):
            await link.run_zone(1, 5)


async def test_state_persists_across_restarts(tmp_path: Path) -> None:
    async with (
        Simulator(count=1, data_dir=tmp_path, advertise=False) as sim,
        NativeLink.http(sim.devices[0].address) as link,
    ):
        base = await link.read_config()
        base.config.zones[1].name = "Roses"
        await link.apply_config(base.config, base)
    async with (
        Simulator(count=1, data_dir=tmp_path, advertise=False) as sim,
        NativeLink.http(sim.devices[0].address) as link,
    ):
        assert (await link.read_config()).config.zones[1].name == "Roses"


async def test_serial_line_protocol_over_pty(sim: Simulator) -> None:
    assert sim.serial_path and sim.serial_path.startswith("/dev/")
    async with NativeLink.serial(sim.serial_path) as link:
        info = await link.identify()
        assert info.transport == "serial" and info.serial == "FT1-USB00001"
        base = await link.read_config()
        base.config.zones[0].name = "Over the cable"
        await link.apply_config(base.config, base)
        await link.run_zone(2, 30)
        assert (await link.read_status()).seconds_left(2) in (29, 30)
    # the same device over HTTP sees what was pushed over serial
    async with NativeLink.http(sim.device("FT1-USB00001").state.http_url or "") as link:
        assert (await link.read_config()).config.zones[0].name == "Over the cable"


async def test_busy_serial_port_is_a_clear_error(sim: Simulator) -> None:
    assert sim.serial_path
    holder = open_port(sim.serial_path)  # another program holds the port
    try:
        async with NativeLink.serial(sim.serial_path) as link:
            with pytest.raises(SerialPortBusy, match="in use by another program"):
                await link.identify()
    finally:
        holder.close()


async def test_missing_serial_port_is_a_clear_error() -> None:
    async with NativeLink.serial("/dev/ttyUSB-not-there") as link:
        with pytest.raises(SerialPortNotFound, match="USB cable"):
            await link.identify()


async def test_device_that_never_answers_times_out(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    device.state.mute = True
    async with NativeLink.http(device.address) as link:
        with pytest.raises(ProtocolError):  # the connection closes without a word
            await link.identify()
    assert sim.serial_path
    async with NativeLink.serial(sim.serial_path, timeout=0.5) as link:
        sim.device("FT1-USB00001").state.mute = True
        with pytest.raises(DeviceTimeout, match=r"did not answer within 0\.5 s"):
            await link.identify()


async def test_slow_device_times_out_over_http(sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    device.state.reply_delay = 2.0
    async with NativeLink.http(device.address, timeout=0.5) as link:
        with pytest.raises(DeviceTimeout, match="did not answer in time"):
            await link.identify()


async def test_nothing_listening_is_unreachable(sim: Simulator) -> None:
    device = sim.of_kind("native")[1]
    await sim.take_offline(device.serial)
    async with NativeLink.http(device.address, timeout=1) as link:
        with pytest.raises(DeviceUnreachable, match="Nothing answers"):
            await link.identify()


async def test_wifi_and_cloud_pairing_over_serial(sim: Simulator) -> None:
    assert sim.serial_path
    state = sim.device("FT1-USB00001").state
    async with NativeLink.serial(sim.serial_path) as link:
        with pytest.raises(RpcError, match="wrong password") as caught:
            await link.set_wifi("Site-WiFi", "short")
        assert caught.value.code == -32003
        answer = await link.set_wifi("Site-WiFi", "long enough secret")
        assert answer["state"] == "connected" and answer["url"] == state.http_url
        # a simulated controller really pairs now (tests/device_loop), and only on this machine
        with pytest.raises(RpcError, match="not a cloud on this machine") as caught:
            await link.pair_cloud("https://cloud.example", "PAIR-1234")
        assert caught.value.code == -32004
    assert (state.wifi_ssid, state.cloud_url) == ("Site-WiFi", None)


async def test_wifi_set_is_given_longer_than_an_ordinary_call(sim: Simulator) -> None:
    # joining takes longer than a serial call's wait (issue 13, point 13): 0.6 s against 0.3
    assert sim.serial_path
    state = sim.device("FT1-USB00001").state
    state.reply_delay = 0.6  # type: ignore[union-attr]
    async with NativeLink.serial(sim.serial_path, timeout=0.3) as link:
        with pytest.raises(DeviceTimeout, match=r"within 0\.3 s"):
            await link.identify()
        answer = await link.set_wifi("Site-WiFi", "long enough secret")
    assert answer["state"] == "connected"


def test_permission_denied_names_the_dialout_group() -> None:
    # Faked: these tests run as root, for whom a real "permission denied" cannot happen.
    import errno

    import serial

    from fieldtech.controller_link.errors import SerialPermissionDenied
    from fieldtech.controller_link.serial_port import port_error

    exc = serial.SerialException(errno.EACCES, "could not open port /dev/ttyUSB0: [Errno 13]")
    error = port_error(exc, "/dev/ttyUSB0")
    assert isinstance(error, SerialPermissionDenied) and "dialout" in str(error)


def test_background_simulator_for_synchronous_callers(tmp_path: Path) -> None:
    import httpx

    from fieldtech.simulator import BackgroundSimulator

    with BackgroundSimulator(count=1, data_dir=tmp_path, advertise=False) as sim:
        url = sim.devices[0].address + "/rpc"
        reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "device.info"})
        assert reply.json()["result"]["serial"] == "FT1-SIM00001"
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens any more
        httpx.post(url, json={})


async def test_unknown_program_keys_stay_with_their_program_after_a_delete(
        sim: Simulator) -> None:
    device = sim.of_kind("native")[0]
    device.state.config["programs"] = [  # type: ignore[union-attr]
        {**Program(name=name, id=f"id-{name}").to_dict(), "x_colour": colour}
        for name, colour in (("Front", "red"), ("Middle", "green"), ("Back", "blue"))
    ]
    async with NativeLink.http(device.address) as link:
        base = await link.read_config()
        config = base.config
        del config.programs[1]  # a program in the middle goes
        config.programs.append(Program(name="New"))
        await link.apply_config(config, base)
    stored = device.state.config["programs"]  # type: ignore[union-attr]
    assert [(p["name"], p.get("x_colour")) for p in stored] == [
        ("Front", "red"), ("Back", "blue"), ("New", None)]
    assert [p["id"] for p in stored][:2] == ["id-Front", "id-Back"]  # the device keeps ids
