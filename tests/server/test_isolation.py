"""A contractor never sees, changes or learns about another account's records: every endpoint
with a record id answers 404 to the wrong account, and lists never include foreign records."""

from __future__ import annotations

import re
import uuid

import pytest
from server_helpers import (
    Account,
    Server,
    document,
    new_serial,
    paired_device,
    problem,
    unlinked_customer,
)

SAMPLE_BODIES = {
    "/v1/controllers/{controller_id}/config": {"zones": [], "programs": []},
    "/v1/controllers/{controller_id}/run": {"zone": 1, "seconds": 60},
    "/v1/controllers/{controller_id}/commands": {"kind": "zone.stop", "queue_if_offline": True},
    "/v1/incidents/{incident_id}/snooze": {"until": "2099-01-01T00:00:00Z"},
    "/v1/customers/{customer_id}/plan/redeem": {"code": "45F2-644E"},
    "/v1/customers/{customer_id}/users": {"email": "x@example.com", "password": "longenough"},
}


def _foreign_world(acme: Account) -> dict[str, str]:
    customer = acme.customer("Private Person", email="private@example.com")
    controller = acme.controller(customer["id"], serial=new_serial())
    tokens = acme.http.get("/v1/auth/tokens").json()["tokens"]
    staff = acme.http.get("/v1/staff").json()["staff"]
    device = paired_device(acme.server, acme)
    device.beat(faults=[{"kind": "low_voltage", "detail": "21 V"}])
    [incident] = acme.http.get("/v1/incidents").json()["incidents"]
    window = acme.http.post("/v1/maintenance", json={
        "customer_id": customer["id"], "starts": "2026-01-01T00:00:00Z",
        "ends": "2099-01-01T00:00:00Z"}).json()
    return {
        "customer_id": customer["id"],
        "controller_id": controller["id"],
        "token_id": tokens[0]["id"],
        "user_id": staff[0]["id"],
        "request_id": "00000000-0000-0000-0000-000000000000",
        "incident_id": incident["id"],
        "window_id": window["id"],
        "document_id": document(acme, customer_id=customer["id"], note="Private Person")["id"],
    }


def test_every_endpoint_with_an_id_answers_404_to_another_account(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    paths = server.app.openapi()["paths"]
    checked = 0
    for path, methods in paths.items():
        params = re.findall(r"{(\w+)}", path)
        if not params or path.startswith("/v1/me/"):
            continue
        url = path.format(**{p: ids[p] for p in params})
        for method, spec in methods.items():
            body = SAMPLE_BODIES.get(path, {} if "requestBody" in spec else None)
            headers = {"If-Match": '"1"'}
            r = rival.http.request(method.upper(), url, json=body, headers=headers)
            assert r.status_code == 404, f"{method.upper()} {path}: {r.status_code} {r.text}"
            assert r.json()["type"].endswith("/not-found")
            checked += 1
    assert checked >= 15  # the walk really covered the API
    # and nothing was changed for acme
    assert acme.http.get(f"/v1/controllers/{ids['controller_id']}").json()["revision"] == 1
    assert acme.http.get(f"/v1/customers/{ids['customer_id']}").json()["revision"] == 1
    assert acme.http.get("/v1/auth/tokens").status_code == 200


def test_lists_logs_and_changes_show_only_your_own_records(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    rival.customer("Rival's own")
    for url in (
        "/v1/customers",
        "/v1/controllers",
        f"/v1/controllers?customer_id={ids['customer_id']}",
        "/v1/changes?cursor=0&limit=500",
        "/v1/audit",
        f"/v1/audit?controller_id={ids['controller_id']}",
        f"/v1/audit?customer_id={ids['customer_id']}",
        "/v1/me/link-requests",
        "/v1/fleet/status",
        "/v1/staff",
        "/v1/purchase-requests",
        "/v1/auth/tokens",
        "/v1/documents?kind=test_note",
        f"/v1/documents?kind=test_note&customer_id={ids['customer_id']}",
    ):
        r = rival.http.get(url)
        # Documents of a customer are listed under it: another account's customer is not
        # found, as one that never existed (tests/server/test_documents.py checks both).
        assert r.status_code == (404 if "customer_id" in url and "documents" in url else 200), url
        for secret in (ids["customer_id"], ids["controller_id"], "Private Person", acme.email):
            assert secret not in r.text, f"{url} leaks {secret}"


@pytest.mark.parametrize(
    "op",
    ["customer.update", "customer.delete", "controller.update", "controller.delete", "config.put",
     "document.update", "document.delete"],
)
def test_batch_mutations_on_foreign_ids_are_rejected_as_not_found(
    server: Server, acme: Account, rival: Account, op: str
) -> None:
    ids = _foreign_world(acme)
    target = {"customer": ids["customer_id"], "document": ids["document_id"]}.get(
        op.split(".")[0], ids["controller_id"])
    item = {"key": f"k-{op}", "op": op, "id": target, "base_revision": 1, "data": {}}
    result = rival.http.post("/v1/sync/batch", json={"items": [item]}).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["problem"]["type"].endswith("/not-found")


def test_batch_creates_and_moves_onto_a_foreign_customer_are_rejected_as_not_found(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    mine = rival.customer()
    ctl = rival.controller(mine["id"])
    cursor = rival.http.get("/v1/changes").json()["cursor"]
    items = [
        {"key": "onto-foreign-create", "op": "controller.create",
         "data": {"id": str(uuid.uuid4()), "customer_id": ids["customer_id"], "name": "Sneaky"}},
        {"key": "onto-foreign-move", "op": "controller.update", "id": ctl["id"],
         "data": {"customer_id": ids["customer_id"]}},
    ]
    results = rival.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert all(r["problem"]["type"].endswith("/not-found") for r in results)
    # nothing was created or moved, on either side
    assert rival.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"] == []
    assert rival.http.get("/v1/account").json()["usage"]["controllers_used"] == 1
    assert rival.http.get(f"/v1/controllers/{ctl['id']}").json()["customer_id"] == mine["id"]
    theirs = acme.http.get("/v1/controllers", params={"customer_id": ids["customer_id"]}).json()
    assert [c["id"] for c in theirs["controllers"]] == [ids["controller_id"]]


def test_only_the_customer_asked_can_answer_a_link_request(
    server: Server, acme: Account, rival: Account
) -> None:
    customer, _, home = unlinked_customer(server, server.account())
    acme.http.post("/v1/customers/link", json={"email": customer["email"]})
    request_id = home.get("/v1/me/link-requests").json()["link_requests"][0]["id"]
    _, _, other_home = unlinked_customer(server, rival)  # another customer, with a login
    for outsider in (rival.http, other_home, acme.http):  # even the asking contractor's staff
        for answer in ("approve", "decline"):
            r = outsider.post(f"/v1/me/link-requests/{request_id}/{answer}")
            problem(r, 404, "not-found")
    assert other_home.get("/v1/me/link-requests").json()["link_requests"] == []
    # still pending, and the customer asked can still answer it
    assert [q["id"] for q in home.get("/v1/me/link-requests").json()["link_requests"]] == [
        request_id
    ]
    problem(acme.http.get(f"/v1/customers/{customer['id']}"), 404, "not-found")
    assert home.post(f"/v1/me/link-requests/{request_id}/approve").status_code == 200
    assert acme.http.get(f"/v1/customers/{customer['id']}").status_code == 200


def test_a_controller_of_another_account_cannot_be_used_as_a_customer_target(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    mine = rival.customer()
    theirs = rival.http.post(
        "/v1/controllers",
        json={
            "id": "6f0e3c1e-1111-4a1a-9a1a-000000000001",
            "customer_id": ids["customer_id"],
            "name": "Sneaky",
        },
    )
    problem(theirs, 404, "not-found")
    ctl = rival.controller(mine["id"])
    move = rival.http.patch(
        f"/v1/controllers/{ctl['id']}", json={"customer_id": ids["customer_id"]}
    )
    problem(move, 404, "not-found")


def test_an_id_taken_in_another_account_is_refused_like_any_unusable_id(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    mine = rival.customer()
    nil = "00000000-0000-0000-0000-000000000000"
    refusals = []
    for record_id in (ids["customer_id"], nil):
        r = rival.http.post("/v1/customers", json={"id": record_id, "name": "Guess"})
        refusals.append(problem(r, 422, "validation"))
    for record_id in (ids["controller_id"], nil):
        body = {"id": record_id, "customer_id": mine["id"], "name": "Guess"}
        refusals.append(problem(rival.http.post("/v1/controllers", json=body), 422, "validation"))
    bodies = [{k: v for k, v in b.items() if k != "instance"} for b in refusals]
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]  # a taken id looks like any refused
    assert bodies[0]["errors"][0]["field"] == "id"
    items = [
        {"key": "taken-customer", "op": "customer.create",
         "data": {"id": ids["customer_id"], "name": "Guess"}},
        {"key": "taken-controller", "op": "controller.create",
         "data": {"id": ids["controller_id"], "customer_id": mine["id"], "name": "Guess"}},
    ]
    results = rival.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["problem"] for r in results] == [bodies[0], bodies[0]]
    # the owner's records are untouched, and the owner still hears "already exists"
    assert acme.http.get(f"/v1/customers/{ids['customer_id']}").json()["name"] == "Private Person"
    assert acme.http.get(f"/v1/controllers/{ids['controller_id']}").json()["revision"] == 1
    again = acme.http.post("/v1/customers", json={"id": ids["customer_id"], "name": "Again"})
    problem(again, 409, "already-exists")
    assert rival.http.get("/v1/controllers").json()["controllers"] == []
    assert rival.http.get("/v1/account").json()["usage"]["controllers_used"] == 0


def test_a_serial_bound_in_another_account_is_not_revealed(
    server: Server, acme: Account, rival: Account
) -> None:
    ids = _foreign_world(acme)
    serial = acme.http.get(f"/v1/controllers/{ids['controller_id']}").json()["serial"]
    account_name = acme.http.get("/v1/account").json()["name"]
    mine = rival.customer()
    body = {"id": str(uuid.uuid4()), "customer_id": mine["id"], "name": "Mine", "serial": serial}
    r = rival.http.post("/v1/controllers", json=body)
    assert r.status_code == 201  # a claim like any other; pairing proves which is the device
    for secret in (acme.id, acme.email, account_name, ids["customer_id"], ids["controller_id"],
                   "Private Person"):
        assert secret not in r.text
