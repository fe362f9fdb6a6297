"""The controller limit holds under concurrency; quota answers say what would fix them."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from server_helpers import Server, problem
from sqlalchemy import func, select

from fieldtech.domain.plans import Tier, TierLimits
from fieldtech.server.tables import ControllerRow


def test_fifty_concurrent_creates_against_three_free_slots_create_exactly_three(
    server: Server,
) -> None:
    account = server.account(
        Tier.PLATINUM, TierLimits(controllers=4, staff_users=5, included_enthusiast=0)
    )
    customer = account.customer()
    account.controller(customer["id"])  # 1 of 4 used: 3 free

    def create(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, headers=account.http.headers, timeout=60) as c:
            body = {"id": str(uuid.uuid4()), "customer_id": customer["id"], "name": "Race"}
            return c.post("/v1/controllers", json=body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(create, range(50)))

    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 3, codes
    assert codes.count(409) == 47, codes
    refused = next(a for a in answers if a.status_code == 409)
    body = problem(refused, 409, "quota-exceeded")
    assert (body["limit"], body["used"], body["plan"]) == (4, 4, "platinum")
    assert body["fix"]
    with server.db.read() as s:
        in_db = s.scalar(select(func.count()).where(ControllerRow.account_id == account.id))
    assert in_db == 4
    assert account.http.get("/v1/account").json()["usage"]["controllers_used"] == 4


def test_quota_problem_names_the_tier_that_would_fit(server: Server) -> None:
    account = server.account()  # Starter: 25
    customer = account.customer()
    for i in range(25):
        account.controller(customer["id"], name=f"C{i}")
    body = problem(
        account.http.post(
            "/v1/controllers",
            json={"id": str(uuid.uuid4()), "customer_id": customer["id"], "name": "26th"},
        ),
        409,
        "quota-exceeded",
    )
    assert (body["limit"], body["used"], body["plan"], body["upgrade_to"]) == (
        25,
        25,
        "starter",
        "contractor",
    )


def test_deleting_and_unlinking_free_slots(server: Server) -> None:
    account = server.account(Tier.PLATINUM, TierLimits(2, 5, 0))
    a, b = account.customer("A"), account.customer("B")
    first = account.controller(a["id"])
    account.controller(b["id"])
    assert account.http.delete(f"/v1/controllers/{first['id']}").status_code == 204
    assert account.http.get("/v1/account").json()["usage"]["controllers_used"] == 1
    r = account.http.post(f"/v1/customers/{b['id']}/unlink")
    assert r.status_code == 200 and r.json()["controllers_freed"] == 1
    assert account.http.get("/v1/account").json()["usage"]["controllers_used"] == 0
    problem(account.http.get(f"/v1/customers/{b['id']}"), 404, "not-found")


def test_tier_downgrade_below_usage_is_refused_with_what_to_remove(server: Server) -> None:
    account = server.account(Tier.CONTRACTOR)  # 75 controllers
    customer = account.customer()
    for i in range(26):
        account.controller(customer["id"], name=f"C{i}")
    body = problem(
        account.http.put("/v1/account/tier", json={"tier": "starter"}), 409, "downgrade-below-usage"
    )
    assert (body["limit"], body["used"], body["plan"]) == (25, 26, "starter")
    assert body["remove"] == {"controllers": 1}
    assert account.http.get("/v1/account").json()["tier"] == "contractor"
    up = account.http.put("/v1/account/tier", json={"tier": "bronze"})
    assert up.status_code == 200 and up.json()["usage"]["controllers_limit"] == 150
