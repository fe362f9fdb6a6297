"""Synced documents in the cloud, on SQLite and PostgreSQL: REST and batch alike, in the change
log, stale revisions refused with the server copy, isolation by account, money for those with
the billing permission only, and a customer kept while documents name it."""

from __future__ import annotations

import uuid

from server_helpers import PASSWORD, Account, Server, changes, cursor_now, document, problem


def _staff(server: Server, owner: Account, billing: bool) -> Account:
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    r = owner.http.post("/v1/staff", json={"email": email, "password": PASSWORD,
                                           "billing": billing})
    assert r.status_code == 201, r.text
    token = server.login(email)
    return Account(server, owner.id, email, token, server.client(token))


def test_create_read_update_delete_and_the_change_log(server: Server, acme: Account) -> None:
    customer = acme.customer()
    cursor = cursor_now(acme)
    made = document(acme, customer_id=customer["id"], cents=1250)
    assert made["revision"] == 1 and made["customer_id"] == customer["id"]
    assert made["data"] == {"title": "Visit", "customer_id": customer["id"], "cents": 1250}

    r = acme.http.patch(f"/v1/documents/{made['id']}", json={"data": {"cents": None,
                                                                      "title": "Audit"}},
                        headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"title": "Audit", "customer_id": customer["id"]}
    assert r.headers["ETag"] == '"2"'
    # a stale edit is refused with the server's copy, to merge with
    stale = problem(acme.http.patch(f"/v1/documents/{made['id']}", json={"data": {}},
                                    headers={"If-Match": '"1"'}), 412, "stale-revision")
    assert stale["current"]["data"]["title"] == "Audit"

    listed = acme.http.get("/v1/documents", params={"kind": "test_note",
                                                    "customer_id": customer["id"]}).json()
    assert [d["id"] for d in listed["documents"]] == [made["id"]]
    assert acme.http.delete(f"/v1/documents/{made['id']}",
                            headers={"If-Match": '"2"'}).status_code == 204
    problem(acme.http.get(f"/v1/documents/{made['id']}"), 404, "not-found")

    log, _ = changes(acme, cursor)
    mine = [(c["entity"], c["op"], (c["data"] or {}).get("revision")) for c in log
            if c["id"] == made["id"]]
    assert mine == [("document", "upsert", 1), ("document", "upsert", 2),
                    ("document", "delete", None)]


def test_bad_documents_are_refused_whole(server: Server, acme: Account) -> None:
    customer = acme.customer()
    before = cursor_now(acme)
    cases = [
        ({"kind": "no_such_kind", "data": {}}, "kind"),
        ({"kind": "test_note", "data": {"title": "", "customer_id": customer["id"]}}, "title"),
        ({"kind": "test_note", "data": {"title": "x", "cents": -1}}, "cents"),
        ({"kind": "test_note", "data": {"title": "x", "cents": 10**12}}, "cents"),
        ({"kind": "test_note", "data": {"title": "x", "id": "y"}}, "id"),
        ({"kind": "test_note", "data": {"title": "x", "note": "n" * 20_000}}, ""),
    ]
    for body, field in cases:
        r = acme.http.post("/v1/documents", json={"id": str(uuid.uuid4()), **body})
        errors = problem(r, 422, "validation")["errors"]
        assert field in {e["field"] for e in errors}, (body, errors)
    assert cursor_now(acme) == before  # nothing was written, nothing logged


def test_another_account_gets_404_everywhere_and_never_sees_a_document(
    server: Server, acme: Account, rival: Account
) -> None:
    customer = acme.customer()
    made = document(acme, customer_id=customer["id"], title="Secret visit")
    url = f"/v1/documents/{made['id']}"
    for r in (rival.http.get(url), rival.http.patch(url, json={"data": {"title": "x"}}),
              rival.http.delete(url)):
        problem(r, 404, "not-found")
    # nor can it hang a document on acme's customer, or reuse the id
    onto = rival.http.post("/v1/documents", json={
        "id": str(uuid.uuid4()), "kind": "test_note",
        "data": {"title": "x", "customer_id": customer["id"]}})
    problem(onto, 404, "not-found")
    reuse = rival.http.post("/v1/documents", json={"id": made["id"], "kind": "test_note",
                                                   "data": {"title": "x"}})
    problem(reuse, 422, "validation")
    items = [{"key": f"k{n}", "op": op, "id": made["id"], "base_revision": 1,
              "data": {"data": {"title": "x"}} if op == "document.update" else {}}
             for n, op in enumerate(("document.update", "document.delete"))]
    results = rival.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["problem"]["type"].rsplit("/", 1)[-1] for r in results] == ["not-found"] * 2
    for path in ("/v1/changes?cursor=0&limit=500", "/v1/documents?kind=test_note"):
        assert "Secret visit" not in rival.http.get(path).text
    # listing by acme's customer is a 404, as for a customer that does not exist at all
    listed = f"/v1/documents?kind=test_note&customer_id={customer['id']}"
    problem(rival.http.get(listed), 404, "not-found")
    problem(rival.http.get(f"/v1/documents?kind=test_note&customer_id={uuid.uuid4()}"), 404,
            "not-found")
    assert [d["id"] for d in acme.http.get(listed).json()["documents"]] == [made["id"]]
    assert acme.http.get(url).json()["revision"] == 1


def test_money_documents_only_for_owners_and_staff_with_billing(
    server: Server, acme: Account
) -> None:
    customer = acme.customer()
    plain = _staff(server, acme, billing=False)
    biller = _staff(server, acme, billing=True)
    cursor = cursor_now(acme)
    ledger = document(acme, "test_ledger", customer_id=customer["id"], title="Invoice 7")
    note = document(plain, customer_id=customer["id"])  # staff handle the fleet's kinds
    problem(plain.http.get(f"/v1/documents/{ledger['id']}"), 403, "forbidden")
    problem(plain.http.get("/v1/documents", params={"kind": "test_ledger"}), 403, "forbidden")
    made = plain.http.post("/v1/documents", json={"id": str(uuid.uuid4()), "kind": "test_ledger",
                                                  "data": {"title": "x"}})
    problem(made, 403, "forbidden")
    item = {"key": "sneak", "op": "document.update", "id": ledger["id"],
            "data": {"data": {"title": "Paid"}}}
    result = plain.http.post("/v1/sync/batch", json={"items": [item]}).json()["results"][0]
    assert result["problem"]["type"].endswith("/forbidden")
    # the change log passes money by for them, and still moves their cursor on
    seen, moved = changes(plain, cursor)
    assert [c["id"] for c in seen] == [note["id"]] and moved > cursor
    assert "Invoice 7" not in plain.http.get("/v1/changes", params={"cursor": cursor}).text
    assert biller.http.get(f"/v1/documents/{ledger['id']}").json()["data"]["title"] == "Invoice 7"
    assert {c["id"] for c in changes(biller, cursor)[0]} == {ledger["id"], note["id"]}


def test_a_customer_is_kept_while_documents_name_it(server: Server, acme: Account) -> None:
    customer = acme.customer("Kept Customer")
    made = document(acme, customer_id=customer["id"])
    refused = problem(acme.http.delete(f"/v1/customers/{customer['id']}"), 409,
                      "customer-has-records")
    assert refused["records"] == {"test_note": 1}
    acme.http.delete(f"/v1/documents/{made['id']}")
    assert acme.http.delete(f"/v1/customers/{customer['id']}").status_code == 204


def test_batch_creates_updates_and_replays_by_key(server: Server, acme: Account) -> None:
    customer = acme.customer()
    doc_id = str(uuid.uuid4())
    items = [
        {"key": "c1", "op": "document.create", "id": doc_id,
         "data": {"kind": "test_note", "data": {"title": "A", "customer_id": customer["id"]}}},
        {"key": "u1", "op": "document.update", "id": doc_id, "base_revision": 1,
         "data": {"data": {"title": "B"}}},
    ]
    results = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert results[1]["record"]["data"]["title"] == "B" and results[1]["revision"] == 2
    again = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert again == results  # the same keys apply once
    assert acme.http.get(f"/v1/documents/{doc_id}").json()["revision"] == 2


def test_a_tier_in_use_cannot_be_deleted_and_staff_log_time_without_seeing_money(
    server: Server, acme: Account
) -> None:
    from fieldtech.domain.contracts import DEFAULT_TIER_BY_CODE

    customer = acme.customer()
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["priority"].to_data())
    agreement = document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
                         billing="monthly", start="2026-03-01")
    assert agreement["customer_id"] == customer["id"]
    before = cursor_now(acme)
    refused = problem(acme.http.delete(f"/v1/documents/{tier['id']}"), 409, "document-in-use")
    assert "1 agreement" in refused["detail"]
    assert cursor_now(acme) == before
    bad = acme.http.patch(f"/v1/documents/{tier['id']}", json={"data": {
        "prices": [{"from": "2026-01-01", "monthly_cents": 1e12}], "currency": "XYZ"}})
    fields = {e["field"] for e in problem(bad, 422, "validation")["errors"]}
    assert fields == {"prices.0.monthly_cents", "currency"}
    plain = _staff(server, acme, billing=False)
    problem(plain.http.get(f"/v1/documents/{tier['id']}"), 403, "forbidden")
    logged = plain.http.post("/v1/documents", json={
        "id": str(uuid.uuid4()), "kind": "time_entry",
        "data": {"customer_id": customer["id"], "date": "2026-03-02", "minutes": 45,
                 "kind": "advanced"}})
    assert logged.status_code == 201, logged.text
    negative = plain.http.post("/v1/documents", json={
        "id": str(uuid.uuid4()), "kind": "time_entry",
        "data": {"customer_id": customer["id"], "date": "2026-03-02", "minutes": -5,
                 "kind": "advanced"}})
    assert problem(negative, 422, "validation")["errors"][0]["field"] == "minutes"


def test_the_accounts_catalogue_sets_the_sla_clock(server: Server, acme: Account) -> None:
    from datetime import datetime, timedelta

    from server_helpers import paired_device

    from fieldtech.domain.contracts import DEFAULT_TIER_BY_CODE

    slow = {**DEFAULT_TIER_BY_CODE["essentials"].to_data(), "response_minutes": 90}
    document(acme, "tier", **slow)
    device = paired_device(server, acme, acme.customer(membership="essentials")["id"])
    device.beat(faults=[{"kind": "flow_high", "zone": 1, "detail": "leak"}])
    [incident] = [i for i in acme.http.get("/v1/incidents").json()["incidents"]
                  if i["controller_id"] == device.id]

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    due = moment(incident["response_due_at"]) - moment(incident["opened_at"])
    assert due == timedelta(minutes=90)  # the catalogue's, not the default 30
