"""Signing in, tokens (hash-only storage, list, revoke), staff seats and rate limits."""

from __future__ import annotations

import uuid

from server_helpers import PASSWORD, Account, Server, problem
from sqlalchemy import select

from fieldtech.server.tables import ApiTokenRow, UserRow


def test_login_returns_a_token_that_works_and_is_stored_only_as_a_hash(
    server: Server, acme: Account
) -> None:
    me = acme.http.get("/v1/me")
    assert me.status_code == 200 and me.json()["account_id"] == acme.id
    with server.db.read() as s:
        user = s.scalar(select(UserRow).where(UserRow.email == acme.email))
        hashes = s.scalars(select(ApiTokenRow.token_hash).where(ApiTokenRow.user_id == user.id))
        stored = list(hashes)
        assert user.password_hash.startswith("scrypt$") and PASSWORD not in user.password_hash
    assert stored and acme.token not in stored
    assert all(len(h) == 64 for h in stored)


def test_wrong_password_and_unknown_email_get_the_same_problem(
    server: Server, acme: Account
) -> None:
    anon = server.client()
    wrong = anon.post("/v1/auth/login", json={"email": acme.email, "password": "nope"})
    unknown = anon.post("/v1/auth/login", json={"email": "who@example.com", "password": "nope"})
    assert (
        problem(wrong, 401, "bad-credentials")["detail"]
        == problem(unknown, 401, "bad-credentials")["detail"]
    )


def test_requests_without_a_valid_token_are_401(server: Server) -> None:
    problem(server.client().get("/v1/account"), 401, "unauthorized")
    problem(server.client("ftu_made-up").get("/v1/account"), 401, "unauthorized")


def test_tokens_are_listed_without_secrets_and_can_be_revoked(
    server: Server, acme: Account
) -> None:
    second = server.login(acme.email)
    listed = acme.http.get("/v1/auth/tokens").json()["tokens"]
    assert len(listed) == 2
    assert not any(acme.token in str(t) or second in str(t) for t in listed)
    other = next(t for t in listed if not t["current"])
    assert acme.http.delete(f"/v1/auth/tokens/{other['id']}").status_code == 204
    problem(server.client(second).get("/v1/account"), 401, "unauthorized")
    assert acme.http.get("/v1/account").status_code == 200  # the current token still works
    problem(acme.http.delete(f"/v1/auth/tokens/{other['id']}"), 404, "not-found")


def test_login_is_rate_limited_per_email_with_retry_after(server: Server) -> None:
    anon = server.client()
    email = f"guess-{uuid.uuid4().hex[:8]}@example.com"
    answers = [
        anon.post("/v1/auth/login", json={"email": email, "password": "x"}) for _ in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [401] * 10
    body = problem(answers[10], 429, "rate-limited")
    assert int(answers[10].headers["Retry-After"]) >= 1
    assert body["retry_after"] == int(answers[10].headers["Retry-After"])


def test_staff_seats_follow_the_plan(server: Server, acme: Account) -> None:
    # Starter: 5 staff users, the admin is one.
    for i in range(4):
        r = acme.http.post(
            "/v1/staff",
            json={"email": f"tech{i}-{uuid.uuid4().hex[:6]}@x.io", "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
    over = acme.http.post("/v1/staff", json={"email": "one-more@x.io", "password": PASSWORD})
    body = problem(over, 409, "quota-exceeded")
    assert (body["limit"], body["used"], body["plan"], body["what"]) == (
        5,
        5,
        "starter",
        "staff_users",
    )
    staff = acme.http.get("/v1/staff").json()["staff"]
    assert len(staff) == 5
    assert acme.http.delete(f"/v1/staff/{staff[-1]['id']}").status_code == 204
    assert acme.http.get("/v1/account").json()["usage"]["staff_used"] == 4
