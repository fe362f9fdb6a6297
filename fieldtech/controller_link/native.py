"""The native fieldtech driver: JSON-RPC 2.0 over HTTP or a serial line (docs/protocol.md)."""

from __future__ import annotations

import copy
from typing import Any

from fieldtech.controller_link import parse
from fieldtech.controller_link.errors import ProtocolError
from fieldtech.controller_link.link import (
    ControllerLink,
    DeviceConfig,
    DeviceInfo,
    DeviceStatus,
    RunningZone,
)
from fieldtech.controller_link.transports import HttpRpc, RpcTransport, SerialRpc
from fieldtech.domain.models import ControllerConfig
from fieldtech.domain.pairing import pair_programs
from fieldtech.domain.validation import validate_config

WIFI_SET_DEVICE_LIMIT = 35.0  # seconds a device may take to join (and answer wifi.set)
WIFI_SET_WAIT = WIFI_SET_DEVICE_LIMIT + 10.0  # outwait it: its own error, not our timeout


class NativeLink(ControllerLink):
    """A fieldtech-protocol controller behind any RpcTransport."""

    def __init__(self, transport: RpcTransport):
        self.transport = transport
        self.info: DeviceInfo | None = None

    @classmethod
    def http(cls, address: str, timeout: float = 5.0) -> NativeLink:
        return cls(HttpRpc(address, timeout=timeout))

    @classmethod
    def serial(cls, path: str, timeout: float = 3.0) -> NativeLink:
        return cls(SerialRpc(path, timeout=timeout))

    @property
    def address(self) -> str:
        return self.transport.address

    async def identify(self) -> DeviceInfo:
        result = parse.obj(await self.transport.call("device.info"), "its identity", self.address)
        a = self.address
        self.info = DeviceInfo(
            driver="native",
            address=a,
            transport="serial" if isinstance(self.transport, SerialRpc) else "http",
            serial=parse.text(result, "serial", a),
            model=parse.text(result, "model", a),
            firmware=parse.text(result, "firmware", a),
            zone_count=parse.integer(result, "zone_count", a),
            mac=parse.text(result, "mac", a, None),
            name=parse.text(result, "name", a, None),
        )
        return self.info

    async def read_config(self) -> DeviceConfig:
        result = parse.obj(await self.transport.call("config.get"), "its configuration",
                           self.address)
        revision = parse.integer(result, "revision", self.address)
        raw = parse.obj(result.get("config"), "its configuration", self.address)
        config = config_from_wire(raw, self.address)
        zone_count = self.info.zone_count if self.info and self.info.zone_count else 200
        notes = [
            f"The controller holds a value fieldtech considers invalid: {e}"
            for e in validate_config(config, zone_count)
        ]
        return DeviceConfig(config, revision=str(revision), extra={"raw": raw}, notes=notes)

    async def apply_config(
        self, config: ControllerConfig, base: DeviceConfig | None = None
    ) -> DeviceConfig:
        if base is None:
            base = await self.read_config()
        wire = config_to_wire(config, base.extra.get("raw") or {})
        params = {"config": wire, "revision": int(base.revision or 0)}
        result = parse.obj(await self.transport.call("config.apply", params), "its answer",
                           self.address)
        revision = parse.integer(result, "revision", self.address)
        return DeviceConfig(config, revision=str(revision), extra={"raw": wire})

    async def read_status(self) -> DeviceStatus:
        result = parse.obj(await self.transport.call("status.get"), "its status", self.address)
        a = self.address
        running = []
        for item in _list(result.get("running", []), "running zones", a):
            item = parse.obj(item, "a running zone", a)
            running.append(
                RunningZone(parse.integer(item, "zone", a), parse.integer(item, "seconds_left", a))
            )
        return DeviceStatus(
            enabled=parse.boolean(result, "enabled", a),
            running=tuple(running),
            queued=tuple(parse.int_list(result.get("queued", []), "queued zones", a)),
            rain_delay_until=parse.timestamp(result.get("rain_delay_until"), "rain delay", a),
        )

    async def run_zone(self, zone: int, seconds: int) -> None:
        await self.transport.call("zone.run", {"zone": zone, "seconds": seconds})

    async def stop_all(self) -> None:
        await self.transport.call("zone.stop", {})

    async def set_rain_delay(self, hours: int) -> None:
        await self.transport.call("rain_delay.set", {"hours": hours})

    async def set_enabled(self, enabled: bool) -> None:
        await self.transport.call("device.enable", {"enabled": enabled})

    async def set_wifi(self, ssid: str, password: str) -> dict[str, Any]:
        """Give the controller Wi-Fi credentials (over serial, before it is on the LAN).

        Joining takes seconds, not the 3 s of a serial call: the device answers within
        WIFI_SET_DEVICE_LIMIT and we wait WIFI_SET_WAIT (docs/protocol.md).
        """
        return parse.obj(
            await self.transport.call("wifi.set", {"ssid": ssid, "password": password},
                                      timeout=WIFI_SET_WAIT),
            "its Wi-Fi answer",
            self.address,
        )

    async def pair_cloud(self, url: str, code: str) -> dict[str, Any]:
        return parse.obj(
            await self.transport.call("cloud.pair", {"url": url, "code": code}),
            "its pairing answer",
            self.address,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()


def config_from_wire(raw: dict[str, Any], address: str | None = None) -> ControllerConfig:
    try:
        return ControllerConfig.from_dict(raw)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ProtocolError(
            f"The controller's configuration could not be read ({exc}).", address=address
        ) from exc


def config_to_wire(config: ControllerConfig, raw: dict[str, Any]) -> dict[str, Any]:
    """Our config in wire form, keeping keys the device sent that our model does not know.

    Zones are matched by number and programs by `id` (then name, never position), so a newer
    firmware's extra fields (a flow sensor setting, a program colour) stay with their program
    through a push from an older fieldtech, even after a program before it was deleted.
    """
    wire = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("zones", "programs")}
    ours = config.to_dict()
    old_zones = {
        z.get("number"): z for z in raw.get("zones") or [] if isinstance(z, dict)
    }
    wire["zones"] = [{**copy.deepcopy(old_zones.get(z["number"], {})), **z} for z in ours["zones"]]
    old_programs = [p if isinstance(p, dict) else {} for p in raw.get("programs") or []]
    theirs = config_from_wire({"programs": old_programs}).programs
    paired = dict(pair_programs(config.programs, theirs))
    wire["programs"] = [
        {**copy.deepcopy(old_programs[j] if (j := paired.get(i)) is not None else {}), **p}
        for i, p in enumerate(ours["programs"])
    ]
    wire["rain_delay_until"] = ours["rain_delay_until"]
    return wire


def _list(value: Any, what: str, address: str | None) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"The device sent {what} in an unexpected form.", address=address)
    return value
