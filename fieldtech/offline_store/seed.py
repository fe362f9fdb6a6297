"""A realistic generated account: the demo's data and the benchmarks' 10,000-controller fleet."""

from __future__ import annotations

import gc
import json
import marshal
import os
import queue
import random
import signal
import sqlite3
import sys
import threading
import traceback
import uuid
from bisect import bisect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldtech.domain.limits import ZONES_MAX
from fieldtech.domain.models import (
    Account,
    Controller,
    ControllerConfig,
    ControllerState,
    Customer,
    Program,
    ScheduleKind,
    Zone,
)
from fieldtech.domain.plans import (
    CustomerPlan,
    Membership,
    SelfManagement,
    Tier,
    TierLimits,
    smallest_tier_for,
)
from fieldtech.offline_store.store import (
    Store,
    prepare_folder,
    put_controller_rows,
    put_synced_rows,
)

FIRST = ("Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kara", "Luis", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara",
         "Uma", "Victor", "Wen", "Xavier", "Yara", "Zane")
LAST = ("Alvarez", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
        "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quint", "Rossi",
        "Schmidt", "Tanaka", "Ueda", "Varga", "Weber", "Young", "Zimmer")
BUSINESS = ("HOA", "Dental", "Golf Club", "Apartments", "School", "Church", "Park District",
            "Office Park", "Vineyard", "Hotel", "Library", "Clinic")
PLACE = ("Oakridge", "Maple", "Cedar Hill", "Riverside", "Sunset", "Willow Creek", "Pinecrest",
         "Lakeview", "Stonegate", "Fairview", "Brookside", "Highland", "Meadow", "Harbor")
STREET = ("Oak St", "Elm Ave", "Main St", "Park Rd", "Hill Dr", "Lake Blvd", "Vine Ln",
          "Birch Ct", "River Rd", "Sunset Way", "Mill St", "Church Rd")
CITY = ("Fresno, CA", "Mesa, AZ", "Boise, ID", "Austin, TX", "Reno, NV", "Tucson, AZ",
        "Sacramento, CA", "Provo, UT", "Tulsa, OK", "Eugene, OR")
SITES = ("Front yard", "Back yard", "Side strip", "Courtyard", "North lawn", "South beds",
         "Clubhouse", "Entrance", "Pool area", "Orchard", "Parking islands", "Garden")
ZONES = ("Front lawn", "Back lawn", "Drip beds", "Roses", "Hedges", "Trees", "Veg garden",
         "Park strip", "Planters", "Slope", "Turf east", "Turf west", "Shrubs", "Pots")
MODELS = (("FT-8", 8), ("FT-16", 16), ("FT-24", 24), ("FT-4", 4), ("OS-3.3", 8), ("FT-12", 12))
FAULTS = ("Zone 4: no current (broken wire?)", "Flow sensor: high flow", "Rain sensor fault",
          "Master valve stuck", "Low voltage (24 VAC transformer?)")
# The most `seed` generates at once: ten times the largest account we measure (10,000), about
# 10 s; more would only fill the disk (800 MB at 100,000).
SEED_MAX = 100_000
TIMEZONES = ("America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago")
RUN_MINUTES = (5, 8, 10, 12, 15, 20, 30)
CYCLE_MINUTES = (None, None, None, 5, 10)
SOAK_MINUTES = (10, 20, 30)
SEASONAL_PCT = (80, 90, 100, 100, 100, 110, 120)


@dataclass(frozen=True)
class GeneratedAccount:
    """An account as the seeder makes it, before it is written anywhere (store or cloud)."""

    account: Account
    customers: list[Customer]
    controllers: list[tuple[Controller, int, ControllerState, str | None]]  # rev, state, fault

    @property
    def enthusiast(self) -> int:
        return sum(1 for c in self.customers if c.plan is CustomerPlan.ENTHUSIAST)


def generate_account(
    customers: int,
    controllers: int,
    seed: int = 7,
    tier: Tier | None = None,
    account_name: str = "Greenline Irrigation",
    today: date | None = None,
) -> GeneratedAccount:
    """`customers` customers sharing `controllers` controllers, the same for the same seed.

    Rain delays and suspensions run from `today` (by default the real one), so a demo made
    today shows some; tests pass a fixed day to get the same account every time.
    """
    return _generate(customers, controllers, seed, tier, account_name, today, lazy=False)


def _generate(customers: int, controllers: int, seed: int, tier: Tier | None,
              account_name: str, today: date | None, lazy: bool) -> Any:
    """generate_account's account, and with `lazy` its controllers one at a time as they are
    made (the same ones, drawn in the same order, their zones as JSON text only): seeding
    writes 100,000 without holding them all (650 MB resident before)."""
    rnd = random.Random(seed)
    today = today or datetime.now(UTC).date()
    customers = max(1, min(customers, controllers or 1))
    tier = tier or smallest_tier_for(controllers)
    custom = None
    if tier is Tier.PLATINUM:  # a Platinum contract is sized to the fleet, with headroom
        custom = TierLimits(controllers=(controllers // 1000 + 2) * 1000, staff_users=200,
                            included_enthusiast=controllers // 10)
    account = Account(id=_uuid(rnd), name=account_name, tier=tier, custom_limits=custom)
    made_customers = [_customer(rnd, i) for i in range(customers)]
    # Every customer gets at least one controller; the rest are spread unevenly (a few
    # customers — HOAs, golf clubs — own many).
    owners = list(range(customers)) + [
        min(customers - 1, int(rnd.paretovariate(1.2)) - 1 + rnd.randrange(customers))
        for _ in range(max(0, controllers - customers))
    ]
    made_controllers = _unique_serials(
        _draw_controllers(rnd, (made_customers[owner] for owner in owners[:controllers]), today,
                          values=not lazy))
    made = GeneratedAccount(account, made_customers, [])
    if lazy:
        return made, made_controllers
    made.controllers.extend((c.controller(), *rest) for c, *rest in made_controllers)
    return made


def seed_store(
    store: Store,
    customers: int,
    controllers: int,
    seed: int = 7,
    tier: Tier | None = None,
    account_name: str = "Greenline Irrigation",
    today: date | None = None,
    *,
    new_store: bool = False,
) -> tuple[int, int]:
    """Fill `store` with an account of `customers` customers sharing `controllers` controllers.

    Records are written as if pulled from the cloud (revision 1, a base copy, no outbox rows).
    Returns (customers, controllers) written; ValueError for a count out of 1–SEED_MAX.
    `new_store` (seed_new_store's): the store was made for this seed, so it holds no
    controller to replace, the controllers are drawn in a child process while this one
    writes those drawn already (where processes can fork), and the file is flushed to disk
    as it is written.
    """
    if problem := seed_count_error(customers, controllers):
        raise ValueError(problem)
    made, lazily = _generate(customers, controllers, seed, tier, account_name, today, lazy=True)
    apart = new_store and hasattr(os, "fork") and threading.active_count() == 1
    drawn = _controller_batches(lazily)
    with store._write() as db, (_made_apart(drawn) if apart else nullcontext(drawn)) as batches, \
            (_flushed_meanwhile(store.path) if new_store else nullcontext()):
        put_synced_rows(db, ((c, 1) for c in made.customers), ())
        for rows, configs in batches:
            _write_batch(db, rows, configs, replace=not new_store)
    store.set_account(made.account, controllers_used=controllers,
                      enthusiast_used=made.enthusiast)
    return len(made.customers), controllers


def seed_new_store(
    path: Path,
    customers: int,
    controllers: int,
    seed: int = 7,
    tier: Tier | None = None,
    account_name: str = "Greenline Irrigation",
    today: date | None = None,
) -> tuple[int, int]:
    """`seed_store` into a store that does not exist yet, as a bulk load: 100,000 controllers
    in a third of the time. It is written beside `path` (SEEDING_SUFFIX) with no journal and
    no syncs, its indexes built after the rows, then switched back to WAL, flushed and moved
    to `path` whole. A seed killed half way leaves no store at `path` (the next seed
    removes its leftover), never a half-seeded one that opens as if whole.
    FileExistsError if `path` exists."""
    if problem := seed_count_error(customers, controllers):
        raise ValueError(problem)
    path = Path(path)
    if path.exists():
        raise FileExistsError(17, "a store is there already", str(path))
    prepare_folder(path)  # StoreUnavailable, saying why, for a folder that cannot be
    work = path.with_name(path.name + SEEDING_SUFFIX)
    for leftover in (work, *(work.with_name(work.name + s) for s in ("-journal", "-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    try:
        with Store(work) as store, _bulk_load(store):
            made = seed_store(store, customers, controllers, seed, tier, account_name, today,
                              new_store=True)
        with open(work, "rb") as done:
            os.fsync(done.fileno())  # what is left to flush: the last second's pages
        # Linked, not renamed over: a store the app made at `path` meanwhile (a seed of
        # 100,000 takes seconds) is never replaced, nor its edits lost.
        if any(Path(f"{path}{s}").exists() for s in ("", "-wal", "-journal")):
            raise FileExistsError(17, "a store appeared there while seeding", str(path))
        try:
            os.link(work, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: the check above is the guard
            os.replace(work, path)
        else:
            work.unlink()
    except BaseException:
        work.unlink(missing_ok=True)
        raise
    return made


SEEDING_SUFFIX = ".seeding"  # beside the store while `seed_new_store` writes it


@contextmanager
def _flushed_meanwhile(path: Path, every_s: float = 1.0) -> Iterator[None]:
    """The file at `path` flushed to disk every `every_s` while the load writes it (a thread
    waiting in fdatasync, without the GIL): the fsync before it is linked into place then
    has the last second's pages to write, not 800 MB (0.45 s at the end of a seed)."""
    stop = threading.Event()
    sync = getattr(os, "fdatasync", os.fsync)  # fdatasync is not on every system (Windows)
    with open(path, "rb") as file:

        def flush() -> None:
            while not stop.wait(every_s):
                sync(file.fileno())

        flusher = threading.Thread(target=flush, daemon=True, name="seed-flush")
        flusher.start()
        try:
            yield
        finally:
            stop.set()
            flusher.join()


@contextmanager
def _bulk_load(store: Store) -> Iterator[None]:
    """No journal, no syncs, no foreign-key checks, and the customers' and controllers' own
    indexes built once after the rows instead of row by row; the store's settings again
    after. Only for a file no one else has open, thrown away if anything fails."""
    db = store._conn
    with store.locked():
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND "
            "tbl_name IN ('customer', 'controller')").fetchall()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF",
                       "cache_size=-65536"):
            db.execute(f"PRAGMA {pragma}")
        for name, _sql in indexes:
            db.execute(f'DROP INDEX "{name}"')
    yield
    with store.locked():
        for _name, sql in indexes:
            db.execute(sql)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            db.execute(f"PRAGMA {pragma}")


# A batch of controllers: their rows (store._CONTROLLER_ROW's values) and (id, configuration
# text), made where they are drawn (a child process for a new store).
Batch = tuple[list[tuple[Any, ...]], list[tuple[str, str]]]
_BATCH = 2000


def _controller_batches(controllers: Iterable[tuple[GeneratedController, int, ControllerState,
                                                    str | None]]) -> Iterator[Batch]:
    """The controllers drawn, as synced, _BATCH at a time: rows and JSON text made from the
    plain values drawn."""
    rows: list[tuple[Any, ...]] = []
    configs: list[tuple[str, str]] = []
    for made, rev, state, fault in controllers:
        rows.append(made.row(state, fault, rev))
        configs.append((made.id, made.config_json()))
        if len(rows) == _BATCH:
            yield rows, configs
            rows, configs = [], []
    if rows:
        yield rows, configs


def _write_batch(db: sqlite3.Connection, rows: list[tuple[Any, ...]],
                 configs: list[tuple[str, str]], replace: bool) -> None:
    """A batch into the store, with each part's base copy: the record's JSON text made from
    its row (Controller.to_dict()'s, without the configuration), the configuration's as is."""
    bases = []
    for row, (rid, config) in zip(rows, configs, strict=True):
        rev = row[-1]
        bases.append(("controller", rid, rev, _record_json(row)))
        bases.append(("config", rid, rev, config))
    put_controller_rows(db, rows, configs, bases, replace=replace)


def _record_json(row: tuple[Any, ...]) -> str:
    """json.dumps(Controller.to_dict()) without the configuration, the same text (a test
    holds them equal), from the controller's row: its first values are CONTROLLER_COLUMNS'."""
    rid, customer, name, model, zones, serial, timezone, location, notes, tags = row[:10]
    q = _quote
    return (f'{{"id": {q(rid)}, "customer_id": {q(customer)}, "name": {q(name)}, "model": '
            f'{q(model)}, "zone_count": {zones}, "serial": '
            f'{"null" if serial is None else q(serial)}, "timezone": {q(timezone)}, '
            f'"location": {q(location)}, "notes": {q(notes)}, "tags": {q(tags)}}}')


@contextmanager
def _made_apart(batches: Iterator[Batch]) -> Iterator[Iterator[Batch]]:
    """`batches`, made in a forked child and sent through a pipe (marshal), while this process
    writes the ones received: drawing and encoding on one core, SQLite on the other (a
    thread would not do: SQLite lets go of the GIL for one row at a time). The child holds
    the random generator's state as it was, so it draws exactly what this process would
    have. It ends with its last batch, or when this process stops reading (a broken pipe:
    this one failed or was killed); it never touches the store."""
    import fcntl  # where processes fork (not Windows)

    read, write = os.pipe()
    with suppress(OSError, AttributeError):  # a larger pipe: fewer switches between the two
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's runs here (os._exit, no cleanup)
        status = 1
        gc.disable()  # it makes no cycles, and ends soon: no collections while it draws
        try:
            os.close(read)
            with open(write, "wb") as out:
                for batch in batches:
                    data = marshal.dumps(batch)
                    out.write(len(data).to_bytes(8, "little"))
                    out.write(data)
                out.write(bytes(8))
            status = 0
        except (BrokenPipeError, KeyboardInterrupt):
            pass
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(status)
    os.close(write)
    # A thread here takes each batch out of the pipe as it comes (it waits in read() without
    # the GIL): a pipe holds 1 MB, a batch 6 MB, so without it the child would wait for every
    # batch to be written before it could send the next one.
    ahead: queue.Queue[bytes | None] = queue.Queue(_BATCHES_AHEAD)  # b"": the last one came
    reader = threading.Thread(target=_take_batches, args=(read, ahead), daemon=True,
                              name="seed-batches")
    reader.start()

    def received() -> Iterator[Batch]:
        while data := ahead.get():
            yield marshal.loads(data)
        if data is None:  # it failed (its error is on stderr)
            raise RuntimeError("the seed's drawing process ended before its last batch "
                               f"(status {os.waitstatus_to_exitcode(reap())})")

    def reap() -> int:
        nonlocal pid
        reaped, pid = pid, 0
        return os.waitpid(reaped, 0)[1] if reaped else 0

    try:
        yield received()
    except BaseException:
        if pid:
            os.kill(pid, signal.SIGKILL)  # its batches are of no use now
        raise
    finally:
        reap()
        while reader.is_alive():  # ends at the pipe's end, once it is not waiting to put
            with suppress(queue.Empty):
                ahead.get(timeout=0.05)


_BATCHES_AHEAD = 4  # how far the drawing child may run ahead of the writing (~25 MB)


def _take_batches(read: int, into: queue.Queue[bytes | None]) -> None:
    """The batches the child sends on `read`, each put into `into` as it came; b"" after the
    last, None if the pipe ended before (the child failed or was killed)."""
    end: bytes | None = None
    with open(read, "rb") as pipe:
        while len(head := pipe.read(8)) == 8:
            if not (size := int.from_bytes(head, "little")):
                end = b""
                break
            if len(data := pipe.read(size)) < size:
                break
            into.put(data)
    into.put(end)


def seed_count_error(customers: int, controllers: int) -> str | None:
    """Why these counts cannot be seeded (checked before anything is generated), or None."""
    if not (1 <= customers <= SEED_MAX and 1 <= controllers <= SEED_MAX):
        return (f"--customers and --controllers must be between 1 and {SEED_MAX:,} "
                f"({customers:,} and {controllers:,} given).")
    return None


def _unique_serials(made: Iterable[tuple[Controller, int, ControllerState, str | None]],
                    ) -> Iterator[tuple[Controller, int, ControllerState, str | None]]:
    """Serials are 32 random bits: at 100,000 controllers two come out alike about once, and
    the cloud keeps serials unique per account. A repeat takes the next free number, drawn
    from nothing, so every other controller stays exactly as the seed makes it."""
    taken: set[str] = set()
    for row in made:
        controller = row[0]
        if controller.serial is not None:
            if controller.serial in taken:
                prefix, digits = controller.serial.split("-")
                number = int(digits, 16)
                while controller.serial in taken:
                    number = (number + 1) % 16 ** len(digits)
                    controller.serial = f"{prefix}-{number:0{len(digits)}X}"
            taken.add(controller.serial)
        yield row


def _uuid(rnd: random.Random) -> str:
    return _uuid4_text(rnd.getrandbits(128))


def _fresh_ids() -> Iterator[str]:
    """models.new_id()'s (random uuid4s, not drawn from the seed), for 175,000 program ids:
    1,024 from each read of os.urandom."""
    while True:
        block = os.urandom(16 * 1024)
        for i in range(0, len(block), 16):
            yield _uuid4_text(int.from_bytes(block[i:i + 16]))


def _uuid4_text(number: int) -> str:
    """str(uuid.UUID(int=number, version=4)) at a fifth of the cost (a test holds them equal)."""
    h = "%032x" % (number & _UUID4_KEEP | _UUID4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID4_KEEP = ~(0xc000 << 48) & ~(0xf000 << 64)  # the variant's and the version's bits
_UUID4_SET = 0x8000 << 48 | 4 << 76


def _customer(rnd: random.Random, i: int) -> Customer:
    if rnd.random() < 0.2:
        name = f"{rnd.choice(PLACE)} {rnd.choice(BUSINESS)}"
        email = f"office{i}@{name.split()[0].lower()}.example"
    else:
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{i}@mail.example"
    return Customer(
        id=_uuid(rnd),
        name=name[:32],
        email=email,
        phone=f"555-{rnd.randrange(100, 999)}-{rnd.randrange(1000, 9999)}",
        address=f"{rnd.randrange(1, 9999)} {rnd.choice(STREET)}, {rnd.choice(CITY)}",
        plan=CustomerPlan.ENTHUSIAST if rnd.random() < 0.15 else CustomerPlan.HOME,
        self_management=rnd.choice(list(SelfManagement)),
        membership=rnd.choices(list(Membership), weights=(50, 25, 12, 8, 5))[0],
    )


@dataclass(slots=True)
class GeneratedController:
    """One generated controller as plain values. The cloud's copy and the tests make it a
    Controller (`controller()`); seeding writes its rows and JSON text directly, without the
    objects (building 1.2 million Zones and encoding their dicts was half of seeding 100,000)."""

    id: str
    customer_id: str
    name: str
    model: str
    zone_count: int
    serial: str | None
    timezone: str
    location: str
    notes: str
    zones: list[str]  # drawn for a store: each zone's JSON text, as json.dumps(Zone.to_dict())
    zone_values: list[tuple[Any, ...]] | None  # drawn as objects: each Zone's fields
    programs: list[str]  # each program's JSON text, as json.dumps(Program.to_dict()) makes it
    rain_delay_until: datetime | None

    def controller(self) -> Controller:
        if self.zone_values is None:
            raise ValueError("drawn for a store: its zones are JSON text only (config_json)")
        programs = [Program.from_dict(json.loads(p)) for p in self.programs]
        config = ControllerConfig(zones=[Zone(*z) for z in self.zone_values], programs=programs,
                                  rain_delay_until=self.rain_delay_until)
        return Controller(self.id, self.customer_id, self.name, self.model, self.zone_count,
                          self.serial, self.timezone, self.location, self.notes, config=config)

    def record(self) -> dict[str, Any]:
        """Controller.to_dict() without its configuration."""
        return {"id": self.id, "customer_id": self.customer_id, "name": self.name,
                "model": self.model, "zone_count": self.zone_count, "serial": self.serial,
                "timezone": self.timezone, "location": self.location, "notes": self.notes,
                "tags": ""}

    def config_json(self) -> str:
        """json.dumps(controller().config.to_dict()), the same text, from the zones' texts
        made as they were drawn (a test holds the two equal)."""
        if self.zone_values is not None:
            raise ValueError("drawn as objects: controller() has the configuration")
        rain = self.rain_delay_until
        return (f'{{"zones": [{", ".join(self.zones)}], "programs": '
                f'[{", ".join(self.programs)}], "rain_delay_until": '
                f'{"null" if rain is None else _quote(rain.isoformat())}}}')

    def row(self, state: ControllerState, fault: str | None, rev: int) -> tuple[Any, ...]:
        """Its row in the controller table (store._CONTROLLER_ROW's columns)."""
        return (self.id, self.customer_id, self.name, self.model, self.zone_count, self.serial,
                self.timezone, self.location, self.notes, "", state.value, fault, rev, rev)


_quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
# A zone's JSON text is made of pieces chosen by the same draws as its values (see
# _draw_controllers), in the order and spelling of json.dumps(Zone.to_dict()): its number and
# name, then enabled and run minutes, cycle and soak minutes, master valve and seasonal
# adjustment; its suspension's date, if any, ends it.
_ZONE_HEADS = [[f'{{"number": {z}, "name": {_quote(f"{name} {z}"[:32])}, "enabled": '
                for z in range(ZONES_MAX + 1)] for name in ZONES]
_ENABLED_RUN = [[f'{enabled}, "run_minutes": {run}, "cycle_minutes": ' for run in RUN_MINUTES]
                for enabled in ("false", "true")]
_CYCLE_SOAK = [[f'{"null" if cycle is None else cycle}, "soak_minutes": '
                f'{"null" if cycle is None else soak}, "master_valve": ' for soak in SOAK_MINUTES]
               for cycle in CYCLE_MINUTES]
_MASTER_PCT = [[f'{master}, "seasonal_adjust_pct": {pct}, "suspended_until": '
                for pct in SEASONAL_PCT] for master in ("false", "true")]
# A program's, likewise: its name and kind, then its days (a list of ints is written alike by
# str and json.dumps), interval, start times, the zones' minutes and its id.
_PROGRAM_NAMES = ("Lawns", "Beds", "Drip", "Trees")
_PROGRAM_HEADS = [[f'{{"name": "{name}", "enabled": true, "schedule": "{kind.value}", "days": '
                   for kind in ScheduleKind] for name in _PROGRAM_NAMES]
_ZONE_MINUTES = [[f'"{z}": {run}' for run in RUN_MINUTES] for z in range(ZONES_MAX + 1)]
_START_TIMES = [[f'"{h:02d}:{m:02d}"' for m in (0, 15, 30, 45)] for h in range(8)]
# A choice of n things draws k = n.bit_length() random bits until they make a number below n,
# exactly as random.choice does (so the accounts stay those seeded before); per zone this is
# written out in the loop: 1.2 million zones at 100,000 controllers, and a call a draw was
# the seeder's largest cost.
_NZ, _KZ = len(ZONES), len(ZONES).bit_length()
_NR, _KR = len(RUN_MINUTES), len(RUN_MINUTES).bit_length()
_NC, _KC = len(CYCLE_MINUTES), len(CYCLE_MINUTES).bit_length()
_NS, _KS = len(SOAK_MINUTES), len(SOAK_MINUTES).bit_length()
_NP, _KP = len(SEASONAL_PCT), len(SEASONAL_PCT).bit_length()
_STATES = (ControllerState.ONLINE, ControllerState.OFFLINE, ControllerState.OUT_OF_SYNC,
           ControllerState.WAITING)
_STATE_CUM_WEIGHTS = (85, 93, 97, 100)  # what random.choices makes of weights 85, 8, 4, 3
_NOTES = ("", "", "Gate code 4412", "Dog in yard", "Valve box behind shed")


def _draw_controllers(rnd: random.Random, owners: Iterable[Customer], today: date,
                      values: bool = True,
                      ) -> Iterator[tuple[GeneratedController, int, ControllerState, str | None]]:
    """Each owner's next controller (revision 1, its state and fault), drawing from `rnd` in
    the same order, with the same numbers, as Random.choice, sample, randrange and choices.
    With `values` its zones are their fields (for controller()), without their JSON text
    (for config_json(): all a store is written from), drawn alike."""
    bits, chance = rnd.getrandbits, rnd.random
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)

    def below(n: int) -> int:  # Random._randbelow_with_getrandbits
        k = n.bit_length()
        r = bits(k)
        while r >= n:
            r = bits(k)
        return r

    def sample(first: int, n: int, k: int) -> list[int]:  # Random.sample(range(first, ...))
        pool, picked = list(range(first, first + n)), []
        for i in range(k):
            m = n - i
            b = m.bit_length()
            j = bits(b)  # below(m), written out
            while j >= m:
                j = bits(b)
            picked.append(pool[j])
            pool[j] = pool[m - 1]
        return picked

    nz, kz, nr, kr, nc, kc, ns, ks, np, kp = _NZ, _KZ, _NR, _KR, _NC, _KC, _NS, _KS, _NP, _KP
    heads, enabled_run, cycle_soak, master_pct = _ZONE_HEADS, _ENABLED_RUN, _CYCLE_SOAK, \
        _MASTER_PCT
    program_heads, zone_minutes, n_kinds = _PROGRAM_HEADS, _ZONE_MINUTES, len(ScheduleKind)
    start_times = _START_TIMES
    cycles = CYCLE_MINUTES
    zone_names = [[f"{name} {z}"[:32] for z in range(ZONES_MAX + 1)] for name in ZONES]
    fresh_ids = _fresh_ids()
    for n, customer in enumerate(owners):
        model, zone_count = MODELS[below(len(MODELS))]
        linked = chance() > 0.06
        serial = f"FT1-{bits(32):08X}" if linked else None
        if model.startswith("OS") and linked:
            serial = f"OS-{bits(48):012X}"
        zones, minutes, kept = [], [], [] if values else None
        for z in range(1, zone_count + 1):
            rn = bits(kz)
            while rn >= nz:
                rn = bits(kz)
            rr = bits(kr)
            while rr >= nr:
                rr = bits(kr)
            enabled = chance() > 0.05
            rc = bits(kc)
            while rc >= nc:
                rc = bits(kc)
            rs = 0
            if cycles[rc] is not None:  # a soak is drawn
                rs = bits(ks)
                while rs >= ns:
                    rs = bits(ks)
            master = z == 1 and chance() < 0.3
            rp = bits(kp)
            while rp >= np:
                rp = bits(kp)
            until, end = None, "null}"
            if chance() < 0.02:
                until = today + timedelta(days=1 + below(60))
                end = f'"{until.isoformat()}"}}'
            if kept is None:
                zones.append(f"{heads[rn][z]}{enabled_run[enabled][rr]}{cycle_soak[rc][rs]}"
                             f"{master_pct[master][rp]}{end}")
            else:
                kept.append((z, zone_names[rn][z], enabled, RUN_MINUTES[rr], cycles[rc],
                             None if cycles[rc] is None else SOAK_MINUTES[rs], master,
                             SEASONAL_PCT[rp], until))
            minutes.append(zone_minutes[z][rr])
        programs = []
        for p in range((1, 1, 2, 3)[below(4)]):
            head = program_heads[p % 4][below(n_kinds)]
            days = sorted(sample(0, 7, 1 + below(4)))
            interval = 2 + below(3)
            hours = sorted(sample(3, 5, 1 + below(2)))
            starts = ", ".join([start_times[h][below(4)] for h in hours])
            some = ", ".join([m for m in minutes if chance() < 0.6])
            programs.append(f'{head}{days}, "interval_days": {interval}, "start_times": '
                            f'[{starts}], "zone_minutes": {{{some}}}, "id": "{next(fresh_ids)}"}}')
        rain = midnight + timedelta(hours=28 + below(68)) if chance() < 0.05 else None
        made = GeneratedController(
            id=_uuid(rnd), customer_id=customer.id,
            name=SITES[below(len(SITES))] + (f" {n % 7 + 1}" if chance() < 0.3 else ""),
            model=model, zone_count=zone_count, serial=serial,
            timezone=TIMEZONES[below(len(TIMEZONES))], location=customer.address,
            notes=_NOTES[below(len(_NOTES))], zones=zones, zone_values=kept, programs=programs,
            rain_delay_until=rain)
        state = ControllerState.NOT_LINKED
        if linked:
            state = _STATES[bisect(_STATE_CUM_WEIGHTS, chance() * 100.0, 0, 3)]
        fault = FAULTS[below(len(FAULTS))] if linked and chance() < 0.03 else None
        yield made, 1, state, fault


ONSITE_CUSTOMER = "Willow Creek HOA (on-site demo)"


def seed_onsite(store: Store, bound_serial: str = "FT1-SIM00001") -> tuple[str, str]:
    """A customer for the on-site walk-through: "Clubhouse", bound to `bound_serial` but with
    zone names the device does not have yet (compare shows them), and "Entrance", prepared
    with no hardware (bind a found device to it). Returns (bound id, prepared id)."""
    customer = Customer(id=str(uuid.uuid4()), name=ONSITE_CUSTOMER, email="board@willow.example",
                        phone="555-010-2040", address="1 Willow Creek Dr, Boise, ID")
    made = []
    for name, serial in (("Clubhouse", bound_serial), ("Entrance", None)):
        config = ControllerConfig.default_for(8)
        for zone, label in zip(config.zones, ZONES, strict=False):
            zone.name = f"{name} {label.lower()}"
        config.programs = [Program(name="Lawns", days=[0, 2, 4], start_times=["05:30"],
                                   zone_minutes={1: 10, 2: 10, 3: 6})]
        controller = Controller(id=str(uuid.uuid4()), customer_id=customer.id, name=name,
                                model="FT-8", zone_count=8, serial=serial, timezone="America/Boise",
                                location=customer.address, config=config)
        state = ControllerState.NOT_LINKED if serial is None else ControllerState.OUT_OF_SYNC
        made.append((controller, 1, state, None))
    store.put_synced_many([(customer, 1)], made)
    return made[0][0].id, made[1][0].id
