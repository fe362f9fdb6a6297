"""Controllers found on site this session: kept when the on-site screen closes.

The on-site screen fills it (mDNS, a typed address, a serial or subnet probe, with any
OpenSprinkler password typed); the controller screen asks it whether a controller can be
reached directly, so a zone run goes straight to the device instead of through the cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldtech.domain.validation import normalize_serial

if TYPE_CHECKING:  # the controller link (zeroconf, httpx) loads with the on-site screen
    from fieldtech.controller_link import DeviceInfo


class SiteDevices:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceInfo] = {}  # by address: one row each
        self.found_by: dict[str, str] = {}  # how each was found ("mDNS", "typed", …)
        self.passwords: dict[str, str] = {}  # OpenSprinkler passwords typed this session only

    def reachable(self, serial: str | None) -> tuple[DeviceInfo, str | None] | None:
        """The device with this serial found this session (and its password), or None."""
        if not serial:
            return None
        wanted = normalize_serial(serial)
        for key, device in self.devices.items():
            if key in self.found_by and device.serial and (
                    normalize_serial(device.serial) == wanted):
                return device, self.passwords.get(key)
        return None
