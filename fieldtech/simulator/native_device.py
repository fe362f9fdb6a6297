"""A virtual fieldtech controller: its state, its countdowns, and its JSON-RPC methods.

The same object answers over HTTP and over a pty serial line, so both transports see one
device. State persists as JSON (one file per device) so a restarted simulator keeps its
configuration, rain delay and even a zone that was running.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldtech.controller_link import jsonrpc
from fieldtech.controller_link.jsonrpc import BadRequest
from fieldtech.domain import limits
from fieldtech.domain.errors import ValidationError
from fieldtech.domain.models import ControllerConfig
from fieldtech.domain.validation import parse_config

MODELS = {4: "FT-4", 8: "FT-8", 12: "FT-12", 16: "FT-16"}


@dataclass
class NativeDevice:
    serial: str
    zone_count: int = 8
    model: str = "FT-8"
    firmware: str = "1.4.2"
    mac: str = "02:00:00:00:00:01"
    name: str = "Simulated controller"
    config: dict[str, Any] = field(default_factory=dict)  # wire form, unknown keys kept
    revision: int = 1
    enabled: bool = True
    rain_delay_until: float | None = None  # epoch seconds
    run_zone: int | None = None
    run_ends: float = 0.0  # epoch seconds
    wifi_ssid: str | None = None
    cloud_url: str | None = None
    # The cloud loop's (cloud_loop.py): the epoch uptime counts from, the faults it reports
    # (scenario-driven), its token and what it applied from the cloud.
    booted_at: float = 0.0
    faults: list[dict[str, Any]] = field(default_factory=list)
    cloud: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    # Methods added or replaced by another part (the cloud loop's cloud.pair, sim.* controls);
    # a method may be a coroutine function.
    extra_methods: dict[str, Any] = field(default_factory=dict)
    # Test knobs, never persisted: answer late, or not at all.
    reply_delay: float = 0.0
    mute: bool = False
    http_url: str | None = None  # reported over Improv once "on Wi-Fi"

    _PERSISTED = (
        "serial", "zone_count", "model", "firmware", "mac", "name", "config", "revision",
        "enabled", "rain_delay_until", "run_zone", "run_ends", "wifi_ssid", "cloud_url",
        "booted_at", "faults", "cloud",
    )

    @classmethod
    def load_or_create(cls, path: Path | None, **defaults: Any) -> NativeDevice:
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            device = cls(**{k: v for k, v in saved.items() if k in cls._PERSISTED})
        else:
            device = cls(**defaults)
            if not device.config:
                device.config = ControllerConfig.default_for(device.zone_count).to_dict()
        device.path = path
        device.save()
        return device

    def save(self) -> None:
        if self.path is None:
            return
        data = {k: getattr(self, k) for k in self._PERSISTED}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)  # atomic: a killed simulator never leaves half a file

    # --- the running zone ------------------------------------------------------------------

    def seconds_left(self) -> int:
        if self.run_zone is None:
            return 0
        left = self.run_ends - time.time()
        if left <= 0:
            self.run_zone = None
            self.save()
            return 0
        return int(left + 0.999)

    def rain_delay(self) -> datetime | None:
        if self.rain_delay_until is None or self.rain_delay_until <= time.time():
            return None
        return datetime.fromtimestamp(self.rain_delay_until, UTC)

    # --- JSON-RPC --------------------------------------------------------------------------

    async def handle(self, raw: bytes) -> bytes | None:
        """The answer to one request (None for a notification or a muted device)."""
        if self.mute:
            return None
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        request_id: Any = None
        try:
            request = jsonrpc.decode_request(raw)
            request_id = request.id
            method = self._methods().get(request.method)
            if method is None:
                raise BadRequest(jsonrpc.METHOD_NOT_FOUND, f"Method not found: {request.method}")
            result = method(request.params)
            if inspect.isawaitable(result):
                result = await result
        except BadRequest as exc:
            if request_id is None:
                request_id = exc.request_id
            return jsonrpc.encode_error(request_id, exc.code, str(exc), exc.data)
        except Exception as exc:  # a simulator bug must not kill the connection loop
            return jsonrpc.encode_error(request_id, jsonrpc.INTERNAL_ERROR, repr(exc))
        if request.id is None:
            return None
        return jsonrpc.encode_result(request.id, result)

    def _methods(self) -> dict[str, Any]:
        return {
            "device.info": self.rpc_info,
            "config.get": self.rpc_config_get,
            "config.apply": self.rpc_config_apply,
            "status.get": self.rpc_status,
            "zone.run": self.rpc_zone_run,
            "zone.stop": self.rpc_zone_stop,
            "rain_delay.set": self.rpc_rain_delay,
            "device.enable": self.rpc_enable,
            "wifi.set": self.rpc_wifi,
            "cloud.pair": self.rpc_pair,
            **self.extra_methods,
        }

    def rpc_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "serial": self.serial, "model": self.model, "firmware": self.firmware,
            "zone_count": self.zone_count, "mac": self.mac, "name": self.name, "protocol": 1,
        }

    def rpc_config_get(self, params: dict[str, Any]) -> dict[str, Any]:
        config = dict(self.config)
        rd = self.rain_delay()
        config["rain_delay_until"] = rd.isoformat() if rd else None
        return {"revision": self.revision, "config": config}

    def rpc_config_apply(self, params: dict[str, Any]) -> dict[str, Any]:
        config, revision = params.get("config"), params.get("revision")
        if not isinstance(config, dict) or _not_int(revision):
            raise BadRequest(jsonrpc.INVALID_PARAMS, "config (object) and revision (integer)")
        if revision != self.revision:
            raise _error(jsonrpc.REVISION_CONFLICT, "Revision conflict",
                         {"revision": self.revision})
        try:
            parsed = parse_config(config, self.zone_count)
        except ValidationError as exc:
            raise _error(jsonrpc.INVALID_PARAMS, str(exc),
                         [{"field": e.field, "message": e.message} for e in exc.errors]) from exc
        self.config = dict(config)
        until = parsed.rain_delay_until
        self.rain_delay_until = until.timestamp() if until else None
        self.revision += 1
        self.save()
        return {"revision": self.revision}

    def rpc_status(self, params: dict[str, Any]) -> dict[str, Any]:
        left = self.seconds_left()
        rd = self.rain_delay()
        return {
            "enabled": self.enabled,
            "running": [{"zone": self.run_zone, "seconds_left": left}] if left else [],
            "queued": [],
            "rain_delay_until": rd.isoformat() if rd else None,
            "time": datetime.now(UTC).isoformat(),
        }

    def rpc_zone_run(self, params: dict[str, Any]) -> dict[str, Any]:
        zone, seconds = params.get("zone"), params.get("seconds")
        if _not_int(zone) or not 1 <= zone <= self.zone_count:
            raise BadRequest(jsonrpc.INVALID_PARAMS, f"zone must be 1–{self.zone_count}")
        if _not_int(seconds) or not 1 <= seconds <= limits.MANUAL_RUN_SECONDS_MAX:
            raise BadRequest(jsonrpc.INVALID_PARAMS,
                             f"seconds must be 1–{limits.MANUAL_RUN_SECONDS_MAX}")
        if not self.enabled:
            raise BadRequest(jsonrpc.DEVICE_DISABLED, "Controller disabled")
        # one valve at a time: a manual run replaces whatever was running
        self.run_zone, self.run_ends = zone, time.time() + seconds
        self.save()
        return {"zone": zone, "seconds": seconds}

    def rpc_zone_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        zone = params.get("zone")
        if zone is not None and _not_int(zone):
            raise BadRequest(jsonrpc.INVALID_PARAMS, "zone must be an integer")
        stopped = []
        if self.seconds_left() and zone in (None, self.run_zone):
            stopped = [self.run_zone]
            self.run_zone = None
            self.save()
        return {"stopped": stopped}

    def rpc_rain_delay(self, params: dict[str, Any]) -> dict[str, Any]:
        hours = params.get("hours")
        if _not_int(hours) or not 0 <= hours <= limits.RAIN_DELAY_HOURS_MAX:
            raise BadRequest(jsonrpc.INVALID_PARAMS,
                             f"hours must be 0–{limits.RAIN_DELAY_HOURS_MAX}")
        self.rain_delay_until = time.time() + hours * 3600 if hours else None
        self.save()
        rd = self.rain_delay()
        return {"rain_delay_until": rd.isoformat() if rd else None}

    def rpc_enable(self, params: dict[str, Any]) -> dict[str, Any]:
        enabled = params.get("enabled")
        if not isinstance(enabled, bool):
            raise BadRequest(jsonrpc.INVALID_PARAMS, "enabled must be true or false")
        self.enabled = enabled
        if not enabled:
            self.run_zone = None
        self.save()
        return {"enabled": enabled}

    def rpc_wifi(self, params: dict[str, Any]) -> dict[str, Any]:
        ssid, password = params.get("ssid"), params.get("password", "")
        if not isinstance(ssid, str) or not 1 <= len(ssid) <= 32 or not isinstance(password, str):
            raise BadRequest(jsonrpc.INVALID_PARAMS, "ssid (1–32 characters) and password")
        if password and not 8 <= len(password) <= 63:
            raise _error(jsonrpc.WIFI_FAILED, "Could not join the network: wrong password")
        self.wifi_ssid = ssid
        self.save()
        return {"state": "connected", "ssid": ssid, "url": self.http_url}

    def rpc_pair(self, params: dict[str, Any]) -> dict[str, Any]:
        url, code = params.get("url"), params.get("code")
        if not isinstance(url, str) or not isinstance(code, str) or not code:
            raise BadRequest(jsonrpc.INVALID_PARAMS, "url and code")
        self.cloud_url = url
        self.save()
        return {"paired": True}


def _not_int(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _error(code: int, message: str, data: Any = None) -> BadRequest:
    return BadRequest(code, message, data=data)
