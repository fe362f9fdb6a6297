"""Bad input from devices (and to the simulator): every parser answers with a named LinkError.

The drivers run their real code paths: native answers go through httpx (its MockTransport
stands in for the wire so hypothesis can try hundreds of bodies a second), serial noise goes
through a real pty, Improv bytes through the frame decoder.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldtech.controller_link import improv, jsonrpc
from fieldtech.controller_link.errors import (
    DeviceTimeout,
    LinkError,
    ProtocolError,
)
from fieldtech.controller_link.link import DeviceConfig, DeviceInfo, DeviceStatus
from fieldtech.controller_link.native import NativeLink
from fieldtech.controller_link.opensprinkler import OpenSprinklerLink
from fieldtech.controller_link.transports import HttpRpc, SerialRpc
from fieldtech.domain.models import Program
from fieldtech.simulator.http import HttpRequest
from fieldtech.simulator.native_device import NativeDevice
from fieldtech.simulator.opensprinkler import OpenSprinklerDevice

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12,
)


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` with some keys dropped or given values of the wrong type (nested too)."""
    def value_for(key: str) -> st.SearchStrategy[Any]:
        original = valid[key]
        options = [st.just(original), json_values]
        if isinstance(original, dict):
            options.append(mutated(original))
        if isinstance(original, list) and original:
            options.append(st.lists(st.sampled_from(original) | json_values, max_size=6))
        return st.one_of(options)

    return st.fixed_dictionaries({}, optional={k: value_for(k) for k in valid})


# --- valid answers to start from ------------------------------------------------------------

_native = NativeDevice(serial="FT1-FUZZ0001")
_native.config = {"zones": [{"number": 1, "name": "A"}], "programs": [
    Program(name="P", zone_minutes={1: 3}).to_dict()], "rain_delay_until": None}
NATIVE_RESULTS = {
    "device.info": _native.rpc_info({}),
    "config.get": _native.rpc_config_get({}),
    "status.get": {"enabled": True, "running": [{"zone": 1, "seconds_left": 5}], "queued": [2],
                   "rain_delay_until": "2030-01-01T00:00:00+00:00"},
}
_os = OpenSprinklerDevice.load_or_create(None, mac="02:00:00:00:00:01")
_os.s["pd"] = [[65, 127, 0, [360, -1, -1, -1], [60] * 8, "P", [33, 408]]]
OS_JA = _os.ja({})


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _named_error_or(expected: type, coro: Any) -> None:
    """The call either returns a well-typed record or raises a LinkError with a message."""
    try:
        value = _run(coro)
    except LinkError as exc:
        assert str(exc).strip()
    else:
        assert isinstance(value, expected)


RECORD_OF = {"device.info": DeviceInfo, "config.get": DeviceConfig, "status.get": DeviceStatus,
             "identify": DeviceInfo, "read_config": DeviceConfig, "read_status": DeviceStatus}


async def _native_call(method: str, body: bytes | Any) -> Any:
    """Call `method` on a NativeLink whose device answers with `body`."""
    def reply(request: httpx.Request) -> httpx.Response:
        request_id = json.loads(request.content)["id"]
        if isinstance(body, bytes):
            return httpx.Response(200, content=body)
        return httpx.Response(200, content=jsonrpc.encode_result(request_id, body))

    link = NativeLink(HttpRpc("http://127.0.0.1:9", transport=httpx.MockTransport(reply)))
    try:
        action = {"device.info": link.identify, "config.get": link.read_config,
                  "status.get": link.read_status}[method]
        return await action()
    finally:
        await link.aclose()


# --- the native protocol --------------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_json_rpc_bodies(raw: bytes) -> None:
    _named_error_or(DeviceInfo, _native_call("device.info", raw))


@FUZZ
@given(data=st.data(), method=st.sampled_from(sorted(NATIVE_RESULTS)))
def test_native_results_with_wrong_types(data: st.DataObject, method: str) -> None:
    result = data.draw(mutated(NATIVE_RESULTS[method]) | json_values)
    _named_error_or(RECORD_OF[method], _native_call(method, result))


@FUZZ
@given(error=mutated({"code": -32602, "message": "bad", "data": [1]}) | json_values,
       request_id=st.integers(0, 3) | st.none() | st.text(max_size=2))
def test_json_rpc_error_objects(error: Any, request_id: Any) -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error})
    with pytest.raises(LinkError):  # an error object must never read as a result
        jsonrpc.decode_response(raw, 1)


def test_truncated_answers_are_protocol_errors() -> None:
    full = jsonrpc.encode_result(1, NATIVE_RESULTS["config.get"])
    for cut in range(0, len(full) - 1, 7):
        with pytest.raises(ProtocolError):
            jsonrpc.decode_response(full[:cut], 1)


# --- serial lines over a real pty -------------------------------------------------------------


@pytest.fixture
def pty_pair():  # type: ignore[no-untyped-def]
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(min_size=1, max_size=300), answer_too=st.booleans())
def test_serial_line_noise(pty_pair: tuple[int, str], noise: bytes, answer_too: bool) -> None:
    master, path = pty_pair
    transport = SerialRpc(path, timeout=0.3)
    answer = jsonrpc.encode_result(1, {"ok": True}) + b"\n" if answer_too else b""

    async def go() -> Any:
        call = asyncio.create_task(transport.call("device.info"))
        await asyncio.sleep(0.05)  # the request is written; now the "device" talks
        os.write(master, noise.replace(b"\n", b" ") + b"\n" + answer)
        try:
            return await call
        finally:
            await transport.aclose()

    try:
        result = _run(go())
        assert answer_too and result == {"ok": True}  # noise before a good line is skipped
    except (ProtocolError, DeviceTimeout) as exc:
        assert not answer_too or isinstance(exc, ProtocolError)
    os.read(master, 65536) if _readable(master) else None  # drain our request


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0)[0])


# --- Improv -------------------------------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=300))
def test_improv_decoder_on_random_bytes(raw: bytes) -> None:
    try:
        frames, _rest = improv.decode_frames(raw)
        for frame in frames:
            if frame.type == improv.FrameType.RPC_RESULT:
                improv.parse_rpc_result(frame.data)
            if frame.type == improv.FrameType.CURRENT_STATE:
                improv.parse_state(frame.data)
    except ProtocolError:
        pass


@FUZZ
@given(data=st.binary(max_size=40), flip=st.integers(0, 255), at=st.integers(0, 60))
def test_improv_corrupted_frames(data: bytes, flip: int, at: int) -> None:
    frame = bytearray(improv.encode_frame(improv.FrameType.RPC_RESULT, data)[:-1])
    at %= len(frame)
    frame[at] ^= flip or 1
    try:
        parsed = improv.parse_frame(bytes(frame))
        # a flip that still sums right must at least keep a well-formed frame
        assert parsed.type in range(256)
    except ProtocolError:
        pass


# --- OpenSprinkler --------------------------------------------------------------------------


async def _os_call(action: str, body: bytes) -> Any:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    link = OpenSprinklerLink("127.0.0.1:9", transport=transport)
    try:
        return await getattr(link, action)()
    finally:
        await link.aclose()


@FUZZ
@given(data=st.data(), action=st.sampled_from(["read_config", "read_status", "identify"]))
def test_opensprinkler_answers_with_wrong_types(data: st.DataObject, action: str) -> None:
    valid = OS_JA if action == "read_config" else OS_JA["settings"]
    body = data.draw(mutated(valid) | json_values | st.binary(max_size=50).map(
        lambda b: {"raw": b.hex()}))
    _named_error_or(RECORD_OF[action], _os_call(action, json.dumps(body).encode()))


@FUZZ
@given(result=json_values)
def test_opensprinkler_result_field(result: Any) -> None:
    try:
        _run(_os_call("stop_all", json.dumps({"result": result}).encode()))
        assert result == 1 and not isinstance(result, bool)
    except LinkError:
        pass


def test_slow_and_silent_opensprinkler() -> None:
    async def go() -> None:
        server = await asyncio.start_server(lambda r, w: asyncio.sleep(30), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        link = OpenSprinklerLink(f"127.0.0.1:{port}", timeout=0.3)
        try:
            with pytest.raises(DeviceTimeout, match="one request at a time"):
                await link.identify()
        finally:
            await link.aclose()
            server.close()

    _run(go())


# --- the simulator never falls over either ----------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | st.builds(lambda m, p: json.dumps({"jsonrpc": "2.0", "id": 1, "method": m,
                                            "params": p}).encode(),
                   st.sampled_from(jsonrpc.METHODS), json_values))
def test_simulated_native_device_always_answers_json_rpc(raw: bytes) -> None:
    device = NativeDevice(serial="FT1-FUZZ0002",
                          config={"zones": [], "programs": [], "rain_delay_until": None})
    answer = _run(device.handle(raw))
    if answer is not None:
        message = json.loads(answer)
        assert message["jsonrpc"] == "2.0" and ("result" in message or "error" in message)


@FUZZ
@given(path=st.sampled_from(["/jo", "/jc", "/cs", "/cp", "/dp", "/cm", "/cr", "/cv", "/co",
                             "/sp", "/mp", "/up", "/jl", "/x"]),
       query=st.dictionaries(st.sampled_from(["pid", "v", "t", "sid", "en", "rd", "tz", "s0",
                                              "d0", "name", "start", "end", "npw", "cpw"]),
                             st.text(max_size=12) | st.integers(-5, 70000).map(str),
                             max_size=5))
def test_simulated_opensprinkler_always_answers(path: str, query: dict[str, str]) -> None:
    device = OpenSprinklerDevice.load_or_create(None, mac="02:00:00:00:00:02")
    query = {**query, "pw": device.s["pw"]}
    response = _run(device.handle(HttpRequest("GET", path, query, b"")))
    assert response.status in (200, 404)
    if response.status == 200:
        json.loads(response.body)
