"""Advertising simulated controllers as `_fieldtech._tcp.local.` (interfaces pinned)."""

from __future__ import annotations

import asyncio
import socket

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from fieldtech.controller_link.jsonrpc import SERVICE_TYPE
from fieldtech.simulator.native_device import NativeDevice

LOOPBACK = ("127.0.0.1",)


TXT_VERSION = "1"  # `txtvers` first in the record, as RFC 6763 §6.7 recommends


def service_info(device: NativeDevice, host: str, port: int,
                 name: str | None = None) -> AsyncServiceInfo:
    """The service for `device`; `name` keeps an instance name changed after a collision.

    The port is in the instance name as in the host name: every simulator on one host (a
    demo, `fieldtech simulate`, each test's) starts at FT1-SIM00001, and with one name each
    the later ones relied on mDNS probing to rename themselves. On a loaded machine that took
    longer than discovery waits (the on-site tests failed with a demo running), and a probe
    answered late leaves two responders on one name."""
    return AsyncServiceInfo(
        SERVICE_TYPE,
        name or f"fieldtech-{device.serial.lower()}-{port}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(host)],
        port=port,
        properties={"txtvers": TXT_VERSION, "serial": device.serial, "model": device.model,
                    "fw": device.firmware},
        # the port in the host name: a second simulator's goodbye never drops our A record
        server=f"fieldtech-{device.serial.lower()}-{port}.local.",
    )


class Advertiser:
    """One zeroconf instance registering many services; says goodbye for each on stop."""

    def __init__(self, interfaces: tuple[str, ...] | list[str] = LOOPBACK):
        self.interfaces = list(interfaces)
        self.zeroconf: AsyncZeroconf | None = None
        self._infos: dict[str, AsyncServiceInfo] = {}
        # Each registration's announcements, by serial: they go on for seconds after
        # `register` returns, and one sent after a goodbye would bring the device back.
        self._announcements: dict[str, asyncio.Future[object]] = {}

    async def start(self) -> None:
        self.zeroconf = AsyncZeroconf(interfaces=self.interfaces)

    async def register(self, devices: list[tuple[NativeDevice, str, int]]) -> None:
        assert self.zeroconf is not None
        infos = [service_info(d, host, port) for d, host, port in devices]
        # Each registration first probes for name conflicts (~0.75 s): run them side by side.
        # What they return is the announcement task; the service already answers queries, so
        # the simulator is ready without waiting for the announcements to finish.
        # a name taken on the link (another responder, a demo on this machine) gets the next
        # free one, "…-2", as mDNS expects, instead of failing
        announcements = await asyncio.gather(
            *(self.zeroconf.async_register_service(info, allow_name_change=True)
              for info in infos)
        )
        for (d, _, _), info, announcement in zip(devices, infos, announcements, strict=True):
            self._announcements[d.serial] = asyncio.ensure_future(announcement)
            self._infos[d.serial] = info

    async def update(self, device: NativeDevice) -> None:
        """Re-announce a device whose TXT record changed (e.g. after a firmware update)."""
        old = self._infos.get(device.serial)
        if old is None or self.zeroconf is None:
            return
        info = service_info(device, old.parsed_addresses()[0], old.port or 0, old.name)
        self._infos[device.serial] = info
        await (await self.zeroconf.async_update_service(info))

    async def unregister(self, serial: str) -> None:
        """Take one device off the network (it sends a goodbye)."""
        info = self._infos.pop(serial, None)
        announcement = self._announcements.pop(serial, None)
        if announcement is not None:
            announcement.cancel()  # no fresh announcement may follow the goodbye
        if info is not None and self.zeroconf is not None:
            await (await self.zeroconf.async_unregister_service(info))

    async def stop(self) -> None:
        if self.zeroconf is None:
            return
        for announcement in self._announcements.values():
            announcement.cancel()
        self._announcements.clear()
        await self.zeroconf.async_unregister_all_services()  # goodbye packets
        await self.zeroconf.async_close()
        self.zeroconf = None
        self._infos.clear()
