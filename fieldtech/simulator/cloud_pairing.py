"""Pair simulated controllers with controller records of a cloud account (`fieldtech simulate
--cloud URL`, the demo, tests).

Two ways: pairing codes given by the user (one per device, in order), or a staff token, with
which each device is matched to a record — the one carrying its serial, else one not linked yet
(preferring the same zone count) — and a code is asked for that record
(`POST /v1/controllers/{id}/pairing-code`). A device already paired with that cloud keeps its
token and just carries on heartbeating.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import httpx

from fieldtech.controller_link.jsonrpc import BadRequest
from fieldtech.simulator.native_device import NativeDevice
from fieldtech.simulator.simulator import SimulatedDevice, Simulator


@dataclass(frozen=True)
class Pairing:
    """What became of one device: paired with a record (its id and name), or why not."""

    serial: str
    controller_id: str | None = None
    name: str | None = None
    problem: str | None = None
    already: bool = False

    def describe(self) -> str:
        if self.problem:
            return f"{self.serial:<16} not paired: {self.problem}"
        how = "already paired with" if self.already else "paired with"
        return f"{self.serial:<16} {how} {self.name or 'controller'} ({self.controller_id})"


class PairingError(Exception):
    """Pairing cannot start at all (no token for this cloud, the cloud refused the token…)."""


def cloud_devices(sim: Simulator) -> list[SimulatedDevice]:
    """The devices that talk to a cloud (native, on HTTP or serial), in serial order."""
    return sorted((d for d in sim.devices if d.cloud is not None), key=lambda d: d.serial)


async def pair_with_codes(sim: Simulator, url: str, codes: list[str]) -> list[Pairing]:
    """Pair the first len(codes) devices, one code each, in serial order."""
    devices = cloud_devices(sim)
    if len(codes) > len(devices):
        raise PairingError(f"{len(codes)} pairing codes for {len(devices)} controllers: run "
                           f"more (--count) or give fewer codes.")
    return [await _pair(device, url, code) for device, code in zip(devices, codes, strict=False)]


async def pair_with_account(sim: Simulator, url: str, staff_token: str,
                            customer_id: str | None = None,
                            limit: int | None = None) -> list[Pairing]:
    """Match each device (at most `limit`) with a record of the account and pair it."""
    async with _staff_client(url, staff_token) as http:
        records = await _records(http, customer_id)
        taken: set[str] = set()
        done = []
        for device in cloud_devices(sim)[:limit]:
            record = _record_for(device, records, taken)
            if record is None:
                done.append(Pairing(device.serial, problem="no record for it in the account: "
                                    "add a controller without a serial (or with this one)"))
                continue
            taken.add(record["id"])
            done.append(await _pair_record(http, device, url, record))
    return done


async def adopt_records(sim: Simulator, url: str, staff_token: str, count: int,
                        customer_id: str | None = None) -> list[Pairing]:
    """Bring `count` records of the account to life: a cloud-only simulated controller with
    each one's serial (fieldtech records that have one, by name), paired with it."""
    async with _staff_client(url, staff_token) as http:
        running = {d.serial for d in sim.devices}
        # OpenSprinkler records are left alone: that firmware does not talk to our cloud
        records = [r for r in await _records(http, customer_id)
                   if r.get("serial") and r["serial"] not in running
                   and str(r.get("model", "")).startswith("FT")][:count]
        done = []
        for record in records:
            device = await sim.add_cloud_device(record["serial"], record["zone_count"],
                                                record["model"], record["name"])
            done.append(await _pair_record(http, device, url, record))
    return done


def _staff_client(url: str, staff_token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30,
                             headers={"Authorization": f"Bearer {staff_token}"})


async def _records(http: httpx.AsyncClient, customer_id: str | None) -> list[dict[str, Any]]:
    params = {"customer_id": customer_id} if customer_id else {}
    return (await _call(http, "GET", "/v1/controllers", params=params))["controllers"]


async def _pair_record(http: httpx.AsyncClient, device: SimulatedDevice, url: str,
                       record: dict[str, Any]) -> Pairing:
    """Pair `device` with `record`, unless it already is (its token is kept in its data file)."""
    loop, state = device.cloud, device.state
    assert loop is not None and isinstance(state, NativeDevice)
    known = Pairing(device.serial, record["id"], record["name"])
    if loop.paired and state.cloud_url == url and state.cloud.get("controller_id") == record["id"]:
        return replace(known, already=True)
    code = await _call(http, "POST", f"/v1/controllers/{record['id']}/pairing-code")
    return replace(known, problem=(await _pair(device, url, code["code"])).problem)


def _record_for(device: SimulatedDevice, records: list[dict[str, Any]],
                taken: set[str]) -> dict[str, Any] | None:
    free = [r for r in records if r["id"] not in taken]
    mine = [r for r in free if r.get("serial") == device.serial]
    unlinked = [r for r in free if not r.get("serial")]
    same_size = [r for r in unlinked if r.get("zone_count") == device.state.zone_count]
    for found in (mine, same_size, unlinked):
        if found:
            return found[0]
    return None


async def _pair(device: SimulatedDevice, url: str, code: str) -> Pairing:
    assert device.cloud is not None
    try:
        answer = await device.cloud.pair(url, code)
    except BadRequest as exc:
        return Pairing(device.serial, problem=str(exc))
    return Pairing(device.serial, answer.get("controller_id"))


async def _call(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise PairingError(f"Cannot reach the cloud at {http.base_url} ({exc}).") from None
    if response.status_code == 401:
        raise PairingError(f"The cloud at {http.base_url} does not accept this token: sign in "
                           "with `fieldtech login URL`, or set FIELDTECH_TOKEN to a staff "
                           "user's token.")
    if response.status_code >= 300:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        raise PairingError(detail or f"The cloud answered {response.status_code} to {path}.")
    return response.json()
