"""The configuration document: ETag on read, If-Match required on write, 412 when stale."""

from __future__ import annotations

from server_helpers import Account, Server, problem


def _config_of(acme: Account) -> tuple[str, dict]:
    customer = acme.customer()
    controller = acme.controller(customer["id"], zone_count=4)
    r = acme.http.get(f"/v1/controllers/{controller['id']}/config")
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    return controller["id"], r.json()["config"]


def test_write_with_the_etag_read_bumps_the_revision(server: Server, acme: Account) -> None:
    cid, config = _config_of(acme)
    config["zones"][0]["run_minutes"] = 25
    config["programs"] = [{"name": "Morning", "days": [0, 3], "zone_minutes": {"1": 25}}]
    r = acme.http.put(f"/v1/controllers/{cid}/config", json=config, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"' and r.json()["revision"] == 2
    again = acme.http.get(f"/v1/controllers/{cid}/config").json()
    assert again["config"]["zones"][0]["run_minutes"] == 25
    assert again["config"]["programs"][0]["zone_minutes"] == {"1": 25}


def test_write_without_if_match_is_428(server: Server, acme: Account) -> None:
    cid, config = _config_of(acme)
    problem(acme.http.put(f"/v1/controllers/{cid}/config", json=config), 428, "if-match-required")


def test_stale_write_is_412_with_the_server_copy(server: Server, acme: Account) -> None:
    cid, config = _config_of(acme)
    mine, theirs = [dict(config, zones=[dict(z) for z in config["zones"]]) for _ in range(2)]
    theirs["zones"][1]["name"] = "Roses"
    first = acme.http.put(f"/v1/controllers/{cid}/config", json=theirs, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    mine["zones"][2]["name"] = "Lawn"
    stale = acme.http.put(f"/v1/controllers/{cid}/config", json=mine, headers={"If-Match": '"1"'})
    body = problem(stale, 412, "stale-revision")
    assert stale.headers["ETag"] == '"2"'
    assert body["current"]["revision"] == 2
    assert body["current"]["config"]["zones"][1]["name"] == "Roses"
    # the stale edit did not land
    assert acme.http.get(f"/v1/controllers/{cid}/config").json()["config"]["zones"][2]["name"] == (
        "Zone 3"
    )


def test_invalid_config_is_422_naming_the_field(server: Server, acme: Account) -> None:
    cid, config = _config_of(acme)
    config["zones"][0]["run_minutes"] = 9999
    r = acme.http.put(f"/v1/controllers/{cid}/config", json=config, headers={"If-Match": '"1"'})
    body = problem(r, 422, "validation")
    assert "zones.1.run_minutes" in [e["field"] for e in body["errors"]]
    bad_type = acme.http.put(
        f"/v1/controllers/{cid}/config", json={"zones": "many"}, headers={"If-Match": '"1"'}
    )
    assert problem(bad_type, 422, "validation")["errors"][0]["field"] == "zones"


def test_record_edits_honour_if_match_too(server: Server, acme: Account) -> None:
    customer = acme.customer()
    ok = acme.http.patch(
        f"/v1/customers/{customer['id']}", json={"phone": "555-0100"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = acme.http.patch(
        f"/v1/customers/{customer['id']}", json={"phone": "555-0199"}, headers={"If-Match": '"1"'}
    )
    assert problem(stale, 412, "stale-revision")["current"]["phone"] == "555-0100"


def test_program_ids_round_trip_and_the_order_follows_them(server: Server, acme: Account) -> None:
    # Programs carry an identity (docs/protocol.md) that devices keep across reorders; the
    # cloud stores it as sent (it refused the field: every config push from the app failed).
    cid, config = _config_of(acme)
    config["programs"] = [{"id": "p-evening", "name": "Evening", "zone_minutes": {"1": 5}},
                          {"id": "p-morning", "name": "Morning", "zone_minutes": {"2": 7}}]
    r = acme.http.put(f"/v1/controllers/{cid}/config", json=config, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    again = acme.http.get(f"/v1/controllers/{cid}/config").json()["config"]["programs"]
    assert [(p["id"], p["name"]) for p in again] == [("p-evening", "Evening"),
                                                     ("p-morning", "Morning")]
    config["programs"][0]["id"] = "x" * 65
    too_long = acme.http.put(f"/v1/controllers/{cid}/config", json=config,
                             headers={"If-Match": '"2"'})
    assert "programs.0.id" in [e["field"] for e in problem(too_long, 422, "validation")["errors"]]
