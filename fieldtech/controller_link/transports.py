"""How native-protocol requests reach a controller: HTTP `POST /rpc`, or a serial line."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import serial

from fieldtech.controller_link import jsonrpc
from fieldtech.controller_link.errors import (
    DeviceTimeout,
    DeviceUnreachable,
    ProtocolError,
)
from fieldtech.controller_link.serial_port import open_port, port_error


@contextmanager
def http_errors(address: str, device: str, busy: str, where: str) -> Iterator[None]:
    """httpx's exceptions as the named LinkErrors, with driver-specific advice."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise DeviceTimeout(f"{device} at {address} did not answer in time. {busy}",
                            address=address) from exc
    except (httpx.ConnectError, httpx.NetworkError) as exc:
        raise DeviceUnreachable(f"Nothing answers at {address}. {where}", address=address) from exc
    except httpx.HTTPError as exc:
        raise ProtocolError(
            f"{device} at {address} broke off its answer ({exc.__class__.__name__}).",
            address=address,
        ) from exc


class RpcTransport(ABC):
    """Sends one JSON-RPC request and returns its result (or raises a named LinkError)."""

    address: str

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    @abstractmethod
    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float | None = None) -> Any:
        """The result; `timeout` overrides the transport's for a slow method (wifi.set)."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to release by default
        pass


class HttpRpc(RpcTransport):
    def __init__(self, base_url: str, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__()
        self.address = base_url.rstrip("/")
        if "://" not in self.address:
            self.address = "http://" + self.address
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport)

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float | None = None) -> Any:
        request_id = next(self._ids)
        body = jsonrpc.encode_request(method, params, request_id)
        url = self.address + jsonrpc.RPC_PATH
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        with http_errors(self.address, "The controller",
                         busy="It may be busy or on a weak Wi-Fi link; try again.",
                         where="Check that the controller is on and on this network."):
            reply = await self._client.post(
                url, content=body, headers={"Content-Type": "application/json"}, **extra
            )
        if reply.status_code != 200:
            raise ProtocolError(
                f"{self.address} answered HTTP {reply.status_code} to the fieldtech protocol: "
                "is it a fieldtech controller?",
                address=self.address,
            )
        return jsonrpc.decode_response(reply.content, request_id, self.address)

    async def aclose(self) -> None:
        await self._client.aclose()


class SerialRpc(RpcTransport):
    """One JSON object per line, 115200 8N1. The port stays open until `aclose`."""

    def __init__(self, path: str, timeout: float = 3.0, port: serial.Serial | None = None):
        super().__init__()
        self.address = path
        self.timeout = timeout
        self._port = port
        self._lock = threading.Lock()  # one exchange at a time on the wire

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float | None = None) -> Any:
        request_id = next(self._ids)
        line = jsonrpc.encode_request(method, params, request_id) + b"\n"
        return await asyncio.to_thread(self._exchange, line, request_id,
                                       self.timeout if timeout is None else timeout)

    def _exchange(self, line: bytes, request_id: int, timeout: float) -> Any:
        with self._lock:
            if self._port is None:
                self._port = open_port(self.address)
            port = self._port
            try:
                port.reset_input_buffer()  # drop boot logs and stale answers
                port.write(line)
                port.flush()
                return self._read_answer(port, request_id, timeout)
            except (serial.SerialException, OSError) as exc:
                raise port_error(exc, self.address) from exc

    def _read_answer(self, port: serial.Serial, request_id: int, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        buffer = bytearray()
        noise = False
        while time.monotonic() < deadline:
            chunk = port.read(max(1, port.in_waiting))
            if not chunk:
                continue
            buffer += chunk
            while b"\n" in buffer:
                raw, _, rest = bytes(buffer).partition(b"\n")
                buffer = bytearray(rest)
                answer = _json_object(raw.strip())
                if answer is None:
                    noise = noise or bool(raw.strip())  # log lines, line noise: skip them
                    continue
                if "method" in answer:
                    continue  # a request: our own line echoed back by the adapter
                if answer.get("id") != request_id:
                    continue  # a late answer to an earlier request
                return jsonrpc.decode_response(raw, request_id, self.address)
            if len(buffer) > jsonrpc.MAX_MESSAGE_BYTES:
                raise ProtocolError(
                    f"{self.address} sends data without line breaks: is the baud rate 115200?",
                    address=self.address,
                )
        if noise or buffer:
            raise ProtocolError(
                f"The device on {self.address} sent only unreadable data. Check that it speaks "
                "the fieldtech protocol at 115200 baud.",
                address=self.address,
            )
        raise DeviceTimeout(
            f"The device on {self.address} did not answer within {timeout:g} s. Check the "
            "cable and that the controller is powered.",
            address=self.address,
        )

    async def aclose(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            await asyncio.to_thread(port.close)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None

