"""In the cloud (SQLite and PostgreSQL), a customer's membership follows their agreement: an
agreement made, changed or deleted over the API sets it in the same transaction, logged for
the clients; triage's incidents and their SLA clocks read it; setting it by hand against the
agreement is refused."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from server_helpers import Account, Server, changes, cursor_now, document, paired_device, problem

from fieldtech.domain.contracts import DEFAULT_TIER_BY_CODE
from fieldtech.server.state import utcnow

LEAK = {"kind": "flow_high", "zone": 3, "detail": "Zone 3: 14 l/min, usually 6"}
WIRING = {"kind": "zone_no_current", "zone": 2, "detail": "Zone 2: open circuit"}


def _incident(account: Account, controller_id: str, kind: str) -> dict:
    r = account.http.get("/v1/incidents", params={"state": "all"})
    assert r.status_code == 200, r.text
    [found] = [i for i in r.json()["incidents"]
               if i["controller_id"] == controller_id and i["kind"] == kind]
    return found


def test_an_agreement_sets_the_membership_triage_and_the_sla_clock_read(
    server: Server, acme: Account
) -> None:
    customer = acme.customer("Pat Agreement")
    assert customer["membership"] == "none"
    device = paired_device(server, acme, customer["id"])
    device.beat(applied_revision=1, faults=[])
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["priority"].to_data())
    today = (utcnow() + server.clock.offset).date()
    cursor = cursor_now(acme)
    agreement = document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
                         billing="monthly", start=(today - timedelta(days=10)).isoformat())

    held = acme.http.get(f"/v1/customers/{customer['id']}").json()
    assert held["membership"] == "priority" and held["revision"] == customer["revision"] + 1
    logged = [c for c in changes(acme, cursor)[0] if c["entity"] == "customer"]
    assert [c["data"]["membership"] for c in logged] == ["priority"]  # clients pull it

    device.beat(applied_revision=1, faults=[LEAK])
    leak = _incident(acme, device.id, "flow_high")
    assert leak["membership"] == "priority" and leak["response_due_at"] is not None

    # suspended: no service, no promise — the next incident has no clock
    r = acme.http.patch(f"/v1/documents/{agreement['id']}", json={"data": {
        "status": "suspended", "suspended_from": today.isoformat()}})
    assert r.status_code == 200, r.text
    assert acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"] == "none"
    device.beat(applied_revision=1, faults=[LEAK, WIRING])
    wiring = _incident(acme, device.id, "zone_no_current")
    assert wiring["membership"] is None and wiring["response_due_at"] is None

    r = acme.http.patch(f"/v1/documents/{agreement['id']}", json={"data": {
        "status": "active", "suspended_from": None}})
    assert r.status_code == 200, r.text
    assert acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"] == "priority"

    # the tier's code changed: its customers' membership follows (not one of the five: none)
    other = acme.customer("Not On This Tier", membership="standard")
    for code, expected in (("gold", "none"), ("priority", "priority")):
        r = acme.http.patch(f"/v1/documents/{tier['id']}", json={"data": {"code": code}})
        assert r.status_code == 200, r.text
        assert acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"] == expected
    assert acme.http.get(f"/v1/customers/{other['id']}").json()["membership"] == "standard"


def test_a_membership_set_by_hand_must_be_the_agreements(server: Server, acme: Account) -> None:
    customer = acme.customer("Hand Set", membership="standard")
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["essentials"].to_data())
    today = (utcnow() + server.clock.offset).date()
    document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
             billing="annual", start=today.isoformat())
    held = acme.http.get(f"/v1/customers/{customer['id']}").json()
    assert held["membership"] == "essentials"
    body = problem(acme.http.patch(f"/v1/customers/{customer['id']}",
                                   json={"membership": "proactive"}), 422, "validation")
    assert body["errors"][0]["field"] == "membership"
    assert "set by their agreement (Essentials today)" in body["errors"][0]["message"]
    assert acme.http.get(f"/v1/customers/{customer['id']}").json() == held  # nothing written
    same = acme.http.patch(f"/v1/customers/{customer['id']}",
                           json={"membership": "essentials", "phone": "555-0100"})
    assert same.status_code == 200, same.text
    # a customer with no agreement is still set by hand
    other = acme.customer("No Agreement")
    r = acme.http.patch(f"/v1/customers/{other['id']}", json={"membership": "priority"})
    assert r.status_code == 200 and r.json()["membership"] == "priority"


def test_the_default_catalogue_made_on_two_devices_is_one_record(
    server: Server, acme: Account
) -> None:
    from fieldtech.domain.contracts import default_catalogue

    catalogue = default_catalogue(acme.id)  # the ids every device of this account chooses
    for device in ("first", "second"):  # the second sends the very same records
        for doc in catalogue:
            r = acme.http.post("/v1/documents", json={"id": doc.id, "kind": doc.kind,
                                                      "data": doc.data})
            assert r.status_code == 201, (device, r.text)
            assert r.json()["revision"] == 1
            assert r.json()["data"] == {k: v for k, v in doc.data.items() if v is not None}
    tiers = acme.http.get("/v1/documents", params={"kind": "tier"}).json()["documents"]
    prices = {t["data"]["code"]: t["data"]["prices"][0]["monthly_cents"] for t in tiers}
    assert prices == {"standard": 0, "essentials": 12_500, "priority": 30_000,
                      "proactive": 75_000}
    logged = [c["id"] for c in changes(acme, 0)[0] if c["entity"] == "document"]
    assert sorted(logged) == sorted(d.id for d in catalogue)  # each logged once

    # the same id with other fields is not the same record: refused, nothing changed
    tier = next(d for d in catalogue if d.data.get("code") == "priority")
    changed = {**tier.data, "name": "Priority Plus"}
    problem(acme.http.post("/v1/documents", json={"id": tier.id, "kind": "tier",
                                                  "data": changed}), 409, "already-exists")
    held = acme.http.get(f"/v1/documents/{tier.id}").json()
    assert held["data"]["name"] == "Priority" and held["revision"] == 1


def test_the_sweeper_settles_what_only_the_calendar_changes(server: Server, acme: Account) -> None:
    from fieldtech.server.sweeper import sweep

    customer = acme.customer("Runs Out")
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["essentials"].to_data())
    today = (utcnow() + server.clock.offset).date()
    agreement = document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
                         billing="monthly", start=(today - timedelta(days=40)).isoformat())
    r = acme.http.patch(f"/v1/documents/{agreement['id']}", json={"data": {
        "status": "cancelled", "cancelled_on": today.isoformat()}})
    assert r.status_code == 200, r.text
    held = acme.http.get(f"/v1/customers/{customer['id']}").json()
    assert held["membership"] == "essentials"  # service runs to the end of the paid term
    state = server.app.state.server
    sweep(state)
    assert acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"] == "essentials"

    cursor = cursor_now(acme)
    server.clock.advance(timedelta(days=40))
    sweep(state)
    sweep(state)  # once a day, and a second worker's pass changes nothing
    after = acme.http.get(f"/v1/customers/{customer['id']}").json()
    assert after["membership"] == "none" and after["revision"] == held["revision"] + 1
    logged = [c for c in changes(acme, cursor)[0] if c["entity"] == "customer"
              and c["id"] == customer["id"]]
    assert [c["data"]["membership"] for c in logged] == ["none"]  # clients pull it


def test_the_sweeper_turns_memberships_at_the_contractors_midnight(
        server: Server, acme: Account) -> None:
    from fieldtech.server.sweeper import sweep

    # the contractor is 14 hours ahead of UTC: their day turns at 10:00 UTC
    r = acme.http.put("/v1/account/service-settings", json={"timezone": "Pacific/Kiritimati"})
    assert r.status_code == 200, r.text
    assert acme.http.get("/v1/account").json()["timezone"] == "Pacific/Kiritimati"
    now = server.clock()
    before_midnight = datetime.combine(now.date() + timedelta(days=1), time(9, 30))
    server.clock.advance(before_midnight - now)  # 23:30 the contractor's day, 09:30 UTC
    their_today = before_midnight.date()
    customer = acme.customer("Starts Tomorrow")
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["essentials"].to_data())
    document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
             billing="monthly", start=(their_today + timedelta(days=1)).isoformat())
    state = server.app.state.server
    sweep(state)
    waiting = acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"]
    assert waiting != "essentials"

    server.clock.advance(timedelta(hours=1))  # 00:30 their next day, still 10:30 UTC that day
    sweep(state)
    assert acme.http.get(f"/v1/customers/{customer['id']}").json()["membership"] == "essentials"
