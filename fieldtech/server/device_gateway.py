"""A short way in for the two calls every controller makes all day, ahead of FastAPI's routing.

`GET /v1/device/config` and `POST /v1/device/heartbeat` are most of the traffic (1,000 devices
polling), and most of their cost was the framework around one small query: routing, dependency
injection, a thread-pool hop and the ORM. This ASGI middleware answers them directly with the
same functions the FastAPI routes use (`api/devices.py`), so the answers are the same; anything
unusual (a body that does not validate, another method) goes on to FastAPI untouched, which
answers as it always did.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldtech.server.api.devices import poll_config, record_heartbeat
from fieldtech.server.auth import unauthorized_device
from fieldtech.server.http_limits import read_body, replay
from fieldtech.server.problems import PROBLEM_MEDIA_TYPE, Problem
from fieldtech.server.schemas import HeartbeatIn
from fieldtech.server.security import DEVICE_TOKEN_PREFIX, token_hash
from fieldtech.server.state import ServerState

CONFIG_PATH = "/v1/device/config"
HEARTBEAT_PATH = "/v1/device/heartbeat"
_JSON = b"application/json"


class DeviceGateway:
    """ASGI middleware: answers device config polls and heartbeats, hands on everything else."""

    def __init__(self, app: ASGIApp, state: ServerState):
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == CONFIG_PATH and method == "GET":
                return await self._config(scope, send)
            if path == HEARTBEAT_PATH and method == "POST":
                return await self._heartbeat(scope, receive, send)
        await self.app(scope, receive, send)

    async def _config(self, scope: Scope, send: Send) -> None:
        headers = _headers(scope)
        try:
            digest = self._device(headers)
            document, tag = await poll_config(self.state, digest, headers.get(b"if-none-match"))
        except Problem as problem:
            return await _send_problem(send, problem, scope["path"])
        if document is None:  # unchanged: no body, no Content-Length (as Starlette's Response)
            return await _send(send, 304, b"", [(b"etag", tag.encode())])
        await _send_json(send, 200, document, [(b"etag", tag.encode())])

    async def _heartbeat(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:
            return  # the client went away
        headers = _headers(scope)
        report = _heartbeat_report(body, headers)
        if report is None:  # let FastAPI answer with its usual 422 (or 401 first)
            return await self.app(scope, replay(body, receive), send)
        try:
            digest = self._device(headers)
            answer = await record_heartbeat(self.state, digest, report)
        except Problem as problem:
            return await _send_problem(send, problem, scope["path"])
        await _send_json(send, 200, answer)

    def _device(self, headers: dict[bytes, str]) -> str:
        """The device token's sha256, as `auth.device_token` works it out (401, 429)."""
        scheme, _, credentials = headers.get(b"authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials.startswith(DEVICE_TOKEN_PREFIX):
            raise unauthorized_device()
        digest = token_hash(credentials)
        self.state.device_limiter.check(digest)
        return digest


def _headers(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name not in found:  # the first one wins, as in Starlette's Headers.get
            found[name] = value.decode("latin-1")
    return found


def _heartbeat_report(body: bytes, headers: dict[bytes, str]) -> HeartbeatIn | None:
    """The heartbeat body if it is well-formed JSON that validates; None for FastAPI to judge."""
    content_type = headers.get(b"content-type", "application/json").split(";")[0].strip()
    if not body or content_type.lower() != "application/json":
        return None
    try:
        return HeartbeatIn.model_validate_json(body)
    except ValidationError:
        return None


def _encode(content: Any) -> bytes:
    # as Starlette's JSONResponse
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


async def _send_json(
    send: Send,
    status: int,
    content: Any,
    headers: list[tuple[bytes, bytes]] | None = None,
    media_type: bytes = _JSON,
) -> None:
    payload = _encode(content)
    head = [(b"content-length", str(len(payload)).encode()), (b"content-type", media_type)]
    await _send(send, status, payload, head + (headers or []))


async def _send(
    send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_problem(send: Send, problem: Problem, path: str) -> None:
    headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in problem.headers.items()]
    await _send_json(
        send, problem.kind.status, problem.body(instance=path), headers, PROBLEM_MEDIA_TYPE.encode()
    )
