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
        # The row the user last put the cursor on, by serial: two answers with one serial (a
        # cloned device, a training rig beside the real one) go to the one they looked at.
        self.chosen: dict[str, str] = {}

    def choose(self, key: str) -> None:
        device = self.devices.get(key)
        if device is not None and device.serial:
            self.chosen[normalize_serial(device.serial)] = key

    def reachable(self, serial: str | None) -> tuple[DeviceInfo, str | None] | None:
        """The device with this serial found this session (and its password), or None; the
        one last chosen on the on-site screen if several answer with this serial."""
        if not serial:
            return None
        wanted = normalize_serial(serial)
        keys = [key for key, device in self.devices.items()
                if key in self.found_by and device.serial
                and normalize_serial(device.serial) == wanted]
        if not keys:
            return None
        key = self.chosen.get(wanted)
        key = key if key in keys else keys[0]
        return self.devices[key], self.passwords.get(key)
