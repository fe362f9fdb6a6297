"""Maintenance windows suppress new incidents (audited); service settings move SLA clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from server_helpers import Account, Server, paired_device, problem

from fieldtech.server.sweeper import sweep

FAULT = {"kind": "rain_sensor", "zone": None, "detail": "Rain sensor disconnected"}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


def test_a_window_suppresses_new_incidents_and_says_so_in_the_audit(
    server: Server, acme: Account, rival: Account
) -> None:
    device = paired_device(server, acme)
    now = server.clock()
    r = acme.http.post("/v1/maintenance", json={
        "customer_id": device.customer_id, "starts": _iso(now - timedelta(minutes=1)),
        "ends": _iso(now + timedelta(hours=1)), "note": "Winterized",
    })
    assert r.status_code == 201, r.text
    window = r.json()
    device.beat(faults=[FAULT])
    server.clock.advance(timedelta(minutes=3))
    sweep(server.app.state.server)  # offline too, still inside the window
    mine = [i for i in acme.http.get("/v1/incidents").json()["incidents"]
            if i["controller_id"] == device.id or i["customer_id"] == device.customer_id]
    assert mine == []
    actions = [e for e in acme.http.get(f"/v1/controllers/{device.id}/audit").json()["entries"]
               if e["action"] == "incident.suppressed"]
    assert {e["detail"]["kind"] for e in actions} == {"rain_sensor", "offline"}
    assert all(e["detail"]["maintenance_id"] == window["id"] for e in actions)
    assert [w["id"] for w in acme.http.get("/v1/maintenance").json()["windows"]] == [window["id"]]
    problem(rival.http.delete(f"/v1/maintenance/{window['id']}"), 404, "not-found")

    assert acme.http.delete(f"/v1/maintenance/{window['id']}").status_code == 204
    device.beat(faults=[])
    device.beat(faults=[FAULT])  # the window is gone: this one opens
    kinds = [i["kind"] for i in acme.http.get("/v1/incidents").json()["incidents"]
             if i["controller_id"] == device.id]
    assert kinds == ["rain_sensor"]


def test_windows_are_checked(server: Server, acme: Account, rival: Account) -> None:
    device = paired_device(server, acme)
    now = server.clock()
    span = {"starts": _iso(now), "ends": _iso(now + timedelta(hours=1))}
    problem(acme.http.post("/v1/maintenance", json=span), 422, "validation")
    problem(acme.http.post("/v1/maintenance", json={
        "controller_id": device.id, "starts": span["ends"], "ends": span["starts"]}), 422,
        "validation")
    problem(rival.http.post("/v1/maintenance", json={"controller_id": device.id, **span}), 404,
            "not-found")


def test_service_settings_override_the_response_targets(server: Server, acme: Account) -> None:
    settings = acme.http.get("/v1/account/service-settings").json()
    assert settings["response_targets"]["essentials"] == {
        "response_minutes": 30, "coverage": "24/7", "urgent_advanced_minutes": None}
    r = acme.http.put("/v1/account/service-settings", json={
        "timezone": "Europe/Berlin",
        "response_targets": {"essentials": {"response_minutes": 120, "coverage": "24/7"}},
    })
    assert r.status_code == 200, r.text
    assert r.json()["overridden"] == ["essentials"]
    problem(acme.http.put("/v1/account/service-settings", json={"timezone": "Mars/Olympus"}),
            422, "validation")
    device = paired_device(server, acme, acme.customer(membership="essentials")["id"])
    device.beat(faults=[FAULT])
    [incident] = [i for i in acme.http.get("/v1/incidents").json()["incidents"]
                  if i["controller_id"] == device.id]
    opened = datetime.fromisoformat(incident["opened_at"].rstrip("Z"))
    due = datetime.fromisoformat(incident["response_due_at"].rstrip("Z"))
    assert due - opened == timedelta(minutes=120)
