"""A virtual USB cable: a pty whose far end speaks the native protocol line by line and Improv.

The simulator keeps both ends open; the app opens the slave path (`/dev/pts/N`) with pyserial
exactly as it would open `/dev/ttyUSB0`.

Improv as ESPHome's SDK (1.2.4+) does it on serial (issue 13): a 0x00 after the strings of
every RPC result, one scan result per network then an empty one, and a failed join reported
("unable to connect") only after 30 s of trying. Knobs for what real cables do: `echo` (an
adapter that sends back what it receives) and `log_line` (printed before each answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Sequence

from fieldtech.controller_link import improv
from fieldtech.controller_link.errors import ProtocolError
from fieldtech.controller_link.improv import Command, FrameType, ImprovState
from fieldtech.simulator.native_device import NativeDevice

MAX_LINE = 1 << 20
JOIN_FAIL_SECONDS = 30.0  # ESPHome's Wi-Fi connect timeout: "unable to connect" comes after it
NETWORKS = (("Site-WiFi", -52, True), ("Guest", -71, False), ("Barn", -80, True))
RESULT_TRAILER = b"\x00"  # the SDK's serial path leaves it after the strings


class PtySerialDevice:
    """Serves one NativeDevice on a pty. `native=False` makes an Improv-only device."""

    def __init__(self, device: NativeDevice, native: bool = True, improv_delay: float = 0.05,
                 join_fail_seconds: float = JOIN_FAIL_SECONDS, echo: bool = False,
                 log_line: bytes = b"",
                 networks: Sequence[tuple[str, int, bool]] = NETWORKS):
        self.device, self.native, self.improv_delay = device, native, improv_delay
        self.join_fail_seconds, self.echo, self.log_line = join_fail_seconds, echo, log_line
        self.networks = list(networks)
        self.path = ""
        self._master = self._slave = -1
        self._buffer = b""
        self._out = b""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass through as on a UART
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._loop.add_reader(self._master, self._on_readable)

    async def stop(self) -> None:
        if self._loop is None:
            return
        for task in list(self._tasks):
            task.cancel()
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._loop = None

    # --- reading ---------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while nobody has the port open
        if self.echo:
            self._write(chunk)
        self._buffer += chunk
        self._consume()

    def _consume(self) -> None:
        while self._buffer:
            start = self._buffer.find(improv.HEADER)
            newline = self._buffer.find(b"\n")
            if start == 0:
                if len(self._buffer) < 10:
                    return
                total = 9 + self._buffer[8] + 1
                if len(self._buffer) < total:
                    return
                frame, self._buffer = self._buffer[:total], self._buffer[total:]
                self._spawn(self._on_improv(frame))
            elif newline >= 0 and (start < 0 or newline < start):
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
                if self.native and line.strip():
                    self._spawn(self._on_line(line.strip()))
            elif start > 0:
                self._buffer = self._buffer[start:]  # noise before a frame
            else:
                if len(self._buffer) > MAX_LINE:
                    self._buffer = b""
                return

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_line(self, line: bytes) -> None:
        answer = await self.device.handle(line)
        if answer is not None:
            self._write(answer + b"\n")

    # --- Improv ----------------------------------------------------------------------------

    async def _on_improv(self, raw: bytes) -> None:
        try:
            frame = improv.parse_frame(raw)
        except ProtocolError:
            self._write(improv.encode_frame(FrameType.ERROR_STATE, b"\x01"))  # invalid packet
            return
        if frame.type != FrameType.RPC_COMMAND or len(frame.data) < 2:
            self._write(improv.encode_frame(FrameType.ERROR_STATE, b"\x01"))
            return
        command, payload = frame.data[0], frame.data[2:]
        if self.log_line:
            self._write(self.log_line)
        if command == Command.CURRENT_STATE:
            self._send_state()
        elif command == Command.DEVICE_INFO:
            d = self.device
            self._write(_result(command, "fieldtech-sim", d.firmware, d.model, d.name))
        elif command == Command.WIFI_SETTINGS:
            await self._provision(payload)
        elif command == Command.SCAN_NETWORKS:
            for ssid, rssi, secured in self.networks:
                self._write(_result(command, ssid, str(rssi), "YES" if secured else "NO"))
            self._write(_result(command))  # the end of the list
        else:
            self._write(improv.encode_frame(FrameType.ERROR_STATE, b"\x02"))

    def _state(self) -> ImprovState:
        return ImprovState.PROVISIONED if self.device.wifi_ssid else ImprovState.READY

    def _send_state(self) -> None:
        self._write(improv.encode_frame(FrameType.CURRENT_STATE, bytes([self._state()])))
        if self._state() is ImprovState.PROVISIONED:
            self._write(_result(Command.CURRENT_STATE, self._url()))

    async def _provision(self, payload: bytes) -> None:
        try:
            _, (ssid, password) = improv.parse_rpc_result(bytes([1, len(payload)]) + payload)
        except (ProtocolError, ValueError):
            self._write(improv.encode_frame(FrameType.ERROR_STATE, b"\x01"))
            return
        self._write(improv.encode_frame(FrameType.CURRENT_STATE,
                                        bytes([ImprovState.PROVISIONING])))
        if not ssid or (password and len(password) < 8):
            await asyncio.sleep(self.join_fail_seconds)  # it keeps trying until its timeout
            self._write(improv.encode_frame(FrameType.ERROR_STATE, b"\x03"))  # unable to connect
            self._write(improv.encode_frame(FrameType.CURRENT_STATE, bytes([self._state()])))
            return
        await asyncio.sleep(self.improv_delay)  # "joining the network"
        self.device.wifi_ssid = ssid
        self.device.save()
        self._write(improv.encode_frame(FrameType.CURRENT_STATE,
                                        bytes([ImprovState.PROVISIONED])))
        self._write(_result(Command.WIFI_SETTINGS, self._url()))

    def _url(self) -> str:
        return self.device.http_url or "http://127.0.0.1/"

    # --- writing (the pty buffer is small: queue and drain when writable) ------------------

    def _write(self, data: bytes) -> None:
        if self._loop is None:
            return
        pending = bool(self._out)
        self._out += data
        if not pending:
            self._flush()

    def _flush(self) -> None:
        if self._loop is None:
            return
        try:
            written = os.write(self._master, self._out)
            self._out = self._out[written:]
        except BlockingIOError:
            pass
        except OSError:
            self._out = b""
        if self._out:
            self._loop.add_writer(self._master, self._flush)
        else:
            self._loop.remove_writer(self._master)


def _result(command: int, *values: str) -> bytes:
    return improv.encode_rpc_result(command, *values, trailer=RESULT_TRAILER)
