"""Start and stop a set of virtual controllers in-process (the demo, tests, the benchmark)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from fieldtech.simulator.cloud_loop import CloudLoop
from fieldtech.simulator.http import HttpRequest, HttpResponse, HttpServer
from fieldtech.simulator.mdns import LOOPBACK, Advertiser
from fieldtech.simulator.native_device import MODELS, NativeDevice
from fieldtech.simulator.opensprinkler import OpenSprinklerDevice
from fieldtech.simulator.serial_pty import PtySerialDevice

HOST = "127.0.0.1"  # the simulator never listens anywhere else
T = TypeVar("T")


@dataclass
class SimulatedDevice:
    kind: Literal["native", "opensprinkler", "serial", "cloud"]
    serial: str
    address: str  # http://127.0.0.1:PORT, or the pty path for the serial one
    state: NativeDevice | OpenSprinklerDevice
    server: HttpServer | None = None
    pty: PtySerialDevice | None = None
    cloud: CloudLoop | None = None  # native ones: heartbeats once paired; faults, offline…

    def describe(self) -> str:
        what = {"native": "fieldtech (mDNS)", "opensprinkler": "OpenSprinkler",
                "serial": "fieldtech on serial, also Improv",
                "cloud": "fieldtech, cloud only"}[self.kind]
        return f"{what:<32} {self.serial:<16} {self.address}"


class Simulator:
    """`async with Simulator(count=3, opensprinkler=1, serial=True) as sim: sim.devices`.

    Native devices listen on free 127.0.0.1 ports and are advertised over mDNS on
    `interfaces` (loopback unless told otherwise); OpenSprinkler ones are not advertised,
    like the real firmware. State lives in `data_dir` (a temporary one when not given).
    """

    def __init__(
        self,
        count: int = 1,
        opensprinkler: int = 0,
        serial: bool = False,
        data_dir: str | Path | None = None,
        interfaces: tuple[str, ...] | list[str] = LOOPBACK,
        advertise: bool = True,
        password: str = "opendoor",
        zone_count: int = 8,
        serial_native: bool = True,
        serial_options: Mapping[str, Any] | None = None,
        heartbeat_s: float | None = None,
        reboot_pause_s: float | None = None,
    ):
        self.count, self.opensprinkler_count, self.with_serial = count, opensprinkler, serial
        self.interfaces, self.advertise = list(interfaces), advertise
        self.password, self.zone_count, self.serial_native = password, zone_count, serial_native
        self.serial_options = dict(serial_options or {})  # PtySerialDevice knobs (echo, …)
        # None: as the cloud asks (heartbeat) / the device's own (reboot); tests go faster
        self.heartbeat_s, self.reboot_pause_s = heartbeat_s, reboot_pause_s
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="ftsim-"))
        self.devices: list[SimulatedDevice] = []
        self.advertiser: Advertiser | None = None

    # --- lookup ------------------------------------------------------------------------------

    def of_kind(self, kind: str) -> list[SimulatedDevice]:
        return [d for d in self.devices if d.kind == kind]

    @property
    def serial_path(self) -> str | None:
        found = self.of_kind("serial")
        return found[0].address if found else None

    def device(self, serial: str) -> SimulatedDevice:
        return next(d for d in self.devices if d.serial == serial)

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for i in range(1, self.count + 1):
                await self._start_native(i)
            for i in range(1, self.opensprinkler_count + 1):
                await self._start_opensprinkler(i)
            if self.with_serial:
                await self._start_serial()
            if self.advertise and self.count:
                self.advertiser = Advertiser(self.interfaces)
                await self.advertiser.start()
                await self.advertiser.register(
                    [(d.state, HOST, d.server.port) for d in self.of_kind("native")  # type: ignore[misc,union-attr]
                     if d.server]
                )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.advertiser is not None:
            await self.advertiser.stop()
            self.advertiser = None
        for d in self.devices:
            if d.cloud is not None:
                await d.cloud.stop()
            if d.pty is not None:
                await d.pty.stop()
            if d.server is not None:
                await d.server.stop()
        self.devices.clear()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def take_offline(self, serial: str) -> None:
        """A device leaves the network: mDNS goodbye, then its HTTP server stops."""
        d = self.device(serial)
        if d.cloud is not None:
            d.cloud.go_offline()  # off the network means no heartbeats either
        if self.advertiser is not None:
            await self.advertiser.unregister(serial)
        if d.server is not None:
            await d.server.stop()

    # --- building devices --------------------------------------------------------------------

    def _native_state(self, serial: str, mac_tail: int) -> NativeDevice:
        zones = self.zone_count
        return NativeDevice.load_or_create(
            self.data_dir / f"{serial}.json",
            serial=serial,
            zone_count=zones,
            model=MODELS.get(zones, f"FT-{zones}"),
            mac=f"02:46:54:00:{mac_tail >> 8:02X}:{mac_tail & 0xFF:02X}",
            name=f"Simulated controller {mac_tail}",
        )

    async def _serve_native(self, state: NativeDevice) -> HttpServer:
        async def handle(request: HttpRequest) -> HttpResponse | None:
            if request.path != "/rpc":
                return HttpResponse(404, b"Not Found", "text/plain")
            if request.method != "POST":
                return HttpResponse(405, b"Use POST", "text/plain")
            answer = await state.handle(request.body)
            if answer is None:
                return None if state.mute else HttpResponse(204)
            return HttpResponse(200, answer)

        server = HttpServer(handle, HOST)
        await server.start()
        state.http_url = server.url
        return server

    async def _start_native(self, i: int) -> None:
        state = self._native_state(f"FT1-SIM{i:05d}", i)
        server = await self._serve_native(state)
        self.devices.append(SimulatedDevice("native", state.serial, server.url, state, server,
                                            cloud=await self._start_cloud_loop(state)))

    async def _start_serial(self) -> None:
        state = self._native_state("FT1-USB00001", 0x100)
        server = await self._serve_native(state)
        pty = PtySerialDevice(state, native=self.serial_native, **self.serial_options)
        await pty.start()
        self.devices.append(SimulatedDevice("serial", state.serial, pty.path, state, server, pty,
                                            cloud=await self._start_cloud_loop(state)))

    async def add_cloud_device(self, serial: str, zone_count: int = 8, model: str = "FT-8",
                               name: str = "Simulated controller") -> SimulatedDevice:
        """A controller that only talks to the cloud (no /rpc server, not on mDNS): the demo's
        live fleet takes the serials of records that exist, a few dozen cost next to nothing."""
        state = NativeDevice.load_or_create(self.data_dir / f"{serial}.json", serial=serial,
                                            zone_count=zone_count, model=model, name=name)
        device = SimulatedDevice("cloud", serial, "", state,
                                 cloud=await self._start_cloud_loop(state))
        self.devices.append(device)
        return device

    async def _start_cloud_loop(self, state: NativeDevice) -> CloudLoop:
        options = {} if self.reboot_pause_s is None else {"reboot_pause_s": self.reboot_pause_s}
        loop = CloudLoop(state, heartbeat_s=self.heartbeat_s, **options)  # type: ignore[arg-type]
        await loop.start()
        return loop

    async def _start_opensprinkler(self, i: int) -> None:
        mac = f"02:4F:53:00:00:{i:02X}"
        state = OpenSprinklerDevice.load_or_create(
            self.data_dir / f"OS-{mac.replace(':', '')}.json", mac=mac, password=self.password,
            boards=max(1, (self.zone_count + 7) // 8),
        )
        server = HttpServer(state.handle, HOST, sequential=True)
        await server.start()
        self.devices.append(SimulatedDevice("opensprinkler", state.serial, f"{HOST}:{server.port}",
                                            state, server))


class BackgroundSimulator:
    """A Simulator on its own event loop in a thread, for synchronous callers.

    `with BackgroundSimulator(count=3) as sim: ...` — `sim.devices` is ready inside the block.
    """

    def __init__(self, **options: object):
        self.simulator = Simulator(**options)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fieldtech-simulator",
                                        daemon=True)

    def __enter__(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop).result(60)
        return self.simulator

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `work` on the simulator's event loop (`.cancel()` on the future stops it)."""
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run `work` on the simulator's event loop and wait for its result."""
        return self.submit(work).result(timeout)

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
