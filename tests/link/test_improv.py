"""Improv Wi-Fi over a real pty against the simulated device."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtech.controller_link import improv
from fieldtech.controller_link.errors import (
    DeviceTimeout,
    ImprovChecksumError,
    ImprovUnableToConnect,
    ImprovUnknownCommand,
    improv_error,
)
from fieldtech.controller_link.improv import Command, FrameType, ImprovClient, ImprovState
from fieldtech.controller_link.native import NativeLink
from fieldtech.domain.errors import ValidationError
from fieldtech.simulator import Simulator
from fieldtech.simulator.serial_pty import JOIN_FAIL_SECONDS


def test_frame_layout_and_checksum() -> None:
    frame = improv.encode_rpc(Command.CURRENT_STATE)
    assert frame[:6] == b"IMPROV" and frame[6:9] == bytes([1, FrameType.RPC_COMMAND, 2])
    assert frame[9:11] == bytes([Command.CURRENT_STATE, 0])
    assert frame[11] == sum(frame[:11]) & 0xFF and frame[12:] == b"\n"
    assert improv.parse_frame(frame[:-1]) == improv.ImprovFrame(FrameType.RPC_COMMAND, b"\x02\x00")


def test_decoder_skips_logs_and_splits_frames() -> None:
    a = improv.encode_frame(FrameType.CURRENT_STATE, b"\x02")
    b = improv.encode_rpc_result(Command.WIFI_SETTINGS, "http://10.0.0.7/")
    stream = b"[I][wifi] boot\r\n" + a + b"log line\n" + b[:5]
    frames, rest = improv.decode_frames(stream)
    assert frames == [improv.ImprovFrame(FrameType.CURRENT_STATE, b"\x02")]
    frames, _ = improv.decode_frames(rest + b[5:])
    assert improv.parse_rpc_result(frames[0].data) == (1, ["http://10.0.0.7/"])


def test_bad_checksum_is_a_named_error() -> None:
    frame = bytearray(improv.encode_frame(FrameType.CURRENT_STATE, b"\x02")[:-1])
    frame[-1] ^= 0x55
    with pytest.raises(ImprovChecksumError, match="bad checksum"):
        improv.decode_frames(bytes(frame))


@pytest.mark.parametrize("code", [1, 2, 3, 4, 0xFF, 0x42])
def test_every_improv_error_code_reads_clearly(code: int) -> None:
    error = improv_error(code)
    assert error.code == code and len(str(error)) > 30


async def test_state_info_and_wifi_over_pty(sim: Simulator) -> None:
    assert sim.serial_path
    async with ImprovClient(sim.serial_path) as client:
        assert (await client.request_state()).state is ImprovState.READY
        info = await client.device_info()
        assert (info.firmware, info.chip) == ("fieldtech-sim", "FT-8")
        with pytest.raises(ImprovUnableToConnect, match="could not join"):
            await client.set_wifi("Site-WiFi", "short")
        status = await client.set_wifi("Site-WiFi", "correct horse battery")
        http_url = sim.device("FT1-USB00001").state.http_url
        assert status.state is ImprovState.PROVISIONED and status.url == http_url
        again = await client.request_state()
        assert again == improv.ImprovStatus(ImprovState.PROVISIONED, http_url)
    assert sim.device("FT1-USB00001").state.wifi_ssid == "Site-WiFi"


async def test_unknown_command_and_long_credentials(sim: Simulator) -> None:
    assert sim.serial_path
    async with ImprovClient(sim.serial_path) as client:
        with pytest.raises(ValidationError, match="1 to 32"):
            await client.set_wifi("x" * 40, "password1")
        with pytest.raises(ImprovUnknownCommand, match="does not support"):
            await client.rpc(0x7E)  # a command the device does not know


async def test_provisioned_state_survives_restart(tmp_path: Path) -> None:
    async with Simulator(count=0, serial=True, data_dir=tmp_path, advertise=False) as sim:
        assert sim.serial_path
        async with ImprovClient(sim.serial_path) as client:
            await client.set_wifi("Barn", "")  # an open network
    async with Simulator(count=0, serial=True, data_dir=tmp_path, advertise=False) as sim:
        assert sim.serial_path
        async with ImprovClient(sim.serial_path) as client:
            assert (await client.request_state()).state is ImprovState.PROVISIONED


# --- what real devices do (issue 13, points 7–9 and 12) -------------------------------------


def test_a_result_with_the_sdks_trailing_zero_reads() -> None:
    # the device-info frame ESPHome's SDK (1.2.4+) sends on serial, 0x00 after the strings
    strings = improv.encode_strings("ESPHome", "2024.6.0", "ESP32", "Peer Improv Device")
    frame = improv.encode_frame(FrameType.RPC_RESULT,
                                bytes([Command.DEVICE_INFO, len(strings)]) + strings + b"\x00")
    assert frame[8] == 2 + len(strings) + 1 and frame[-3] == 0  # one byte past data[1]
    (parsed,), _ = improv.decode_frames(frame)
    assert improv.parse_rpc_result(parsed.data) == (
        Command.DEVICE_INFO, ["ESPHome", "2024.6.0", "ESP32", "Peer Improv Device"])


async def test_a_provisioned_device_with_trailing_zeros_reads_over_pty(sim: Simulator) -> None:
    assert sim.serial_path
    async with ImprovClient(sim.serial_path) as client:
        await client.set_wifi("Site-WiFi", "correct horse battery")
        status = await client.request_state()  # the URL result carries the trailing 0x00
        info = await client.device_info()
    assert status.url == sim.device("FT1-USB00001").state.http_url
    assert info.name.startswith("Simulated controller")


async def test_a_failed_join_is_the_devices_error_after_its_own_wait(tmp_path: Path) -> None:
    # the device tries for 1.5 s here (30 s on ESPHome); the client outwaits it
    async with Simulator(count=0, serial=True, data_dir=tmp_path, advertise=False,
                         serial_options={"join_fail_seconds": 1.5}) as sim:
        assert sim.serial_path
        async with ImprovClient(sim.serial_path) as client:
            with pytest.raises(ImprovUnableToConnect):
                await client.set_wifi("Site-WiFi", "short")
            with pytest.raises(DeviceTimeout, match=r"within 0\.5 s"):  # the wait it waited
                await client.set_wifi("Site-WiFi", "short", timeout=0.5)
    assert improv.WIFI_JOIN_WAIT > JOIN_FAIL_SECONDS  # ESPHome's own 30 s


async def test_scan_lists_every_network(sim: Simulator) -> None:
    assert sim.serial_path
    async with ImprovClient(sim.serial_path) as client:
        networks = await client.scan_networks()
    assert [(n.ssid, n.rssi, n.secured) for n in networks] == [
        ("Site-WiFi", -52, True), ("Guest", -71, False), ("Barn", -80, True)]


def test_state_zero_is_stopped_not_unknown() -> None:
    assert improv.parse_state(b"\x00") is ImprovState.STOPPED
    assert "stopped" in ImprovState.STOPPED.label


def test_the_header_inside_a_log_line_is_not_a_frame() -> None:
    frame = improv.encode_frame(FrameType.CURRENT_STATE, b"\x02")
    stream = b"[D][improv_serial] got IMPROV command 0x02\r\n" + frame
    frames, _ = improv.decode_frames(stream)
    assert frames == [improv.ImprovFrame(FrameType.CURRENT_STATE, b"\x02")]


async def test_a_log_line_naming_improv_does_not_break_an_answer(tmp_path: Path) -> None:
    async with Simulator(count=0, serial=True, data_dir=tmp_path, advertise=False,
                         serial_options={"log_line": b"[D] handling IMPROV rpc\n"}) as sim:
        assert sim.serial_path
        async with ImprovClient(sim.serial_path) as client:
            assert (await client.request_state()).state is ImprovState.READY


async def test_an_adapter_that_echoes_still_gets_answers(tmp_path: Path) -> None:
    async with Simulator(count=0, serial=True, data_dir=tmp_path, advertise=False,
                         serial_options={"echo": True}) as sim:
        assert sim.serial_path
        async with NativeLink.serial(sim.serial_path) as link:
            info = await link.identify()
            status = await link.read_status()
        async with ImprovClient(sim.serial_path) as client:
            state = (await client.request_state()).state
    assert info.serial == "FT1-USB00001" and status.enabled and state is ImprovState.READY
