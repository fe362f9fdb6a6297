"""Discovery for real: zeroconf on 127.0.0.1, pty serial ports, probes of 127.0.0.x."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from serial.tools import list_ports

from fieldtech.controller_link import (
    LOOPBACK_INTERFACES,
    MdnsBrowser,
    hosts_in_subnet,
    identify_address,
    list_serial_ports,
    probe_opensprinkler,
    probe_serial_port,
    probe_serial_ports,
)
from fieldtech.controller_link.errors import (
    DeviceTimeout,
    DeviceUnreachable,
    ProbeRefused,
    ProtocolError,
    SerialPortBusy,
)
from fieldtech.controller_link.serial_port import open_port
from fieldtech.simulator import Simulator

MDNS_WAIT = 8.0  # ~1 s on one host; generous for a loaded 2-core machine


async def test_mdns_finds_devices_live_and_sees_goodbye(tmp_path: Path) -> None:
    async with (
        Simulator(count=3, data_dir=tmp_path) as sim,
        MdnsBrowser(LOOPBACK_INTERFACES) as browser,
    ):
        found: dict[str, str] = {}
        while len(found) < 3:
            event = await browser.next_event(MDNS_WAIT)
            assert event is not None, f"only found {found}"
            if event.kind == "found" and event.device:
                found[event.device.serial or ""] = event.device.address
        expected = {d.serial: d.address for d in sim.of_kind("native")}
        assert found == expected  # serial from TXT, address resolved to the right port
        device = next(iter(browser.devices.values()))
        assert device.model == "FT-8" and device.firmware == "1.4.2"

        gone = sim.of_kind("native")[0]
        await sim.take_offline(gone.serial)
        seen = []  # other events may interleave (a re-announcement); the goodbye must come
        while (event := await browser.next_event(MDNS_WAIT)) is not None:
            seen.append(event)
            if event.kind == "removed":
                break
        assert seen and seen[-1].kind == "removed", seen
        assert seen[-1].device is not None and seen[-1].device.serial == gone.serial
        assert gone.serial not in {d.serial for d in browser.devices.values()}


async def test_mdns_reports_a_firmware_update(tmp_path: Path) -> None:
    async with (
        Simulator(count=1, data_dir=tmp_path) as sim,
        MdnsBrowser(LOOPBACK_INTERFACES) as browser,
    ):
        event = await browser.next_event(MDNS_WAIT)
        assert event is not None and event.kind == "found"
        state = sim.devices[0].state
        state.firmware = "2.0.0"
        assert sim.advertiser is not None
        await sim.advertiser.update(state)  # type: ignore[arg-type]
        event = await browser.next_event(MDNS_WAIT)
        assert event is not None and event.kind == "updated"
        assert event.device is not None and event.device.firmware == "2.0.0"


async def test_mdns_refuses_unpinned_interfaces_in_loopback_sessions() -> None:
    with pytest.raises(ProbeRefused, match="loopback-only"):
        MdnsBrowser(None)


def test_serial_ports_usb_first_with_by_id_names(tmp_path: Path, monkeypatch) -> None:
    # Faked: no USB device exists here, so comports() is replaced by what a laptop with an
    # ESP32 cable and a built-in UART would report. The by-id symlink is real.
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-Espressif_USB_JTAG_serial_debug_unit-if00").symlink_to("/dev/ttyACM0")
    fake = [
        SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, description="n/a",
                        manufacturer=None, serial_number=None),
        SimpleNamespace(device="/dev/ttyACM0", vid=0x303A, pid=0x1001,
                        description="USB JTAG/serial debug unit", manufacturer="Espressif",
                        serial_number="F4:12:FA"),
    ]
    monkeypatch.setattr(list_ports, "comports", lambda: fake)
    ports = list_serial_ports(by_id)
    assert [p.device for p in ports] == ["/dev/ttyACM0", "/dev/ttyS0"]
    assert ports[0].by_id and ports[0].by_id.endswith("Espressif_USB_JTAG_serial_debug_unit-if00")
    assert ports[0].label().startswith("usb-Espressif") and "[303A:1001]" in ports[0].label()
    assert ports[1].description == "" and not ports[1].is_usb


async def test_probe_pty_finds_native_controller(sim: Simulator) -> None:
    assert sim.serial_path
    device = await probe_serial_port(sim.serial_path, timeout=1.0)
    assert (device.driver, device.transport, device.serial) == ("native", "serial",
                                                                "FT1-USB00001")


async def test_probe_falls_back_to_improv(tmp_path: Path) -> None:
    async with Simulator(count=0, serial=True, serial_native=False, data_dir=tmp_path,
                         advertise=False) as sim:
        assert sim.serial_path
        device = await probe_serial_port(sim.serial_path, timeout=0.5)
    assert device.driver == "improv" and device.model == "FT-8"
    assert device.firmware == "fieldtech-sim 1.4.2"


async def test_probe_many_ports_reports_each(sim: Simulator) -> None:
    assert sim.serial_path
    silent_master, silent_slave = os.openpty()  # a port where nothing answers
    busy = open_port(sim.serial_path)
    try:
        results = await probe_serial_ports([os.ttyname(silent_slave), sim.serial_path],
                                           timeout=0.3)
    finally:
        busy.close()
        os.close(silent_master)
        os.close(silent_slave)
    assert isinstance(results[0].error, DeviceTimeout)
    assert "neither the fieldtech protocol nor Improv" in str(results[0].error)
    assert isinstance(results[1].error, SerialPortBusy)


async def test_opensprinkler_probe_over_loopback_hosts(sim: Simulator) -> None:
    os_device = sim.of_kind("opensprinkler")[0]
    port = int(os_device.address.rsplit(":", 1)[1])
    native_port = int(sim.of_kind("native")[0].address.rsplit(":", 1)[1])
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    found = [d async for d in probe_opensprinkler(hosts, ports=[native_port, port], timeout=1)]
    assert [d.address for d in found] == [f"127.0.0.1:{port}"]  # the native one is not /jo
    assert found[0].needs_password and found[0].firmware == "221"


async def test_probe_is_bounded_in_time() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    # a listener that accepts and never answers: the probe must give up on time
    server = await asyncio.start_server(lambda r, w: asyncio.sleep(30), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        found = [d async for d in probe_opensprinkler(["127.0.0.1"], ports=[port], timeout=5,
                                                      total_timeout=0.5)]
    finally:
        server.close()
    assert found == [] and loop.time() - started < 2


async def test_probe_refuses_anything_but_loopback_here() -> None:
    for host in ("192.168.1.10", "8.8.8.8", "example.com"):
        with pytest.raises(ProbeRefused):
            await anext(probe_opensprinkler([host]))
    with pytest.raises(ProbeRefused, match="loopback-only"):
        hosts_in_subnet("192.168.1.0/24")
    assert hosts_in_subnet("127.0.0.0/30") == ["127.0.0.1", "127.0.0.2"]
    with pytest.raises(ProbeRefused, match="at most"):
        hosts_in_subnet("127.0.0.0/8")


async def test_typed_address_is_identified_whatever_answers(sim: Simulator) -> None:
    os_device, native = sim.of_kind("opensprinkler")[0], sim.of_kind("native")[0]
    found = await identify_address(os_device.address)
    assert (found.driver, found.serial) == ("opensprinkler", os_device.serial)
    locked = await identify_address(os_device.address, password="wrong")
    assert locked.driver == "opensprinkler" and locked.needs_password and locked.serial is None
    found = await identify_address(native.address.removeprefix("http://"))
    assert (found.driver, found.serial) == ("native", native.serial)
    server = await asyncio.start_server(_http_teapot, "127.0.0.1", 0)
    try:
        with pytest.raises(ProtocolError, match="neither as a fieldtech controller"):
            await identify_address(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
    finally:
        server.close()
    await sim.take_offline(native.serial)
    with pytest.raises(DeviceUnreachable):
        await identify_address(native.address, timeout=1)


async def _http_teapot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()
