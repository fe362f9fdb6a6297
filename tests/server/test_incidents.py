"""Heartbeats turn faults, silence, reboots and drift into incidents (issue 10, part 2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server_helpers import Account, Device, Server, changes, cursor_now, paired_device, problem

from fieldtech.server.sweeper import sweep

LEAK = {"kind": "flow_high", "zone": 3, "detail": "Zone 3: 14 l/min, usually 6"}


def incidents(account: Account, state: str = "all") -> list[dict[str, Any]]:
    r = account.http.get("/v1/incidents", params={"state": state})
    assert r.status_code == 200, r.text
    return r.json()["incidents"]


def of(account: Account, device: Device, kind: str, state: str = "all") -> list[dict[str, Any]]:
    return [i for i in incidents(account, state)
            if i["controller_id"] == device.id and i["kind"] == kind]


def logged(account: Account, cursor: int, entity: str) -> list[dict[str, Any]]:
    return [c for c in changes(account, cursor)[0] if c["entity"] == entity]


def test_a_quiet_heartbeat_answers_the_contract_and_logs_nothing(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme)
    first = device.beat(applied_revision=1, enabled=True, uptime_s=100, faults=[], firmware="1.4")
    assert first["config_revision"] == 1 and first["heartbeat_s"] == 30
    assert first["commands"] == [] and first["state"] == "online"
    cursor = cursor_now(acme)
    for uptime in (130, 160, 190):  # the same report: nothing a person would see changed
        device.beat(applied_revision=1, enabled=True, uptime_s=uptime, faults=[], firmware="1.4",
                    running=None, unknown_key_from_newer_firmware=1)
    assert changes(acme, cursor)[0] == []


def test_a_fault_opens_an_incident_recovery_resolves_it_recurrence_reopens_it(
    server: Server, acme: Account
) -> None:
    acme_customer = acme.customer("Pat", membership="priority")
    device = paired_device(server, acme, acme_customer["id"])
    device.beat(applied_revision=1, faults=[])
    cursor = cursor_now(acme)

    device.beat(applied_revision=1, faults=[LEAK])
    [leak] = of(acme, device, "flow_high")
    assert leak["state"] == "open" and leak["severity"] == "critical" and leak["zone"] == 3
    assert leak["membership"] == "priority" and leak["detail"] == LEAK["detail"]
    assert leak["response_due_at"] is not None and leak["count"] == 1
    seen = logged(acme, cursor, "incident")
    assert [c["data"]["id"] for c in seen] == [leak["id"]]
    [state] = logged(acme, cursor, "device_state")
    assert state["id"] == device.id and state["data"]["faults"][0]["kind"] == "flow_high"
    device.beat(applied_revision=1, faults=[LEAK])  # still there: nothing new
    assert len(logged(acme, cursor, "incident")) == 1

    device.beat(applied_revision=1, faults=[])  # recovered
    [resolved] = of(acme, device, "flow_high")
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None
    assert resolved["duration_s"] is not None and resolved["resolved_by"] is None
    assert of(acme, device, "flow_high", "open") == []

    server.clock.advance(timedelta(minutes=5))
    device.beat(applied_revision=1, faults=[LEAK])  # back within 30 min: the same incident
    [again] = of(acme, device, "flow_high")
    assert again["id"] == leak["id"] and again["state"] == "open" and again["count"] == 2
    device.beat(applied_revision=1, faults=[])
    server.clock.advance(timedelta(minutes=31))
    device.beat(applied_revision=1, faults=[LEAK])  # later than that: a new one
    assert len(of(acme, device, "flow_high")) == 2


def test_absent_faults_change_nothing_and_unknown_kinds_are_ignored(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme)
    device.beat(faults=[{"kind": "zone_no_current", "zone": 2, "detail": "open circuit"}])
    device.beat()  # old firmware: faults unknown, the incident stays open
    assert len(of(acme, device, "zone_no_current", "open")) == 1
    device.beat(faults=[{"kind": "made_up", "zone": None}])
    assert of(acme, device, "zone_no_current", "open") == []  # [] of known kinds: recovered
    assert [i for i in incidents(acme) if i["kind"] == "made_up"] == []


def test_offline_after_three_missed_heartbeats_not_before(server: Server, acme: Account) -> None:
    device = paired_device(server, acme, acme.customer(membership="essentials")["id"])
    neighbour = paired_device(server, acme, device.customer_id)  # the site stays up
    device.beat(applied_revision=1)
    state = server.app.state.server
    server.clock.advance(timedelta(seconds=85))
    neighbour.beat()
    sweep(state)
    assert of(acme, device, "offline") == []
    cursor = cursor_now(acme)
    server.clock.advance(timedelta(seconds=10))  # 95 s > 3 × 30 s
    sweep(state)
    sweep(state)  # idempotent: a second worker's sweep changes nothing
    [offline] = of(acme, device, "offline")
    assert offline["severity"] == "critical" and offline["state"] == "open"
    [entry] = [c for c in logged(acme, cursor, "device_state") if c["id"] == device.id]
    assert entry["data"]["online"] is False and entry["data"]["offline_since"] is not None
    device.beat(applied_revision=1)
    [back] = of(acme, device, "offline")
    assert back["state"] == "resolved"


def test_back_within_the_grace_never_opens_one(server: Server, acme: Account) -> None:
    device = paired_device(server, acme)
    state = server.app.state.server
    for _ in range(4):
        device.beat()
        server.clock.advance(timedelta(seconds=80))
        sweep(state)
    assert of(acme, device, "offline") == []


def test_a_whole_site_offline_is_one_incident(server: Server, acme: Account) -> None:
    customer = acme.customer("Estate", membership="standard")
    devices = [paired_device(server, acme, customer["id"]) for _ in range(3)]
    for d in devices:
        d.beat()
    server.clock.advance(timedelta(minutes=2))
    sweep(server.app.state.server)
    site = [i for i in incidents(acme, "open") if i["customer_id"] == customer["id"]]
    assert [(i["kind"], i["controller_id"]) for i in site] == [("site_offline", None)]
    assert site[0]["severity"] == "warning"  # Standard promises no fast response
    devices[0].beat()  # one is back: the site incident resolves, the other two get their own
    now_open = [i for i in incidents(acme, "open") if i["customer_id"] == customer["id"]]
    assert sorted(i["controller_id"] for i in now_open) == sorted(d.id for d in devices[1:])


def test_a_reboot_without_going_offline_is_an_info_incident(
    server: Server, acme: Account
) -> None:
    device = paired_device(server, acme)
    device.beat(uptime_s=5000)
    device.beat(uptime_s=5030)
    assert of(acme, device, "rebooted") == []
    device.beat(uptime_s=12)
    [reboot] = of(acme, device, "rebooted")
    assert reboot["severity"] == "info"


def test_out_of_sync_after_a_minute_and_back_in_sync(server: Server, acme: Account) -> None:
    device = paired_device(server, acme)
    device.beat(applied_revision=1)
    config = acme.http.get(f"/v1/controllers/{device.id}/config").json()["config"]
    config["zones"][0]["name"] = "Roses"
    r = acme.http.put(f"/v1/controllers/{device.id}/config", json=config,
                      headers={"If-Match": '"1"'})
    assert r.json()["revision"] == 2
    device.beat(applied_revision=1)  # the device has not caught up yet
    server.clock.advance(timedelta(seconds=30))
    device.beat(applied_revision=1)
    sweep(server.app.state.server)
    assert of(acme, device, "out_of_sync") == []
    server.clock.advance(timedelta(seconds=35))
    device.beat(applied_revision=1)
    sweep(server.app.state.server)
    [drift] = of(acme, device, "out_of_sync", "open")
    assert "revision 1" in drift["detail"]
    device.beat(applied_revision=2)
    assert of(acme, device, "out_of_sync", "open") == []


def test_sla_breach_is_recorded_and_an_acknowledgement_stops_the_clock(
    server: Server, acme: Account
) -> None:
    customer = acme.customer("Quick", membership="essentials")  # 30 min, 24/7
    one, two = (paired_device(server, acme, customer["id"]) for _ in range(2))
    one.beat(faults=[LEAK])
    two.beat(faults=[LEAK])
    [first] = of(acme, one, "flow_high")
    [second] = of(acme, two, "flow_high")
    r = acme.http.post(f"/v1/incidents/{first['id']}/ack", json={"note": "Calling the customer"})
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == acme.email
    assert acked["ack_note"] == "Calling the customer"
    server.clock.advance(timedelta(minutes=31))
    sweep(server.app.state.server)
    assert of(acme, one, "flow_high")[0]["breached_at"] is None  # answered in time
    breached = of(acme, two, "flow_high")[0]
    assert breached["breached_at"] is not None and breached["id"] == second["id"]


def test_snooze_assign_resolve_are_audited_and_other_accounts_get_404(
    server: Server, acme: Account, rival: Account
) -> None:
    device = paired_device(server, acme)
    device.beat(faults=[{"kind": "low_voltage", "zone": None, "detail": "22 V"}])
    [inc] = of(acme, device, "low_voltage")
    url = f"/v1/incidents/{inc['id']}"
    later = (server.clock() + timedelta(hours=2)).isoformat() + "Z"
    for path, body in (("ack", {"note": "x"}), ("snooze", {"until": later}),
                       ("assign", {"user_id": None}), ("resolve", {"note": "x"})):
        problem(rival.http.post(f"{url}/{path}", json=body), 404, "not-found")
        problem(acme.http.post(f"/v1/incidents/nope/{path}", json=body), 404, "not-found")
    assert all(i["id"] != inc["id"] for i in incidents(rival))
    snoozed = acme.http.post(f"{url}/snooze", json={"until": later, "note": "after lunch"})
    assert snoozed.json()["state"] == "snoozed"
    me = acme.http.get("/v1/me").json()["user_id"]
    assigned = acme.http.post(f"{url}/assign", json={"user_id": me}).json()
    assert assigned["assigned_to"] == me
    problem(acme.http.post(f"{url}/assign", json={"user_id": "someone"}), 422, "validation")
    done = acme.http.post(f"{url}/resolve", json={"note": "replaced the transformer"}).json()
    assert done["state"] == "resolved" and done["resolved_by"] == acme.email
    actions = [e["action"] for e in acme.http.get(f"/v1/controllers/{device.id}/audit")
               .json()["entries"]]
    assert {"incident.snooze", "incident.assign", "incident.resolve"} <= set(actions)


def test_a_seeded_fleet_opens_what_its_offline_and_faulty_controllers_would_have_raised(
    server: Server
) -> None:
    """The demo's account: generated offline controllers and faults become incidents, a
    customer whose every controller is down one site incident (the sweeper's rule)."""
    from dataclasses import replace

    from fieldtech.domain.models import ControllerState
    from fieldtech.domain.plans import Tier
    from fieldtech.offline_store.seed import GeneratedAccount, generate_account
    from fieldtech.server.seed import seed_account, seed_incidents

    account = server.account(Tier.SILVER)
    made = generate_account(3, 6)
    first, second = made.customers[0].id, made.customers[1].id
    controllers = []
    for n, (c, rev, _state, _fault) in enumerate(made.controllers):
        c = replace(c, customer_id=first if n < 2 else second,
                    serial=c.serial or f"FT1-SEED{n:04d}")
        state = ControllerState.OFFLINE if n < 3 else ControllerState.ONLINE
        fault = "Zone 4: no current (broken wire?)" if n == 3 else None
        controllers.append((c, rev, state, fault))
    made = GeneratedAccount(made.account, made.customers, controllers)
    seed_account(server.db, account.id, made)
    assert seed_incidents(server.db, account.id, made) == 3

    opened = incidents(account, "open")
    site = [i for i in opened if i["kind"] == "site_offline"]
    assert [i["customer_id"] for i in site] == [first]  # both its controllers down: one
    offline = [i for i in opened if i["kind"] == "offline"]
    assert [i["controller_id"] for i in offline] == [controllers[2][0].id]
    fault = [i for i in opened if i["kind"] == "zone_no_current"]
    assert [(i["controller_id"], i["zone"]) for i in fault] == [(controllers[3][0].id, 4)]
    assert seed_incidents(server.db, account.id, made) == 0  # open already: not doubled
