"""The native fieldtech protocol's wire format: JSON-RPC 2.0, one object per request.

Both sides use this module: the drivers (requests out, responses in) and the simulator
(requests in, responses out), so the two can never drift apart. docs/protocol.md describes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fieldtech.controller_link.errors import (
    InvalidRequest,
    ProtocolError,
    RevisionConflict,
    RpcError,
)

SERVICE_TYPE = "_fieldtech._tcp.local."
RPC_PATH = "/rpc"
SERIAL_BAUDRATE = 115200
MAX_MESSAGE_BYTES = 1 << 20  # a full 200-zone configuration is ~60 kB; anything bigger is noise

# JSON-RPC 2.0 standard codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# fieldtech codes (the -32000..-32099 "server error" range).
REVISION_CONFLICT = -32001
DEVICE_DISABLED = -32002
WIFI_FAILED = -32003
PAIRING_FAILED = -32004

METHODS = (
    "device.info",
    "config.get",
    "config.apply",
    "status.get",
    "zone.run",
    "zone.stop",
    "rain_delay.set",
    "device.enable",
    "wifi.set",
    "cloud.pair",
)


def encode_request(method: str, params: dict[str, Any] | None, request_id: int) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        message["params"] = params
    return json.dumps(message, separators=(",", ":")).encode()


def decode_response(raw: bytes | str, request_id: int, address: str | None = None) -> Any:
    """The `result` of a response to `request_id`, or the error it carries, as a named error."""
    message = _load_object(raw, address)
    if message.get("jsonrpc") != "2.0":
        raise ProtocolError(
            "The device's answer is not JSON-RPC 2.0: is this a fieldtech controller?",
            address=address,
        )
    if message.get("id") != request_id:
        raise ProtocolError(
            f"The device answered request {message.get('id')!r}, not {request_id}.",
            address=address,
        )
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict):
            raise ProtocolError("The device sent an unreadable error.", address=address)
        code, text, data = error.get("code"), error.get("message"), error.get("data")
        if isinstance(code, bool) or not isinstance(code, int) or not isinstance(text, str):
            raise ProtocolError("The device sent an unreadable error.", address=address)
        raise rpc_error(code, text, data, address)
    if "result" not in message:
        raise ProtocolError(
            "The device's answer has neither a result nor an error.", address=address
        )
    return message["result"]


def rpc_error(code: int, text: str, data: Any = None, address: str | None = None) -> RpcError:
    """The named error for a JSON-RPC error object, its message made readable."""
    if code == REVISION_CONFLICT:
        return RevisionConflict(
            code,
            "The controller's configuration changed since it was read. Compare again, then push.",
            data,
            address=address,
        )
    if code == INVALID_PARAMS:
        return InvalidRequest(
            code, f"The controller refused a value: {text}", data, address=address
        )
    if code == METHOD_NOT_FOUND:
        return RpcError(
            code, f"The controller does not support this ({text}); update its firmware.", data,
            address=address,
        )
    if code == DEVICE_DISABLED:
        return RpcError(code, "The controller is switched off (disabled): enable it first.", data,
                        address=address)
    return RpcError(code, f"The controller reported an error: {text} (code {code}).", data,
                    address=address)


# --- the device side (simulator, or a vendor's reference) ----------------------------------


@dataclass(frozen=True)
class Request:
    id: int | str | None  # None: a notification, which gets no answer
    method: str
    params: dict[str, Any]


class BadRequest(Exception):
    """A request the device must answer with a JSON-RPC error."""

    def __init__(self, code: int, message: str, request_id: Any = None, data: Any = None):
        self.code, self.request_id, self.data = code, request_id, data
        super().__init__(message)


def decode_request(raw: bytes | str) -> Request:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(PARSE_ERROR, "Parse error") from exc
    if not isinstance(message, dict):
        raise BadRequest(INVALID_REQUEST, "Invalid Request")
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str | type(None)):
        raise BadRequest(INVALID_REQUEST, "Invalid Request")
    method = message.get("method")
    params = message.get("params", {})
    if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
        raise BadRequest(INVALID_REQUEST, "Invalid Request", request_id)
    if not isinstance(params, dict):
        raise BadRequest(INVALID_PARAMS, "params must be an object", request_id)
    return Request(request_id, method, params)


def encode_result(request_id: Any, result: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result},
                      separators=(",", ":")).encode()


def encode_error(request_id: Any, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error},
                      separators=(",", ":")).encode()


def _load_object(raw: bytes | str, address: str | None) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("The device's answer is too large to be a fieldtech reply.",
                            address=address)
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            "The device's answer is not valid JSON (cut short or garbled).", address=address
        ) from exc
    except RecursionError as exc:
        raise ProtocolError("The device's answer is nested too deeply.", address=address) from exc
    if not isinstance(message, dict):
        raise ProtocolError("The device's answer is not a JSON object.", address=address)
    return message
