"""Pair simulated controllers with controller records of a cloud account (`fieldtech simulate
--cloud URL`, the demo, tests).

Two ways: pairing codes given by the user (one per device, in order), or a staff token, with
which each device is matched to a record — the one carrying its serial, else one not linked yet
(preferring the same zone count) — and a code is asked for that record
(`POST /v1/controllers/{id}/pairing-code`). A device already paired with that cloud keeps its
token and just carries on heartbeating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from fieldtech.controller_link.jsonrpc import BadRequest
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
    headers = {"Authorization": f"Bearer {staff_token}"}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30) as http:
        params = {"customer_id": customer_id} if customer_id else {}
        records = (await _call(http, "GET", "/v1/controllers", params=params))["controllers"]
        taken: set[str] = set()
        done = []
        for device in cloud_devices(sim)[:limit]:
            state = device.state
            record = _record_for(device, records, taken)
            if record is None:
                done.append(Pairing(device.serial, problem="no record for it in the account: "
                                    "add a controller without a serial (or with this one)"))
                continue
            taken.add(record["id"])
            loop = device.cloud
            assert loop is not None
            if (loop.paired and state.cloud_url == url
                    and state.cloud.get("controller_id") == record["id"]):  # type: ignore[union-attr]
                done.append(Pairing(device.serial, record["id"], record["name"], already=True))
                continue
            code = (await _call(http, "POST", f"/v1/controllers/{record['id']}/pairing-code"))
            pairing = await _pair(device, url, code["code"])
            done.append(Pairing(device.serial, record["id"], record["name"], pairing.problem))
    return done


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
