"""The client's calls for incidents, commands and the long-poll (fieldtech.cloud.api.CloudAPI)
against the real server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from server_helpers import Account, Server, paired_device

from fieldtech.cloud.api import CloudAPI, RetryPolicy
from fieldtech.domain.errors import CloudProblem


def test_incident_lifecycle_commands_and_long_poll_through_the_client(
    server: Server, acme: Account, rival: Account
) -> None:
    device = paired_device(server, acme, zone_count=2)
    device.beat(faults=[{"kind": "zone_short_circuit", "zone": 2, "detail": "Zone 2 shorted"}])
    api = CloudAPI(server.base_url, acme.token, retry=RetryPolicy(attempts=1))
    cursor = api.account()["change_cursor"]
    [incident] = [i for i in api.list_incidents()["incidents"] if i["controller_id"] == device.id]
    assert api.acknowledge(incident["id"], "on it")["state"] == "acknowledged"
    later = server.clock() + timedelta(hours=1)
    assert api.snooze(incident["id"], later)["state"] == "snoozed"
    me = api.me()["user_id"]
    assert api.assign(incident["id"], me)["assigned_to"] == me
    assert api.resolve(incident["id"], "fixed")["state"] == "resolved"
    page = api.changes(cursor, wait=5)
    assert [c["entity"] for c in page["changes"]] == ["incident"] * 4

    queued = api.send_command(device.id, "zone.run", {"zone": 1, "seconds": 60}, key="k1")
    assert api.send_command(device.id, "zone.run", {"zone": 1, "seconds": 60}, key="k1") == queued
    assert [c["id"] for c in api.commands(device.id)] == [queued["id"]]
    with pytest.raises(CloudProblem) as refused:
        api.send_command(device.id, "zone.run", {"zone": 3, "seconds": 60})
    assert refused.value.status == 422
    other = CloudAPI(server.base_url, rival.token, retry=RetryPolicy(attempts=1))
    with pytest.raises(CloudProblem) as hidden:
        other.acknowledge(incident["id"])
    assert hidden.value.status == 404
