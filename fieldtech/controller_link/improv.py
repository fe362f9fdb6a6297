"""Improv Wi-Fi over serial (improv-wifi.com/serial): give a controller its Wi-Fi credentials.

A frame is `IMPROV`, version (1), type, length, data, checksum (low byte of the sum of every
byte before it). Devices often add a newline after a frame and print logs between frames, so
the reader skips anything that is not a frame; like the official clients it looks for the
header only where a frame can start (after a newline or a frame), never inside a log line.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from enum import IntEnum

import serial

from fieldtech.controller_link.errors import (
    DeviceTimeout,
    ImprovChecksumError,
    ProtocolError,
    improv_error,
)
from fieldtech.controller_link.serial_port import open_port, port_error
from fieldtech.domain.errors import FieldError, ValidationError

HEADER = b"IMPROV"
VERSION = 1
_FIXED = len(HEADER) + 3  # header, version, type, length
# ESPHome gives up joining after 30 s and only then sends "unable to connect": wait longer
WIFI_JOIN_WAIT = 40.0
SCAN_WAIT = 15.0  # a Wi-Fi scan takes a few seconds on an ESP32
MAX_LOG_LINE = 4096  # a log line without a newline this long is dropped


class FrameType(IntEnum):
    CURRENT_STATE = 0x01
    ERROR_STATE = 0x02
    RPC_COMMAND = 0x03
    RPC_RESULT = 0x04


class ImprovState(IntEnum):
    STOPPED = 0x00  # the SDK's "stopped": Improv is not running on the device right now
    AUTHORIZATION_REQUIRED = 0x01
    READY = 0x02
    PROVISIONING = 0x03
    PROVISIONED = 0x04

    @property
    def label(self) -> str:
        return {
            0: "not taking Wi-Fi credentials now (Improv stopped; restart the device)",
            1: "waiting for authorisation (press the device's button)",
            2: "ready for Wi-Fi credentials",
            3: "joining the Wi-Fi network…",
            4: "on the Wi-Fi network",
        }[self.value]


class Command(IntEnum):
    WIFI_SETTINGS = 0x01
    CURRENT_STATE = 0x02
    DEVICE_INFO = 0x03
    SCAN_NETWORKS = 0x04


@dataclass(frozen=True)
class ImprovFrame:
    type: int
    data: bytes


@dataclass(frozen=True)
class ImprovStatus:
    state: ImprovState
    url: str | None = None


@dataclass(frozen=True)
class WifiNetwork:
    """One network a device's scan found."""

    ssid: str
    rssi: int  # dBm, e.g. -60
    secured: bool


@dataclass(frozen=True)
class ImprovDeviceInfo:
    firmware: str
    version: str
    chip: str
    name: str


def encode_frame(frame_type: int, data: bytes = b"") -> bytes:
    if len(data) > 255:
        raise ValueError("an Improv frame holds at most 255 bytes of data")
    packet = HEADER + bytes([VERSION, frame_type, len(data)]) + data
    return packet + bytes([sum(packet) & 0xFF]) + b"\n"


def encode_rpc(command: int, payload: bytes = b"") -> bytes:
    return encode_frame(FrameType.RPC_COMMAND, bytes([command, len(payload)]) + payload)


def encode_strings(*values: str) -> bytes:
    out = bytearray()
    for value in values:
        raw = value.encode()
        out += bytes([len(raw)]) + raw
    return bytes(out)


def encode_rpc_result(command: int, *values: str, trailer: bytes = b"") -> bytes:
    """An RPC result frame; `trailer` is what the SDK (1.2.4+) adds on serial: b"\\x00"."""
    strings = encode_strings(*values)
    return encode_frame(FrameType.RPC_RESULT, bytes([command, len(strings)]) + strings + trailer)


def wifi_payload(ssid: str, password: str) -> bytes:
    errors = []
    if not ssid or len(ssid.encode()) > 32:
        errors.append(FieldError("ssid", "A Wi-Fi network name is 1 to 32 characters."))
    if len(password.encode()) > 63:
        errors.append(FieldError("password", "A Wi-Fi password is at most 63 characters."))
    if errors:
        raise ValidationError(errors)
    return encode_strings(ssid, password)


def decode_frames(buffer: bytes) -> tuple[list[ImprovFrame], bytes]:
    """Complete frames in `buffer` and the unread rest; skips noise between frames.

    A frame whose checksum is wrong raises ImprovChecksumError: on a serial line that means
    noise or a wrong baud rate, and the technician should know rather than wait.
    """
    frames: list[ImprovFrame] = []
    while True:
        # `buffer` always begins where a frame may start: a header here, or a line to skip
        if not buffer.startswith(HEADER[: len(buffer)]) or not buffer:
            newline = buffer.find(b"\n")
            if newline < 0:
                return frames, buffer if len(buffer) <= MAX_LOG_LINE else b""
            buffer = buffer[newline + 1:]
            continue
        if len(buffer) < _FIXED:
            return frames, buffer
        total = _FIXED + buffer[8] + 1
        if len(buffer) < total:
            return frames, buffer
        frames.append(parse_frame(buffer[:total]))
        buffer = buffer[total:]


def parse_frame(raw: bytes) -> ImprovFrame:
    """One complete frame, checked; a named error for anything else."""
    if len(raw) < _FIXED + 1 or not raw.startswith(HEADER):
        raise ProtocolError("An Improv frame was cut short or has no IMPROV header.")
    length = raw[8]
    if len(raw) != _FIXED + length + 1:
        raise ProtocolError("An Improv frame's length does not match its data.")
    if sum(raw[:-1]) & 0xFF != raw[-1]:
        raise ImprovChecksumError(
            "An Improv frame arrived damaged (bad checksum): check the cable and that nothing "
            "else uses the port, then try again."
        )
    if raw[6] != VERSION:
        raise ProtocolError(f"The device speaks Improv version {raw[6]}, fieldtech knows 1.")
    return ImprovFrame(raw[7], bytes(raw[_FIXED:-1]))


def parse_rpc_result(data: bytes) -> tuple[int, list[str]]:
    """(command, strings) of an RPC result frame's data.

    Read by its own length byte, ignoring what follows: the SDK's serial path (1.2.4+) adds
    a 0x00 after the strings, and the official clients read past it the same way.
    """
    if len(data) < 2 or data[1] > len(data) - 2:
        raise ProtocolError("The device sent an Improv result of the wrong length.")
    end = 2 + data[1]
    strings, i = [], 2
    while i < end:
        n = data[i]
        if i + 1 + n > end:
            raise ProtocolError("The device sent an Improv result with a cut-off string.")
        strings.append(data[i + 1 : i + 1 + n].decode("utf-8", errors="replace"))
        i += 1 + n
    return data[0], strings


def parse_state(data: bytes) -> ImprovState:
    if len(data) != 1:
        raise ProtocolError(f"The device reported an unreadable Improv state {data.hex()}.")
    try:
        return ImprovState(data[0])
    except ValueError as exc:
        raise ProtocolError(f"The device reported an unknown Improv state {data.hex()}.") from exc


class ImprovClient:
    """Improv over one serial port. Blocking I/O runs in a worker thread."""

    def __init__(self, path: str, timeout: float = 2.0, port: serial.Serial | None = None):
        self.address = path
        self.timeout = timeout
        self._port = port
        self._lock = threading.Lock()

    async def request_state(self) -> ImprovStatus:
        return await asyncio.to_thread(self._state)

    async def device_info(self) -> ImprovDeviceInfo:
        return await asyncio.to_thread(self._device_info)

    async def rpc(self, command: int, payload: bytes = b"") -> list[str]:
        """Any Improv RPC command; the strings of its result."""
        return await asyncio.to_thread(self._rpc, command, payload)

    async def set_wifi(self, ssid: str, password: str,
                       timeout: float = WIFI_JOIN_WAIT) -> ImprovStatus:
        """Send credentials; returns once provisioned, with the URL the device reports.

        Waits longer than the device tries to join, so a wrong password comes back as the
        device's "unable to connect", not as our own timeout.
        """
        payload = wifi_payload(ssid, password)
        return await asyncio.to_thread(self._set_wifi, payload, timeout)

    async def scan_networks(self, timeout: float = SCAN_WAIT) -> list[WifiNetwork]:
        """The Wi-Fi networks the device can see, strongest first (for picking one)."""
        return await asyncio.to_thread(self._scan, timeout)

    async def aclose(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            await asyncio.to_thread(port.close)

    async def __aenter__(self) -> ImprovClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- blocking side -------------------------------------------------------------------

    def _state(self) -> ImprovStatus:
        with self._lock:
            self._send(encode_rpc(Command.CURRENT_STATE))
            state: ImprovState | None = None
            deadline = time.monotonic() + self.timeout
            for frame in self._frames(deadline):
                if frame.type == FrameType.CURRENT_STATE:
                    state = parse_state(frame.data)
                    if state is not ImprovState.PROVISIONED:
                        return ImprovStatus(state)
                    # a provisioned device follows with its URL; don't wait long for it
                    deadline = min(deadline, time.monotonic() + 0.5)
                elif frame.type == FrameType.RPC_RESULT and state is not None:
                    _, strings = parse_rpc_result(frame.data)
                    return ImprovStatus(state, strings[0] if strings else None)
                elif frame.type == FrameType.ERROR_STATE:
                    self._raise_error(frame)
            if state is not None:
                return ImprovStatus(state)
            raise self._timeout(self.timeout)

    def _device_info(self) -> ImprovDeviceInfo:
        strings = self._rpc(Command.DEVICE_INFO, b"")
        if len(strings) < 4:
            raise ProtocolError("The device sent incomplete Improv device info.",
                                address=self.address)
        return ImprovDeviceInfo(*strings[:4])

    def _rpc(self, command: int, payload: bytes) -> list[str]:
        with self._lock:
            self._send(encode_rpc(command, payload))
            for frame in self._frames(time.monotonic() + self.timeout):
                if frame.type == FrameType.ERROR_STATE:
                    self._raise_error(frame)
                if frame.type == FrameType.RPC_RESULT:
                    answered, strings = parse_rpc_result(frame.data)
                    if answered == command:
                        return strings
            raise self._timeout(self.timeout)

    def _scan(self, timeout: float) -> list[WifiNetwork]:
        # one result per network, then an empty one to say the list is complete
        with self._lock:
            self._send(encode_rpc(Command.SCAN_NETWORKS))
            networks: list[WifiNetwork] = []
            for frame in self._frames(time.monotonic() + timeout):
                if frame.type == FrameType.ERROR_STATE:
                    self._raise_error(frame)
                if frame.type != FrameType.RPC_RESULT:
                    continue
                answered, strings = parse_rpc_result(frame.data)
                if answered != Command.SCAN_NETWORKS:
                    continue
                if not strings:
                    return sorted(networks, key=lambda n: -n.rssi)
                networks.append(_network(strings, self.address))
            raise self._timeout(timeout)

    def _set_wifi(self, payload: bytes, timeout: float) -> ImprovStatus:
        with self._lock:
            self._send(encode_rpc(Command.WIFI_SETTINGS, payload))
            provisioned = False
            deadline = time.monotonic() + timeout
            for frame in self._frames(deadline):
                if frame.type == FrameType.ERROR_STATE:
                    self._raise_error(frame)
                elif frame.type == FrameType.CURRENT_STATE:
                    provisioned = parse_state(frame.data) is ImprovState.PROVISIONED
                elif frame.type == FrameType.RPC_RESULT:
                    command, strings = parse_rpc_result(frame.data)
                    if command == Command.WIFI_SETTINGS:
                        url = strings[0] if strings else None
                        return ImprovStatus(ImprovState.PROVISIONED, url)
            if provisioned:
                return ImprovStatus(ImprovState.PROVISIONED)
            raise self._timeout(timeout)

    def _raise_error(self, frame: ImprovFrame) -> None:
        code = frame.data[0] if frame.data else 0xFF
        if code != 0x00:  # 0 = "no error", sent when an earlier error clears
            raise improv_error(code, self.address)

    def _send(self, data: bytes) -> None:
        try:
            if self._port is None:
                self._port = open_port(self.address)
            self._port.reset_input_buffer()
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise port_error(exc, self.address) from exc

    def _frames(self, deadline: float):  # -> Iterator[ImprovFrame]
        assert self._port is not None
        buffer = b""
        while time.monotonic() < deadline:
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise port_error(exc, self.address) from exc
            if not chunk:
                continue
            frames, buffer = decode_frames(buffer + chunk)
            yield from frames

    def _timeout(self, waited: float) -> DeviceTimeout:
        return DeviceTimeout(
            f"No Improv answer on {self.address} within {waited:g} s. The device may not "
            "support Improv, or may need a reset.",
            address=self.address,
        )


def _network(strings: list[str], address: str) -> WifiNetwork:
    """A scan result: SSID, RSSI and "YES"/"NO" for whether it needs a password."""
    try:
        return WifiNetwork(strings[0], int(strings[1]), strings[2].upper() == "YES")
    except (IndexError, ValueError) as exc:
        raise ProtocolError("The device sent an unreadable Wi-Fi scan result.",
                            address=address) from exc
