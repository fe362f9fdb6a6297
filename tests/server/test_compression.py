"""gzip on the wire, both ways, negotiated (server/compression.py): on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import uuid

from server_helpers import Account, paired_device, problem


def _changes(acme: Account, encoding: str):
    return acme.http.get("/v1/changes", params={"cursor": 0, "limit": 500},
                         headers={"Accept-Encoding": encoding})


def test_answers_are_gzipped_only_for_clients_that_ask(acme: Account) -> None:
    customer = acme.customer()
    for _ in range(12):
        acme.controller(customer["id"], zone_count=16)
    plain, packed = _changes(acme, "identity"), _changes(acme, "gzip, deflate")
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.json() == plain.json()  # the same answer
    assert int(packed.headers["content-length"]) * 3 < int(plain.headers["content-length"])
    refused = _changes(acme, "gzip;q=0, identity")
    assert "content-encoding" not in refused.headers
    # small answers go as they are: gzip would only add to them
    small = acme.http.get("/v1/me", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    # every answer to a person's client says the server takes gzip bodies (RFC 7694)
    assert plain.headers["accept-encoding"] == "gzip"


def test_a_gzip_batch_is_applied_like_a_plain_one(acme: Account) -> None:
    customer = acme.customer()
    items = [{"key": str(uuid.uuid4()), "op": "controller.create", "id": str(uuid.uuid4()),
              "data": {"customer_id": customer["id"], "name": f"Zone bank {i}"}}
             for i in range(3)]
    body = gzip.compress(json.dumps({"items": items}).encode())
    r = acme.http.post("/v1/sync/batch", content=body, headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 3
    assert acme.http.get(f"/v1/controllers/{items[2]['id']}").json()["name"] == "Zone bank 2"


def test_bodies_in_other_codings_too_large_once_inflated_or_not_gzip_are_refused(
        acme: Account) -> None:
    headers = {"Content-Type": "application/json"}
    r = acme.http.post("/v1/sync/batch", content=b"\x1b\x00", headers={
        **headers, "Content-Encoding": "br"})
    problem(r, 415, "unsupported-encoding")
    assert r.headers["accept-encoding"] == "gzip"
    # 5 MB of spaces is 5 KB of gzip: the limit counts what it inflates to
    bomb = gzip.compress(b'{"items": [' + b" " * 5_000_000 + b"]}")
    assert len(bomb) < 10_000
    r = acme.http.post("/v1/sync/batch", content=bomb, headers={
        **headers, "Content-Encoding": "gzip"})
    problem(r, 413, "too-large")
    r = acme.http.post("/v1/sync/batch", content=b'{"items": []}', headers={
        **headers, "Content-Encoding": "gzip"})
    problem(r, 400, "bad-request")
    assert acme.http.post("/v1/sync/batch", json={"items": []}).status_code in (200, 422)


def test_device_answers_carry_nothing_extra(server, acme: Account) -> None:
    device = paired_device(server, acme)
    r = device.http.post("/v1/device/heartbeat", json={}, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert "accept-encoding" not in r.headers and "content-encoding" not in r.headers
