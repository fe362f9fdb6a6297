"""A simulated controller's side of the device ↔ cloud loop (docs/protocol.md, "Talking to the
cloud"; the wire contract of issue 10).

After `cloud.pair` the device trades its pairing code for a device token, then heartbeats every
`heartbeat_s` (the cloud's answer says how often; 30 s until it does) with its status, faults
and the results of commands. An answer naming a configuration revision the device does not run
makes it fetch the configuration (conditionally: 304 when unchanged) and apply it; commands in
the answer run at once and their results go out in a heartbeat sent right after. Failures back
off with jitter; 401 means the cloud forgot this device (unpaired); 429 waits as told.

The scenario controls (faults, going offline, a reboot) are here too, because each changes what
the next heartbeat says and most send one at once. No textual: tests and the CLI drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import httpx

# the cloud client's readings of a network error, Retry-After and a JSON body: one of each
from fieldtech.cloud.api import _json_or_none as _json
from fieldtech.cloud.api import _network_reason, _retry_after
from fieldtech.controller_link import jsonrpc
from fieldtech.controller_link.jsonrpc import BadRequest
from fieldtech.simulator.faults import FaultError, make_fault, same_fault
from fieldtech.simulator.native_device import NativeDevice

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_S = 30.0  # until the cloud's answer says otherwise (the contract's default)
RETRY_BASE_S = 5.0  # the contract: retry after min(heartbeat_s, 5 s * 2^n), +-20 % jitter
JITTER = 0.2
REBOOT_PAUSE_S = 2.0  # a real controller takes longer; long enough to see it go quiet
PAIR_PATH = "/v1/device/pair"
HEARTBEAT_PATH = "/v1/device/heartbeat"
CONFIG_PATH = "/v1/device/config"
NEWS_KEYS = frozenset({"faults", "results"})


class _TryLater(Exception):
    """A network error, 5xx, 429 or an answer we cannot use: back off and try again."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _Unpaired(Exception):
    """401: the cloud no longer knows this device's token (deleted, or paired again elsewhere)."""


class CloudLoop:
    """The cloud side of one simulated native controller: `await loop.start()` once; it idles
    until the device is paired (over `cloud.pair`, or `await loop.pair(url, code)`)."""

    def __init__(self, device: NativeDevice, *, heartbeat_s: float | None = None,
                 reboot_pause_s: float = REBOOT_PAUSE_S, retry_base_s: float = RETRY_BASE_S,
                 timeout_s: float = 10.0):
        self.device = device
        self.heartbeat_override = heartbeat_s  # tests and demos beat faster than the cloud asks
        self.reboot_pause_s, self.retry_base_s, self.timeout_s = (reboot_pause_s, retry_base_s,
                                                                  timeout_s)
        self.period_s = heartbeat_s or DEFAULT_HEARTBEAT_S
        self.offline = False  # the scenario's "network down": no heartbeats at all
        self.heartbeats = 0  # answered by the cloud (2xx)
        self.failures = 0  # in a row, since the last answered one
        self.last_error: str | None = None  # of the last request; None once one is answered
        self.config_problem: str | None = None  # why the cloud's configuration did not apply
        self.last_answer: dict[str, Any] | None = None
        self.results: list[dict[str, Any]] = []  # every command result, oldest first
        self._pending: list[dict[str, Any]] = []  # results not yet taken by the cloud
        self._seen: deque[str] = deque(maxlen=500)  # command ids already run: run each once
        self._rejected: dict[str, Any] = {}  # keys an older cloud refused (422), and the value
        self._failed_revision: int | None = None  # a cloud configuration that did not apply
        self._rebooting = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # held, so none is collected midway
        self._http: httpx.AsyncClient | None = None
        if not device.booted_at:
            device.booted_at = time.time()
            device.save()
        device.extra_methods.update({
            "cloud.pair": self.rpc_pair,
            # simulator-only controls (docs/protocol.md, "Simulator controls")
            "sim.fault.set": self.rpc_fault_set,
            "sim.fault.clear": self.rpc_fault_clear,
            "sim.offline": self.rpc_offline,
            "sim.reboot": self.rpc_reboot,
            "sim.cloud.status": self.rpc_cloud_status,
        })

    # --- life cycle --------------------------------------------------------------------------

    @property
    def paired(self) -> bool:
        return bool(self.device.cloud_url and self.device.cloud.get("token"))

    @property
    def state(self) -> str:
        """unpaired, rebooting, offline (the scenario's), retrying (the cloud did not answer
        the last try) or paired (heartbeating)."""
        if not self.paired:
            return "unpaired"
        if self._rebooting:
            return "rebooting"
        if self.offline:
            return "offline"
        return "retrying" if self.failures else "paired"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"cloud-loop-{self.device.serial}")

    async def stop(self) -> None:
        for task in [self._task, *self._background]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """Send a heartbeat now (faults changed, results waiting, back online)."""
        self._wake.set()

    # --- pairing -----------------------------------------------------------------------------

    async def pair(self, url: str, code: str) -> dict[str, Any]:
        """Trade a pairing code for a device token. Raises BadRequest (-32004) saying why not."""
        d = self.device
        before = d.cloud_url
        d.rpc_pair({"url": url, "code": code})  # checks the params and keeps the URL
        if not _on_this_machine(url):
            d.cloud_url = before
            d.save()
            raise BadRequest(jsonrpc.PAIRING_FAILED, f"{url} is not a cloud on this machine: a "
                             "simulated controller only talks to 127.0.0.1 (run `fieldtech "
                             "cloud serve` and pair with its address).")
        try:
            token, answer = await self._trade_code(url, code)
        except BadRequest:
            d.cloud_url = before  # a failed pairing leaves the device as it was
            d.save()
            raise
        # a new record: nothing applied from it yet, so the first heartbeat fetches its config
        d.cloud = {"token": token, "controller_id": answer.get("controller_id"),
                   "paired_at": _iso(time.time())}
        d.save()
        self._rejected.clear()
        self._pending.clear()  # results of another pairing's commands are not this record's
        self._failed_revision, self.failures, self.last_error = None, 0, None
        self.wake()
        return {"paired": True, "controller_id": answer.get("controller_id")}

    async def _trade_code(self, url: str, code: str) -> tuple[str, dict[str, Any]]:
        body = {"code": code, "serial": self.device.serial, "firmware": self.device.firmware}
        try:
            response = await self._client().post(PAIR_PATH, json=body)
        except httpx.TransportError as exc:
            raise BadRequest(jsonrpc.PAIRING_FAILED, f"Could not reach the cloud at {url} "
                             f"({_network_reason(exc)}). Check the address and the network, "
                             "then pair again.") from None
        if response.status_code != 200:
            raise BadRequest(jsonrpc.PAIRING_FAILED, _problem_detail(response) or
                             f"The cloud refused the pairing (HTTP {response.status_code}).")
        answer = _json(response) or {}
        token = answer.get("device_token")
        if not isinstance(token, str):
            raise BadRequest(jsonrpc.PAIRING_FAILED, "The cloud's answer held no device token.")
        return token, answer

    async def rpc_pair(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.pair(params.get("url"), params.get("code"))  # type: ignore[arg-type]

    def _unpair(self) -> None:
        self.device.cloud = {}
        self.device.save()
        self.last_error = "The cloud no longer accepts this device's token: pair it again."
        log.warning("%s: %s", self.device.serial, self.last_error)

    # --- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self.paired or self.offline or self._rebooting:
                await self._wait(None)
                continue
            try:
                answer = await self._heartbeat()
                await self._follow(answer)
            except _Unpaired:
                self._unpair()
                continue
            except _TryLater as later:
                self.failures += 1
                self.last_error = later.reason
                delay = later.retry_after
                await self._wait(self._backoff(self.failures - 1) if delay is None else delay)
                continue
            except Exception:  # a simulator bug must not end the device's loop for good
                log.exception("%s: cloud loop", self.device.serial)
                await self._wait(self.period_s)
                continue
            if not self._pending:  # results waiting go out at once
                await self._wait(self.period_s)

    async def _wait(self, seconds: float | None) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that lands
        # as the wake-up does, and `stop()` then waited for ever (seen in the tests)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.period_s, self.retry_base_s * 2 ** min(attempt, 16))
        # jitter: devices coming back from one outage do not all knock at the same instant
        return delay * random.uniform(1 - JITTER, 1 + JITTER)

    async def _heartbeat(self) -> dict[str, Any]:
        pending = list(self._pending)
        for _ in range(3):
            body = self._body(pending)
            response = await self._request("POST", HEARTBEAT_PATH, json=body)
            refused = _refused_keys(response, body) if response.status_code == 422 else []
            if not refused:
                break
            # A cloud older than this firmware rejects keys it does not know: leave them out
            # (see `_body`) and send the rest at once.
            for key in refused:
                self._rejected[key] = body[key]
        answer = self._answer(response)
        taken = {id(r) for r in pending}
        self._pending = [r for r in self._pending if id(r) not in taken]
        self.heartbeats += 1
        self.failures, self.last_error = 0, None
        self.last_answer = answer
        period = answer.get("heartbeat_s")
        if self.heartbeat_override:
            self.period_s = self.heartbeat_override
        elif isinstance(period, (int, float)) and not isinstance(period, bool) and period > 0:
            self.period_s = float(period)
        return answer

    def _body(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        d, c = self.device, self.device.cloud
        left = d.seconds_left()
        rain = d.rain_delay()
        body: dict[str, Any] = {
            "firmware": d.firmware,
            "locally_modified": c.get("local_revision") not in (None, d.revision),
            "enabled": d.enabled,
            "running": {"zone": d.run_zone, "seconds_left": left} if left else None,
            "rain_delay_until": _iso(rain.timestamp()) if rain else None,
            "uptime_s": int(max(0.0, time.time() - d.booted_at)),
            "faults": [dict(f) for f in d.faults],
        }
        if c.get("applied_revision") is not None:
            body["applied_revision"] = c["applied_revision"]
        if results:
            body["results"] = results
        for key, value in self._rejected.items():
            # news (a fault, a result) is offered again once it says something new; status
            # keys that change with every beat (uptime) stay out until the next pairing
            if key not in NEWS_KEYS or body.get(key) == value:
                body.pop(key, None)
        return body

    async def _follow(self, answer: dict[str, Any]) -> None:
        """Do what the heartbeat's answer asks: fetch a new configuration, run commands."""
        revision = answer.get("config_revision", answer.get("revision"))  # older clouds: revision
        if (isinstance(revision, int) and revision != self.device.cloud.get("applied_revision")
                and revision != self._failed_revision):
            try:
                await self.fetch_config()
            except _TryLater:
                pass  # the revision still differs next time: fetched then
            except BadRequest:
                pass  # not valid here: config_problem says why; the cloud shows out of sync
            else:
                self.wake()  # the new applied_revision goes out at once
        for command in answer.get("commands") or []:
            if isinstance(command, dict):
                await self._run_command(command)

    # --- configuration -----------------------------------------------------------------------

    async def fetch_config(self, force: bool = False) -> str:
        """Fetch the cloud's configuration and apply it → what happened, for a person.

        Conditional (If-None-Match), so an unchanged one is a 304; `force` fetches it whole
        ("send configuration now" also undoes changes made on the device itself)."""
        c = self.device.cloud
        headers = {} if force or not c.get("etag") else {"If-None-Match": c["etag"]}
        response = await self._request("GET", CONFIG_PATH, headers=headers)
        if response.status_code == 304:
            return f"Configuration {c.get('applied_revision')} is current."
        document = self._answer(response)
        revision = document.get("revision")
        config = document.get("config")
        if config is not None:  # a record may have no configuration yet: nothing to apply
            try:
                self.device.rpc_config_apply({"config": self._merged(config),
                                              "revision": self.device.revision})
            except BadRequest as exc:
                self._failed_revision = revision
                self.config_problem = f"Configuration {revision} from the cloud not applied: {exc}"
                log.warning("%s: %s", self.device.serial, self.config_problem)
                raise
        c.update(applied_revision=revision, etag=response.headers.get("etag"),
                 local_revision=self.device.revision,
                 rain_delay_until=(config or {}).get("rain_delay_until"))
        self.device.save()
        self._failed_revision, self.config_problem = None, None
        return f"Configuration {revision} applied."

    def _merged(self, config: dict[str, Any]) -> dict[str, Any]:
        """The cloud's configuration, keeping a rain delay the cloud did not change.

        A rain delay set by a command or on the device is not in the cloud's document, so a
        document whose rain delay is the one applied last time says nothing about it."""
        c = self.device.cloud
        if "applied_revision" not in c or config.get("rain_delay_until") != c.get(
                "rain_delay_until"):
            return config
        rain = self.device.rain_delay()
        return {**config, "rain_delay_until": rain.isoformat() if rain else None}

    # --- commands ----------------------------------------------------------------------------

    async def _run_command(self, command: dict[str, Any]) -> None:
        command_id = command.get("id")
        if not isinstance(command_id, str) or command_id in self._seen:
            return  # handed out twice (a retried answer): it ran once, and was reported once
        self._seen.append(command_id)
        kind, params = _command(command)
        try:
            message, ok = await self._execute(kind, params), True
        except BadRequest as exc:
            message, ok = str(exc), False
        except _TryLater as exc:
            message, ok = f"Could not fetch the configuration: {exc.reason}.", False
        result = {"id": command_id, "ok": ok, "message": message}
        self.results.append({**result, "kind": kind})
        self._pending.append(result)

    async def _execute(self, kind: str, params: dict[str, Any]) -> str:
        d = self.device
        if kind == "zone.run":
            run = d.rpc_zone_run(params)
            return f"Zone {run['zone']} running for {run['seconds']} s"
        if kind == "zone.stop":
            stopped = d.rpc_zone_stop(params)["stopped"]
            return f"Stopped zone {stopped[0]}" if stopped else "Nothing was running"
        if kind == "rain_delay.set":
            until = d.rpc_rain_delay(params)["rain_delay_until"]
            return f"Rain delay until {until}" if until else "Rain delay cleared"
        if kind == "device.enable":
            on = d.rpc_enable(params)["enabled"]
            return "Watering enabled" if on else "Watering disabled; any running zone stopped"
        if kind == "device.reboot":
            await self.reboot()
            return "Rebooted"
        if kind == "config.fetch":
            return await self.fetch_config(force=True)
        raise BadRequest(jsonrpc.METHOD_NOT_FOUND,
                         f"Unknown command {kind!r}: this firmware does not support it.")

    # --- scenario controls (tests, demos, `sim.*` RPC) ---------------------------------------

    def inject_fault(self, kind: str, zone: int | None = None,
                     detail: str | None = None) -> dict[str, Any]:
        """Raise a fault (replacing one of the same kind and zone); reported at once."""
        fault = make_fault(kind, zone, detail, self.device.zone_count)
        d = self.device
        d.faults = [f for f in d.faults if not same_fault(f, kind, zone)] + [fault]
        if kind == "zone_short_circuit" and d.run_zone == zone:
            d.run_zone = None  # over-current: the driver switches the zone off, as hardware does
        d.save()
        self.wake()
        return fault

    def recover(self, kind: str | None = None, zone: int | None = None) -> int:
        """Clear faults (every one when no kind is given) → how many went; reported at once."""
        d = self.device
        kept = [f for f in d.faults if kind is not None and not same_fault(f, kind, zone)]
        cleared = len(d.faults) - len(kept)
        d.faults = kept
        d.save()
        self.wake()
        return cleared

    def go_offline(self) -> None:
        """The device loses its internet: no heartbeats until `come_back`."""
        self.offline = True

    def come_back(self) -> None:
        self.offline = False
        self.wake()

    async def reboot(self) -> None:
        """Stop watering, go quiet for `reboot_pause_s`, and come back with uptime from 0."""
        await self.reboot_soon()

    def reboot_soon(self) -> asyncio.Task[None]:
        """Go down now and come back in the background (a control is answered before the
        device goes quiet, as a real one acknowledges, then restarts)."""
        d = self.device
        self._rebooting, d.mute = True, True
        d.run_zone = None
        d.save()
        return self._in_background(self._boot())

    async def _boot(self) -> None:
        d = self.device
        try:
            await asyncio.sleep(self.reboot_pause_s)
        finally:
            d.booted_at = time.time()
            self._rebooting, d.mute = False, False
            d.save()
            self.wake()

    def rpc_fault_set(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            self.inject_fault(params.get("kind"), params.get("zone"),  # type: ignore[arg-type]
                              params.get("detail"))
        except FaultError as exc:
            raise BadRequest(jsonrpc.INVALID_PARAMS, str(exc)) from None
        return {"faults": self.device.faults}

    def rpc_fault_clear(self, params: dict[str, Any]) -> dict[str, Any]:
        self.recover(params.get("kind"), params.get("zone"))
        return {"faults": self.device.faults}

    def rpc_offline(self, params: dict[str, Any]) -> dict[str, Any]:
        offline = params.get("offline", True)
        if not isinstance(offline, bool):
            raise BadRequest(jsonrpc.INVALID_PARAMS, "offline must be true or false")
        self.go_offline() if offline else self.come_back()
        return {"offline": self.offline}

    def rpc_reboot(self, params: dict[str, Any]) -> dict[str, Any]:
        self.reboot_soon()
        return {"rebooting": True}

    def rpc_cloud_status(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"state": self.state, "url": self.device.cloud_url,
                "controller_id": self.device.cloud.get("controller_id"),
                "heartbeats": self.heartbeats, "heartbeat_s": self.period_s,
                "last_error": self.last_error, "config_problem": self.config_problem,
                "faults": self.device.faults}

    def _in_background(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- HTTP --------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        url = (self.device.cloud_url or "").rstrip("/")
        if self._http is not None and str(self._http.base_url).rstrip("/") != url:
            old, self._http = self._http, None
            self._in_background(old.aclose())
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=url, timeout=self.timeout_s,
                headers={"User-Agent": f"fieldtech-simulator/{self.device.firmware}"})
        return self._http

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.device.cloud.get('token')}",
                   **kwargs.pop("headers", {})}
        try:
            return await self._client().request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise _TryLater(_network_reason(exc)) from None

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON of a 2xx answer; raises _Unpaired (401) or _TryLater (the rest)."""
        status = response.status_code
        if status == 401:
            raise _Unpaired
        if status == 429:
            raise _TryLater("the cloud asked us to slow down (429)", _retry_after(response))
        if not 200 <= status < 300:
            raise _TryLater(_problem_detail(response) or f"the cloud answered {status}")
        answer = _json(response)
        if answer is None:
            raise _TryLater(f"the cloud's answer was not JSON (HTTP {status})")
        return answer


def _command(command: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, params) of a command in the contract's shape, or the older run-zone one."""
    if "kind" in command:
        params = command.get("params")
        return str(command["kind"]), params if isinstance(params, dict) else {}
    if "run_zone" in command:  # {"id", "run_zone", "seconds"}: clouds before issue 10
        return "zone.run", {"zone": command.get("run_zone"), "seconds": command.get("seconds")}
    return "", {}


def _refused_keys(response: httpx.Response, body: dict[str, Any]) -> list[str]:
    """Top-level heartbeat keys a 422 names (an older cloud refusing keys it does not know)."""
    problem = _json(response) or {}
    errors = problem.get("errors")
    names = {str(e.get("field", "")).split(".")[0] for e in errors or [] if isinstance(e, dict)}
    return [name for name in names if name in body]


def _problem_detail(response: httpx.Response) -> str | None:
    detail = (_json(response) or {}).get("detail")
    return detail if isinstance(detail, str) and detail else None


def _on_this_machine(url: str) -> bool:
    """Simulated devices never send a packet off this machine: no fake controllers reporting
    into a real cloud's fleet, and tests and demos stay on loopback."""
    host = httpx.URL(url).host if url.startswith(("http://", "https://")) else ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
