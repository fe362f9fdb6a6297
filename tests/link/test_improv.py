"""Improv Wi-Fi over a real pty against the simulated device."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtech.controller_link import improv
from fieldtech.controller_link.errors import (
    ImprovChecksumError,
    ImprovUnableToConnect,
    ImprovUnknownCommand,
    improv_error,
)
from fieldtech.controller_link.improv import Command, FrameType, ImprovClient, ImprovState
from fieldtech.domain.errors import ValidationError
from fieldtech.simulator import Simulator


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
    frames, rest = improv.decode_frames(rest + b[5:])
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
