"""The change log (cursor paging, cheap idle polls) and the idempotent mutation batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from server_helpers import Account, Server
from sqlalchemy import func, select, text

from fieldtech.server.tables import CustomerRow


def test_changes_page_through_every_change_once_in_order(server: Server, acme: Account) -> None:
    made = [acme.customer(f"Customer {i}")["id"] for i in range(7)]
    acme.http.patch(f"/v1/customers/{made[0]}", json={"phone": "555"})
    seen, cursor, pages = [], 0, 0
    while True:
        page = acme.http.get("/v1/changes", params={"cursor": cursor, "limit": 3}).json()
        pages += 1
        seen += page["changes"]
        assert page["cursor"] >= cursor
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert pages == 3  # 8 changes, 3 a page
    seqs = [c["seq"] for c in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 8
    assert [c["id"] for c in seen[:7]] == made
    assert seen[-1]["data"]["phone"] == "555" and seen[-1]["data"]["revision"] == 2


def test_an_idle_sync_is_one_tiny_answer_with_the_same_cursor(
    server: Server, acme: Account
) -> None:
    acme.customer()
    cursor = acme.http.get("/v1/changes", params={"cursor": 0}).json()["cursor"]
    idle = acme.http.get("/v1/changes", params={"cursor": cursor})
    assert idle.json() == {"cursor": cursor, "more": False, "changes": []}
    assert len(idle.content) < 64


def test_deletes_appear_in_the_log(server: Server, acme: Account) -> None:
    customer = acme.customer()
    controller = acme.controller(customer["id"])
    cursor = acme.http.get("/v1/changes").json()["cursor"]
    acme.http.delete(f"/v1/controllers/{controller['id']}")
    changes = acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"]
    assert [(c["entity"], c["id"], c["op"]) for c in changes] == [
        ("controller", controller["id"], "delete")
    ]


def _batch(acme: Account) -> tuple[list[dict], str, str]:
    customer = acme.customer()
    controller = acme.controller(customer["id"], zone_count=2)
    config = acme.http.get(f"/v1/controllers/{controller['id']}/config").json()["config"]
    acme.http.put(  # someone else moved the config to revision 2
        f"/v1/controllers/{controller['id']}/config",
        json={**config, "rain_delay_until": _two_days_on()},
        headers={"If-Match": '"1"'},
    )
    new_id = str(uuid.uuid4())
    items = [
        {"key": f"a-{new_id}", "op": "customer.create", "data": {"id": new_id, "name": "New"}},
        {
            "key": f"b-{new_id}",
            "op": "customer.update",
            "id": customer["id"],
            "base_revision": 1,
            "data": {"address": "1 Main St"},
        },
        {
            "key": f"c-{new_id}",
            "op": "config.put",
            "id": controller["id"],
            "base_revision": 1,
            "data": config,
        },
        {
            "key": f"d-{new_id}",
            "op": "customer.create",
            "data": {"id": str(uuid.uuid4()), "name": "x" * 40},
        },
    ]
    return items, new_id, controller["id"]


def test_batch_answers_per_item_and_one_bad_item_does_not_sink_it(
    server: Server, acme: Account
) -> None:
    items, new_id, _ = _batch(acme)
    results = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "conflict", "rejected"]
    assert results[0]["revision"] == 1 and results[0]["id"] == new_id
    assert results[1]["record"]["address"] == "1 Main St" and results[1]["revision"] == 2
    assert results[2]["problem"]["status"] == 412
    assert results[2]["problem"]["current"]["revision"] == 2
    assert results[3]["problem"]["errors"][0]["field"] == "name"


def _create(name: str) -> dict:
    new_id = str(uuid.uuid4())
    return {"key": f"k-{new_id}", "op": "customer.create", "data": {"id": new_id, "name": name}}


def test_a_name_with_a_nul_byte_is_rejected_alone_naming_the_field(
    server: Server, acme: Account
) -> None:
    # PostgreSQL text cannot hold NUL: unchecked, the whole batch came back as one 422
    items = [_create("Ada\x00Lovelace"), _create("Grace Hopper")]
    r = acme.http.post("/v1/sync/batch", json={"items": items})
    assert r.status_code == 200, r.text
    bad, good = r.json()["results"]
    assert bad["status"] == "rejected" and bad["problem"]["type"].endswith("/validation")
    assert [e["field"] for e in bad["problem"]["errors"]] == ["name"]
    assert good["status"] == "applied"
    names = [c["name"] for c in acme.http.get("/v1/customers").json()["customers"]]
    assert names == ["Grace Hopper"]


@contextmanager
def _database_refuses(server: Server) -> Iterator[dict[str, str]]:
    """A trigger in the real database that refuses inserts of customers with these names.

    → {name: the problem slug the batch answers with}. PostgreSQL raises a data exception
    (22023) and a lock timeout (55P03); SQLite a runtime error (malformed JSON)."""
    with server.db.write_connection() as conn:
        if server.backend == "postgres":
            conn.execute(text(
                "CREATE FUNCTION ft_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.name = 'Refused: data' THEN "
                "RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END IF; "
                "IF NEW.name = 'Refused: busy' THEN "
                "RAISE EXCEPTION 'refused' USING ERRCODE = '55P03'; END IF; "
                "RETURN NEW; END $$"
            ))
            conn.execute(text(
                "CREATE TRIGGER ft_test_refuse BEFORE INSERT ON customer "
                "FOR EACH ROW EXECUTE FUNCTION ft_test_refuse()"
            ))
            refused = {"Refused: data": "validation", "Refused: busy": "store-failed"}
        else:
            conn.execute(text(
                "CREATE TRIGGER ft_test_refuse BEFORE INSERT ON customer "
                "WHEN NEW.name = 'Refused: busy' BEGIN SELECT json('not json'); END"
            ))
            refused = {"Refused: busy": "store-failed"}
    try:
        yield refused
    finally:
        with server.db.write_connection() as conn:
            conn.execute(text("DROP TRIGGER ft_test_refuse" + (
                " ON customer" if server.backend == "postgres" else "")))
            if server.backend == "postgres":
                conn.execute(text("DROP FUNCTION ft_test_refuse()"))


def test_an_item_the_database_refuses_is_rejected_alone_and_retried_afresh(
    server: Server, acme: Account
) -> None:
    cursor = acme.http.get("/v1/changes").json()["cursor"]
    with _database_refuses(server) as refused:
        items = [_create("First")]
        for name in refused:
            items += [_create(name), _create(f"After {name[9:]}")]
        r = acme.http.post("/v1/sync/batch", json={"items": items})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        for item, result in zip(items, results, strict=True):
            slug = refused.get(item["data"]["name"])
            if slug is None:
                assert result["status"] == "applied", result
            else:
                assert result["status"] == "rejected", result
                assert result["problem"]["type"].endswith(f"/{slug}"), result
    # the refused items left nothing behind: only the applied ones are in the log
    changes = acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"]
    applied = [i["data"]["id"] for i in items if i["data"]["name"] not in refused]
    assert [c["id"] for c in changes] == applied
    # not kept with their keys: once the database takes them, the same batch applies them
    again = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [x["status"] for x in again] == ["applied"] * len(items)
    assert len(acme.http.get("/v1/customers").json()["customers"]) == len(items)


def test_a_retried_batch_gives_the_same_results_and_applies_nothing_twice(
    server: Server, acme: Account
) -> None:
    items, _, _ = _batch(acme)
    first = acme.http.post("/v1/sync/batch", json={"items": items}).json()
    cursor = acme.http.get("/v1/changes").json()["cursor"]
    second = acme.http.post("/v1/sync/batch", json={"items": items}).json()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"] == []
    customer = acme.http.get(f"/v1/customers/{items[1]['id']}").json()
    assert customer["revision"] == 2  # the update applied once


def test_concurrent_copies_of_a_batch_apply_each_item_once(server: Server, acme: Account) -> None:
    new_id = str(uuid.uuid4())
    items = [
        {"key": f"k-{new_id}", "op": "customer.create", "data": {"id": new_id, "name": "Once"}}
    ]

    def send(_: int) -> list[dict]:
        r = acme.http.post("/v1/sync/batch", json={"items": items})
        return r.json()["results"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    assert all(a == answers[0] for a in answers) and answers[0][0]["status"] == "applied"
    with server.db.read() as s:
        assert s.scalar(select(func.count()).where(CustomerRow.id == new_id)) == 1


def test_a_key_reused_for_another_change_is_rejected(server: Server, acme: Account) -> None:
    key = f"k-{uuid.uuid4()}"
    first = {"key": key, "op": "customer.create", "data": {"id": str(uuid.uuid4()), "name": "A"}}
    other = {"key": key, "op": "customer.create", "data": {"id": str(uuid.uuid4()), "name": "B"}}
    acme.http.post("/v1/sync/batch", json={"items": [first]})
    result = acme.http.post("/v1/sync/batch", json={"items": [other]}).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["problem"]["type"].endswith("/idempotency-key-reused")


def test_a_quota_refusal_is_retried_afresh_after_the_upgrade(server: Server) -> None:
    from fieldtech.domain.plans import Tier

    acme = server.account(Tier.STARTER)
    customer = acme.customer()
    for i in range(25):
        acme.controller(customer["id"], name=f"C{i}")
    item = {
        "key": f"q-{uuid.uuid4()}",
        "op": "controller.create",
        "data": {"id": str(uuid.uuid4()), "customer_id": customer["id"], "name": "Draft"},
    }
    refused = acme.http.post("/v1/sync/batch", json={"items": [item]}).json()["results"][0]
    assert refused["status"] == "rejected"
    assert refused["problem"]["type"].endswith("/quota-exceeded")
    assert refused["problem"]["limit"] == 25
    acme.http.put("/v1/account/tier", json={"tier": "contractor"})
    applied = acme.http.post("/v1/sync/batch", json={"items": [item]}).json()["results"][0]
    assert applied["status"] == "applied"


def _two_days_on() -> str:
    """A rain delay the server takes (at most 14 days from now)."""
    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")


def _config_puts(acme: Account, n: int) -> list[dict]:
    """A rain delay for n new controllers, as a campaign sends it: one config.put each."""
    customer = acme.customer()
    items = []
    for _ in range(n):
        controller = acme.controller(customer["id"], zone_count=2)
        config = acme.http.get(f"/v1/controllers/{controller['id']}/config").json()["config"]
        items.append({"key": f"k-{uuid.uuid4()}", "op": "config.put", "id": controller["id"],
                      "base_revision": 1, "data": {**config, "rain_delay_until": _two_days_on()}})
    return items


def test_a_run_of_configuration_puts_answers_each_on_its_own(
    server: Server, acme: Account
) -> None:
    # A campaign's puts are written together; each still gets its own answer, in order.
    items = _config_puts(acme, 5)
    items[1]["base_revision"] = 7  # stale
    items[3]["data"] = {**items[3]["data"], "rain_delay_until": "2099-01-01T00:00:00"}
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    again = {**items[4], "key": f"k-{uuid.uuid4()}", "base_revision": 2,  # same controller
             "data": {**items[4]["data"], "rain_delay_until": later}}
    cursor = acme.http.get("/v1/changes").json()["cursor"]
    results = acme.http.post("/v1/sync/batch", json={"items": [*items, again]}).json()["results"]
    assert [r["status"] for r in results] == [
        "applied", "conflict", "applied", "rejected", "applied", "applied"]
    assert results[3]["problem"]["errors"][0]["field"] == "rain_delay_until"
    assert [r["revision"] for r in results if r["status"] == "applied"] == [2, 2, 2, 3]
    changes = acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"]
    assert [c["id"] for c in changes] == [items[i]["id"] for i in (0, 2, 4, 4)]
    assert [c["data"]["revision"] for c in changes] == [2, 2, 2, 3]


def test_a_put_the_database_refuses_in_a_run_is_rejected_alone(
    server: Server, acme: Account
) -> None:
    items = _config_puts(acme, 4)
    refused_id = items[2]["id"]
    cursor = acme.http.get("/v1/changes").json()["cursor"]
    with server.db.write_connection() as conn:
        if server.backend == "postgres":
            conn.execute(text(
                "CREATE FUNCTION ft_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.id = '{refused_id}' THEN "
                "RAISE EXCEPTION 'refused' USING ERRCODE = '55P03'; END IF; "
                "RETURN NEW; END $$"))
            conn.execute(text("CREATE TRIGGER ft_test_refuse BEFORE UPDATE ON controller "
                              "FOR EACH ROW EXECUTE FUNCTION ft_test_refuse()"))
        else:
            conn.execute(text("CREATE TRIGGER ft_test_refuse BEFORE UPDATE ON controller "
                              f"WHEN NEW.id = '{refused_id}' BEGIN SELECT json('not json'); END"))
    try:
        results = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    finally:
        with server.db.write_connection() as conn:
            conn.execute(text("DROP TRIGGER ft_test_refuse" + (
                " ON controller" if server.backend == "postgres" else "")))
            if server.backend == "postgres":
                conn.execute(text("DROP FUNCTION ft_test_refuse()"))
    assert [r["status"] for r in results] == ["applied", "applied", "rejected", "applied"]
    assert results[2]["problem"]["type"].endswith("/store-failed")
    changes = acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"]
    assert [c["id"] for c in changes] == [items[i]["id"] for i in (0, 1, 3)]  # each once
    # the same batch again: the applied are answered as before, the refused one applies now
    again = acme.http.post("/v1/sync/batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in again] == ["applied"] * 4
    assert [again[i] == results[i] for i in (0, 1, 3)] == [True] * 3
    changes = acme.http.get("/v1/changes", params={"cursor": cursor}).json()["changes"]
    assert [c["id"] for c in changes] == [items[i]["id"] for i in (0, 1, 3, 2)]


def test_a_key_twice_in_a_run_of_puts_is_applied_once(server: Server, acme: Account) -> None:
    items = _config_puts(acme, 3)
    twice = [items[0], items[1], {**items[1]}, items[2]]
    other = {**items[2], "id": items[0]["id"], "key": items[1]["key"]}  # reused for another
    results = acme.http.post("/v1/sync/batch", json={"items": [*twice, other]}).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 4 + ["rejected"]
    assert results[2] == results[1]
    assert results[4]["problem"]["type"].endswith("/idempotency-key-reused")
    config = acme.http.get(f"/v1/controllers/{items[1]['id']}/config").json()
    assert config["revision"] == 2  # applied once
