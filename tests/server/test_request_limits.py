"""Size and time limits that hold before authentication (issue 14): bodies (413), headers (431),
slow or idle clients (408, closed). Raw sockets on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from server_helpers import Account, Server

from fieldtech.cloud.api import CloudAPI
from fieldtech.server import http_limits


def _connect(server: Server) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=15)


def _answer(raw: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The whole answer up to the server closing the connection (it must close it)."""
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def _is_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected
    return problem


def test_a_huge_body_is_refused_before_the_token_is_looked_at(server: Server) -> None:
    with _connect(server) as raw:
        raw.sendall(
            b"POST /v1/device/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400000000\r\n\r\n" + b"{" * 1000
        )
        started = time.monotonic()
        problem = _is_problem(*_answer(raw), 413)
    assert time.monotonic() - started < 5 and problem["limit"] == http_limits.MAX_BODY_BYTES


def test_a_chunked_body_over_the_limit_is_refused(server: Server, acme: Account) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * 100_000

    r = acme.http.post("/v1/customers", content=chunks(),
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


def test_a_batch_may_be_larger_but_not_without_bound(server: Server, acme: Account) -> None:
    def batch(size: int) -> bytes:
        item = {"key": "k", "op": "customer.create", "data": {"name": "x" * 1000}}
        count = size // 1100
        return json.dumps({"items": [dict(item, key=f"k{i}") for i in range(count)]}).encode()

    big = acme.http.post("/v1/sync/batch", content=batch(2_000_000),
                         headers={"Content-Type": "application/json"})
    assert big.status_code == 422  # read and judged (more than 200 items), not refused by size
    huge = acme.http.post("/v1/sync/batch", content=batch(5_000_000),
                          headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert huge.json()["limit"] == http_limits.MAX_BATCH_BODY_BYTES


def test_the_client_splits_a_batch_the_server_would_refuse(server: Server, acme: Account) -> None:
    items = [
        {"key": f"big-{i}-{uuid.uuid4().hex[:6]}", "op": "customer.create",
         "data": {"id": str(uuid.uuid4()), "name": "Big", "address": "a" * 4000,
                  "phone": "1" * 4000, "email": ""}}
        for i in range(150)
    ]
    assert len(json.dumps({"items": items})) > 1_000_000
    with CloudAPI(server.base_url, acme.token) as api:
        import fieldtech.cloud.api as client

        old = client.BATCH_BYTES
        client.BATCH_BYTES = 200_000  # a small cap, so a modest batch must be split
        try:
            results = api.batch(items)
        finally:
            client.BATCH_BYTES = old
    assert len(results) == len(items)
    assert [r["key"] for r in results] == [i["key"] for i in items]


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Big", "a" * 20_000)],
        [(f"X-H{i}", "1") for i in range(150)],
    ],
    ids=["one-large", "too-many"],
)
def test_headers_over_the_limit_are_431(server: Server, headers: list) -> None:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers)
    with _connect(server) as raw:
        raw.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
        _is_problem(*_answer(raw), 431)


def test_bytes_that_are_not_http_get_a_problem(server: Server) -> None:
    with _connect(server) as raw:
        raw.sendall(b"\x16\x03\x01 hello, this is not http\r\n\r\n")
        _is_problem(*_answer(raw), 400)


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    # the server runs in this process, so its timeouts can be shortened for a quick test
    monkeypatch.setattr(http_limits, "HEADER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(http_limits, "BODY_TIMEOUT_S", 1.0)


@pytest.mark.usefixtures("quick_timeouts")
def test_slow_and_idle_clients_are_timed_out(server: Server) -> None:
    started = time.monotonic()
    with _connect(server) as idle, _connect(server) as slow, _connect(server) as body:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        body.sendall(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 100\r\n\r\n{\"email\"")
        _is_problem(*_answer(idle), 408)  # never sent a request: told so, and closed
        _is_problem(*_answer(slow), 408)
        _is_problem(*_answer(body), 408)
    assert time.monotonic() - started < 10


def test_no_server_header(server: Server) -> None:
    with _connect(server) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = _answer(raw)
    assert status == 200 and "server" not in headers
