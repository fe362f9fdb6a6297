"""A virtual OpenSprinkler following ../shared/OPENSPRINKLER.md (firmware 2.2.1, fwv 221).

Replies are what the firmware sends: HTTP 200 with `{"result":N}` for writes and errors,
`{"fwv":221}` alone for `/jo` and `/ja` with a wrong password, plain-text 404 for unknown
paths, 400 for HEAD. The HTTP server serves one request at a time (see http.py).

What real firmware does that a driver must cope with, reproduced here (issue 13): stations
start on the next 1 s tick, so `/jc` shows a manual run only a moment after `/cm` answers,
and a stop-all clears the queue on that tick (a `/cm` before it gets 48); `/jp` gives a date
range as `[enabled, from, to]` and a `/cp` without from/to resets it to Jan 1 – Dec 31;
names turn `"` into `'` and `\\` into `/` and are cut at 32 bytes, even inside a character.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from fieldtech.simulator.http import HttpRequest, HttpResponse

FWV, HWV = 221, 30
MANUAL_PID = 99
RUN_ONCE_PID = 254
MAX_PROGRAMS, MAX_STARTS, NAME_MAX = 40, 4, 32
DEFAULT_FROM, DEFAULT_TO = 33, 415  # month*32+day: Jan 1, Dec 31
OK, UNAUTHORIZED, MISMATCH, DATA_MISSING, OUT_OF_RANGE, FORMAT_ERROR, NOT_PERMITTED = (
    1, 2, 3, 16, 17, 18, 48,
)
BITFIELDS = {"m": "masop", "n": "masop2", "i": "ignore_rain", "j": "ignore_sn1",
             "k": "ignore_sn2", "d": "stn_dis", "p": "stn_spe"}


class Reply(Exception):
    """Ends a handler with `{"result": code}` (the firmware's error channel)."""

    def __init__(self, code: int):
        self.code = code


def md5_hex(password: str) -> str:
    return hashlib.md5(password.encode()).hexdigest()


class OpenSprinklerDevice:
    def __init__(self, state: dict[str, Any], path: Path | None = None):
        self.s = state
        self.path = path

    @classmethod
    def load_or_create(cls, path: Path | None, mac: str, password: str = "opendoor",
                       boards: int = 1) -> OpenSprinklerDevice:
        if path is not None and path.exists():
            return cls(json.loads(path.read_text()), path)
        n = boards * 8
        state = {
            "mac": mac,
            "pw": md5_hex(password),
            "options": {"fwv": FWV, "hwv": HWV, "tz": 48, "sdt": 0, "mas": 0, "mton": 0,
                        "mtof": 0, "uwt": 0, "ext": boards - 1, "wl": 100, "den": 1,
                        "ipas": 0, "devid": 0, "con": 110, "lit": 100, "dim": 15},
            "en": 1, "rdst": 0, "loc": "", "dname": "OpenSprinkler", "wterr": 0,
            "snames": [f"S{i + 1:02d}" for i in range(n)],
            "bits": {name: [0] * boards for name in BITFIELDS.values()},
            "stn_grp": [0] * n,
            "pd": [],
            "runs": {},  # sid → [pid, start, end, seen from (the tick)] in UTC epoch seconds
            "stop_at": 0,  # a stop-all clears the queue on this tick
            "lrun": [0, 0, 0, 0],
        }
        device = cls(state, path)
        device.save()
        return device

    @property
    def serial(self) -> str:
        return "OS-" + self.s["mac"].replace(":", "").upper()

    @property
    def nboards(self) -> int:
        return int(self.s["options"]["ext"]) + 1

    @property
    def nstations(self) -> int:
        return self.nboards * 8

    def save(self) -> None:
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.s))
            tmp.replace(self.path)

    # --- time: the firmware reports local time as epoch seconds -------------------------

    def _offset(self) -> int:
        return (int(self.s["options"]["tz"]) - 48) * 15 * 60

    def devt(self) -> int:
        return int(time.time()) + self._offset()

    def _prune(self) -> None:
        now = time.time()
        changed = bool(self.s.get("stop_at")) and now >= self.s["stop_at"]
        if changed:
            self.s["runs"], self.s["stop_at"] = {}, 0
        runs = {sid: r for sid, r in self.s["runs"].items() if r[2] > now}
        if changed or len(runs) != len(self.s["runs"]):
            self.s["runs"] = runs
            self.save()

    def _started(self) -> dict[int, list[Any]]:
        """Runs the scheduler has picked up: it does so on its 1 s tick, not at `/cm`."""
        now = time.time()
        return {int(sid): r[:3] for sid, r in self.s["runs"].items()
                if (r[3] if len(r) > 3 else 0) <= now}

    # --- HTTP ---------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method == "HEAD":
            return HttpResponse(400, b"", "text/plain")
        route = self._routes().get(request.path)
        if route is None:
            return HttpResponse(404, b"Not Found", "text/plain")
        q = request.query
        if request.path != "/db" and q.get("pw") != self.s["pw"]:
            if request.path in ("/jo", "/ja"):
                return _json({"fwv": FWV})
            return _json({"result": UNAUTHORIZED})
        self._prune()
        try:
            body = route(q)
        except Reply as reply:
            body = {"result": reply.code}
            if reply.code == OK:
                body["item"] = ""
        return _json(body)

    def _routes(self) -> dict[str, Any]:
        return {
            "/jo": self.jo, "/jc": self.jc, "/jn": self.jn, "/js": self.js, "/jp": self.jp,
            "/ja": self.ja, "/jl": self.jl, "/db": self.db,
            "/cs": self.cs, "/cp": self.cp, "/dp": self.dp, "/up": self.up, "/cm": self.cm,
            "/cr": self.cr, "/mp": self.mp, "/pq": self.pq, "/cv": self.cv, "/co": self.co,
            "/sp": self.sp,
        }

    # --- reading ------------------------------------------------------------------------

    def jo(self, q: dict[str, str]) -> dict[str, Any]:
        return dict(self.s["options"])

    def jc(self, q: dict[str, str]) -> dict[str, Any]:
        now, devt = time.time(), self.devt()
        sbits = [0] * (self.nboards + 1)
        ps = [[0, 0, 0, 0] for _ in range(self.nstations)]
        for sid, (pid, start, end) in self._started().items():
            running = start <= now < end
            if running:
                sbits[sid // 8] |= 1 << (sid % 8)
            remaining = int(end - max(now, start) + 0.999)
            ps[sid] = [pid, remaining, int(start) + self._offset(), self.s["stn_grp"][sid]]
        rd = int(self.s["rdst"] > devt)
        return {
            "devt": devt, "nbrd": self.nboards, "en": self.s["en"], "sn1": 0, "sn2": 0,
            "rd": rd, "rdst": self.s["rdst"] if rd else 0, "sunrise": 360, "sunset": 1080,
            "eip": 2130706433, "lwc": devt, "lswc": devt, "lupt": devt, "lrbtc": 1,
            "lrun": self.s["lrun"], "mac": self.s["mac"], "loc": self.s["loc"], "jsp": "",
            "wsp": "", "wterr": self.s["wterr"], "dname": self.s["dname"], "ifkey": "",
            "mqtt": {}, "wtdata": {}, "wtrestr": 0, "sbits": sbits, "ps": ps,
        }

    def jn(self, q: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {"snames": list(self.s["snames"]), "maxlen": NAME_MAX}
        body.update({name: list(bits) for name, bits in self.s["bits"].items()})
        body["stn_grp"] = list(self.s["stn_grp"])
        return body

    def js(self, q: dict[str, str]) -> dict[str, Any]:
        now = time.time()
        sn = [0] * self.nstations
        for sid, (_, start, end) in self._started().items():
            sn[sid] = int(start <= now < end)
        return {"sn": sn, "nstations": self.nstations}

    def jp(self, q: dict[str, str]) -> dict[str, Any]:
        pd = [[*entry[:6], [entry[0] >> 7 & 1, *entry[6][-2:]]]
              for entry in json.loads(json.dumps(self.s["pd"]))]
        return {"nprogs": len(self.s["pd"]), "nboards": self.nboards, "mnp": MAX_PROGRAMS,
                "mnst": MAX_STARTS, "pnsize": NAME_MAX, "pd": pd}

    def ja(self, q: dict[str, str]) -> dict[str, Any]:
        return {"settings": self.jc(q), "programs": self.jp(q), "options": self.jo(q),
                "status": self.js(q), "stations": self.jn(q)}

    def jl(self, q: dict[str, str]) -> list[Any]:
        if "start" in q or "end" in q:
            start, end = _int(q, "start"), _int(q, "end")
            if end - start > 365 * 86400 or end < start:
                raise Reply(OUT_OF_RANGE)
        return []

    def db(self, q: dict[str, str]) -> dict[str, Any]:
        return {"date": time.strftime("%b %d %Y"), "time": time.strftime("%H:%M:%S"),
                "heap": 100000}

    # --- writing ------------------------------------------------------------------------

    def cs(self, q: dict[str, str]) -> None:
        for key, value in q.items():
            if key[:1] == "s" and key[1:].isdigit():
                sid = int(key[1:])
                if sid < self.nstations:
                    self.s["snames"][sid] = stored_name(value)
            elif key[:1] in BITFIELDS and key[1:].isdigit():
                board = int(key[1:])
                bits = _int(q, key)
                if board < self.nboards:
                    self.s["bits"][BITFIELDS[key[0]]][board] = bits & 0xFF
            elif key[:1] == "g" and key[1:].isdigit():
                sid = int(key[1:])
                if sid < self.nstations:
                    self.s["stn_grp"][sid] = _int(q, key)
        self.save()
        raise Reply(OK)

    def cp(self, q: dict[str, str]) -> None:
        pid = _int(q, "pid")
        programs = self.s["pd"]
        if not -1 <= pid < len(programs):
            raise Reply(OUT_OF_RANGE)
        if "en" in q and "v" not in q:  # only toggles enabled
            if pid < 0:
                raise Reply(OUT_OF_RANGE)
            flag = programs[pid][0]
            programs[pid][0] = (flag | 1) if _int(q, "en") else (flag & ~1)
            self.save()
            raise Reply(OK)
        if "v" not in q:
            raise Reply(DATA_MISSING)
        try:
            v = json.loads(q["v"])
        except ValueError:
            raise Reply(FORMAT_ERROR) from None
        if (not isinstance(v, list) or len(v) < 5 or not all(isinstance(x, int) for x in v[:3])
                or not isinstance(v[3], list) or not isinstance(v[4], list)
                or not all(isinstance(x, int) for x in v[3] + v[4])):
            raise Reply(FORMAT_ERROR)
        flag, days0, days1, starts, durations = v[:5]
        if len(starts) > MAX_STARTS or len(durations) > self.nstations:
            raise Reply(OUT_OF_RANGE)
        # 65534/65535: "sunrise to sunset" and "sunset to sunrise"
        if any(not (0 <= d <= 64800 or d in (65534, 65535)) for d in durations):
            raise Reply(OUT_OF_RANGE)
        starts = (starts + [-1] * MAX_STARTS)[:MAX_STARTS]
        durations = (durations + [0] * self.nstations)[: self.nstations]
        name = q.get("name", f"Program {len(programs) + 1 if pid < 0 else pid + 1}")
        name = stored_name(name)
        daterange = [_int(q, "from", DEFAULT_FROM), _int(q, "to", DEFAULT_TO)]
        entry = [flag & 0xFF, days0 & 0xFF, days1 & 0xFF, starts, durations, name, daterange]
        if pid < 0:
            if len(programs) >= MAX_PROGRAMS:
                raise Reply(OUT_OF_RANGE)
            programs.append(entry)
        else:
            programs[pid] = entry
        self.save()
        raise Reply(OK)

    def dp(self, q: dict[str, str]) -> None:
        pid = _int(q, "pid")
        if pid == -1:
            self.s["pd"] = []
        elif 0 <= pid < len(self.s["pd"]):
            del self.s["pd"][pid]
        else:
            raise Reply(OUT_OF_RANGE)
        self.save()
        raise Reply(OK)

    def up(self, q: dict[str, str]) -> None:
        pid = _int(q, "pid")
        pd = self.s["pd"]
        if not 1 <= pid < len(pd):
            raise Reply(OUT_OF_RANGE)
        pd[pid - 1], pd[pid] = pd[pid], pd[pid - 1]
        self.save()
        raise Reply(OK)

    def cm(self, q: dict[str, str]) -> None:
        sid, en = _int(q, "sid"), _int(q, "en", 1)
        if not 0 <= sid < self.nstations:
            raise Reply(OUT_OF_RANGE)
        key = str(sid)
        if en:
            if "t" not in q:
                raise Reply(DATA_MISSING)
            t = _int(q, "t")
            if not 1 <= t <= 64800:
                raise Reply(OUT_OF_RANGE)
            # the queue still holds what a stop-all stopped until the next tick clears it
            if key in self.s["runs"] or not self.s["en"] or self.s.get("stop_at"):
                raise Reply(NOT_PERMITTED)
            self._queue({sid: t}, MANUAL_PID)
        else:
            if key not in self.s["runs"]:
                raise Reply(OUT_OF_RANGE)
            del self.s["runs"][key]
        self.save()
        raise Reply(OK)

    def cr(self, q: dict[str, str]) -> None:
        if "t" not in q:
            raise Reply(DATA_MISSING)
        try:
            durations = json.loads(q["t"])
        except ValueError:
            raise Reply(FORMAT_ERROR) from None
        if not isinstance(durations, list) or not all(isinstance(x, int) for x in durations):
            raise Reply(FORMAT_ERROR)
        if not any(durations):
            raise Reply(DATA_MISSING)
        self._queue({sid: t for sid, t in enumerate(durations[: self.nstations]) if t > 0},
                    RUN_ONCE_PID)
        self.save()
        raise Reply(OK)

    def mp(self, q: dict[str, str]) -> None:
        pid = _int(q, "pid")
        if not 0 <= pid < len(self.s["pd"]):
            raise Reply(OUT_OF_RANGE)
        durations = self.s["pd"][pid][4]
        self._queue({sid: t for sid, t in enumerate(durations) if t > 0}, pid + 1)
        self.save()
        raise Reply(OK)

    def pq(self, q: dict[str, str]) -> None:
        _int(q, "dur")
        raise Reply(OK)

    def cv(self, q: dict[str, str]) -> None:
        if "rd" in q:
            hours = _int(q, "rd")
            if hours < 0:
                raise Reply(OUT_OF_RANGE)
            self.s["rdst"] = self.devt() + hours * 3600 if hours else 0
        if "en" in q:
            self.s["en"] = 1 if _int(q, "en") else 0
            if not self.s["en"]:
                self.s["runs"] = {}
        if _int(q, "rsn", 0) and self.s["runs"]:
            self.s["stop_at"] = _next_tick()
        self.save()
        raise Reply(OK)

    def co(self, q: dict[str, str]) -> None:
        options = self.s["options"]
        for key, value in q.items():
            if key in ("loc", "dname"):
                self.s[key] = value.replace('"', "'").replace("\\", "/")[:NAME_MAX * 4]
            elif key == "tz":
                tz = _int(q, key)
                if not 0 <= tz <= 108:
                    raise Reply(OUT_OF_RANGE)
                options["tz"] = tz
            elif key in options and key not in ("fwv", "hwv", "ext"):
                options[key] = _int(q, key)
        self.save()
        raise Reply(OK)

    def sp(self, q: dict[str, str]) -> None:
        npw, cpw = q.get("npw"), q.get("cpw")
        if not npw or not cpw:
            raise Reply(DATA_MISSING)
        if npw != cpw:
            raise Reply(MISMATCH)
        self.s["pw"] = npw
        self.save()
        raise Reply(OK)

    def _queue(self, durations: dict[int, int], pid: int) -> None:
        """Run stations one after another, after whatever is already queued."""
        tick = _next_tick()
        start = max([tick] + [r[2] for r in self.s["runs"].values()])
        for sid, seconds in sorted(durations.items()):
            self.s["runs"][str(sid)] = [pid, start, start + seconds, tick]
            start += seconds


def _next_tick() -> float:
    return float(math.floor(time.time()) + 1)


def stored_name(name: str) -> str:
    """What the firmware keeps of a name: `"` → `'`, `\\` → `/`, the first 32 bytes.

    Cut inside a character, the name is no longer valid UTF-8: it is kept with its bytes as
    surrogates, and `_json` sends those bytes as they are, as the firmware does.
    """
    name = name.replace('"', "'").replace("\\", "/")
    return name.encode("utf-8", "surrogateescape")[:NAME_MAX].decode("utf-8", "surrogateescape")


def _int(q: dict[str, str], key: str, default: int | None = None) -> int:
    if key not in q:
        if default is None:
            raise Reply(DATA_MISSING)
        return default
    try:
        return int(q[key])
    except ValueError:
        raise Reply(FORMAT_ERROR) from None


def _json(body: Any) -> HttpResponse:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return HttpResponse(200, text.encode("utf-8", "surrogateescape"))
