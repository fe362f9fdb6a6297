"""Finding native controllers over mDNS (`_fieldtech._tcp.local.`), live.

`async with MdnsBrowser(interfaces=["127.0.0.1"]) as browser: async for event in browser: …`
yields `found` when a controller is resolved (from zeroconf's cache first, then by asking),
`updated` when its TXT record or address changes, and `removed` when it says goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from zeroconf import InterfaceChoice, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from fieldtech.controller_link.jsonrpc import SERVICE_TYPE
from fieldtech.controller_link.link import DeviceInfo
from fieldtech.controller_link.safety import check_interfaces
from fieldtech.domain.validation import normalize_serial


@dataclass(frozen=True)
class DiscoveryEvent:
    kind: Literal["found", "updated", "removed"]
    name: str  # the mDNS instance name: stable key for a device while it is on the network
    device: DeviceInfo | None  # None for a removal of a device never resolved


def device_from_service(info: AsyncServiceInfo) -> DeviceInfo | None:
    """A DeviceInfo from a resolved service, or None if it carries no usable address."""
    addresses = info.parsed_addresses()
    if not addresses or not info.port:
        return None
    txt = txt_record(info.properties or {})
    host = addresses[0]
    host = f"[{host}]" if ":" in host else host
    serial = txt.get("serial")
    return DeviceInfo(
        driver="native",
        address=f"http://{host}:{info.port}",
        transport="http",
        model=txt.get("model") or None,
        serial=normalize_serial(serial) if serial else None,
        firmware=txt.get("fw") or None,
        name=info.name.removesuffix("." + SERVICE_TYPE),
    )


def txt_record(properties: dict[bytes, bytes | None] | dict[str, str | None]) -> dict[str, str]:
    """TXT keys in lower case, first one kept: keys are case-insensitive and a repeated key
    after the first is ignored (RFC 6763 §6.4). A key without a value reads as ""."""
    txt: dict[str, str] = {}
    for key, value in properties.items():
        name = (key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)).lower()
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value or ""
        txt.setdefault(name, text)
    return txt


class MdnsBrowser:
    """Browses one service type and turns zeroconf's callbacks into an async event stream.

    `interfaces` is required on purpose: pass ["127.0.0.1"] in tests and demos, the LAN
    interface's address on site, or None for every interface.
    """

    def __init__(self, interfaces: list[str] | None, service_type: str = SERVICE_TYPE,
                 resolve_timeout: float = 3.0, zeroconf: AsyncZeroconf | None = None):
        self.interfaces = check_interfaces(interfaces)
        self.service_type = service_type
        self.resolve_timeout = resolve_timeout
        self.devices: dict[str, DeviceInfo] = {}
        self._zeroconf = zeroconf
        self._own_zeroconf = zeroconf is None
        self._browser: AsyncServiceBrowser | None = None
        self._events: asyncio.Queue[DiscoveryEvent] = asyncio.Queue()
        self._resolving: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        if self._zeroconf is None:
            interfaces = InterfaceChoice.All if self.interfaces is None else self.interfaces
            self._zeroconf = AsyncZeroconf(interfaces=interfaces)
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, self.service_type, handlers=[self._on_change]
        )

    async def stop(self) -> None:
        for task in self._resolving.values():
            task.cancel()
        self._resolving.clear()
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zeroconf is not None and self._own_zeroconf:
            await self._zeroconf.async_close()
            self._zeroconf = None

    async def __aenter__(self) -> MdnsBrowser:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __aiter__(self) -> AsyncIterator[DiscoveryEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DiscoveryEvent]:
        while True:
            yield await self._events.get()

    async def next_event(self, timeout: float) -> DiscoveryEvent | None:
        """The next event, or None if nothing happens within `timeout` seconds."""
        try:
            return await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            return None

    # --- zeroconf callbacks (run on the event loop) --------------------------------------

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            task = self._resolving.pop(name, None)
            if task is not None:
                task.cancel()
            device = self.devices.pop(name, None)
            self._events.put_nowait(DiscoveryEvent("removed", name, device))
            return
        previous = self._resolving.pop(name, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.ensure_future(self._resolve(service_type, name))
        self._resolving[name] = task

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self._zeroconf is not None
        zc = self._zeroconf.zeroconf
        info = AsyncServiceInfo(service_type, name)
        # the browser's own queries usually filled the cache already: no extra round trip
        if not info.load_from_cache(zc):
            with contextlib.suppress(Exception):
                await info.async_request(zc, self.resolve_timeout * 1000)
        self._resolving.pop(name, None)
        device = device_from_service(info)
        if device is None:
            return
        known = self.devices.get(name)
        if known == device:
            return
        self.devices[name] = device
        self._events.put_nowait(DiscoveryEvent("updated" if known else "found", name, device))


async def discover_mdns(interfaces: list[str] | None, seconds: float = 3.0) -> list[DeviceInfo]:
    """Everything that answers within `seconds` (for scripts; the TUI iterates the browser)."""
    async with MdnsBrowser(interfaces) as browser:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await browser.next_event(left)
        return list(browser.devices.values())
