"""Discovery for real: zeroconf on 127.0.0.1, pty serial ports, probes of 127.0.0.x."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from serial.tools import list_ports
from zeroconf.asyncio import AsyncServiceInfo

from fieldtech.controller_link import (
    LOOPBACK_INTERFACES,
    DiscoveryEvent,
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
from fieldtech.controller_link.jsonrpc import SERVICE_TYPE
from fieldtech.controller_link.mdns import device_from_service, txt_record
from fieldtech.controller_link.serial_port import open_port
from fieldtech.simulator import Simulator
from fieldtech.simulator.mdns import service_info
from fieldtech.simulator.native_device import NativeDevice

MDNS_WAIT = 8.0  # ~1 s on one host; generous for a loaded 2-core machine


async def ours(browser: MdnsBrowser, sim: Simulator, kinds: tuple[str, ...] = ("found",)
               ) -> DiscoveryEvent:
    """The next event about one of `sim`'s devices: a demo or another responder may be
    advertising on loopback too, even the same serial numbers (hermetic, issue 13)."""
    addresses = {d.address for d in sim.of_kind("native")}
    while True:
        event = await browser.next_event(MDNS_WAIT)
        assert event is not None, f"no {kinds} event from this simulator"
        if event.kind in kinds and event.device and event.device.address in addresses:
            return event


async def test_mdns_finds_devices_live_and_sees_goodbye(tmp_path: Path) -> None:
    async with (
        Simulator(count=3, data_dir=tmp_path) as sim,
        MdnsBrowser(LOOPBACK_INTERFACES) as browser,
    ):
        names: dict[str, str] = {}
        found: dict[str, str] = {}
        while len(found) < 3:
            event = await ours(browser, sim)
            assert event.device is not None
            found[event.device.serial or ""] = event.device.address
            names[event.device.serial or ""] = event.name
        expected = {d.serial: d.address for d in sim.of_kind("native")}
        assert found == expected  # serial from TXT, address resolved to the right port
        device = browser.devices[names[sim.of_kind("native")[1].serial]]
        assert device.model == "FT-8" and device.firmware == "1.4.2"

        gone = sim.of_kind("native")[0]
        await sim.take_offline(gone.serial)
        # other events may interleave (a re-announcement, another responder); ours must come
        while (event := await browser.next_event(MDNS_WAIT)) is not None:
            if event.kind == "removed" and event.name == names[gone.serial]:
                break
        assert event is not None and event.device is not None
        assert event.device.serial == gone.serial
        assert names[gone.serial] not in browser.devices


async def test_mdns_reports_a_firmware_update(tmp_path: Path) -> None:
    async with (
        Simulator(count=1, data_dir=tmp_path) as sim,
        MdnsBrowser(LOOPBACK_INTERFACES) as browser,
    ):
        await ours(browser, sim)
        state = sim.devices[0].state
        state.firmware = "2.0.0"
        assert sim.advertiser is not None
        await sim.advertiser.update(state)  # type: ignore[arg-type]
        event = await ours(browser, sim, ("updated",))
        assert event.device is not None and event.device.firmware == "2.0.0"


async def test_two_simulators_with_the_same_serials_are_both_found(tmp_path: Path) -> None:
    # two simulators with the same serials on one link: as `fieldtech simulate` beside a demo
    async with (
        Simulator(count=1, data_dir=tmp_path / "a") as first,
        Simulator(count=1, data_dir=tmp_path / "b") as second,
        MdnsBrowser(LOOPBACK_INTERFACES) as browser,
    ):
        wanted = {first.devices[0].address, second.devices[0].address}
        names: dict[str, str] = {}
        while set(names) != wanted:
            event = await browser.next_event(MDNS_WAIT)
            assert event is not None, f"only found {names}"
            if event.kind == "found" and event.device and event.device.address in wanted:
                assert event.device.serial == first.devices[0].serial  # the same serial
                names[event.device.address] = event.name
    # one name each (the port is in it; a name taken anyway is renamed "…-2"), no crash
    assert len(set(names.values())) == 2


def test_txt_keys_are_case_insensitive_and_the_first_one_counts() -> None:
    record = {b"txtvers": b"1", b"SERIAL": b"ft1-abcdef12", b"Model": b"FT-8", b"FW": b"1.4.2",
              b"serial": b"FT1-LATER000"}
    assert txt_record(record) == {"txtvers": "1", "serial": "ft1-abcdef12", "model": "FT-8",
                                  "fw": "1.4.2"}
    info = AsyncServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", port=80, properties=record,
                            addresses=[socket.inet_aton("127.0.0.1")])
    device = device_from_service(info)
    assert device is not None
    assert (device.serial, device.model, device.firmware) == ("FT1-ABCDEF12", "FT-8", "1.4.2")


def test_the_simulator_advertises_txtvers_first() -> None:
    info = service_info(NativeDevice(serial="FT1-ABCDEF12"), "127.0.0.1", 80)
    assert next(iter(info.properties)) == b"txtvers" and info.properties[b"txtvers"] == b"1"


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


async def test_probe_finds_a_provisioned_improv_device(tmp_path: Path) -> None:
    # its state comes with a URL result that ends in the SDK's 0x00 (issue 13, point 7)
    async with Simulator(count=0, serial=True, serial_native=False, data_dir=tmp_path,
                         advertise=False) as sim:
        assert sim.serial_path
        sim.device("FT1-USB00001").state.wifi_ssid = "Site-WiFi"  # type: ignore[union-attr]
        device = await probe_serial_port(sim.serial_path, timeout=0.5)
    assert device.driver == "improv" and device.firmware == "fieldtech-sim 1.4.2"


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
