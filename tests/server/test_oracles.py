"""No existence oracles across accounts (issue 14): what one contractor types never tells them
whether a serial, an e-mail or a plan code is in use in another account."""

from __future__ import annotations

import uuid

from server_helpers import PASSWORD, Account, Server, new_serial, problem


def _same_answer(a, b, *, ignore: tuple[str, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    def shape(r):  # type: ignore[no-untyped-def]
        body = r.json()
        return r.status_code, r.headers["content-type"], sorted(k for k in body if k not in ignore)

    assert shape(a) == shape(b), (a.text, b.text)


def test_a_serial_of_another_account_binds_like_an_unknown_one(
    server: Server, acme: Account, rival: Account
) -> None:
    serial, other = new_serial(), new_serial()
    theirs = acme.controller(acme.customer()["id"], serial=serial)
    acme.controller(acme.customer()["id"], serial=other)
    mine = rival.customer()
    made = []
    for s in (serial, new_serial()):
        body = {"id": str(uuid.uuid4()), "customer_id": mine["id"], "name": "Mine", "serial": s}
        made.append(rival.http.post("/v1/controllers", json=body))
    _same_answer(*made, ignore=())
    assert made[0].status_code == 201
    bound = []
    for s in (other, new_serial()):
        ctl = rival.controller(mine["id"])
        bound.append(rival.http.patch(f"/v1/controllers/{ctl['id']}", json={"serial": s}))
    _same_answer(*bound)
    assert bound[1].status_code == 200
    # acme's record is untouched, and within one account a serial is still bound once
    assert acme.http.get(f"/v1/controllers/{theirs['id']}").json()["serial"] == serial
    again = {"id": str(uuid.uuid4()), "customer_id": mine["id"], "name": "Twice", "serial": serial}
    problem(rival.http.post("/v1/controllers", json=again), 409, "serial-taken")


def test_an_email_with_a_login_elsewhere_is_added_like_a_new_one(
    server: Server, acme: Account, rival: Account
) -> None:
    fresh = f"fresh-{uuid.uuid4().hex[:8]}@example.com"
    staff = [
        rival.http.post("/v1/staff", json={"email": e, "password": "rival's pass 1"})
        for e in (acme.email, fresh)
    ]
    _same_answer(*staff)
    assert staff[0].status_code == 201
    colleague = f"colleague-{uuid.uuid4().hex[:8]}@example.com"
    added = acme.http.post("/v1/staff", json={"email": colleague, "password": PASSWORD})
    assert added.status_code == 201
    customer = rival.customer()
    logins = [
        rival.http.post(
            f"/v1/customers/{customer['id']}/users", json={"email": e, "password": PASSWORD}
        )
        for e in (colleague, f"other-{uuid.uuid4().hex[:8]}@example.com")
    ]
    _same_answer(*logins)
    assert logins[0].status_code == 201
    # each password signs in to its own account
    anon = server.client()
    ok = anon.post("/v1/auth/login", json={"email": acme.email, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["user"]["id"] != staff[0].json()["id"]
    assert server.client(ok.json()["token"]).get("/v1/me").json()["account_id"] == acme.id
    theirs = anon.post("/v1/auth/login", json={"email": acme.email, "password": "rival's pass 1"})
    me = server.client(theirs.json()["token"]).get("/v1/me").json()
    assert me["account_id"] == rival.id and me["user_id"] == staff[0].json()["id"]
    # within one account an e-mail is one login
    twice = rival.http.post("/v1/staff", json={"email": fresh, "password": PASSWORD})
    problem(twice, 409, "already-exists")


def test_a_plan_code_redeemed_by_another_account_is_unknown_to_you(
    server: Server, acme: Account, rival: Account
) -> None:
    code = server.plan_codes(1)[0]
    assert acme.http.post(
        f"/v1/customers/{acme.customer()['id']}/plan/redeem", json={"code": code}
    ).status_code == 200
    url = f"/v1/customers/{rival.customer()['id']}/plan/redeem"
    used = problem(rival.http.post(url, json={"code": code}), 422, "plan-code-unknown")
    never = problem(rival.http.post(url, json={"code": "0000-0001"}), 422, "plan-code-unknown")
    assert used["detail"].replace(code, "X") == never["detail"].replace("0000-0001", "X")
    assert "redeemed" not in used["detail"]


def test_plan_codes_are_stored_only_as_hashes(server: Server) -> None:
    from sqlalchemy import select

    from fieldtech.server.tables import PlanCodeRow

    code = server.plan_codes(1)[0]
    with server.db.read() as s:
        stored = s.scalars(select(PlanCodeRow.code_hash)).all()
    assert code not in stored and all(len(h) == 64 for h in stored)
