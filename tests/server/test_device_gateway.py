"""The device fast path (`device_gateway.py`, `device_store.py`) answers as the FastAPI routes do.

Heartbeats and config polls are answered ahead of FastAPI's routing, on PostgreSQL by plain SQL
over async psycopg; these tests hold that path to the API's rules on both backends.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from server_helpers import Account, Server, new_serial, problem

from fieldtech.server.ratelimit import Rate, RateLimiter


@pytest.fixture
def paired(server: Server, acme: Account) -> dict:
    controller = acme.controller(acme.customer()["id"], zone_count=4)
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    serial = new_serial()
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": serial})
    assert r.status_code == 200, r.text
    token = r.json()["device_token"]
    return {"id": controller["id"], "serial": serial, "token": token}


def _device(server: Server, token: str) -> httpx.Client:
    return server.client(token)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer ftd_" + "x" * 43,  # well-formed, never issued
        "Basic ZGV2aWNlOnNlY3JldA==",
        "Bearer",
        "bearer ftu_not-a-device-token",
    ],
)
def test_unknown_or_missing_device_tokens_get_a_401_problem(
    server: Server, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    anon = server.client()
    for r in (
        anon.get("/v1/device/config", headers=headers),
        anon.get("/v1/device/config", headers={**headers, "If-None-Match": '"1"'}),
        anon.post("/v1/device/heartbeat", json={"applied_revision": 1}, headers=headers),
    ):
        body = problem(r, 401, "unauthorized")
        assert body["instance"] == r.request.url.path
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="fieldtech"'


def test_a_user_token_is_not_a_device_token(server: Server, acme: Account) -> None:
    problem(acme.http.post("/v1/device/heartbeat", json={}), 401, "unauthorized")
    problem(acme.http.get("/v1/device/config"), 401, "unauthorized")


def test_conditional_fetch_answers_304_for_any_matching_tag(server: Server, paired: dict) -> None:
    device = _device(server, paired["token"])
    full = device.get("/v1/device/config")
    assert full.status_code == 200 and full.headers["content-type"] == "application/json"
    assert full.headers["ETag"] == '"1"'
    assert set(full.json()) == {"controller_id", "revision", "zone_count", "timezone", "config"}
    assert full.json()["zone_count"] == 4 and full.json()["controller_id"] == paired["id"]
    for tag in ('"1"', 'W/"1"', '"7", "1"', '"0" ,W/"1"'):
        r = device.get("/v1/device/config", headers={"If-None-Match": tag})
        assert r.status_code == 304, tag
        assert r.content == b"" and r.headers["ETag"] == '"1"'
    assert device.get("/v1/device/config", headers={"If-None-Match": '"2"'}).status_code == 200


def test_the_gateway_and_the_fastapi_route_answer_the_same(
    server: Server, acme: Account, paired: dict
) -> None:
    device = _device(server, paired["token"])
    fast = device.post("/v1/device/heartbeat", json={"applied_revision": 1, "firmware": "2.1"})
    # A JSON media type other than application/json is handed on to FastAPI's route.
    routed = device.post(
        "/v1/device/heartbeat",
        content=b'{"applied_revision": 1, "firmware": "2.1"}',
        headers={"Content-Type": "application/vnd.fieldtech+json"},
    )
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    a, b = fast.json(), routed.json()
    assert a.keys() == b.keys()
    assert {k: v for k, v in a.items() if k != "last_contact"} == {
        k: v for k, v in b.items() if k != "last_contact"
    }
    assert a["state"] == "online" and a["firmware"] == "2.1" and a["commands"] == []
    status = acme.http.get(f"/v1/controllers/{paired['id']}/status").json()
    assert (status["firmware"], status["applied_revision"]) == ("2.1", 1)


@pytest.mark.parametrize(
    "body",
    [
        b'{"applied_revision": -1}',
        b'{"firmware": "' + b"x" * 65 + b'"}',
        b'{"locally_modified": "perhaps"}',
        b"{not json",
        b"",
        b"[]",
    ],
)
def test_heartbeat_bodies_that_do_not_validate_get_the_usual_422(
    server: Server, paired: dict, body: bytes
) -> None:
    device = _device(server, paired["token"])
    r = device.post(
        "/v1/device/heartbeat", content=body, headers={"Content-Type": "application/json"}
    )
    assert problem(r, 422, "validation")["errors"]


def test_other_methods_on_device_paths_are_still_405(server: Server, paired: dict) -> None:
    device = _device(server, paired["token"])
    problem(device.put("/v1/device/config", json={}), 405, "method-not-allowed")
    problem(device.get("/v1/device/heartbeat"), 405, "method-not-allowed")


def test_unbinding_the_serial_revokes_the_device_token_at_once(
    server: Server, acme: Account, paired: dict
) -> None:
    device = _device(server, paired["token"])
    assert device.post("/v1/device/heartbeat", json={}).status_code == 200
    r = acme.http.patch(f"/v1/controllers/{paired['id']}", json={"serial": None})
    assert r.status_code == 200, r.text
    problem(device.post("/v1/device/heartbeat", json={}), 401, "unauthorized")
    problem(device.get("/v1/device/config", headers={"If-None-Match": '"1"'}), 401, "unauthorized")


def test_device_calls_are_rate_limited_per_token(server: Server, paired: dict) -> None:
    state = server.app.state.server
    generous = state.device_limiter
    state.device_limiter = RateLimiter(Rate(per_second=0.01, burst=2))
    try:
        device = _device(server, paired["token"])
        assert device.get("/v1/device/config").status_code == 200
        assert device.post("/v1/device/heartbeat", json={}).status_code == 200
        limited = device.post("/v1/device/heartbeat", json={})
        body = problem(limited, 429, "rate-limited")
        assert body["retry_after"] == int(limited.headers["Retry-After"]) >= 1
        problem(device.get("/v1/device/config"), 429, "rate-limited")
    finally:
        state.device_limiter = generous


def test_concurrent_heartbeats_hand_out_each_command_once(
    server: Server, acme: Account, paired: dict
) -> None:
    runs = 6
    for zone in range(1, runs + 1):
        r = acme.http.post(f"/v1/controllers/{paired['id']}/run", json={"zone": 1, "seconds": zone})
        assert r.status_code == 202

    def beat(_: int) -> list[dict]:
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {paired['token']}"}
        ) as c:
            r = c.post("/v1/device/heartbeat", json={"applied_revision": 1})
            assert r.status_code == 200, r.text
            return r.json()["commands"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(beat, range(16)))
    delivered = [c["params"]["seconds"] for commands in answers for c in commands]
    assert sorted(delivered) == list(range(1, runs + 1))
    assert sum(1 for commands in answers if commands) == 1  # all in one heartbeat


def test_zone_runs_queued_during_heartbeats_are_never_lost_or_repeated(
    server: Server, acme: Account, paired: dict
) -> None:
    runs = 12

    def run(seconds: int) -> None:
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {acme.token}"}
        ) as c:
            r = c.post(f"/v1/controllers/{paired['id']}/run", json={"zone": 2, "seconds": seconds})
            assert r.status_code == 202, r.text

    def beat(_: int) -> list[int]:
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {paired['token']}"}
        ) as c:
            return [
                x["params"]["seconds"]
                for x in c.post("/v1/device/heartbeat", json={}).json()["commands"]
            ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        queued = [pool.submit(run, s) for s in range(1, runs + 1)]
        beats = [pool.submit(beat, i) for i in range(runs)]
        for f in queued:
            f.result()
        delivered = [s for f in beats for s in f.result()]
    delivered += beat(0)  # whatever was queued after the last concurrent heartbeat
    assert sorted(delivered) == list(range(1, runs + 1))


def test_applying_a_revision_is_audited_once_per_change(
    server: Server, acme: Account, paired: dict
) -> None:
    device = _device(server, paired["token"])
    for applied in (1, 1, None, 1):
        body = {} if applied is None else {"applied_revision": applied}
        assert device.post("/v1/device/heartbeat", json=body).status_code == 200
    entries = acme.http.get(f"/v1/controllers/{paired['id']}/audit").json()["entries"]
    applied_entries = [e for e in entries if e["action"] == "config.applied"]
    assert [(e["detail"], e["actor"]) for e in applied_entries] == [
        ({"revision": 1}, f"device:{paired['serial']}")
    ]


def test_the_spec_still_documents_the_device_calls(server: Server) -> None:
    paths = server.client().get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/device/heartbeat"] and "get" in paths["/v1/device/config"]
    assert "304" in paths["/v1/device/config"]["get"]["responses"]


def test_a_device_deleted_with_its_controller_is_unauthorized(
    server: Server, acme: Account
) -> None:
    controller = acme.controller(acme.customer()["id"], serial=new_serial())
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    token = (
        server.client()
        .post("/v1/device/pair", json={"code": code, "serial": controller["serial"]})
        .json()["device_token"]
    )
    assert acme.http.delete(f"/v1/controllers/{controller['id']}").status_code == 204
    device = _device(server, token)
    problem(device.get("/v1/device/config"), 401, "unauthorized")
    problem(device.post("/v1/device/heartbeat", json={"applied_revision": 3}), 401, "unauthorized")
