"""Input an attacker or a fuzzer sends: numbers too big for a column, bodies that cannot be parsed,
methods nobody uses. Every answer is a problem+json with a 4xx status, never a 500 (issue 14)."""

from __future__ import annotations

import socket

import pytest
from server_helpers import Account, Server, new_serial, problem
from sqlalchemy import BigInteger

from fieldtech.server.tables import AuditRow, ChangeRow

INT32_MAX = 2**31 - 1


def _controller(acme: Account) -> dict:
    return acme.controller(acme.customer()["id"], zone_count=2)


@pytest.mark.parametrize(
    "etag",
    ['"' + "9" * 5000, "9" * 4301, '"\xb2"', '"1_0"', '" 1"'],
    ids=["5000-digits", "4301-bare", "superscript", "underscore", "space"],
)
def test_an_if_match_that_is_no_etag_is_422_on_every_route_that_reads_it(
    server: Server, acme: Account, etag: str
) -> None:
    controller = _controller(acme)
    customer = acme.customer()
    config = acme.http.get(f"/v1/controllers/{controller['id']}/config").json()["config"]
    headers = {"If-Match": etag.encode("latin-1", "replace")}
    for r in (
        acme.http.patch(f"/v1/customers/{customer['id']}", json={"name": "B"}, headers=headers),
        acme.http.delete(f"/v1/customers/{customer['id']}", headers=headers),
        acme.http.patch(f"/v1/controllers/{controller['id']}", json={"name": "B"}, headers=headers),
        acme.http.delete(f"/v1/controllers/{controller['id']}", headers=headers),
        acme.http.put(f"/v1/controllers/{controller['id']}/config", json=config, headers=headers),
    ):
        problem(r, 422, "validation")


def test_a_heartbeat_revision_past_32_bits_is_refused_not_a_500(
    server: Server, acme: Account
) -> None:
    controller = _controller(acme)
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    pair = server.client().post("/v1/device/pair", json={"code": code, "serial": new_serial()})
    device = server.client(pair.json()["device_token"])
    too_big = device.post("/v1/device/heartbeat", json={"applied_revision": 2**31})
    problem(too_big, 422, "validation")
    ok = device.post("/v1/device/heartbeat", json={"applied_revision": INT32_MAX})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("value", [2**31, 2**40, 2**53])
def test_cursors_as_large_as_the_spec_allows_are_answered(
    server: Server, acme: Account, value: int
) -> None:
    changes = acme.http.get("/v1/changes", params={"cursor": value})
    assert changes.status_code == 200, changes.text
    assert changes.json() == {"cursor": value, "more": False, "changes": []}
    audit = acme.http.get("/v1/audit", params={"before": value})
    assert audit.status_code == 200, audit.text
    problem(acme.http.get("/v1/changes", params={"cursor": 2**53 + 1}), 422, "validation")


def _integer_schemas(node: object, path: str = ""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        if "in" in node and "name" in node:  # a parameter: name it in the path
            path = f"{path}/{node['name']}"
        if node.get("type") == "integer":
            yield path, node
        for key, value in node.items():
            yield from _integer_schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _integer_schemas(value, f"{path}/{i}")


def test_every_integer_in_the_spec_is_bounded_by_the_column_it_reaches(server: Server) -> None:
    # A number reaches an INTEGER column (32 bits on PostgreSQL), or one of the bigint columns
    # cursors and audit ids are compared with: the spec says so, and the columns agree.
    spec = server.app.openapi()
    found = [
        (path, schema)
        for path, schema in _integer_schemas(spec)
        if "/ValidationError/" not in path  # FastAPI's own error schema, answers only
    ]
    assert len(found) > 10
    for path, schema in found:
        assert "minimum" in schema and "maximum" in schema, path
        limit = 2**53 if ("/cursor/" in path or "/before/" in path) else INT32_MAX
        assert schema["maximum"] <= limit, (path, schema)
    for column in (ChangeRow.seq, AuditRow.id):
        assert isinstance(column.type, BigInteger) or "BIGINT" in str(
            column.type.compile(dialect=server.db.engine.dialect)
        ).upper() or server.backend == "sqlite", column


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\xff\xfe"}',  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'{"id": ' + b"9" * 5000 + b"}",
        b'{"name": ',
    ],
    ids=["utf8", "deep-array", "deep-object", "huge-int", "truncated"],
)
def test_a_body_that_cannot_be_read_is_a_problem(
    server: Server, acme: Account, body: bytes
) -> None:
    r = acme.http.post(
        "/v1/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    assert r.json()["status"] == r.status_code


def test_an_unknown_method_is_405_with_allow(server: Server, acme: Account) -> None:
    for method in ("TRACE", "PUT", "CONNECT"):
        r = acme.http.request(method, "/v1/customers")
        body = problem(r, 405, "method-not-allowed")
        assert "GET" in r.headers["allow"] and "POST" in r.headers["allow"], r.headers
        assert body["status"] == 405


def test_every_problem_type_is_in_the_docs() -> None:
    from pathlib import Path

    from fieldtech.server.problems import ProblemType

    docs = (Path(__file__).parents[2] / "docs" / "server.md").read_text()
    missing = [k.value.slug for k in ProblemType if f"`{k.value.slug}`" not in docs]
    assert not missing


def test_a_request_line_the_server_cannot_route_is_a_problem(server: Server) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"GET /v1/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert b" 404 " in head.split(b"\r\n")[0] and b"application/problem+json" in head


def test_a_query_parameter_no_operation_takes_is_refused(server: Server, acme: Account) -> None:
    body = problem(acme.http.get("/v1/controllers", params={"custmer_id": "x"}), 422,
                   "validation")
    assert [e["field"] for e in body["errors"]] == ["custmer_id"]
    assert acme.http.get("/v1/changes", params={"cursor": 0, "limit": 5}).status_code == 200


def test_a_link_request_needs_the_shape_of_an_email_or_serial(
    server: Server, acme: Account
) -> None:
    for body, field in (({"email": "not an address"}, "email"), ({"serial": "!!"}, "serial")):
        r = acme.http.post("/v1/customers/link", json=body)
        assert problem(r, 422, "validation")["errors"][0]["field"] == field
    assert acme.http.post("/v1/customers/link", json={"serial": "ft1-00a1b2c3"}).status_code == 202
