"""Remote commands through the cloud (issue 10, part 3): queued → delivered → done / failed /
expired, idempotent, refused clearly when they cannot work."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from server_helpers import (
    PASSWORD,
    Account,
    Device,
    Server,
    changes,
    cursor_now,
    paired_device,
    problem,
)

from fieldtech.server.sweeper import sweep


def send(account: Account, device_id: str, kind: str, **body: Any) -> Any:
    return account.http.post(f"/v1/controllers/{device_id}/commands", json={"kind": kind, **body})


def commands(account: Account, device: Device) -> list[dict[str, Any]]:
    return account.http.get(f"/v1/controllers/{device.id}/commands").json()["commands"]


def test_a_command_is_delivered_once_and_its_result_recorded(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme, zone_count=4)
    device.beat()
    cursor = cursor_now(acme)
    r = send(acme, device.id, "zone.run", params={"zone": 3, "seconds": 600}, key="run-3")
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["state"] == "queued" and queued["created_by"] == acme.email
    again = send(acme, device.id, "zone.run", params={"zone": 3, "seconds": 600}, key="run-3")
    assert again.json()["id"] == queued["id"]  # the same key: the same command, not a second
    problem(send(acme, device.id, "zone.stop", key="run-3"), 422, "idempotency-key-reused")

    handed = device.beat()["commands"]
    assert handed == [{"id": queued["id"], "kind": "zone.run",
                       "params": {"zone": 3, "seconds": 600}}]
    assert device.beat()["commands"] == []  # once
    assert commands(acme, device)[0]["state"] == "delivered"
    result = {"id": queued["id"], "ok": True, "message": "Zone 3 running for 600 s"}
    device.beat(results=[result], running={"zone": 3, "seconds_left": 598})
    device.beat(results=[result | {"ok": False}])  # a repeated report is ignored
    [done] = commands(acme, device)
    assert done["state"] == "done" and done["message"] == "Zone 3 running for 600 s"
    assert done["delivered_at"] and done["finished_at"]
    logged = [c for c in changes(acme, cursor)[0] if c["entity"] == "command"]
    assert [c["data"]["state"] for c in logged] == ["queued", "delivered", "done"]
    running = [c for c in changes(acme, cursor)[0] if c["entity"] == "device_state"]
    assert running[-1]["data"]["running"]["zone"] == 3
    audit = acme.http.get(f"/v1/controllers/{device.id}/audit").json()["entries"]
    assert "command.zone.run" in [e["action"] for e in audit]


def test_bad_commands_are_refused_clearly_and_change_nothing(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme, zone_count=4)
    device.beat()
    unpaired = acme.controller(acme.customer()["id"])
    cursor = cursor_now(acme)
    body = problem(send(acme, device.id, "zone.explode"), 422, "validation")
    assert "zone.run" in body["detail"]
    body = problem(send(acme, device.id, "zone.run", params={"zone": 5, "seconds": 60}), 422,
                   "validation")
    assert body["errors"][0]["field"] == "params.zone" and "1 to 4" in body["detail"]
    problem(send(acme, device.id, "device.enable", params={"enabled": "yes"}), 422, "validation")
    body = problem(send(acme, unpaired["id"], "zone.stop"), 409, "not-paired")
    assert "Pair it" in body["detail"]
    assert commands(acme, device) == []
    assert changes(acme, cursor)[0] == []
    assert device.beat()["commands"] == []


def test_offline_refused_unless_queued_and_queued_ones_expire(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme)
    device.beat()
    server.clock.advance(timedelta(minutes=3))
    body = problem(send(acme, device.id, "device.reboot"), 409, "controller-offline")
    assert "queue_if_offline" in body["detail"]
    r = send(acme, device.id, "rain_delay.set", params={"hours": 24}, queue_if_offline=True)
    assert r.status_code == 202 and r.json()["state"] == "queued"
    server.clock.advance(timedelta(minutes=11))
    sweep(server.app.state.server)
    [expired] = commands(acme, device)
    assert expired["state"] == "expired"
    assert device.beat()["commands"] == []  # never handed out once expired


def test_customer_logins_run_zones_but_change_nothing_else(
    server: Server, acme: Account, rival: Account
) -> None:
    email = f"home-{uuid.uuid4().hex[:8]}@example.com"
    customer = acme.customer("Home", email=email, self_management="view_and_run")
    device = paired_device(server, acme, customer["id"])
    device.beat()
    r = acme.http.post(f"/v1/customers/{customer['id']}/users",
                       json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    home = server.client(server.login(email))
    url = f"/v1/controllers/{device.id}/commands"
    ok = home.post(url, json={"kind": "zone.run", "params": {"zone": 1, "seconds": 60}})
    assert ok.status_code == 202 and ok.json()["created_by"] == f"customer:{email}"
    problem(home.post(url, json={"kind": "device.enable", "params": {"enabled": False}}), 403,
            "forbidden")
    problem(rival.http.post(url, json={"kind": "zone.stop"}), 404, "not-found")
    problem(rival.http.get(url), 404, "not-found")
    assert [c["kind"] for c in commands(acme, device)] == ["zone.run"]
