"""The OpenSprinkler driver: a thin httpx client for its local HTTP API (OPENSPRINKLER.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any
from urllib.parse import quote

import httpx

from fieldtech.controller_link import opensprinkler_map as osmap
from fieldtech.controller_link import parse
from fieldtech.controller_link.errors import (
    DeviceTimeout,
    NotPermitted,
    NotSupported,
    ProtocolError,
    WrongPassword,
    opensprinkler_error,
)
from fieldtech.controller_link.link import (
    ControllerLink,
    DeviceConfig,
    DeviceInfo,
    DeviceStatus,
    RunningZone,
)
from fieldtech.controller_link.transports import http_errors
from fieldtech.domain.limits import MANUAL_RUN_SECONDS_MAX
from fieldtech.domain.models import ControllerConfig
from fieldtech.domain.pairing import pair_programs
from fieldtech.domain.validation import validate_config

DEFAULT_PASSWORD = "opendoor"
MANUAL_PID = 99
START_WAIT = 3.0  # seconds: the firmware starts (and clears) stations on its 1 s tick
TICK_POLL = 0.2


def password_hash(password: str) -> str:
    """What the firmware compares byte for byte: lower-case hex MD5."""
    return hashlib.md5(password.encode()).hexdigest()


def normalize_address(address: str) -> str:
    """'192.168.1.20', '192.168.1.20:8080' or 'http://…' → 'http://host:port'."""
    address = address.strip().rstrip("/")
    if "://" not in address:
        address = "http://" + address
    return address


def serial_from_mac(mac: str) -> str:
    return "OS-" + mac.replace(":", "").replace("-", "").upper()


class OpenSprinklerClient:
    """Requests to one OpenSprinkler, strictly one at a time (its server is single-threaded)."""

    def __init__(self, address: str, password: str = DEFAULT_PASSWORD, timeout: float = 5.0,
                 password_is_hash: bool = False,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.address = normalize_address(address)
        self._pw = password if password_is_hash else password_hash(password)
        self._lock = asyncio.Lock()
        # Connection: close on every answer, so no pool; trust_env off: never via a proxy
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport)

    async def get(self, path: str, **params: Any) -> Any:
        """GET `path` with `params` (and the password); the decoded JSON answer.

        A `{"result": N}` answer other than 1 raises the named error for N; `{"fwv": N}`
        alone (what /jo and /ja say to a wrong password) raises WrongPassword.
        """
        query = "&".join([f"pw={self._pw}"] + [f"{k}={_encode(v)}" for k, v in params.items()])
        url = f"{self.address}{path}?{query}"
        async with self._lock:
            with http_errors(
                self.address, "The OpenSprinkler",
                busy="It serves one request at a time; if its own app is open, close it and "
                "try again.",
                where="Check the address and port (80 or 8080) and that the controller is on "
                "this network.",
            ):
                reply = await self._client.get(url)
        return self._decode(reply, path)

    def _decode(self, reply: httpx.Response, path: str) -> Any:
        if reply.status_code == 404:
            raise opensprinkler_error(32, self.address)
        if reply.status_code != 200:
            raise ProtocolError(
                f"{self.address} answered HTTP {reply.status_code}: is it an OpenSprinkler?",
                address=self.address,
            )
        try:
            # a name an older push cut mid-character is invalid UTF-8: read it, don't fail
            body = json.loads(reply.content.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(
                f"The answer from {self.address}{path} is not valid JSON: is it an OpenSprinkler?",
                address=self.address,
            ) from exc
        if isinstance(body, dict):
            if set(body) == {"fwv"}:
                raise WrongPassword(
                    "This is an OpenSprinkler, but it refused the password. Enter the password "
                    "set in its own app (factory password: opendoor).",
                    result=2, address=self.address,
                )
            if "result" in body:
                code = body["result"]
                if isinstance(code, bool) or not isinstance(code, int):
                    raise ProtocolError("The OpenSprinkler sent an unreadable result.",
                                        address=self.address)
                if code != 1:
                    raise opensprinkler_error(code, self.address)
        return body

    async def aclose(self) -> None:
        await self._client.aclose()


def _keep_ids(after: DeviceConfig, placed: dict[int, str]) -> None:
    """The programs just written carry the record's ids, so the record and what was read
    back agree on which program is which (the firmware cannot store an id)."""
    # config.programs holds one copy per mapped entry, in the same order
    positions = {e.pid: n for n, e in enumerate(
        e for e in after.extra["entries"] if e.program is not None)}
    by_pid = {e.pid: e.program for e in after.extra["entries"]}
    for pid, program_id in placed.items():
        program = by_pid.get(pid)
        if program is not None:
            after.config.programs[positions[pid]].id = program_id
            program.id = program_id


def refuse_invalid(config: ControllerConfig, nstations: int, address: str) -> None:
    """A LinkError naming each program or zone the record holds invalid (not a bare
    ValidationError: callers of a driver catch LinkError)."""
    errors = validate_config(config, nstations)
    if not errors:
        return
    where = []
    for error in errors:
        kind, _, rest = error.field.partition(".")
        index, message = rest.partition(".")[0], error.message.rstrip(".")
        if kind == "programs" and index.isdigit():
            where.append(f"program '{config.programs[int(index)].name}': {message}")
        else:
            where.append(f"{error.field}: {message}")
    raise NotSupported(
        "Nothing was sent to the OpenSprinkler: the record holds what it cannot take — "
        + "; ".join(where) + ". Fix it in the record, then push again.",
        address=address,
    )


def renamed_notes(config: ControllerConfig) -> list[str]:
    """What the firmware stores differently from the record's names, said after a push."""
    named = [(f"Zone {z.number}", z.name) for z in config.zones]
    named += [(f"Program '{p.name}'", p.name) for p in config.programs]
    return [
        f"{what} is stored as '{osmap.fit_name(name)}': the OpenSprinkler turns \" into ', "
        "\\ into / and keeps 32 bytes of a name."
        for what, name in named if osmap.fit_name(name) != name
    ]


def _encode(value: Any) -> str:
    # The firmware reads `v=[…]` arrays raw and URL-decodes names: keep [],- readable, encode
    # the rest (a '&' or '#' in a station name must not cut the query short).
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)
    return quote(text, safe="[],-:")


class OpenSprinklerLink(ControllerLink):
    def __init__(self, address: str, password: str = DEFAULT_PASSWORD, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.client = OpenSprinklerClient(address, password, timeout, transport=transport)
        self.info: DeviceInfo | None = None

    @property
    def address(self) -> str:
        return self.client.address

    async def identify(self) -> DeviceInfo:
        options = parse.obj(await self.client.get("/jo"), "its options", self.address)
        settings = parse.obj(await self.client.get("/jc"), "its settings", self.address)
        a = self.address
        mac = parse.text(settings, "mac", a, "")
        boards = parse.integer(settings, "nbrd", a, 1)
        self.info = DeviceInfo(
            driver="opensprinkler",
            address=a,
            model=f"OpenSprinkler (hw {parse.integer(options, 'hwv', a, 0)})",
            serial=serial_from_mac(mac) if mac else None,
            firmware=str(parse.integer(options, "fwv", a)),
            zone_count=boards * 8,
            mac=mac or None,
            name=parse.text(settings, "dname", a, None),
        )
        return self.info

    async def read_config(self) -> DeviceConfig:
        ja = parse.obj(await self.client.get("/ja"), "its configuration", self.address)
        config, entries, notes = osmap.config_from_ja(ja, self.address)
        stations = ja["stations"]
        return DeviceConfig(
            config,
            revision=None,
            extra={"entries": entries, "stations": stations, "nstations": len(config.zones)},
            unsupported=osmap.UNSUPPORTED,
            notes=notes,
            stored_name=osmap.fit_name,
        )

    async def apply_config(
        self, config: ControllerConfig, base: DeviceConfig | None = None
    ) -> DeviceConfig:
        if base is None or "entries" not in base.extra:
            base = await self.read_config()
        nstations: int = base.extra["nstations"]
        too_high = [z.number for z in config.zones if z.number > nstations]
        if too_high:
            raise NotSupported(
                f"This OpenSprinkler has {nstations} stations; zone {too_high[0]} cannot be set. "
                "Add an expansion board or lower the controller's zone count.",
                address=self.address,
            )
        # nothing is sent unless all of it can be: a half-pushed configuration helps no one
        refuse_invalid(config, nstations, self.address)
        await self._write_stations(config, base)
        placed = await self._write_programs(config, base, nstations)
        wanted = osmap.rain_delay_hours(config.rain_delay_until)
        if wanted != osmap.rain_delay_hours(base.config.rain_delay_until):
            await self.client.get("/cv", rd=wanted)
        after = await self.read_config()
        _keep_ids(after, placed)
        after.notes[:0] = renamed_notes(config)
        return after

    async def _write_stations(self, config: ControllerConfig, base: DeviceConfig) -> None:
        stations = base.extra["stations"]
        disabled = list(stations.get("stn_dis", []))
        master = list(stations.get("masop", []))
        names = stations.get("snames", [])
        params: dict[str, Any] = {}
        for zone in config.zones:
            sid = zone.number - 1
            name = osmap.fit_name(zone.name)
            if sid >= len(names) or names[sid] != name:
                params[f"s{sid}"] = name
            osmap.set_bit(disabled, sid, not zone.enabled)
            osmap.set_bit(master, sid, zone.master_valve)
        if disabled != list(stations.get("stn_dis", [])):
            params.update({f"d{b}": v for b, v in enumerate(disabled)})
        if master != list(stations.get("masop", [])):
            params.update({f"m{b}": v for b, v in enumerate(master)})
        if params:
            await self.client.get("/cs", **params)

    async def _write_programs(self, config: ControllerConfig, base: DeviceConfig,
                              nstations: int) -> dict[int, str]:
        """Write the programs; which pid each record program ends at, with its id."""
        mapped = [e for e in base.extra["entries"] if e.program is not None]
        zone_numbers = {z.number for z in config.zones} or set(range(1, nstations + 1))
        # paired by identity, so each program keeps its own hidden settings (never position)
        pairs = pair_programs(config.programs, [e.program for e in mapped], osmap.fit_name)
        # edits first (pids are stable), then deletes from the end, then appends
        for i, j in pairs:
            if i is None or j is None:
                continue
            program, entry = config.programs[i], mapped[j]
            if program != entry.program or osmap.fit_name(program.name) != entry.raw[5]:
                params = osmap.entry_from_program(program, entry.raw, nstations, zone_numbers)
                await self.client.get("/cp", pid=entry.pid, **params)
        gone = [mapped[j] for i, j in pairs if i is None and j is not None]
        for entry in sorted(gone, key=lambda e: -e.pid):
            await self.client.get("/dp", pid=entry.pid)
        for i, j in pairs:
            if i is not None and j is None:
                params = osmap.entry_from_program(config.programs[i], None, nstations,
                                                  zone_numbers)
                await self.client.get("/cp", pid=-1, **params)
        # the device's list now, by record id (None: a program the record cannot show)
        ids_by_pid = {mapped[j].pid: config.programs[i].id
                      for i, j in pairs if i is not None and j is not None}
        device = [ids_by_pid.get(e.pid) for e in base.extra["entries"] if e not in gone]
        device += [config.programs[i].id for i, j in pairs if i is not None and j is None]
        await self._reorder(device, [p.id for p in config.programs])
        return {pid: program_id for pid, program_id in enumerate(device) if program_id}

    async def _reorder(self, device: list[str | None], wanted: list[str]) -> None:
        """Move programs up (`/up`) until the device lists them in the record's order.

        Nothing moves when the order already matches, so the programs the record cannot show
        keep their places; `device` is updated to the final order.
        """
        if [d for d in device if d] == wanted:
            return
        last = -1
        for program_id in wanted:
            pid = device.index(program_id)
            while pid > last + 1:
                await self.client.get("/up", pid=pid)
                device[pid - 1], device[pid] = device[pid], device[pid - 1]
                pid -= 1
            last = pid

    async def read_status(self) -> DeviceStatus:
        settings = parse.obj(await self.client.get("/jc"), "its status", self.address)
        a = self.address
        sbits = parse.int_list(settings.get("sbits", []), "running stations", a)
        devt = parse.integer(settings, "devt", a)
        running, queued = [], []
        ps = settings.get("ps", [])
        if not isinstance(ps, list):
            raise ProtocolError("The OpenSprinkler sent its station queue in an unexpected form.",
                                address=a)
        for sid, item in enumerate(ps):
            item = parse.int_list(item, "a station's queue entry", a)
            if len(item) < 3 or item[0] == 0:
                continue
            if osmap.bit(sbits, sid):
                running.append(RunningZone(sid + 1, item[1]))
            elif item[2] > devt or item[1] > 0:
                queued.append((item[2], sid + 1))
        return DeviceStatus(
            enabled=parse.boolean(settings, "en", a),
            running=tuple(running),
            queued=tuple(zone for _, zone in sorted(queued)),
            rain_delay_until=osmap.rain_delay_until(settings, a),
        )

    async def run_zone(self, zone: int, seconds: int) -> None:
        """Start `zone` and return once the firmware shows it started (or queued).

        The firmware acts on its next 1 s tick: `/cm` answers before `/jc` shows the run, and
        right after a stop-all it refuses with 48 until that tick clears the queue.
        """
        if not 1 <= seconds <= MANUAL_RUN_SECONDS_MAX:
            raise NotSupported(
                f"An OpenSprinkler runs a zone for 1 to {MANUAL_RUN_SECONDS_MAX} seconds.",
                address=self.address,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WAIT
        while True:
            try:
                await self.client.get("/cm", sid=zone - 1, en=1, t=seconds)
                break
            except NotPermitted:
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(TICK_POLL)
        while loop.time() < deadline:
            status = await self.read_status()
            if status.seconds_left(zone) or zone in status.queued:
                return
            await asyncio.sleep(TICK_POLL)
        raise DeviceTimeout(
            f"The OpenSprinkler accepted zone {zone} but did not start it within "
            f"{START_WAIT:g} s. Check that it is enabled and not in a rain delay, then retry.",
            address=self.address,
        )

    async def stop_all(self) -> None:
        """Stop every station; returns once `/jc` shows none (the firmware clears on its tick)."""
        await self.client.get("/cv", rsn=1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WAIT
        while loop.time() < deadline:
            status = await self.read_status()
            if not status.running and not status.queued:
                return
            await asyncio.sleep(TICK_POLL)
        raise DeviceTimeout(
            f"The OpenSprinkler accepted 'stop' but still shows zones running after "
            f"{START_WAIT:g} s. Check the controller; stop them from its own app if needed.",
            address=self.address,
        )

    async def set_rain_delay(self, hours: int) -> None:
        await self.client.get("/cv", rd=hours)

    async def set_enabled(self, enabled: bool) -> None:
        await self.client.get("/cv", en=int(enabled))

    async def aclose(self) -> None:
        await self.client.aclose()
