"""Customers: CRUD, self-management for customer logins, link (customer approves) and unlink."""

from __future__ import annotations

import uuid

import httpx
from server_helpers import PASSWORD, Account, Server, new_serial, problem, unlinked_customer

from fieldtech.domain.plans import Tier, TierLimits


def test_crud_with_client_chosen_ids(server: Server, acme: Account) -> None:
    cid = str(uuid.uuid4())
    created = acme.http.post(
        "/v1/customers", json={"id": cid, "name": "Grace", "membership": "priority"}
    )
    assert created.status_code == 201 and created.json()["id"] == cid
    problem(acme.http.post("/v1/customers", json={"id": cid, "name": "Dup"}), 409, "already-exists")
    bad = acme.http.post(
        "/v1/customers", json={"id": str(uuid.uuid4()), "name": "G", "email": "nope"}
    )
    assert problem(bad, 422, "validation")["errors"][0]["field"] == "email"
    patched = acme.http.patch(f"/v1/customers/{cid}", json={"self_management": "modify"})
    assert patched.json()["self_management"] == "modify" and patched.json()["revision"] == 2
    ctl = acme.controller(cid)
    problem(acme.http.delete(f"/v1/customers/{cid}"), 409, "customer-has-controllers")
    acme.http.delete(f"/v1/controllers/{ctl['id']}")
    assert acme.http.delete(f"/v1/customers/{cid}").status_code == 204
    problem(acme.http.get(f"/v1/customers/{cid}"), 404, "not-found")


def test_controllers_move_between_customers_and_get_serials_later(
    server: Server, acme: Account
) -> None:
    a, b = acme.customer("A"), acme.customer("B")
    ctl = acme.controller(a["id"])
    assert ctl["serial"] is None
    serial = new_serial()
    moved = acme.http.patch(
        f"/v1/controllers/{ctl['id']}", json={"customer_id": b["id"], "serial": serial}
    )
    assert moved.status_code == 200
    assert (moved.json()["customer_id"], moved.json()["serial"]) == (b["id"], serial)
    other = acme.controller(a["id"])
    problem(
        acme.http.patch(f"/v1/controllers/{other['id']}", json={"serial": serial}),
        409,
        "serial-taken",
    )
    bad = acme.http.patch(f"/v1/controllers/{other['id']}", json={"serial": "nope"})
    assert problem(bad, 422, "validation")["errors"][0]["field"] == "serial"
    actions = [
        e["action"] for e in acme.http.get(f"/v1/controllers/{ctl['id']}/audit").json()["entries"]
    ]
    assert actions == ["controller.move", "controller.create"]


def _customer_login(server: Server, acme: Account, level: str) -> tuple[dict, dict, object]:
    customer = acme.customer(self_management=level)
    ctl = acme.controller(customer["id"], zone_count=2)
    email = f"home-{uuid.uuid4().hex[:8]}@example.com"
    r = acme.http.post(
        f"/v1/customers/{customer['id']}/users", json={"email": email, "password": PASSWORD}
    )
    assert r.status_code == 201
    return customer, ctl, server.client(server.login(email))


def test_customer_self_management_levels(server: Server, acme: Account) -> None:
    _, ctl, none = _customer_login(server, acme, "none")
    assert none.get("/v1/controllers").json()["controllers"] == []
    problem(none.get(f"/v1/controllers/{ctl['id']}/config"), 404, "not-found")

    _, viewed, viewer = _customer_login(server, acme, "view_and_run")
    url = f"/v1/controllers/{viewed['id']}"
    config = viewer.get(f"{url}/config").json()["config"]
    assert [c["id"] for c in viewer.get("/v1/controllers").json()["controllers"]] == [viewed["id"]]
    assert viewer.post(f"{url}/run", json={"zone": 1, "seconds": 60}).status_code == 202
    put = viewer.put(f"{url}/config", json=config, headers={"If-Match": '"1"'})
    problem(put, 403, "forbidden")
    problem(viewer.get("/v1/customers"), 403, "forbidden")  # staff-only endpoints

    _, ctl, modifier = _customer_login(server, acme, "modify")
    config["zones"][0]["name"] = "Veggies"
    ok = modifier.put(
        f"/v1/controllers/{ctl['id']}/config", json=config, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.json()["revision"] == 2
    problem(modifier.get(url), 404, "not-found")  # never another customer's controller
    entries = acme.http.get(f"/v1/audit?controller_id={ctl['id']}").json()["entries"]
    assert entries[0]["action"] == "config.update"
    assert entries[0]["actor"].startswith("customer:home-")


def test_unlinked_customers_keep_their_controllers_and_asking_reveals_nothing(
    server: Server,
) -> None:
    first, second = server.account(), server.account()
    customer, ctl, home = _customer_login(server, first, "modify")
    first.http.post(f"/v1/customers/{customer['id']}/unlink")
    assert home.get(f"/v1/controllers/{ctl['id']}").status_code == 200  # still theirs to see
    problem(first.http.get(f"/v1/controllers/{ctl['id']}"), 404, "not-found")
    # the same answer whether someone matched or not
    by_serial = second.http.post("/v1/customers/link", json={"serial": "FT1-NOBODY00"})
    by_email = second.http.post("/v1/customers/link", json={"email": "nobody@example.com"})
    assert by_serial.json() == by_email.json() and by_email.status_code == 202


def test_link_request_approval_counts_the_controllers(server: Server) -> None:
    first = server.account()
    second = server.account(
        Tier.PLATINUM, TierLimits(controllers=1, staff_users=5, included_enthusiast=0)
    )
    email = f"family-{uuid.uuid4().hex[:6]}@example.com"
    customer = first.customer("Family", email=email, self_management="modify")
    first.controller(customer["id"], serial=new_serial())
    first.controller(customer["id"])
    r = first.http.post(
        f"/v1/customers/{customer['id']}/users", json={"email": email, "password": PASSWORD}
    )
    assert r.status_code == 201
    home = server.client(server.login(email))
    first.http.post(f"/v1/customers/{customer['id']}/unlink")
    second.http.post("/v1/customers/link", json={"email": email.upper()})
    requests = home.get("/v1/me/link-requests").json()["link_requests"]
    assert len(requests) == 1
    too_many = home.post(f"/v1/me/link-requests/{requests[0]['id']}/approve")
    body = problem(too_many, 409, "quota-exceeded")  # 2 controllers, 1 slot
    assert (body["limit"], body["used"]) == (1, 0)
    second.http.put("/v1/account/tier", json={"tier": "starter"})
    ok = home.post(f"/v1/me/link-requests/{requests[0]['id']}/approve")
    assert ok.status_code == 200 and ok.json()["controllers"] == 2
    assert second.http.get(f"/v1/customers/{customer['id']}").status_code == 200
    assert second.http.get("/v1/account").json()["usage"]["controllers_used"] == 2
    problem(first.http.get(f"/v1/customers/{customer['id']}"), 404, "not-found")


def test_a_control_character_in_a_path_or_query_is_answered_alike_on_every_backend(
    server: Server, acme: Account
) -> None:
    # PostgreSQL cannot even compare an id holding NUL: it was a bare 422 there and a 404 on
    # SQLite. Now one answer before any route: 404 for a path, 422 naming the parameter.
    customer = acme.customer()
    for path in [f"/v1/customers/{customer['id']}%00", "/v1/customers/%00",
                 f"/v1/controllers/x%1b{customer['id']}/config", "/v1/documents/a%7fb"]:
        problem(acme.http.get(path), 404, "not-found")
        problem(acme.http.patch(path, json={"name": "x"}), 404, "not-found")
    anonymous = httpx.Client(base_url=str(acme.http.base_url))
    problem(anonymous.get("/v1/customers/%00"), 404, "not-found")  # no account is asked
    for query, field in [({"customer_id": "a\x00b"}, "customer_id"),
                         ({"kind": "test_note\n"}, "kind")]:
        errors = problem(acme.http.get("/v1/documents", params=query), 422, "validation")["errors"]
        assert [e["field"] for e in errors] == [field]
        assert errors[0]["message"].startswith("Remove the ")
    twice = acme.http.get("/v1/controllers", params=[("customer_id", customer["id"])] * 2)
    assert [e["field"] for e in problem(twice, 422, "validation")["errors"]] == ["customer_id"]
    # the same routes still answer normally without one
    assert acme.http.get(f"/v1/customers/{customer['id']}").status_code == 200
    fine = {"kind": "test_note", "customer_id": customer["id"]}
    assert acme.http.get("/v1/documents", params=fine).status_code == 200


def test_control_characters_are_refused_naming_the_field_on_every_text_endpoint(
    server: Server, acme: Account
) -> None:
    # PostgreSQL text cannot hold NUL: without these checks it is a bare "not storable" there,
    # and stored as typed on SQLite.
    customer = acme.customer()
    ctl = acme.controller(customer["id"], zone_count=2)
    config = acme.http.get(f"/v1/controllers/{ctl['id']}/config").json()["config"]
    config["zones"][0]["name"] = "Lawn\x00"
    nul = "Ada\x00Lovelace"
    cases = [
        ("POST", "/v1/customers", {"id": str(uuid.uuid4()), "name": nul}, "name"),
        ("POST", "/v1/customers", {"id": str(uuid.uuid4()), "name": "A", "address": nul},
         "address"),
        ("POST", "/v1/customers", {"id": str(uuid.uuid4()), "name": "Tab\there"}, "name"),
        ("PATCH", f"/v1/customers/{customer['id']}", {"phone": "555\x001234"}, "phone"),
        ("PATCH", f"/v1/customers/{customer['id']}", {"phone": "555\n1234"}, "phone"),
        ("POST", "/v1/controllers", {"id": str(uuid.uuid4()), "customer_id": customer["id"],
                                     "name": "Back", "notes": nul}, "notes"),
        ("PATCH", f"/v1/controllers/{ctl['id']}", {"name": "Back\x1b[31m"}, "name"),
        ("PUT", f"/v1/controllers/{ctl['id']}/config", config, "zones.0.name"),
        ("POST", "/v1/customers/link", {"email": "a\x00@example.com"}, "email"),
        ("POST", f"/v1/customers/{customer['id']}/users",
         {"email": "b\x00@example.com", "password": PASSWORD}, "email"),
        ("POST", "/v1/staff", {"email": "c\x00@example.com", "password": PASSWORD}, "email"),
        ("POST", "/v1/auth/login",
         {"email": acme.email, "password": PASSWORD, "token_name": nul}, "token_name"),
    ]
    for method, url, body, field in cases:
        r = acme.http.request(method, url, json=body, headers={"If-Match": '"1"'})
        errors = problem(r, 422, "validation")["errors"]
        assert [e["field"] for e in errors] == [field], (method, url, errors)
        assert errors[0]["message"].startswith("Remove the "), errors
    assert [c["name"] for c in acme.http.get("/v1/customers").json()["customers"]] == [
        "Ada Lovelace"
    ]
    assert acme.http.get(f"/v1/customers/{customer['id']}").json()["revision"] == 1
    assert acme.http.get(f"/v1/controllers/{ctl['id']}").json()["revision"] == 1
    # multi-line text keeps its line breaks
    multi = acme.customer("Grace", address="1 Main St\nSpringfield")
    assert multi["address"] == "1 Main St\nSpringfield"


def _audit(account: Account, action: str) -> list[dict]:
    entries = account.http.get("/v1/audit").json()["entries"]
    return [e for e in entries if e["action"] == action]


def test_linking_by_controller_serial_counts_the_controllers_once_approved(
    server: Server,
) -> None:
    first, second = server.account(), server.account()
    customer, controllers, home = unlinked_customer(server, first, controllers=2)
    serial = controllers[1]["serial"]
    r = second.http.post("/v1/customers/link", json={"serial": serial.lower()})
    assert r.status_code == 202
    assert second.http.get("/v1/account").json()["usage"]["controllers_used"] == 0  # not yet
    requests = home.get("/v1/me/link-requests").json()["link_requests"]
    assert [q["contractor"] for q in requests] == [second.http.get("/v1/account").json()["name"]]
    ok = home.post(f"/v1/me/link-requests/{requests[0]['id']}/approve")
    assert ok.status_code == 200 and ok.json() == {
        "customer_id": customer["id"], "linked": True, "controllers": 2
    }
    assert second.http.get("/v1/account").json()["usage"]["controllers_used"] == 2
    listed = second.http.get("/v1/controllers", params={"customer_id": customer["id"]}).json()
    assert sorted(c["id"] for c in listed["controllers"]) == sorted(c["id"] for c in controllers)
    assert second.http.get(f"/v1/customers/{customer['id']}").status_code == 200
    assert _audit(second, "customer.link")[0]["detail"] == {"controllers": 2}
    assert home.get("/v1/me/link-requests").json()["link_requests"] == []


def test_a_declined_link_changes_nothing_and_the_requester_is_told(server: Server) -> None:
    first, second = server.account(), server.account()
    customer, controllers, home = unlinked_customer(server, first, controllers=1)
    serial = controllers[0]["serial"]
    second.http.post("/v1/customers/link", json={"serial": serial})
    request_id = home.get("/v1/me/link-requests").json()["link_requests"][0]["id"]
    assert home.post(f"/v1/me/link-requests/{request_id}/decline").status_code == 204
    assert home.get("/v1/me/link-requests").json()["link_requests"] == []
    problem(home.post(f"/v1/me/link-requests/{request_id}/approve"), 404, "not-found")
    # nothing moved: the customer keeps their controller, the contractor counts nothing
    assert home.get(f"/v1/controllers/{controllers[0]['id']}").status_code == 200
    assert second.http.get("/v1/account").json()["usage"]["controllers_used"] == 0
    assert second.http.get("/v1/controllers").json()["controllers"] == []
    problem(second.http.get(f"/v1/customers/{customer['id']}"), 404, "not-found")
    # the requester reads the refusal in their audit log, told by what they typed only
    declined = _audit(second, "customer.link_declined")
    assert [(e["detail"], e["actor"]) for e in declined] == [({"asked_for": serial}, "customer")]
    audit_text = second.http.get("/v1/audit").text
    assert customer["email"] not in audit_text and customer["id"] not in audit_text


def test_asking_again_keeps_the_one_pending_request_and_the_log_tells_no_match_apart(
    server: Server,
) -> None:
    first, second = server.account(), server.account()
    customer, controllers, home = unlinked_customer(server, first, controllers=1)
    answers = [
        second.http.post("/v1/customers/link", json=body).json()
        for body in (
            {"email": customer["email"]},
            {"email": customer["email"].upper()},
            {"serial": controllers[0]["serial"]},
            {"email": "nobody@example.com"},
        )
    ]
    assert answers[0] == answers[1] == answers[2] == answers[3]
    requests = home.get("/v1/me/link-requests").json()["link_requests"]
    assert len(requests) == 1
    entries = _audit(second, "customer.link_request")
    assert len(entries) == 4
    matched, unmatched = entries[-1], entries[0]  # newest first
    assert matched.keys() == unmatched.keys()
    assert matched["customer_id"] is None and unmatched["customer_id"] is None
    assert unmatched["detail"] == {"email": "nobody@example.com", "serial": None}
    # once answered, a new request can be made
    home.post(f"/v1/me/link-requests/{requests[0]['id']}/decline")
    second.http.post("/v1/customers/link", json={"email": customer["email"]})
    again = home.get("/v1/me/link-requests").json()["link_requests"]
    assert len(again) == 1 and again[0]["id"] != requests[0]["id"]
