"""Opening a serial port with errors a technician can act on, and reading it with a deadline.

pyserial is blocking: callers run these functions in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import errno
import time

import serial

from fieldtech.controller_link.errors import (
    SerialPermissionDenied,
    SerialPortBusy,
    SerialPortError,
    SerialPortNotFound,
)
from fieldtech.controller_link.jsonrpc import SERIAL_BAUDRATE


def open_port(path: str, baudrate: int = SERIAL_BAUDRATE) -> serial.Serial:
    """Open `path` 8N1, exclusively (so two programs never interleave frames on one cable)."""
    try:
        return serial.Serial(
            path,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=0.05,
            write_timeout=2.0,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise port_error(exc, path) from exc


def port_error(exc: BaseException, path: str) -> SerialPortError:
    """The clear error for a failed open or I/O on `path`."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return SerialPermissionDenied(
            f"You are not allowed to open {path}. Add your user to the dialout group "
            "(sudo usermod -aG dialout $USER), then log out and back in.",
            address=path,
        )
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text:
        return SerialPortBusy(
            f"{path} is in use by another program (a serial monitor, ModemManager or another "
            "fieldtech window). Close it and try again.",
            address=path,
        )
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return SerialPortNotFound(
            f"{path} does not exist. Check the USB cable; after re-plugging the port may have "
            "a new name.",
            address=path,
        )
    return SerialPortError(f"Could not use serial port {path}: {text}", address=path)


def read_for(port: serial.Serial, seconds: float, path: str) -> bytes:
    """Whatever arrives within `seconds` (may be empty)."""
    deadline = time.monotonic() + seconds
    chunks = bytearray()
    try:
        while time.monotonic() < deadline:
            waiting = port.in_waiting
            chunk = port.read(max(1, waiting))
            if chunk:
                chunks += chunk
    except (serial.SerialException, OSError) as exc:
        raise port_error(exc, path) from exc
    return bytes(chunks)
