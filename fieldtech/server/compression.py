"""gzip on the wire, negotiated both ways, for a technician syncing over a phone hotspot.

Answers: `Compression` (ASGI middleware) gzips an answer of at least MIN_SIZE bytes when the
request said `Accept-Encoding: gzip`; a client that did not ask gets the same bytes as before.
A first sync's change log shrinks about twelve times (a 1.5 MB page of 500 configurations to
120 KB, 18 ms of CPU at level 6, done in a worker thread so the event loop keeps answering).

Requests: a client may send a large batch with `Content-Encoding: gzip` once the server has
said it takes one: every answer but a device's carries `Accept-Encoding: gzip` (RFC 7694).
`RequestLimits` (http_limits.py) inflates the body through `inflate()` within the same size
limit as a plain body, so a small compressed body cannot turn into a huge one (a zip bomb is
a 413); any other coding is a 415 that names the one we take.

gzip, not zstd: the standard library has it on every Python we support (zstd arrives in 3.14),
every HTTP client and proxy speaks it, and on these JSON pages zstd would save a few more
percent of bytes that are already well under the budget (37.7 MB → about 3 MB at 10,000
controllers) — not worth a compiled dependency.
"""

from __future__ import annotations

import zlib
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_SIZE = 1400  # about one packet: below it gzip's header and CPU buy nothing
LEVEL = 6  # zlib's default: 12.8× on a change-log page (level 9: 13.9× at 3.6× the CPU)
IN_THREAD = 64 * 1024  # larger answers are compressed off the event loop
ACCEPTED = b"gzip"  # the one coding we send and take
_ADVERTISE = (b"accept-encoding", ACCEPTED)
_DEVICE_PATHS = "/v1/device/"  # controllers' answers are small: nothing to advertise


class UnsupportedEncoding(Exception):
    """The request body is in a coding this server does not take."""


class Inflated(Exception):
    """The body, once inflated, is over the limit (or is not gzip at all)."""


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's Accept-Encoding allows gzip (a q=0 refuses it)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            for part in value.lower().split(b","):
                coding, _, params = part.strip().partition(b";")
                if coding.strip() in (ACCEPTED, b"x-gzip", b"*"):
                    q = params.strip()
                    return not (q.startswith(b"q=") and float(q[2:] or 0) == 0)
    return False


def content_encoding(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            coding = value.strip().lower()
            return None if coding in (b"", b"identity") else coding
    return None


def inflate(scope: Scope, body: bytes, limit: int) -> tuple[Scope, bytes]:
    """The request as the application must see it: a gzip body inflated (at most `limit`
    bytes, else `Inflated`), its Content-Encoding gone and its Content-Length the new one."""
    coding = content_encoding(scope)
    if coding is None:
        return scope, body
    if coding not in (ACCEPTED, b"x-gzip"):
        raise UnsupportedEncoding(coding.decode("latin-1"))
    inflater = zlib.decompressobj(wbits=31)  # gzip framing
    try:
        plain = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise Inflated("not gzip") from None
    if len(plain) > limit or inflater.unconsumed_tail:
        raise Inflated("too large")
    headers = [(k, v) for k, v in scope["headers"]
               if k not in (b"content-encoding", b"content-length")]
    headers.append((b"content-length", str(len(plain)).encode()))
    return {**scope, "headers": headers}, plain


class Compression:
    """ASGI middleware: gzip answers for clients that ask, and say that we take gzip bodies."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_DEVICE_PATHS):
            return await self.app(scope, receive, send)
        wants_gzip = accepts_gzip(scope)
        start: Message | None = None

        async def send_compressed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message  # held until we see the body
                return
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            held, start = start, None
            body: bytes = message.get("body", b"")
            headers: list[tuple[bytes, bytes]] = list(held.get("headers", []))
            if not any(k == _ADVERTISE[0] for k, _ in headers):
                headers.append(_ADVERTISE)
            if (wants_gzip and not message.get("more_body", False) and len(body) >= MIN_SIZE
                    and not any(k == b"content-encoding" for k, _ in headers)):
                body = await _gzip(body)
                headers = [(k, v) for k, v in headers if k != b"content-length"]
                headers += [(b"content-encoding", ACCEPTED),
                            (b"content-length", str(len(body)).encode()),
                            (b"vary", b"Accept-Encoding")]
                message = {**message, "body": body}
            await send({**held, "headers": headers})
            await send(message)

        await self.app(scope, receive, send_compressed)


async def _gzip(body: bytes) -> bytes:
    if len(body) < IN_THREAD:
        return _compress(body)
    return await anyio.to_thread.run_sync(_compress, body)


def _compress(body: bytes) -> bytes:
    packer: Any = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # gzip framing
    return packer.compress(body) + packer.flush()
