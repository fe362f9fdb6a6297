"""The smaller points of issue 14: rain delays within the domain's limit, no bidirectional
controls in identifiers, safe headers, no CDN script, private database files, token expiry."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

from server_helpers import PASSWORD, Account, Server, problem

from fieldtech.domain.limits import RAIN_DELAY_HOURS_MAX


def _z(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_a_rain_delay_past_the_domain_limit_is_refused(server: Server, acme: Account) -> None:
    controller = acme.controller(acme.customer()["id"], zone_count=2)
    url = f"/v1/controllers/{controller['id']}/config"
    config = acme.http.get(url).json()["config"]
    now = datetime.now(UTC) + server.clock.offset
    for until in ("9999-12-31T00:00:00Z", _z(now + timedelta(hours=RAIN_DELAY_HOURS_MAX + 1))):
        r = acme.http.put(url, json={**config, "rain_delay_until": until},
                          headers={"If-Match": '"1"'})
        body = problem(r, 422, "validation")
        assert body["errors"][0]["field"] == "rain_delay_until"
    ok = acme.http.put(url, json={**config, "rain_delay_until": _z(now + timedelta(hours=48))},
                       headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    # a new controller's configuration is held to the same rule (REST and batch alike)
    item = {"key": "rd", "op": "controller.create", "data": {
        "id": "8c7d5a8e-3a65-4a39-9f39-1b7c8b9c0d11", "customer_id": controller["customer_id"],
        "name": "Far", "zone_count": 1,
        "config": {"zones": [], "programs": [], "rain_delay_until": "9999-12-31T00:00:00Z"}}}
    result = acme.http.post("/v1/sync/batch", json={"items": [item]}).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["problem"]["errors"][0]["field"] == "rain_delay_until"


def test_bidirectional_controls_are_refused_in_identifiers(server: Server, acme: Account) -> None:
    for email in ("\u202e@x.test", "moc.\u202eevil@x.test", "a\u2066b@x.test"):
        r = acme.http.post("/v1/staff", json={"email": email, "password": PASSWORD})
        assert problem(r, 422, "validation")["errors"][0]["field"] == "email"
    customer = acme.customer()
    r = acme.http.post(f"/v1/customers/{customer['id']}/users",
                       json={"email": "\u202e@x.test", "password": PASSWORD})
    problem(r, 422, "validation")
    r = acme.http.patch(f"/v1/customers/{customer['id']}", json={"name": "Ada\u202eecalevol"})
    problem(r, 422, "validation")


def test_answers_carry_safe_headers_and_the_login_is_never_cached(server: Server) -> None:
    anon = server.client()
    for r in (anon.get("/healthz"), anon.get("/v1/account"), anon.get("/openapi.json")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert "server" not in r.headers


def test_login_answer_is_no_store(server: Server, acme: Account) -> None:
    r = server.client().post("/v1/auth/login", json={"email": acme.email, "password": PASSWORD})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_no_docs_page_loading_a_cdn_script(server: Server) -> None:
    for path in ("/docs", "/redoc"):
        problem(server.client().get(path), 404, "not-found")
    assert server.client().get("/openapi.json").status_code == 200


def test_the_database_file_is_private(server: Server) -> None:
    if server.backend != "sqlite":
        return
    path = server.db.engine.url.database
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name


def test_tokens_may_expire_and_show_their_last_use(server: Server, acme: Account) -> None:
    anon = server.client()
    r = anon.post("/v1/auth/login",
                  json={"email": acme.email, "password": PASSWORD, "expires_in_days": 1})
    assert r.status_code == 200 and r.json()["expires_at"]
    short = server.client(r.json()["token"])
    listed = {t["id"]: t for t in short.get("/v1/auth/tokens").json()["tokens"]}
    mine = listed[r.json()["token_id"]]
    assert mine["expires_at"] and mine["last_used_at"]
    assert listed[next(t for t in listed if t != mine["id"])]["expires_at"] is None
    server.clock.advance(timedelta(days=1, minutes=1))
    try:
        problem(short.get("/v1/me"), 401, "unauthorized")
        assert acme.http.get("/v1/me").status_code == 200  # no expiry asked: still works
    finally:
        server.clock.advance(-timedelta(days=1, minutes=1))
