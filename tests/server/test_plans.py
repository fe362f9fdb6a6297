"""Enthusiast plans: plan codes (distinct errors), included plans, purchase requests."""

from __future__ import annotations

from server_helpers import Account, Server, problem

from fieldtech.domain.plans import Tier


def test_plan_code_errors_are_distinct(server: Server, acme: Account) -> None:
    code = server.plan_codes(1)[0]
    first, second = acme.customer("First"), acme.customer("Second")
    url = "/v1/customers/{}/plan/redeem"
    malformed = problem(
        acme.http.post(url.format(first["id"]), json={"code": "45F2644E"}),
        422,
        "plan-code-malformed",
    )
    assert malformed["errors"][0]["field"] == "code"
    problem(
        acme.http.post(url.format(first["id"]), json={"code": "GGGG-0000"}),
        422,
        "plan-code-malformed",
    )
    unknown = problem(
        acme.http.post(url.format(first["id"]), json={"code": "0000-0001"}),
        422,
        "plan-code-unknown",
    )
    assert "0000-0001" in unknown["detail"]
    ok = acme.http.post(url.format(first["id"]), json={"code": code.lower()})  # case-insensitive
    assert ok.status_code == 200 and ok.json()["plan"] == "enthusiast"
    assert ok.json()["plan_source"] == "code"
    problem(acme.http.post(url.format(second["id"]), json={"code": code}), 409, "plan-code-used")
    assert acme.http.get(f"/v1/customers/{second['id']}").json()["plan"] == "home"


def test_a_code_used_by_another_account_is_unknown_to_everyone_else(
    server: Server, acme: Account, rival: Account
) -> None:
    code = server.plan_codes(1)[0]
    acme.http.post(f"/v1/customers/{acme.customer()['id']}/plan/redeem", json={"code": code})
    r = rival.http.post(f"/v1/customers/{rival.customer()['id']}/plan/redeem", json={"code": code})
    problem(r, 422, "plan-code-unknown")  # does not tell that the code exists


def test_included_plans_are_counted_and_freed(server: Server) -> None:
    account = server.account(Tier.CONTRACTOR)  # 2 included Enthusiast plans
    customers = [account.customer(f"C{i}") for i in range(3)]
    for c in customers[:2]:
        r = account.http.post(f"/v1/customers/{c['id']}/plan/included")
        assert r.status_code == 200 and r.json()["plan_source"] == "included"
    usage = account.http.get("/v1/account").json()["usage"]
    assert (usage["enthusiast_used"], usage["enthusiast_available"]) == (2, 0)
    body = problem(
        account.http.post(f"/v1/customers/{customers[2]['id']}/plan/included"),
        409,
        "quota-exceeded",
    )
    assert (body["limit"], body["used"], body["plan"], body["what"]) == (
        2,
        2,
        "contractor",
        "included_enthusiast",
    )
    account.http.post(f"/v1/customers/{customers[0]['id']}/plan/home")
    assert account.http.post(f"/v1/customers/{customers[2]['id']}/plan/included").status_code == 200
    problem(
        account.http.post(f"/v1/customers/{customers[2]['id']}/plan/included"),
        409,
        "already-enthusiast",
    )


def test_purchase_requests_are_recorded(server: Server, acme: Account) -> None:
    customer = acme.customer()
    r = acme.http.post(f"/v1/customers/{customer['id']}/plan/purchase-request")
    assert r.status_code == 202 and r.json()["status"] == "requested"
    listed = acme.http.get("/v1/purchase-requests").json()["purchase_requests"]
    assert [p["customer_id"] for p in listed] == [customer["id"]]
    actions = [e["action"] for e in acme.http.get("/v1/audit").json()["entries"]]
    assert "plan.purchase_request" in actions
