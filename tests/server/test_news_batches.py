"""Heartbeats that carry news are applied in batches (heartbeats.apply_heartbeats, device_store.
NewsQueue): one account's whole fleet reporting news at once — back from an outage — used to
queue on the account's lock one heartbeat at a time. On both backends, through the real server:
a storm of concurrent news answers every device with its own state, opens exactly one incident
each and logs each change once in cursor order; and a heartbeat that fails inside a batch fails
alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from server_helpers import Account, Device, Server, changes, cursor_now, paired_device

from fieldtech.domain.plans import Tier
from fieldtech.server.heartbeats import apply_heartbeats
from fieldtech.server.schemas import HeartbeatIn
from fieldtech.server.security import token_hash

LEAK = {"kind": "flow_high", "zone": 3, "detail": "Zone 3: 14 l/min, usually 6"}


def _open(account: Account, kind: str) -> list[dict]:
    r = account.http.get("/v1/incidents", params={"state": "open"})
    assert r.status_code == 200, r.text
    return [i for i in r.json()["incidents"] if i["kind"] == kind]


def _storm(devices: list[Device], **report) -> list[dict]:
    with ThreadPoolExecutor(len(devices)) as pool:
        return list(pool.map(lambda d: d.beat(**report), devices))


def test_a_fleet_reporting_news_at_once_gets_each_its_own_answer_and_incident(
    server: Server,
) -> None:
    fleet = server.account(Tier.CONTRACTOR)
    devices = [paired_device(server, fleet) for _ in range(24)]
    for d in devices:
        d.beat(applied_revision=1, faults=[], uptime_s=100)
    cursor = cursor_now(fleet)

    answers = _storm(devices, applied_revision=1, faults=[LEAK], uptime_s=130)
    assert [a["controller_id"] for a in answers] == [d.id for d in devices]
    assert all(a["state"] == "online" and a["commands"] == [] for a in answers)
    opened = _open(fleet, "flow_high")
    assert sorted(i["controller_id"] for i in opened) == sorted(d.id for d in devices)
    logged, _ = changes(fleet, cursor)
    seqs = [c["seq"] for c in logged]
    assert seqs == sorted(set(seqs))  # each once, in cursor order
    states = [c["id"] for c in logged if c["entity"] == "device_state"]
    assert sorted(states) == sorted(d.id for d in devices)

    # the same storm again is a repeat, not 24 more incidents; then all recover together
    _storm(devices, applied_revision=1, faults=[LEAK], uptime_s=160)
    assert len(_open(fleet, "flow_high")) == len(devices)
    _storm(devices, applied_revision=1, faults=[], uptime_s=190)
    assert _open(fleet, "flow_high") == []


def test_a_heartbeat_failing_inside_a_batch_fails_alone(
    server: Server, acme: Account, rival: Account
) -> None:
    ours, broken, theirs = (paired_device(server, acme), paired_device(server, acme),
                            paired_device(server, rival))
    now = server.clock()

    def item(device: Device, report: HeartbeatIn | None):
        token = device.http.headers["Authorization"].removeprefix("Bearer ")
        return (token_hash(token), report, now, 30)

    news = HeartbeatIn.model_validate({"applied_revision": 1, "faults": [LEAK]})
    # A report no request can make (the route validates every body): the one way to make a
    # heartbeat fail halfway through a batch that holds its account's lock.
    results = apply_heartbeats(server.db, [
        item(ours, news), item(broken, None), item(theirs, news),
        ("0" * 64, news, now, 30),  # a token nobody holds
    ])
    assert results[0]["controller_id"] == ours.id
    assert isinstance(results[1], Exception)
    assert results[2]["controller_id"] == theirs.id
    assert results[3] is None
    # the batch of acme's was rolled back and applied again one by one: ours landed
    assert [i["controller_id"] for i in _open(acme, "flow_high")] == [ours.id]
    assert [i["controller_id"] for i in _open(rival, "flow_high")] == [theirs.id]
    assert broken.beat(applied_revision=1, faults=[])["controller_id"] == broken.id
