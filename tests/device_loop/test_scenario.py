"""Scenarios (faults, offline, reboot, recover); `fieldtech simulate --cloud` as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from device_cloud import LiveCloud, Staff, eventually

from fieldtech.simulator import Simulator
from fieldtech.simulator.cloud_pairing import pair_with_account
from fieldtech.simulator.scenario import Scenario, ScenarioError, apply_step, run_scenario

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize(("text", "message"), [
    ("[[step]]\nat = 1\ndo = 'explode'", "`do` must be one of fault, recover"),
    ("[[step]]\nat = 1\ndo = 'fault'\nkind = 'flow_high'", "needs a zone from 1"),
    ("[[step]]\nat = 1\ndo = 'fault'\nkind = 'low_voltage'\nzone = 2", "give no zone"),
    ("[[step]]\nat = 1\ndo = 'fault'\nkind = 'gremlins'", "Unknown fault 'gremlins'"),
    ("[[step]]\nat = -1\ndo = 'offline'", "`at` must be the seconds"),
    ("[[step]]\nat = 1\ndo = 'offline'\nzone = 2", "`offline` takes no kind"),
    ("[[step]]\nat = 1\ndo = 'offline'\nwhen = 2", "unknown key 'when'"),
    ("repeat_every = 5\n[[step]]\nat = 10\ndo = 'reboot'", "repeat_every must be"),
    ("steps = 1", "unknown key 'steps'"),
    ("", "has no [[step]]"),
    ("[[step]\nat = 1", "not valid TOML"),
])
def test_a_broken_scenario_says_which_step_and_why(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("(", r"\(")):
        Scenario.parse(text, "demo.toml")


@pytest.fixture
async def fleet(tmp_path: Path, staff: Staff, live_cloud: LiveCloud) -> AsyncIterator[Simulator]:
    """Two simulated controllers paired with two records of the account."""
    staff.controller("North lawn")
    staff.controller("South beds")
    async with Simulator(count=2, data_dir=tmp_path / "devices", advertise=False,
                         heartbeat_s=0.1, reboot_pause_s=0.3) as sim:
        done = await pair_with_account(sim, live_cloud.url, staff.token)
        assert [p.problem for p in done] == [None, None]
        assert sorted(p.name for p in done) == ["North lawn", "South beds"]  # type: ignore[type-var]
        yield sim


async def test_scenario_steps_drive_what_the_cloud_hears(fleet: Simulator,
                                                          live_cloud: LiveCloud) -> None:
    scenario = Scenario.parse("""
        [[step]]
        at = 0
        serial = "FT1-SIM00001"
        do = "fault"
        kind = "zone_short_circuit"
        zone = 2
        [[step]]
        at = 0
        do = "fault"
        kind = "master_valve_stuck"
        [[step]]
        at = 0.2
        serial = "FT1-SIM00002"
        do = "recover"
        kind = "master_valve_stuck"
    """)
    lines: list[str] = []
    await run_scenario(scenario, fleet, lambda at, line: lines.append(f"{at:g} {line}"))
    assert lines == [
        "0 FT1-SIM00001: fault — Zone 2: short circuit (the zone was switched off)",
        "0 FT1-SIM00001: fault — Master valve stuck open: water flows with every zone off",
        "0 FT1-SIM00002: fault — Master valve stuck open: water flows with every zone off",
        "0.2 FT1-SIM00002: recovered (1 fault cleared)",
    ]
    one, two = (fleet.device(s) for s in ("FT1-SIM00001", "FT1-SIM00002"))

    def heard(device_token: str, kinds: list[str]) -> bool:
        return any(s.headers["authorization"].endswith(device_token)
                   and [f["kind"] for f in s.body.get("faults", [])] == kinds
                   for s in live_cloud.heartbeats())

    await eventually(lambda: heard(one.state.cloud["token"],  # type: ignore[union-attr]
                                   ["zone_short_circuit", "master_valve_stuck"]), "both faults")
    await eventually(lambda: heard(two.state.cloud["token"], []), "two recovered")  # type: ignore[union-attr]


async def test_offline_then_online_then_reboot(fleet: Simulator, live_cloud: LiveCloud) -> None:
    device = fleet.device("FT1-SIM00001")
    loop = device.cloud
    assert loop is not None
    await eventually(lambda: loop.heartbeats >= 2, "heartbeats")

    apply_step(Scenario.parse("[[step]]\nat=0\nserial='FT1-SIM00001'\ndo='offline'").steps[0],
               fleet)
    quiet = loop.heartbeats
    await asyncio.sleep(1.0)  # ten periods: a device that kept beating would show ten more
    assert loop.heartbeats <= quiet + 1 and loop.state == "offline"  # +1: one already on its way
    assert fleet.device("FT1-SIM00002").cloud.heartbeats > 5  # type: ignore[union-attr]

    apply_step(Scenario.parse("[[step]]\nat=0\nserial='FT1-SIM00001'\ndo='online'").steps[0],
               fleet)
    await eventually(lambda: loop.heartbeats > quiet + 2, "heartbeats again")

    booted = device.state.booted_at  # type: ignore[union-attr]
    device.state.run_zone, device.state.run_ends = 1, time.time() + 300  # type: ignore[union-attr]
    apply_step(Scenario.parse("[[step]]\nat=0\nserial='FT1-SIM00001'\ndo='reboot'").steps[0],
               fleet)
    assert device.state.mute and device.state.run_zone is None  # type: ignore[union-attr]
    await eventually(lambda: not device.state.mute, "back from the reboot")  # type: ignore[union-attr]
    assert device.state.booted_at > booted  # type: ignore[union-attr]
    before = loop.heartbeats
    await eventually(lambda: loop.heartbeats > before, "heartbeats after the reboot")


def _simulate(tmp_path: Path, *args: str, token: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FIELDTECH_TOKEN": token}
    env.pop("FIELDTECH_CLOUD_URL", None)
    return subprocess.Popen(
        # no mDNS: a demo or another simulator on this machine may advertise the same names
        [sys.executable, "-m", "fieldtech", "simulate", "--count", "1", "--heartbeat", "0.2",
         "--no-mdns", "--data-dir", str(tmp_path / "devices"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            break
    return "".join(lines)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err, err
    return err


async def test_simulate_cloud_pairs_with_the_account_and_runs_a_scenario(
        tmp_path: Path, staff: Staff, live_cloud: LiveCloud) -> None:
    record = staff.controller("Orchard")
    scenario = tmp_path / "leak.toml"
    scenario.write_text('[[step]]\nat = 0.5\ndo = "fault"\nkind = "flow_high"\nzone = 3\n')

    proc = _simulate(tmp_path, "--cloud", live_cloud.url, "--scenario", str(scenario),
                     token=staff.token)
    try:
        out = await asyncio.to_thread(_read_until, proc, "flow well above")
        assert f"FT1-SIM00001     paired with Orchard ({record['id']})" in out, out
        assert "[   0.5 s] FT1-SIM00001: fault — Zone 3: flow well above its usual" in out, out
        await eventually(lambda: any(f.get("kind") == "flow_high" for s in live_cloud.heartbeats()
                                     for f in s.body.get("faults", [])), "the leak, heard")
        assert staff.status(record["id"])["online"] is True
    finally:
        _stop(proc)

    # started again, it keeps its token (its data file): no new pairing, heartbeats go on
    proc = _simulate(tmp_path, "--cloud", live_cloud.url, token=staff.token)
    try:
        out = await asyncio.to_thread(_read_until, proc, "Ctrl-C")
        assert f"FT1-SIM00001     already paired with Orchard ({record['id']})" in out, out
        count = len(live_cloud.heartbeats(200))
        await eventually(lambda: len(live_cloud.heartbeats(200)) > count + 2, "heartbeats")
    finally:
        _stop(proc)


async def test_simulate_with_pairing_codes_and_a_bad_one(
        tmp_path: Path, staff: Staff, live_cloud: LiveCloud) -> None:
    record = staff.controller("Greenhouse")
    code = staff.pairing_code(record["id"])
    proc = _simulate(tmp_path, "--count", "2", "--cloud", live_cloud.url,
                     "--pair-codes", f"{code},WXYZ-1234", token="none")
    try:
        out = await asyncio.to_thread(_read_until, proc, "Ctrl-C")
    finally:
        _stop(proc)
    assert f"FT1-SIM00001     paired with controller ({record['id']})" in out, out
    assert "FT1-SIM00002     not paired: This pairing code is unknown, used or expired." in out


async def test_a_short_circuit_switches_the_running_zone_off(fleet: Simulator) -> None:
    device = fleet.device("FT1-SIM00001")
    assert device.cloud is not None
    answer = await device.state.handle(  # type: ignore[union-attr]
        b'{"jsonrpc":"2.0","id":1,"method":"zone.run","params":{"zone":2,"seconds":300}}')
    assert b'"result"' in (answer or b"")
    device.cloud.inject_fault("zone_short_circuit", zone=5)  # another zone: no effect
    assert device.state.run_zone == 2  # type: ignore[union-attr]
    device.cloud.inject_fault("zone_short_circuit", zone=2)
    assert device.state.run_zone is None and device.state.seconds_left() == 0  # type: ignore[union-attr]


async def test_take_offline_stops_the_heartbeats_too(fleet: Simulator) -> None:
    await fleet.take_offline("FT1-SIM00002")
    assert fleet.device("FT1-SIM00002").cloud.state == "offline"  # type: ignore[union-attr]
