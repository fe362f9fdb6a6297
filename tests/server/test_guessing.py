"""Guessing (issue 14): logins limited per address, per (e-mail, address) and per e-mail, with
the real user let through a lock aimed at guessers; plan codes per account and per address;
these limits live in the database, so every worker process shares them. And the in-memory
limiter forgets its oldest buckets, never a real device's for made-up tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from server_helpers import PASSWORD, Account, Server, new_serial, problem

from fieldtech.server.problems import Problem
from fieldtech.server.ratelimit import Rate, RateLimiter, SharedRateLimiter

STRICT_EMAIL = Rate(per_second=1 / 600, burst=5)
STRICT_ADDRESS = Rate(per_second=1 / 600, burst=8)
STRICT_CODES = Rate(per_second=1 / 600, burst=10)


@pytest.fixture
def strict(server: Server) -> Iterator[None]:
    state = server.app.state.server
    generous = state.limits
    state.limits = replace(
        generous, login_email=STRICT_EMAIL, login_address=STRICT_ADDRESS, plan_code=STRICT_CODES
    )
    try:
        yield
    finally:
        state.limits = generous


def _from(server: Server, address: str) -> httpx.Client:
    """A client whose connections come from another loopback address (127.0.0.0/8)."""
    client = httpx.Client(
        base_url=server.base_url, timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
    )
    server._clients.append(client)
    return client


def _login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password})


@pytest.mark.usefixtures("strict")
def test_a_guesser_locks_out_guessers_not_the_owner(server: Server, acme: Account) -> None:
    # acme signed in from 127.0.0.1 when the fixture made it: a known client for that e-mail
    guessers = [_from(server, f"127.0.0.{n}") for n in (2, 3)]
    answers = [_login(g, acme.email, f"guess {i}") for g in guessers for i in range(4)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    problem(answers[-1], 429, "rate-limited")  # the e-mail is locked for unknown clients
    # the right password from a new address waits too: it could be the guesser's lucky try
    problem(_login(_from(server, "127.0.0.4"), acme.email, PASSWORD), 429, "rate-limited")
    # the owner, from where they signed in before, gets in
    assert _login(server.client(), acme.email, PASSWORD).status_code == 200


@pytest.mark.usefixtures("strict")
def test_one_address_cannot_try_many_emails(server: Server) -> None:
    spray = _from(server, "127.0.0.5")
    codes = [
        _login(spray, f"who-{uuid.uuid4().hex[:8]}@example.com", "password1").status_code
        for _ in range(STRICT_ADDRESS.burst + 2)
    ]
    assert codes[: STRICT_ADDRESS.burst] == [401] * STRICT_ADDRESS.burst
    assert codes[-1] == 429
    # another address is not affected
    other = _login(_from(server, "127.0.0.6"), f"x-{uuid.uuid4().hex[:6]}@example.com", "pw")
    problem(other, 401, "bad-credentials")


@pytest.mark.usefixtures("strict")
def test_plan_code_guesses_are_limited_per_account_across_tokens_and_processes(
    server: Server, acme: Account
) -> None:
    office = _from(server, "127.0.0.7")
    tokens = [server.client(_login(office, acme.email, PASSWORD).json()["token"]) for _ in range(8)]
    url = f"/v1/customers/{acme.customer()['id']}/plan/redeem"
    answers = [
        tokens[i % 8].post(url, json={"code": f"{i:04X}-FFFF"}) for i in range(STRICT_CODES.burst)
    ]
    assert {a.status_code for a in answers} == {422}
    problem(tokens[0].post(url, json={"code": "ABCD-0000"}), 429, "rate-limited")
    # the count is in the database: another server process sees the same budget
    another_process = SharedRateLimiter(server.db)
    with pytest.raises(Problem) as refused:
        another_process.check((f"plan-code|account|{acme.id}", STRICT_CODES))
    assert refused.value.kind.status == 429


# ---- the in-memory limiter (device and API tokens) ----


def test_a_full_limiter_forgets_its_oldest_bucket_not_all() -> None:
    now = [0.0]
    limiter = RateLimiter(Rate(per_second=0.001, burst=1), clock=lambda: now[0], max_keys=3)
    for key in "abc":
        limiter.check(key, vouched=True)
    limiter.check("d", vouched=True)  # a is the oldest: forgotten, so forgiven
    for key in "bcd":
        with pytest.raises(Problem):
            limiter.check(key, vouched=True)
    limiter.check("a", vouched=True)


def test_made_up_tokens_cannot_push_out_a_real_device(server: Server, acme: Account) -> None:
    controller = acme.controller(acme.customer()["id"])
    code = acme.http.post(f"/v1/controllers/{controller['id']}/pairing-code").json()["code"]
    pair = server.client().post("/v1/device/pair", json={"code": code, "serial": new_serial()})
    device = server.client(pair.json()["device_token"])
    state = server.app.state.server
    generous = state.device_limiter
    state.device_limiter = RateLimiter(Rate(per_second=0.001, burst=2), max_keys=50)
    try:
        assert device.post("/v1/device/heartbeat", json={}).status_code == 200
        assert device.post("/v1/device/heartbeat", json={}).status_code == 200
        problem(device.post("/v1/device/heartbeat", json={}), 429, "rate-limited")
        flood = server.client()
        for i in range(120):  # more made-up tokens than the limiter holds
            fake = {"Authorization": f"Bearer ftd_made-up-{i}"}
            assert flood.post("/v1/device/heartbeat", json={}, headers=fake).status_code == 401
        for _ in range(3):
            problem(device.post("/v1/device/heartbeat", json={}), 429, "rate-limited")
    finally:
        state.device_limiter = generous
