"""Owner and staff (issue 14): only an owner changes the tier, the staff and their roles; an
account always keeps an owner; every role change is in the audit log; existing accounts are
migrated with their first user as owner."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta

import pytest
from server_helpers import PASSWORD, Account, Server, drop_database, problem
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fieldtech.domain.plans import Tier


def _staff(server: Server, owner: Account, **fields: object) -> tuple[dict, object]:
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    r = owner.http.post("/v1/staff", json={"email": email, "password": PASSWORD, **fields})
    assert r.status_code == 201, r.text
    return r.json(), server.client(server.login(email))


def test_the_creator_owns_the_account_and_staff_run_only_the_fleet(
    server: Server, acme: Account
) -> None:
    me = acme.http.get("/v1/me").json()
    assert (me["account_role"], me["billing"]) == ("owner", True)
    member, staff = _staff(server, acme)
    assert (member["role"], member["billing"]) == ("staff", False)
    owner_id = acme.http.get("/v1/staff").json()["staff"][0]["id"]
    attempts = [
        staff.put("/v1/account/tier", json={"tier": "gold"}),
        staff.post("/v1/staff", json={"email": "x-" + member["email"], "password": PASSWORD}),
        staff.delete(f"/v1/staff/{owner_id}"),
        staff.patch(f"/v1/staff/{member['id']}", json={"role": "owner"}),
    ]
    for r in attempts:
        problem(r, 403, "forbidden")
    account = acme.http.get("/v1/account").json()
    assert account["tier"] == "starter" and account["usage"]["staff_used"] == 2
    assert server.client(acme.token).get("/v1/me").status_code == 200  # the owner is still in
    # the fleet is theirs to run
    made = staff.post("/v1/customers", json={"id": str(uuid.uuid4()), "name": "Ok"})
    assert made.status_code == 201


def test_an_account_always_keeps_an_owner_and_every_change_is_audited(
    server: Server, acme: Account
) -> None:
    owner_id = acme.http.get("/v1/staff").json()["staff"][0]["id"]
    problem(acme.http.patch(f"/v1/staff/{owner_id}", json={"role": "staff"}), 409, "last-owner")
    member, member_http = _staff(server, acme, billing=True)
    promoted = acme.http.patch(f"/v1/staff/{member['id']}", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    # now the first owner may step down, and the new owner may not remove the last one
    stepped = acme.http.patch(f"/v1/staff/{owner_id}", json={"role": "staff"})
    assert stepped.status_code == 200 and stepped.json()["role"] == "staff"
    problem(member_http.patch(f"/v1/staff/{member['id']}", json={"role": "staff"}), 409,
            "last-owner")
    assert member_http.put("/v1/account/tier", json={"tier": "contractor"}).status_code == 200
    actions = [
        (e["action"], e["detail"])
        for e in member_http.get("/v1/audit").json()["entries"]
        if e["action"].startswith("staff.")
    ]
    assert [a for a, _ in actions] == ["staff.role", "staff.role", "staff.add"]
    assert actions[0][1]["to"] == {"role": "staff", "billing": False}
    assert actions[2][1] == {"email": member["email"], "role": "staff", "billing": True}
    removed = member_http.delete(f"/v1/staff/{owner_id}")
    assert removed.status_code == 204
    assert member_http.get("/v1/audit").json()["entries"][0]["action"] == "staff.remove"


def test_two_owners_demoting_each_other_at_once_leave_one(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    account = server.account(Tier.BRONZE)
    first = account.http.get("/v1/staff").json()["staff"][0]
    second, second_http = _staff(server, account, role="owner")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(
            lambda job: job[0].patch(f"/v1/staff/{job[1]}", json={"role": "staff"}),
            [(account.http, second["id"]), (second_http, first["id"])],
        ))
    # the second to commit is no longer an owner (403) or would leave none (409)
    assert sorted(r.status_code for r in answers) in ([200, 403], [200, 409]), answers
    still_owner = account.http if answers[1].status_code == 200 else second_http
    roles = [s["role"] for s in still_owner.get("/v1/staff").json()["staff"]]
    assert roles.count("owner") == 1


# ---- the migration ----


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path) -> object:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    url = os.environ.get("FIELDTECH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("FIELDTECH_TEST_POSTGRES_URL is not set (see .ci/postgres.sh)")
    base = make_url(url)
    name = f"ft_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()
        drop_database(base, name)


def test_existing_accounts_are_owned_by_their_first_user(empty_db: str) -> None:
    from alembic import command
    from alembic.config import Config

    from fieldtech.server.db import ALEMBIC_DIR, make_engine

    engine = make_engine(empty_db)
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.commit()
        t0 = datetime(2026, 1, 1)
        conn.execute(text(
            "INSERT INTO account (id, name, tier, controllers_used, staff_used, enthusiast_used,"
            " change_seq, created_at) VALUES ('a1', 'Old', 'starter', 0, 2, 0, 0, :t)"
        ), {"t": t0})
        for uid, email, at in (("u2", "second@x.io", t0 + timedelta(days=1)),
                               ("u1", "first@x.io", t0)):
            conn.execute(text(
                "INSERT INTO app_user (id, account_id, role, email, password_hash, created_at)"
                " VALUES (:id, 'a1', 'staff', :email, 'x', :at)"
            ), {"id": uid, "email": email, "at": at})
        conn.execute(text(
            "INSERT INTO plan_code (code, issued_at) VALUES ('45F2-644E', :t)"), {"t": t0})
        conn.commit()
        command.upgrade(cfg, "head")
        conn.commit()
        roles = dict(conn.execute(text("SELECT id, account_role FROM app_user")).all())
        codes = conn.execute(text("SELECT code_hash FROM plan_code")).scalars().all()
    engine.dispose()
    assert roles == {"u1": "owner", "u2": "staff"}
    import hashlib

    assert codes == [hashlib.sha256(b"45F2-644E").hexdigest()]


def test_the_migrations_build_the_schema_the_code_declares(empty_db: str) -> None:
    # 0003 changes types, constraints and tables: the tables the migrations make must be the
    # ones tables.py declares, on both databases (what the next migration builds on).
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fieldtech.server.db import make_engine, migrate
    from fieldtech.server.tables import Base

    engine = make_engine(empty_db)
    migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_only_an_owner_changes_the_accounts_time_zone(server: Server, acme: Account) -> None:
    # The time zone moves membership dates and billing months; response targets stay staff's.
    _member, staff = _staff(server, acme)
    targets = {"essentials": {"response_minutes": 120, "coverage": "24/7"}}
    r = staff.put("/v1/account/service-settings",
                  json={"timezone": "UTC", "response_targets": targets})  # the default kept
    assert r.status_code == 200, r.text
    problem(staff.put("/v1/account/service-settings", json={"timezone": "Europe/Berlin"}),
            403, "forbidden")
    assert acme.http.get("/v1/account/service-settings").json()["overridden"] == ["essentials"]
    r = acme.http.put("/v1/account/service-settings",
                      json={"timezone": "Europe/Berlin", "response_targets": targets})
    assert r.status_code == 200, r.text
    r = staff.put("/v1/account/service-settings", json={"timezone": "Europe/Berlin"})
    assert r.status_code == 200 and r.json()["timezone"] == "Europe/Berlin"
