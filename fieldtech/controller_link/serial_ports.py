"""Finding controllers on USB serial ports: list the ports, then probe the ones the user picks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports

from fieldtech.controller_link.errors import (
    DeviceTimeout,
    ImprovError,
    LinkError,
    ProtocolError,
    SerialPortError,
)
from fieldtech.controller_link.improv import ImprovClient
from fieldtech.controller_link.link import DeviceInfo
from fieldtech.controller_link.native import NativeLink

BY_ID_DIR = Path("/dev/serial/by-id")


@dataclass(frozen=True)
class SerialPortInfo:
    device: str  # /dev/ttyUSB0
    by_id: str | None = None  # /dev/serial/by-id/usb-Espressif_…-if00: stable across re-plugs
    vid: int | None = None
    pid: int | None = None
    description: str = ""
    manufacturer: str | None = None
    serial_number: str | None = None

    @property
    def is_usb(self) -> bool:
        return self.vid is not None and self.pid is not None

    def label(self) -> str:
        name = self.by_id.rsplit("/", 1)[-1] if self.by_id else self.device
        ids = f" [{self.vid:04X}:{self.pid:04X}]" if self.is_usb else ""
        return f"{name}{ids} {self.description}".strip()


def list_serial_ports(by_id_dir: Path = BY_ID_DIR) -> list[SerialPortInfo]:
    """Every serial port, USB ones with a VID:PID first (those are the controllers' cables)."""
    by_id = _by_id_names(by_id_dir)
    ports = [
        SerialPortInfo(
            device=p.device,
            by_id=by_id.get(os.path.realpath(p.device)),
            vid=p.vid,
            pid=p.pid,
            description=p.description if p.description not in (None, "n/a") else "",
            manufacturer=p.manufacturer,
            serial_number=p.serial_number,
        )
        for p in list_ports.comports()
    ]
    return sorted(ports, key=lambda p: (not p.is_usb, p.device))


def _by_id_names(directory: Path) -> dict[str, str]:
    try:
        entries = list(directory.iterdir())
    except OSError:
        return {}
    return {os.path.realpath(e): str(e) for e in entries}


@dataclass(frozen=True)
class ProbeResult:
    port: str
    device: DeviceInfo | None = None
    error: LinkError | None = None  # busy, permission denied, nothing answered…


async def probe_serial_port(path: str, timeout: float = 1.0) -> DeviceInfo:
    """What answers on `path`: a native controller (`device.info`), else an Improv device.

    Port errors (busy, permission denied, unplugged) are raised as they are; a port where
    neither protocol answers raises DeviceTimeout.
    """
    try:
        async with NativeLink.serial(path, timeout=timeout) as link:
            return await link.identify()
    except SerialPortError:
        raise
    except (DeviceTimeout, ProtocolError):
        pass  # not a native controller; an ESPHome/WLED device prints logs, try Improv
    try:
        async with ImprovClient(path, timeout=timeout) as improv:
            status = await improv.request_state()
            try:
                details = await improv.device_info()
            except (ImprovError, DeviceTimeout, ProtocolError):
                details = None
    except SerialPortError:
        raise
    except (DeviceTimeout, ProtocolError) as exc:
        raise DeviceTimeout(
            f"No controller answered on {path} (neither the fieldtech protocol nor Improv). "
            "Check the cable, or reset the controller and try again.",
            address=path,
        ) from exc
    return DeviceInfo(
        driver="improv",
        address=path,
        transport="serial",
        model=details.chip if details else None,
        firmware=f"{details.firmware} {details.version}" if details else None,
        name=details.name if details else status.state.label,
    )


async def probe_serial_ports(paths: Sequence[str], timeout: float = 1.0) -> list[ProbeResult]:
    """Probe several ports side by side (each in its own thread); one result per port."""

    async def one(path: str) -> ProbeResult:
        try:
            return ProbeResult(path, device=await probe_serial_port(path, timeout))
        except LinkError as exc:
            return ProbeResult(path, error=exc)

    return list(await asyncio.gather(*(one(p) for p in paths)))
