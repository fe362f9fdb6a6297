"""Pairing, device tokens, heartbeats, conditional config fetch and the offline rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from server_helpers import Account, Server, new_serial, problem

from fieldtech.domain.incidents import offline_after


@pytest.fixture
def paired(server: Server, acme: Account) -> dict:
    customer = acme.customer()
    controller = acme.controller(customer["id"], zone_count=3)  # not linked: no serial yet
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    serial = new_serial()
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": serial})
    assert r.status_code == 200, r.text
    device = server.client(r.json()["device_token"])
    return {"id": controller["id"], "serial": serial, "code": code, "device": device}


def test_pairing_binds_the_serial_and_the_code_works_once(
    server: Server, acme: Account, paired: dict
) -> None:
    assert acme.http.get(f"/v1/controllers/{paired['id']}").json()["serial"] == paired["serial"]
    again = server.client().post(
        "/v1/device/pair", json={"code": paired["code"], "serial": paired["serial"]}
    )
    problem(again, 422, "pairing-code-invalid")
    made_up = server.client().post(
        "/v1/device/pair", json={"code": "ABCD-EFGH", "serial": "FT1-00000000"}
    )
    problem(made_up, 422, "pairing-code-invalid")


def test_a_code_for_a_linked_controller_refuses_other_hardware(
    server: Server, acme: Account
) -> None:
    controller = acme.controller(acme.customer()["id"], serial=new_serial())
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": new_serial()})
    problem(r, 409, "serial-mismatch")


def test_expired_pairing_codes_are_refused(server: Server, acme: Account) -> None:
    controller = acme.controller(acme.customer()["id"])
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    server.clock.advance(timedelta(hours=2))
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": new_serial()})
    problem(r, 422, "pairing-code-invalid")


def test_a_device_token_reaches_only_its_own_device_endpoints(
    server: Server, acme: Account, paired: dict
) -> None:
    device = paired["device"]
    for url in ("/v1/account", f"/v1/controllers/{paired['id']}", "/v1/customers", "/v1/changes"):
        problem(device.get(url), 401, "unauthorized")
    problem(acme.http.get("/v1/device/config"), 401, "unauthorized")  # a user token is not one
    assert device.get("/v1/device/config").json()["controller_id"] == paired["id"]


def test_config_fetch_is_conditional_on_the_revision(
    server: Server, acme: Account, paired: dict
) -> None:
    device = paired["device"]
    first = device.get("/v1/device/config")
    assert first.status_code == 200 and first.headers["ETag"] == '"1"'
    assert len(first.json()["config"]["zones"]) == 3
    unchanged = device.get("/v1/device/config", headers={"If-None-Match": '"1"'})
    assert unchanged.status_code == 304 and unchanged.content == b""
    config = first.json()["config"]
    config["zones"][0]["name"] = "Roses"
    acme.http.put(
        f"/v1/controllers/{paired['id']}/config", json=config, headers={"If-Match": '"1"'}
    )
    changed = device.get("/v1/device/config", headers={"If-None-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    assert changed.json()["config"]["zones"][0]["name"] == "Roses"


def test_heartbeats_drive_online_waiting_and_offline(
    server: Server, acme: Account, paired: dict
) -> None:
    device, cid = paired["device"], paired["id"]

    def state() -> str:
        return acme.http.get(f"/v1/controllers/{cid}/status").json()["state"]

    assert (
        device.post("/v1/device/heartbeat", json={"applied_revision": 1}).json()["state"]
        == "online"
    )
    assert state() == "online"
    config = acme.http.get(f"/v1/controllers/{cid}/config").json()["config"]
    acme.http.put(
        f"/v1/controllers/{cid}/config",
        json=config | {"rain_delay_until": _two_days_on()},
        headers={"If-Match": '"1"'},
    )
    assert state() == "waiting"  # sent, not yet applied
    beat = device.post("/v1/device/heartbeat", json={"applied_revision": 2}).json()
    assert beat["state"] == "online" and beat["applied_revision"] == 2
    # Offline after three missed heartbeats (the offline incident's rule), not before.
    missed = offline_after(server.app.state.server.heartbeat_s)
    server.clock.advance(missed - timedelta(seconds=10))
    assert state() == "online"
    server.clock.advance(timedelta(seconds=20))
    assert state() == "offline"
    fleet = acme.http.get("/v1/fleet/status").json()["controllers"]
    assert [c["state"] for c in fleet if c["controller_id"] == cid] == ["offline"]
    device.post("/v1/device/heartbeat", json={"applied_revision": 2, "locally_modified": True})
    assert state() == "out_of_sync"
    applied = [
        e
        for e in acme.http.get(f"/v1/controllers/{cid}/audit").json()["entries"]
        if e["action"] == "config.applied"
    ]
    assert [e["detail"]["revision"] for e in applied] == [2, 1]


def test_zone_runs_are_delivered_once_with_the_next_heartbeat(
    server: Server, acme: Account, paired: dict
) -> None:
    r = acme.http.post(f"/v1/controllers/{paired['id']}/run", json={"zone": 2, "seconds": 120})
    assert r.status_code == 202
    problem(
        acme.http.post(f"/v1/controllers/{paired['id']}/run", json={"zone": 9, "seconds": 5}),
        422,
        "validation",
    )
    beat = paired["device"].post("/v1/device/heartbeat", json={}).json()
    assert [(c["kind"], c["params"]) for c in beat["commands"]] == [
        ("zone.run", {"zone": 2, "seconds": 120})
    ]
    assert paired["device"].post("/v1/device/heartbeat", json={}).json()["commands"] == []


def test_pairing_again_replaces_the_old_device_token(
    server: Server, acme: Account, paired: dict
) -> None:
    code = acme.http.post(f"/v1/controllers/{paired['id']}/pairing-code").json()["code"]
    r = server.client().post("/v1/device/pair", json={"code": code, "serial": paired["serial"]})
    assert r.status_code == 200
    problem(paired["device"].get("/v1/device/config"), 401, "unauthorized")
    assert server.client(r.json()["device_token"]).get("/v1/device/config").status_code == 200


def test_a_not_linked_controller_shows_as_not_linked(server: Server, acme: Account) -> None:
    controller = acme.controller(acme.customer()["id"])
    assert (
        acme.http.get(f"/v1/controllers/{controller['id']}/status").json()["state"] == "not_linked"
    )


def _two_days_on() -> str:
    """A rain delay the server takes (at most 14 days from now)."""
    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
