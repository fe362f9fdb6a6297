"""The billing report in the cloud (SQLite and PostgreSQL): the same figures as the domain's,
only for those who may see money, only the account's own records."""

from __future__ import annotations

import uuid

from server_helpers import PASSWORD, Account, Server, document, problem

from fieldtech.domain.contracts import DEFAULT_PACKAGES, DEFAULT_TIER_BY_CODE


def test_the_report_counts_the_accounts_agreements_for_billing_people_only(
    server: Server, acme: Account, rival: Account
) -> None:
    customer = acme.customer("Ana Chen")
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["priority"].to_data())
    package = document(acme, "package", **DEFAULT_PACKAGES[0].to_data())
    document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
             billing="monthly", start="2026-03-01",
             packages=[{"package_id": package["id"], "from": "2026-03-01"}])
    document(acme, "time_entry", customer_id=customer["id"], date="2026-04-03", minutes=90,
             kind="advanced")
    r = acme.http.get("/v1/billing/report", params={"month": "2026-04"})
    assert r.status_code == 200, r.text
    body = r.json()
    # 300.00 Priority + 20.00 package retail = 320.00 a month
    assert (body["mrr_cents"], body["arr_cents"]) == (32_000, 384_000)
    assert body["provider_fees_cents"] == 1_000
    [margin] = body["margins"]
    assert margin["customer_id"] == customer["id"] and margin["revenue_cents"] == 58_250

    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    acme.http.post("/v1/staff", json={"email": email, "password": PASSWORD})
    plain = server.client(server.login(email))
    problem(plain.get("/v1/billing/report"), 403, "forbidden")
    theirs = rival.http.get("/v1/billing/report", params={"month": "2026-04"}).json()
    assert theirs["mrr_cents"] == 0 and theirs["margins"] == []
    problem(acme.http.get("/v1/billing/report", params={"month": "2026-13"}), 422,
            "validation")


def test_included_visits_count_by_year_in_the_clouds_report(server: Server,
                                                            acme: Account) -> None:
    customer = acme.customer("Vera Visits")
    tier = document(acme, "tier", **DEFAULT_TIER_BY_CODE["proactive"].to_data())  # 2 a year
    document(acme, "agreement", customer_id=customer["id"], tier_id=tier["id"],
             billing="monthly", start="2026-01-01")
    for day in ("2026-02-10", "2026-03-10", "2026-04-10"):  # the third is billed
        document(acme, "time_entry", customer_id=customer["id"], date=day, minutes=60,
                 kind="visit")
    april = acme.http.get("/v1/billing/report", params={"month": "2026-04"}).json()
    [margin] = april["margins"]
    # 750.00 membership + 60 min × 175.00/h = 925.00
    assert margin["revenue_cents"] == 75_000 + 17_500
    march = acme.http.get("/v1/billing/report", params={"month": "2026-03"}).json()
    assert march["margins"][0]["revenue_cents"] == 75_000  # the second visit: included
