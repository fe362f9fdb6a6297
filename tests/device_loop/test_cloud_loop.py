"""A simulated controller paired with the real reference cloud on 127.0.0.1: heartbeats, config
fetches, commands, faults, a dead cloud, 401 and 429 (docs/protocol.md, "Talking to the cloud").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from device_cloud import LiveCloud, Staff, eventually

from fieldtech.server.ratelimit import Rate
from fieldtech.server.state import Limits
from fieldtech.server.tables import DeviceStatusRow
from fieldtech.simulator import SimulatedDevice, Simulator
from fieldtech.simulator.cloud_loop import CloudLoop

BEAT_S = 0.1  # the device override: a heartbeat every 0.1 s instead of the cloud's 30 s


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator(count=1, data_dir=tmp_path / "devices", advertise=False,
                         heartbeat_s=BEAT_S, reboot_pause_s=0.2) as simulator:
        yield simulator


async def rpc(device: SimulatedDevice, method: str, **params: Any) -> dict[str, Any]:
    """One JSON-RPC call to the device's /rpc, as a technician's laptop makes it."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{device.address}/rpc", json=request)
    return r.json()


async def paired(sim: Simulator, staff: Staff, **record: Any) -> tuple[SimulatedDevice, str]:
    """The first simulated device paired (over its own cloud.pair) with a new record."""
    device = sim.devices[0]
    controller = staff.controller(**record)
    code = staff.pairing_code(controller["id"])
    answer = await rpc(device, "cloud.pair", url=staff.cloud.url, code=code)
    assert answer["result"]["paired"] is True, answer
    return device, controller["id"]


def loop_of(device: SimulatedDevice) -> CloudLoop:
    assert device.cloud is not None
    return device.cloud


async def test_paired_device_heartbeats_its_status(sim: Simulator, staff: Staff,
                                                   live_cloud: LiveCloud) -> None:
    device, controller_id = await paired(sim, staff)
    await eventually(lambda: len(live_cloud.heartbeats(200)) >= 3, "three heartbeats")

    # The first one carries every key of the contract. (A cloud older than it answers 422
    # naming the keys it does not know; the device then leaves those out, so later ones
    # against such a cloud are shorter. Against the issue-10 cloud they are all 200.)
    beat = live_cloud.heartbeats()[0]
    token = device.state.cloud["token"]  # type: ignore[union-attr]
    assert beat.headers["authorization"] == f"Bearer {token}"
    assert beat.status in (200, 422)
    body = beat.body
    assert body["firmware"] == "1.4.2" and body["enabled"] is True
    assert body["running"] is None and body["rain_delay_until"] is None
    assert body["faults"] == [] and isinstance(body["uptime_s"], int)
    status = staff.status(controller_id)
    assert status["online"] is True and status["firmware"] == "1.4.2"
    record = staff.http.get(f"/v1/controllers/{controller_id}").json()
    assert record["serial"] == device.serial  # pairing bound the "not linked" record

    # the token and the uptime base live in the device's data file, like the rest of its state
    saved = json.loads((sim.data_dir / f"{device.serial}.json").read_text())
    assert saved["cloud"]["token"] == token and saved["booted_at"] > 0


async def test_a_wrong_pairing_code_is_refused_with_the_clouds_reason(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    device = sim.devices[0]
    answer = await rpc(device, "cloud.pair", url=live_cloud.url, code="ABCD-EFGH")
    assert answer["error"]["code"] == -32004
    assert "pairing code" in answer["error"]["message"]
    assert not loop_of(device).paired and device.state.cloud_url is None  # type: ignore[union-attr]


async def test_a_config_change_in_the_cloud_reaches_the_device(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    device, controller_id = await paired(sim, staff)
    state = device.state
    await eventually(lambda: state.cloud.get("applied_revision") == 1, "the first config")

    current = staff.http.get(f"/v1/controllers/{controller_id}/config")
    config = current.json()["config"]
    config["zones"][0]["name"] = "Roses by the gate"
    r = staff.http.put(f"/v1/controllers/{controller_id}/config", json=config,
                       headers={"If-Match": current.headers["ETag"]})
    assert r.status_code == 200, r.text

    await eventually(lambda: state.config["zones"][0]["name"] == "Roses by the gate",  # type: ignore[union-attr]
                     "the renamed zone on the device")
    assert state.cloud["applied_revision"] == 2  # type: ignore[union-attr]
    # the device says so in its next heartbeat: the cloud no longer calls it out of sync
    await eventually(lambda: staff.status(controller_id)["applied_revision"] == 2,
                     "applied_revision 2 in the cloud")
    assert staff.status(controller_id)["state"] == "online"

    # unchanged since: the conditional fetch is a 304 with the ETag the device kept
    assert await loop_of(device).fetch_config() == "Configuration 2 is current."
    fetch = [s for s in live_cloud.seen if s.path == "/v1/device/config"][-1]
    assert fetch.status == 304 and fetch.headers["if-none-match"] == '"2"'


async def test_a_run_zone_command_from_the_cloud_really_runs_the_zone(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    device, controller_id = await paired(sim, staff)
    r = staff.http.post(f"/v1/controllers/{controller_id}/run", json={"zone": 3, "seconds": 600})
    assert r.status_code == 202, r.text
    command_id = r.json()["queued"]["id"]

    state = device.state
    await eventually(lambda: state.run_zone == 3, "zone 3 running")
    status = await rpc(device, "status.get")  # what the technician on site sees
    assert status["result"]["running"][0]["zone"] == 3
    assert 590 <= status["result"]["running"][0]["seconds_left"] <= 600
    result = {"id": command_id, "ok": True, "message": "Zone 3 running for 600 s"}
    # the result goes out in the very next heartbeat, with the zone running
    reported = await eventually(
        lambda: [s for s in live_cloud.heartbeats() if result in s.body.get("results", [])],
        "the command's result in a heartbeat")
    body = reported[0].body
    if live_cloud.heartbeats()[0].status == 200:  # a cloud that takes the contract's keys
        assert body["running"]["zone"] == 3 and body["running"]["seconds_left"] > 500


async def test_every_command_kind_runs_and_reports(sim: Simulator, staff: Staff,
                                                   live_cloud: LiveCloud) -> None:
    device, controller_id = await paired(sim, staff)
    loop, state = loop_of(device), device.state
    await eventually(lambda: loop.heartbeats >= 1, "a heartbeat")
    booted_before = state.booted_at  # type: ignore[union-attr]
    commands = [("zone.run", {"zone": 2, "seconds": 300}), ("zone.stop", {}),
                ("rain_delay.set", {"hours": 24}), ("device.enable", {"enabled": False}),
                ("zone.run", {"zone": 1, "seconds": 60}),  # refused: watering is off
                ("device.enable", {"enabled": True}), ("config.fetch", {}),
                ("device.reboot", {})]
    ids = queue_commands(staff, live_cloud, controller_id, commands)

    await eventually(lambda: len(loop.results) == len(commands), "every command's result")
    by_id = {r["id"]: (r["ok"], r["message"]) for r in loop.results}
    assert [by_id[i] for i in ids] == [
        (True, "Zone 2 running for 300 s"), (True, "Stopped zone 2"),
        (True, by_id[ids[2]][1]), (True, "Watering disabled; any running zone stopped"),
        (False, "Controller disabled"), (True, "Watering enabled"),
        (True, "Configuration 1 applied."), (True, "Rebooted"),
    ]
    assert by_id[ids[2]][1].startswith("Rain delay until 20")
    assert state.rain_delay() is not None and state.enabled and state.run_zone is None
    reported = await eventually(
        lambda: {r["id"] for s in live_cloud.heartbeats() for r in s.body.get("results", [])}
        >= set(ids), "every result in a heartbeat")
    assert reported
    # the reboot shows as uptime going down: counted again from the reboot
    assert state.booted_at > booted_before  # type: ignore[union-attr]
    if live_cloud.heartbeats()[0].status == 200:  # a cloud that takes the contract's keys
        after = [s.body["uptime_s"] for s in live_cloud.heartbeats()
                 if any(r["id"] == ids[7] for r in s.body.get("results", []))]
        assert after[0] <= 1


async def test_a_command_this_firmware_does_not_know_fails_with_a_reason(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    # A newer cloud may send a kind this firmware predates (the cloud refuses unknown kinds
    # itself, so it is handed to the device directly, as the heartbeat's answer would).
    device, _ = await paired(sim, staff)
    loop = loop_of(device)
    await eventually(lambda: loop.heartbeats >= 1, "a heartbeat")
    command = {"id": str(uuid.uuid4()), "kind": "valve.dance", "params": {}}
    await loop._follow({"commands": [command, command]})  # handed twice: run and told once
    result = {"id": command["id"], "ok": False,
              "message": "Unknown command 'valve.dance': this firmware does not support it."}
    assert [r for r in loop.results if r["id"] == command["id"]] == [{**result,
                                                                       "kind": "valve.dance"}]
    await eventually(lambda: [s for s in live_cloud.heartbeats()
                              if s.body.get("results") == [result]], "the result, reported")


def queue_commands(staff: Staff, cloud: LiveCloud, controller_id: str,
                   commands: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Queue contract-shaped commands: through the cloud's commands route where it exists;
    on a cloud without it, into the queue the heartbeat hands out (device_status.commands)."""
    probe = staff.http.get(f"/v1/controllers/{controller_id}/commands")
    if probe.status_code == 200:
        ids = []
        for kind, params in commands:
            r = staff.http.post(f"/v1/controllers/{controller_id}/commands",
                                json={"kind": kind, "params": params, "queue_if_offline": True,
                                      "key": str(uuid.uuid4())})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        return ids
    queued = [{"id": str(uuid.uuid4()), "kind": k, "params": p} for k, p in commands]
    with cloud.db.write() as s:
        row = s.get_one(DeviceStatusRow, controller_id, with_for_update=True)
        row.commands = [*(row.commands or []), *queued]
    return [c["id"] for c in queued]


async def test_an_injected_fault_is_in_the_heartbeat_and_recovery_clears_it(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    device, _ = await paired(sim, staff)
    loop = loop_of(device)
    await eventually(lambda: loop.heartbeats >= 1, "a heartbeat")

    loop.inject_fault("flow_high", zone=4)
    fault = {"kind": "flow_high", "zone": 4,
             "detail": "Zone 4: flow well above its usual (a leak or a broken head?)"}
    with_fault = await eventually(
        lambda: [s for s in live_cloud.heartbeats() if s.body.get("faults") == [fault]],
        "the fault in a heartbeat the cloud received")
    # over the device's RPC too (the scenario control), a device-wide one
    answer = await rpc(device, "sim.fault.set", kind="low_voltage")
    assert [f["kind"] for f in answer["result"]["faults"]] == ["flow_high", "low_voltage"]
    await eventually(lambda: [s for s in live_cloud.heartbeats()
                              if [f["kind"] for f in s.body.get("faults", [])]
                              == ["flow_high", "low_voltage"]], "both faults")
    bad = await rpc(device, "sim.fault.set", kind="flow_high")  # a zone fault needs its zone
    assert bad["error"]["code"] == -32602 and "zone" in bad["error"]["message"]

    loop.recover()
    first = with_fault[0].at
    await eventually(lambda: [s for s in live_cloud.heartbeats()
                              if s.at > first and s.body.get("faults") == []], "faults: []")
    assert device.state.faults == []  # type: ignore[union-attr]


async def test_a_dead_cloud_is_retried_and_the_loop_resumes(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    device, controller_id = await paired(sim, staff)
    loop = loop_of(device)
    await eventually(lambda: loop.heartbeats >= 2, "heartbeats")

    live_cloud.stop()
    await eventually(lambda: loop.failures >= 3, "three failed tries")
    assert loop.state == "retrying" and "refused" in (loop.last_error or "")
    assert loop._task is not None and not loop._task.done()  # still trying, nothing crashed
    assert (await rpc(device, "device.info"))["result"]["serial"] == device.serial

    before = loop.heartbeats
    live_cloud.start()
    await eventually(lambda: loop.heartbeats > before + 1, "heartbeats again")
    assert loop.state == "paired" and loop.failures == 0 and loop.last_error is None
    assert staff.status(controller_id)["online"] is True


def test_the_backoff_is_the_contracts() -> None:
    from fieldtech.simulator.native_device import NativeDevice

    loop = CloudLoop(NativeDevice(serial="FT1-BACKOFF1"))
    loop.period_s = 30.0
    for attempt, nominal in [(0, 5), (1, 10), (2, 20), (3, 30), (9, 30), (60, 30)]:
        delays = [loop._backoff(attempt) for _ in range(200)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays), (attempt, delays[:5])
        assert len(set(delays)) > 100  # jittered, so devices back from one outage spread out


async def test_401_marks_the_device_unpaired_until_paired_again(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud, tmp_path: Path) -> None:
    device, controller_id = await paired(sim, staff)
    loop = loop_of(device)
    await eventually(lambda: loop.heartbeats >= 1, "a heartbeat")

    # the same controller paired again (from another box): the device's token stops working
    code = staff.pairing_code(controller_id)
    r = httpx.post(f"{live_cloud.url}/v1/device/pair", json={"code": code, "serial": device.serial})
    assert r.status_code == 200, r.text
    await eventually(lambda: loop.state == "unpaired", "unpaired")
    assert live_cloud.heartbeats()[-1].status == 401
    saved = json.loads((sim.data_dir / f"{device.serial}.json").read_text())
    assert saved["cloud"] == {}  # the dead token is not kept
    count = len(live_cloud.heartbeats())
    status = await rpc(device, "sim.cloud.status")
    assert status["result"]["state"] == "unpaired" and "pair it again" in status["result"][
        "last_error"]
    assert len(live_cloud.heartbeats()) == count  # it stopped: no heartbeat with a dead token

    answer = await rpc(device, "cloud.pair", url=live_cloud.url,
                       code=staff.pairing_code(controller_id))
    assert answer["result"]["paired"] is True
    await eventually(lambda: live_cloud.heartbeats()[-1].status == 200, "heartbeats again")


async def test_429_waits_as_long_as_retry_after_says(tmp_path: Path) -> None:
    # A cloud that lets a device in twice, then once every 2 s: a device beating every 0.05 s
    # is told 429 with Retry-After, and must not come back sooner.
    tight = Limits(user=Rate(1000, 1000), device=Rate(per_second=0.5, burst=3),
                   login=Rate(1000, 1000), pairing=Rate(1000, 1000))
    cloud = LiveCloud(tmp_path / "cloud.sqlite3", tight).start()
    staff = cloud.account()
    try:
        async with Simulator(count=1, data_dir=tmp_path / "devices", advertise=False,
                             heartbeat_s=0.05) as sim:
            await paired(sim, staff)
            await eventually(lambda: len([s for s in cloud.seen if s.status == 429]) >= 2
                             and cloud.seen[-1].status == 200, "429, then an answer")
        seen = list(cloud.seen)
        limited = [i for i, s in enumerate(seen) if s.status == 429 and i + 1 < len(seen)]
        assert limited
        for i in limited:
            wait = float(seen[i].answer_headers["retry-after"])
            assert wait >= 1 and seen[i + 1].at - seen[i].at >= wait, (i, wait)
    finally:
        staff.http.close()
        cloud.stop()


async def test_a_config_that_does_not_fit_the_device_is_not_applied_nor_fetched_again(
        sim: Simulator, staff: Staff, live_cloud: LiveCloud) -> None:
    # a 12-zone record paired with an 8-zone controller: its configuration cannot apply
    device, controller_id = await paired(sim, staff, zones=12)
    loop, state = loop_of(device), device.state
    before = json.dumps(state.config)
    await eventually(lambda: "not applied" in (loop.config_problem or ""), "the refusal")
    assert "applied_revision" not in state.cloud and json.dumps(state.config) == before
    beats = loop.heartbeats
    await eventually(lambda: loop.heartbeats > beats + 3, "more heartbeats")
    fetches = [s for s in live_cloud.seen if s.path == "/v1/device/config"]
    assert len(fetches) == 1  # the same revision is not fetched again at every heartbeat
    assert staff.status(controller_id)["applied_revision"] is None
