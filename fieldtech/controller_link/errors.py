"""Every error the controller link raises, written for the technician standing at the controller.

One module, so the TUI can catch `LinkError` for "show it and carry on" and the few subclasses
it acts on (`WrongPassword` → ask again, `RevisionConflict` → re-read and compare, …).
"""

from __future__ import annotations

from typing import Any

from fieldtech.domain.errors import FieldtechError


class LinkError(FieldtechError):
    """Talking to a controller failed; the message says what happened and what to do."""

    def __init__(self, message: str, *, address: str | None = None):
        self.address = address
        super().__init__(message)


# --- reaching the device -------------------------------------------------------------------


class DeviceUnreachable(LinkError):
    """Nothing answered at that address (wrong host/port, device off, other network)."""


class DeviceTimeout(LinkError):
    """The device accepted the connection or the line but did not answer in time."""


class ProtocolError(LinkError):
    """The device answered, but not in a form we understand (garbled, truncated, wrong types)."""


class NotSupported(LinkError):
    """This kind of controller cannot do what was asked (e.g. Wi-Fi set-up on OpenSprinkler)."""


# --- native fieldtech protocol (JSON-RPC 2.0) ---------------------------------------------


class RpcError(LinkError):
    """The controller refused a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None, *, address: str | None = None):
        self.code, self.data = code, data
        super().__init__(message, address=address)


class RevisionConflict(RpcError):
    """The device's configuration changed since we read it: re-read, compare, then push again."""


class InvalidRequest(RpcError):
    """The controller says a value we sent is out of range or missing."""


# --- serial ports --------------------------------------------------------------------------


class SerialPortError(LinkError):
    """A serial port could not be opened or used."""


class SerialPortNotFound(SerialPortError):
    """The port does not exist (cable unplugged, or a different name after re-plugging)."""


class SerialPortBusy(SerialPortError):
    """Another program holds the port (a serial monitor, ModemManager, another fieldtech)."""


class SerialPermissionDenied(SerialPortError):
    """The user may not open the port (not in the dialout group)."""


# --- OpenSprinkler -------------------------------------------------------------------------


class OpenSprinklerError(LinkError):
    """An OpenSprinkler refused a request; `result` is its numeric result code."""

    result: int = 0

    def __init__(self, message: str, *, result: int | None = None, address: str | None = None):
        if result is not None:
            self.result = result
        super().__init__(message, address=address)


class WrongPassword(OpenSprinklerError):
    result = 2


class PasswordMismatch(OpenSprinklerError):
    result = 3


class DataMissing(OpenSprinklerError):
    result = 16


class OutOfRange(OpenSprinklerError):
    result = 17


class FormatError(OpenSprinklerError):
    result = 18


class RfCodeError(OpenSprinklerError):
    result = 19


class PageNotFound(OpenSprinklerError):
    result = 32


class NotPermitted(OpenSprinklerError):
    result = 48


class UploadFailed(OpenSprinklerError):
    result = 64


class UnknownResult(OpenSprinklerError):
    """A result code this driver does not know (newer firmware?)."""


# Result code → (error class, what to tell the technician).
OPENSPRINKLER_RESULTS: dict[int, tuple[type[OpenSprinklerError], str]] = {
    2: (
        WrongPassword,
        "The OpenSprinkler refused the password. Check it in the controller's own app "
        "(factory password: opendoor).",
    ),
    3: (PasswordMismatch, "The OpenSprinkler says the new password and its confirmation differ."),
    16: (DataMissing, "The OpenSprinkler says a value is missing from the request."),
    17: (
        OutOfRange,
        "The OpenSprinkler says a value is out of range (or the zone is not running).",
    ),
    18: (FormatError, "The OpenSprinkler could not read a value (format error)."),
    19: (RfCodeError, "The OpenSprinkler refused an RF station code."),
    32: (PageNotFound, "The OpenSprinkler does not know this request (firmware too old?)."),
    48: (
        NotPermitted,
        "The OpenSprinkler did not allow this now (e.g. the zone is already running or queued).",
    ),
    64: (UploadFailed, "The OpenSprinkler could not store the upload."),
}


def opensprinkler_error(result: int, address: str | None = None) -> OpenSprinklerError:
    cls, message = OPENSPRINKLER_RESULTS.get(
        result, (UnknownResult, f"The OpenSprinkler answered with unknown result code {result}.")
    )
    return cls(message, result=result, address=address)


# --- Improv Wi-Fi --------------------------------------------------------------------------


class ImprovError(LinkError):
    """The device reported an Improv error; `code` is the Improv error byte."""

    code: int = 0xFF

    def __init__(self, message: str, *, code: int | None = None, address: str | None = None):
        if code is not None:
            self.code = code
        super().__init__(message, address=address)


class ImprovInvalidPacket(ImprovError):
    code = 0x01


class ImprovUnknownCommand(ImprovError):
    code = 0x02


class ImprovUnableToConnect(ImprovError):
    code = 0x03


class ImprovNotAuthorized(ImprovError):
    code = 0x04


class ImprovUnknownError(ImprovError):
    code = 0xFF


IMPROV_ERRORS: dict[int, tuple[type[ImprovError], str]] = {
    0x01: (ImprovInvalidPacket, "The device could not read our Improv packet. Try again."),
    0x02: (
        ImprovUnknownCommand,
        "The device does not support this Improv command (older firmware?).",
    ),
    0x03: (
        ImprovUnableToConnect,
        "The device could not join that Wi-Fi network. Check the network name and password, "
        "and that the network is 2.4 GHz and in range.",
    ),
    0x04: (
        ImprovNotAuthorized,
        "The device wants to be authorised first: press its button, then try again.",
    ),
    0xFF: (ImprovUnknownError, "The device reported an unknown Improv error."),
}


def improv_error(code: int, address: str | None = None) -> ImprovError:
    cls, message = IMPROV_ERRORS.get(
        code, (ImprovUnknownError, f"The device reported Improv error 0x{code:02X}.")
    )
    return cls(message, code=code, address=address)


class ImprovChecksumError(ProtocolError):
    """An Improv frame arrived with a wrong checksum (noise on the line, wrong baud rate)."""


# --- binding a device to a record ----------------------------------------------------------


class BindError(LinkError):
    """A device cannot be bound to that controller record."""


class SerialAlreadyBound(BindError):
    """Another controller record already carries this serial number."""


class RecordAlreadyBound(BindError):
    """The record is bound to a different device; binding again replaces it (confirm first)."""


# --- discovery -----------------------------------------------------------------------------


class ProbeRefused(LinkError):
    """fieldtech will not probe that address (public, or outside what this session allows)."""
