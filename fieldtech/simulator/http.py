"""A tiny HTTP/1.1 server on asyncio streams: enough for `POST /rpc` and OpenSprinkler's GETs.

Every answer carries `Connection: close`, like OpenSprinkler's firmware. With `sequential=True`
the server behaves like that firmware too: one request at a time, and a client that opens a
second connection meanwhile waits about a second (`stall`) before being served.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 2 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large"}


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes


@dataclass
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]


class HttpServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0,
                 sequential: bool = False, stall: float = 1.0):
        self.handler, self.host, self.port = handler, host, port
        self.sequential, self.stall = sequential, stall
        self.active = 0
        self.max_active = 0  # the most connections served at once (tests check the drivers)
        self.requests = 0
        self._lock = asyncio.Lock()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, backlog=4 if self.sequential else 100
        )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.sequential:
                if self._lock.locked():
                    await asyncio.sleep(self.stall)  # the firmware's tiny backlog, felt
                async with self._lock:
                    await self._serve(reader, writer)
            else:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            response = await self._read_and_handle(reader)
            if response is None:
                return  # a muted device: close without a word
            self.requests += 1
            head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'OK')}",
                    f"Content-Type: {response.content_type}",
                    f"Content-Length: {len(response.body)}",
                    "Connection: close"]
            head += [f"{k}: {v}" for k, v in response.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + response.body)
            await writer.drain()
        finally:
            self.active -= 1

    async def _read_and_handle(self, reader: asyncio.StreamReader) -> HttpResponse | None:
        raw_head = await reader.readuntil(b"\r\n\r\n")
        if len(raw_head) > MAX_HEADER_BYTES:
            return HttpResponse(413, b"", "text/plain")
        lines = raw_head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return HttpResponse(400, b"Bad Request", "text/plain")
        method, target, _ = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            return HttpResponse(400, b"Bad Request", "text/plain")
        if length > MAX_BODY_BYTES or length < 0:
            return HttpResponse(413, b"", "text/plain")
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "POST" and body and "form" in headers.get("content-type", ""):
            query.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return await self.handler(HttpRequest(method, url.path, query, body))
