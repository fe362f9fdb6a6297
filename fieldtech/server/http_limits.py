"""HTTP-level protections: what a client may send, and how slowly, checked before anyone is
authenticated; and the headers every answer carries (`SafeHeaders`).

Two layers of limits. `LimitedHttpProtocol` is uvicorn's httptools protocol with a cap on the
request line and headers (431) and a deadline for them (408), which also ends connections that never
send a request. `RequestLimits` is ASGI middleware, outermost, that reads each body within a
size limit (413) and a deadline (408) before any route or token lookup sees it. The figures
and the reasons for them are in docs/server.md ("Limits").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fieldtech.domain.validation import control_character_error
from fieldtech.server.compression import ACCEPTED, Inflated, UnsupportedEncoding, inflate
from fieldtech.server.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemType

MAX_BODY_BYTES = 1024 * 1024  # a whole controller configuration is under 200 KB
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024  # keeps one batch's hold on SQLite's writer under ~1 s
MAX_HEADER_BYTES = 16 * 1024  # request line and headers together, as nginx's default buffers
MAX_HEADERS = 100
HEADER_TIMEOUT_S = 10.0  # from connecting (or the previous answer) to the end of the headers
BODY_TIMEOUT_S = 30.0  # to send the whole body: 4 MB at about 1 Mbit/s
KEEP_ALIVE_S = 5  # an idle connection between requests
# On stop, requests still running get this long, then are cancelled: a long-poll (up to 30 s)
# otherwise held a stop (a deploy, the demo's quit: 10 s) to its end. Its client polls again
# (on another process, behind a load balancer); a batch cut here rolls back and is retried
# under its idempotency key.
STOP_GRACE_S = 3.0


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings every way of serving the API uses (CLI, embedded, tests)."""
    return {
        "http": LimitedHttpProtocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "timeout_graceful_shutdown": STOP_GRACE_S,
        "server_header": False,  # no need to tell which server (and version) answers
        "log_level": "warning",
        "access_log": False,
    }


def _problem_bytes(kind: ProblemType, detail: str, path: str | None = None) -> bytes:
    return json.dumps(Problem(kind, detail).body(instance=path)).encode()


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's protocol, refusing headers that are too large or too slow to arrive."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._refused = False
        self._header_bytes = self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = self._header_count = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        if self._within(len(url), 0):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within(len(name) + len(value), 1):
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self._refused:
            self._cancel_header_timer()
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to bytes that are not HTTP is text/plain; ours is a problem
        self._refuse(ProblemType.BAD_REQUEST, "That is not an HTTP/1.1 request.")

    def _within(self, size: int, count: int) -> bool:
        if self._refused:
            return False
        self._header_bytes += size
        self._header_count += count
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            self._refuse(
                ProblemType.HEADERS_TOO_LARGE,
                f"Send at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes of request "
                "line and headers.",
            )
            return False
        return True

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its headers did arrive in time
        self._refuse(
            ProblemType.TIMEOUT,
            f"No complete request within {HEADER_TIMEOUT_S:.0f} s; the connection is closed.",
        )

    def _refuse(self, kind: ProblemType, detail: str) -> None:
        """Answer with a problem and close: what is left of the request is never read."""
        self._refused = True
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        payload = _problem_bytes(kind, detail)
        head = (
            f"HTTP/1.1 {kind.status} {HTTPStatus(kind.status).phrase}\r\n"
            f"content-type: {PROBLEM_MEDIA_TYPE}\r\ncontent-length: {len(payload)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + payload)
        self.transport.close()


class RequestLimits:
    """ASGI middleware: the body is read whole, within its size limit and deadline, before the
    application (the device gateway, authentication, the routes) sees the request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if refused := _refused_query(scope):
            return await refused(send, scope)
        limit = MAX_BATCH_BODY_BYTES if scope["path"] == "/v1/sync/batch" else MAX_BODY_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:  # refused without reading a byte of it
            return await _too_large(send, scope, limit)
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await read_body(receive, limit)
        except TimeoutError:
            return await _send_problem(
                send, scope, ProblemType.TIMEOUT,
                f"The body did not arrive within {BODY_TIMEOUT_S:.0f} s.",
            )
        except _TooLarge:
            return await _too_large(send, scope, limit)
        if body is None:
            return  # the client went away
        try:
            scope, body = inflate(scope, body, limit)  # a gzip body: within the same limit
        except UnsupportedEncoding as exc:
            return await _send_problem(
                send, scope, ProblemType.UNSUPPORTED_ENCODING,
                f"This server takes bodies as they are or in gzip, not in {exc}.",
                headers=[(b"accept-encoding", ACCEPTED)],
            )
        except Inflated as exc:
            if str(exc) == "not gzip":
                return await _send_problem(send, scope, ProblemType.BAD_REQUEST,
                                           "The body says gzip but is not gzip.")
            return await _too_large(send, scope, limit)
        await self.app(scope, replay(body, receive), send)


# No route, id or query value of ours holds a control character, and PostgreSQL's text cannot
# hold NUL at all: without this check a NUL in an id was a 404 on SQLite and a bare 422 ("not
# storable") on PostgreSQL, and every route had to remember it. Answered the same way on both,
# before any token or database is looked at (a 404 here says nothing about any account). A
# parameter given twice is refused too: FastAPI silently took the last one.
def _refused_query(scope: Scope) -> Callable[[Send, Scope], Awaitable[None]] | None:
    if control_character_error(scope["path"]):
        return partial(
            _refuse, ProblemType.NOT_FOUND, "Nothing here: no id holds control characters."
        )
    query = scope.get("query_string", b"").decode("latin-1")
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if control_character_error(name):
            field, message = "query", control_character_error(name)
        elif name in seen:  # every parameter of ours takes one value: which one was meant?
            field, message = name, "Give this parameter once."
        else:
            field, message = name, control_character_error(value)
        if message:
            return partial(_refuse, ProblemType.VALIDATION, f"{field}: {message}",
                           errors=[{"field": field, "message": message}])
        seen.add(name)
    return None


async def _refuse(kind: ProblemType, detail: str, send: Send, scope: Scope, **extra: Any) -> None:
    await _send_problem(send, scope, kind, detail, **extra)


class _TooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the parser checked its syntax
    return None


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The whole request body (None if the client went away); over `limit` raises _TooLarge."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then carries on with the real one."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _too_large(send: Send, scope: Scope, limit: int) -> None:
    await _send_problem(
        send, scope, ProblemType.TOO_LARGE,
        f"This endpoint takes at most {limit} bytes of body"
        + (" (split the batch)." if limit == MAX_BATCH_BODY_BYTES else "."),
        limit=limit,
    )


async def _send_problem(
    send: Send, scope: Scope, kind: ProblemType, detail: str,
    headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
) -> None:
    payload = json.dumps(Problem(kind, detail, **extra).body(instance=scope["path"])).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),  # the rest of the body is never read
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": kind.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class SafeHeaders:
    """ASGI middleware: every answer says not to guess its type and not to keep it in a cache
    (they carry account data; the login answer carries a token)."""

    _HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
