"""The offline store: the local copy of the account in SQLite (WAL), and its outbox.

Every edit is one transaction that changes the record *and* appends an outbox row whose id is
the future request's Idempotency-Key, so a crash at any point keeps either both or neither.
Records as last synced are kept in `base` for three-way merges. Usable from a plain script; one
connection shared by threads under a lock (SQLite serialises writers anyway).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from fieldtech.domain.bulk import collector_paused
from fieldtech.domain.calendar import contractor_today
from fieldtech.domain.errors import (
    FieldError,
    FieldtechError,
    NotFound,
    StillNeeded,
    ValidationError,
)
from fieldtech.domain.models import (
    Account,
    Controller,
    ControllerConfig,
    ControllerState,
    Customer,
    new_id,
)
from fieldtech.domain.plans import Membership, Tier, TierLimits, Usage, usage
from fieldtech.domain.text import natural_key, natural_sort_text
from fieldtech.domain.validation import (
    check,
    validate_config_change,
    validate_controller,
    validate_customer,
)
from fieldtech.offline_store.live import LIVE_ENTITIES, put_live
from fieldtech.offline_store.schema import migrate, register_functions

if TYPE_CHECKING:  # documents are imported where used: not on the app's first paint
    from fieldtech.domain.documents import Document

TIMEZONE_KEPT_S = 30.0  # another process on this store (a sync there) is seen this late
_BULK_CHUNK = 5000  # rows per executemany in bulk writes: speed, with memory bounded
_WAL_CHECKPOINT_PAGES, _CACHE_SIZE = 1000, -2000  # SQLite's defaults, kept outside large_writes
CUSTOMER_COLUMNS = ("id", "name", "email", "phone", "address", "plan", "self_management",
                    "membership", "tags")
# sort_name: the name in the fleet's natural order, for the first screenful's index (schema 9),
# written with the name at every write of a customer (schema 10).
SORTED_CUSTOMER_COLUMNS = (*CUSTOMER_COLUMNS, "sort_name")
CONTROLLER_COLUMNS = ("id", "customer_id", "name", "model", "zone_count", "serial", "timezone",
                      "location", "notes", "tags")
# Outbox states, in the user's words on the pending-changes screen.
QUEUED, SENDING, APPLIED, CONFLICT, REJECTED, DRAFT = (
    "queued", "sending", "applied", "conflict", "rejected", "draft")
PENDING_STATES = (QUEUED, SENDING, CONFLICT, REJECTED, DRAFT)
# What the change log brings that is edited here too (merged, with base copies).
SYNCED_ENTITIES = ("customer", "controller", "config", "document")
# The document kinds a customer's membership follows (fieldtech.domain.contracts registers them;
# named here so the store's start-up does not import the billing modules).
AGREEMENT_KIND, TIER_KIND = "agreement", "tier"


class FleetRow(NamedTuple):
    """One controller as the fleet list and the finder show it (no config: that stays on disk).

    A customer with no controller yet has one row with an empty `controller_id`.

    A NamedTuple: 10,000 of them are built at start-up, about 3x faster than a dataclass.
    """

    controller_id: str
    customer_id: str
    customer_name: str
    name: str
    serial: str | None
    state: ControllerState
    fault: str | None
    zone_count: int
    model: str
    address: str
    membership: str
    pending: int
    firmware: str | None = None  # as the device last reported (device_state)
    tags: str = ""  # the controller's tags and its customer's, one space apart


@dataclass(frozen=True, slots=True)
class Refused:
    """Fields of an applied edit that the cloud refused on their own (e.g. a plan change)."""

    entity: str
    entity_id: str
    patch: dict[str, Any]
    message: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """One batch item the cloud applied: its outbox entries, each part (entity, id, revision,
    data; data None: deleted) as the cloud now has it, and what it refused on its own."""

    entry_ids: list[str]
    parts: list[tuple[str, str, int, dict[str, Any] | None]]
    refused: Refused | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    id: str  # Idempotency-Key
    created_at: str
    op: str
    entity: str
    entity_id: str
    patch: dict[str, Any]
    base_revision: int
    state: str
    message: str | None
    problem: str | None = None  # a refusal's kind, the cloud's problem type (quota-exceeded…)
    campaign_id: str | None = None  # the campaign it is part of (discarded as one)

    def describe(self) -> str:
        fields = ", ".join(sorted(self.patch)) if self.op == "update" else ""
        return f"{self.op} {self.entity}" + (f" ({fields})" if fields else "")


class StoreUnavailable(FieldtechError, RuntimeError):
    """The local store cannot be opened (a folder we may not write, a damaged or foreign file,
    a newer schema). The message says what to do; nothing was changed. (A RuntimeError, as
    the newer-schema refusal always was.)"""


def prepare_folder(path: Path) -> None:
    """The folder of a store at `path`, made if missing. StoreUnavailable, saying why, when
    it cannot be (a file where a folder should be, no permission) or `path` is a folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():
            raise IsADirectoryError(21, "it is a folder, not a file", str(path))
    except OSError as exc:
        raise _folder_unusable(path, exc) from exc


def _folder_unusable(path: Path, exc: OSError) -> StoreUnavailable:
    reason = {FileExistsError: "it is a file, not a folder",
              NotADirectoryError: "part of that path is a file, not a folder",
              }.get(type(exc), exc.strerror or str(exc))
    return StoreUnavailable(
        f"Cannot keep the local store in {exc.filename or path}: {reason}. "
        "Choose another folder with --data-dir or FIELDTECH_DATA_DIR.")


def _unusable_store(path: Path, exc: Exception) -> str:
    if isinstance(exc, RuntimeError):  # the schema check's own message says what to do
        return f"Cannot open {path}: {exc}"
    if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, cannot open …
        return (f"Cannot open the local store {path}: {exc}. Check that the folder is "
                "writable and that no other program holds the file.")
    return (f"{path} is not a fieldtech store, or it is damaged ({exc}). It was left as it is: "
            "move it aside (or restore it from a backup) and run fieldtech again to start "
            "an empty store, or choose another folder with --data-dir.")


class Store:
    """The local copy of one contractor account."""

    def __init__(self, path: str | Path):
        """Open (or create) the store at `path`. Raises StoreUnavailable, saying why, when the
        folder cannot be used or the file is not a fieldtech store; such a file is not touched.
        """
        self.path = Path(path)
        self._lock = threading.RLock()
        self._apart_lock = threading.Lock()  # the second connection's (`_apart`)
        self._apart_conn: sqlite3.Connection | None = None
        self._joined = 0  # > 0 inside `transaction()`: edits join it
        self._unsaved_recents: dict[str, float] = {}  # controller id → when shown
        self._recents_lock = threading.Lock()  # not `_lock`: a switch must not wait for a sync
        # The account's time zone as last read (value, when): `today()` is asked on the event
        # loop (a form's default date) and must not wait for the store's lock behind a sync.
        self._timezone: tuple[str | None, float] | None = None
        self._closed = False
        prepare_folder(self.path)
        try:
            # isolation_level=None: we say BEGIN/COMMIT ourselves, so a transaction is exactly
            # what `_write` wraps and nothing more.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
        except OSError as exc:
            raise _folder_unusable(self.path, exc) from exc
        except sqlite3.Error as exc:
            raise StoreUnavailable(_unusable_store(self.path, exc)) from exc
        try:
            self._prepare()
        except (sqlite3.Error, RuntimeError) as exc:  # RuntimeError: a newer schema
            self._conn.close()
            raise StoreUnavailable(_unusable_store(self.path, exc)) from exc

    def _prepare(self) -> None:
        self._conn.row_factory = sqlite3.Row
        register_functions(self._conn)
        # Read before anything writes: a file that is not a database fails here, untouched
        # (switching it to WAL first could leave -wal/-shm files beside it).
        self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a killed process in WAL mode (only power loss may drop the
        # last commits), and much faster than FULL.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            migrate(self._conn)
            self._sort_new_names()

    def _sort_new_names(self) -> None:
        """Customers written since by a process that knows no sort_name (an older fieldtech
        still running on the file) take their place in the first screenful (an index read)."""
        rows = self._conn.execute(
            "SELECT natural_sort(name), id FROM customer WHERE sort_name = '' AND name != ''"
        ).fetchall()
        if rows:
            with self._write() as db:
                db.executemany("UPDATE customer SET sort_name=? WHERE id=?", rows)

    def close(self) -> None:
        try:
            with self._lock:
                try:
                    self.save_recents()
                finally:
                    self._conn.close()
        finally:
            with self._apart_lock:
                self._closed = True  # a long read started after this opens no connection
                if self._apart_conn is not None:
                    self._apart_conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several edits as ONE transaction: each edit made inside joins it (a work order's
        close and its time entry), so a crash keeps all or none. An error out of it undoes
        everything; other threads wait until it ends."""
        with self._write():
            self._joined += 1
            try:
                yield
            finally:
                self._joined -= 1

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._joined:  # inside `transaction()` (on this thread: the lock is ours)
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _each(self, sql: str, params: Iterable[Any] = ()) -> Iterator[sqlite3.Row]:
        """Rows a few thousand at a time (read them all: the store is locked meanwhile), so a
        100,000-row result is never held whole beside what is built from it."""
        with self._lock:
            cursor = self._conn.execute(sql, tuple(params))
            while chunk := cursor.fetchmany(2000):
                yield from chunk

    # -- account and usage --------------------------------------------------------------------

    def account(self) -> Account | None:
        rows = self._query("SELECT * FROM account LIMIT 1")
        if not rows:
            return None
        r = rows[0]
        limits = json.loads(r["custom_limits"]) if r["custom_limits"] else None
        return Account(
            id=r["id"],
            name=r["name"],
            tier=Tier(r["tier"]),
            custom_limits=TierLimits(**limits) if limits else None,
        )

    def set_account(
        self,
        account: Account,
        controllers_used: int | None = None,
        enthusiast_used: int = 0,
    ) -> None:
        cl = json.dumps(account.to_dict()["custom_limits"]) if account.custom_limits else None
        with self._write() as db:
            db.execute("DELETE FROM account")
            db.execute(
                "INSERT INTO account VALUES (?,?,?,?,?,?)",
                (account.id, account.name, account.tier.value, cl, controllers_used,
                 enthusiast_used),
            )

    def usage(self) -> Usage | None:
        """Plan usage from the last known cloud figure plus controllers created here since."""
        account = self.account()
        if account is None:
            return None
        r = self._query("SELECT controllers_used, enthusiast_used FROM account")[0]
        # Deletes not yet sent free their slot as soon as the cloud has them.
        local_creates, local_deletes = self._query(
            "SELECT count(*) FILTER (WHERE op='create'), count(*) FILTER (WHERE op='delete') "
            "FROM outbox WHERE entity='controller' AND state!=?", (APPLIED,))[0]
        if r["controllers_used"] is None:  # never synced: count what we hold
            used = self._query("SELECT count(*) FROM controller")[0][0]
        else:
            used = max(0, r["controllers_used"] + local_creates - local_deletes)
        return usage(account.tier, used, r["enthusiast_used"], account.custom_limits)

    # -- reads --------------------------------------------------------------------------------

    def fleet_rows(self, first: int | None = None,
                   between: Callable[[], object] | None = None) -> list[FleetRow]:
        """Every controller with its customer, sorted by customer then controller name.

        `first`: only the first customers' rows, cut to `first` rows — enough to paint the
        first screen of a 10,000-controller fleet long before the whole list is read.
        `between`: read on a connection of its own, in one read transaction, with the store
        free meanwhile (at 100,000 the read takes seconds, and a controller's read waited
        for it), calling `between()` after each few thousand rows (the app waits there while
        it answers a key).
        """
        if between is None:
            return self._fleet_rows(first, self._query, self._each)
        with self._apart() as conn:
            def each(sql: str, params: Iterable[Any] = ()) -> Iterator[tuple]:
                cursor = conn.execute(sql, tuple(params))
                while chunk := cursor.fetchmany(2000):
                    yield from chunk
                    between()

            return self._fleet_rows(
                first, lambda sql, params=(): conn.execute(sql, tuple(params)).fetchall(), each,
                between)

    @contextmanager
    def _apart(self) -> Iterator[sqlite3.Connection]:
        """The store's second connection, for long reads (made on first use), in one read
        transaction: what it reads is one moment's store, while the first takes writes."""
        with self._apart_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._apart_conn is None:
                self._apart_conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=10)
                self._apart_conn.execute("PRAGMA query_only=1")
            conn = self._apart_conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")  # a read: ends its snapshot

    def _fleet_rows(self, first: int | None,
                    query: Callable[..., list[Any]], each: Callable[..., Iterator[Any]],
                    between: Callable[[], object] = lambda: None) -> list[FleetRow]:
        # Joined in Python: two plain scans beat SQLite's per-row text-key lookups (~3x here).
        controller_sql = ("SELECT id, customer_id, name, serial, state, fault, zone_count, "
                          "model, tags FROM controller")
        if first is None:
            customer_rows = query(
                "SELECT id, name, address, membership, tags FROM customer")
            controller_rows: Iterable[Any] = each(controller_sql)
            only, params = "", ()
        else:
            customer_rows, controller_rows = self._first_customers(first, query, controller_sql)
            # Only the first screenful's controllers' states and edits: a synced fleet of
            # 100,000 holds a device state each, and reading them all took 200 ms before the
            # paint. Named one by one: a subquery read their rows from disk a second time.
            params = tuple(r[0] for r in controller_rows)
            only = f" AND {{}} IN ({','.join('?' * len(params))})"
        customers = {r[0]: (r[0], r[1], r[2], r[3]) for r in customer_rows}
        customer_tags = {r[0]: r[4] for r in customer_rows}
        customer_keys = {r[0]: natural_key(r[1]) for r in customer_rows}
        # One str object per distinct name and model, and each row's customer fields are its
        # customer's own objects: at 100,000 controllers, 20 MB less than a new str per cell.
        shared: dict[str, str] = {}
        one = shared.setdefault
        pending = dict(query(
            "SELECT entity_id, count(*) FROM outbox WHERE entity IN ('controller', 'config') "
            f"AND state != ?{only.format('entity_id')} GROUP BY entity_id", (APPLIED, *params)))
        states = {s.value: s for s in ControllerState}
        firmware = dict(query(
            "SELECT controller_id, json_extract(data, '$.firmware') FROM device_state "
            f"WHERE 1{only.format('controller_id')}", params))
        # Each customer's rows apart, sorted apart: one sort of 100,000 rows by (customer,
        # name) was 200-470 ms in C that kept the interpreter from the app's keys (the fleet
        # is read in a thread while the first screenful is in use); 20,000 customers sorted,
        # then a few rows each, give it back between two.
        by_customer: dict[str, list[FleetRow]] = {k: [] for k in customers}
        for r in controller_rows:
            k_id, k_name, k_address, k_membership = customers[r[1]]
            by_customer[k_id].append(FleetRow(
                r[0], k_id, k_name, one(r[2], r[2]), r[3], states[r[4]], r[5], r[6],
                one(r[7], r[7]), k_address, k_membership, pending.get(r[0], 0),
                firmware.get(r[0]), _both(r[8], customer_tags[r[1]])))
        rows: list[FleetRow] = []
        # Made in the table's order and put in order after: made in list order (every row read
        # first, then sorted) a pass over them read memory in order, 3-7 ms instead of 18-25
        # at 100,000, but held every row twice while reading: +40 MB resident, over budget.
        for i, k in enumerate(sorted(customers, key=lambda k: (customer_keys[k], k))):
            if not i % 2000:  # (20,000 customers: ~150 ms under load)
                between()
            own = by_customer.pop(k)
            if len(own) > 1:
                own.sort(key=_by_name)
            elif not own:  # a customer with no controller yet still shows, with no controller id
                _id, name, address, membership = customers[k]
                own = [FleetRow("", k, name, "", None, ControllerState.NOT_LINKED, None, 0, "",
                                address, membership, 0, None, customer_tags[k])]
            rows += own
        return rows if first is None else rows[:first]

    @staticmethod
    def _first_customers(first: int, query: Callable[..., list[Any]],
                         controller_sql: str) -> tuple[list[Any], list[Any]]:
        """The customers whose rows make the first `first` rows of the fleet, with their
        controllers: a customer shows one row a controller (one if it has none), so the
        first customers in the fleet's order are counted (from an index) until they fill
        `first` rows, and only theirs are read. Reading the first `first` customers' rows
        whole read five times as many (~300 rows from all over the file, 3-6 ms cold)."""
        order = [r[0] for r in query(  # the fleet's order, from the index alone
            "SELECT id FROM customer ORDER BY sort_name, id LIMIT ?", (first,))]
        marks = ",".join("?" * len(order))
        counts = dict(query(f"SELECT customer_id, count(*) FROM controller "
                            f"WHERE customer_id IN ({marks}) GROUP BY customer_id", order))
        shown: list[str] = []
        filled = 0
        for k in order:
            if filled >= first:
                break
            shown.append(k)
            filled += counts.get(k, 0) or 1
        marks = ",".join("?" * len(shown))
        return (query("SELECT id, name, address, membership, tags FROM customer "
                      f"WHERE id IN ({marks})", shown),
                query(f"{controller_sql} WHERE customer_id IN ({marks})", shown))

    def usual_timezone(self, customer_id: str) -> str | None:
        """The time zone most of this customer's controllers use, else most of the account's
        (a new controller's default: UTC is rarely where a customer waters), or None."""
        for where, params in (("WHERE customer_id=?", (customer_id,)), ("", ())):
            rows = self._query(f"SELECT timezone, count(*) AS n FROM controller {where} "
                               "GROUP BY timezone ORDER BY n DESC, timezone LIMIT 1", params)
            if rows:
                return str(rows[0][0])
        return None

    def customer_names(self) -> dict[str, str]:
        """Every customer's name by id (reports name thousands of customers)."""
        return dict(self._query("SELECT id, name FROM customer"))

    def customers(self) -> list[Customer]:
        rows = self._query("SELECT * FROM customer")
        return sorted((Customer.from_dict(dict(r)) for r in rows),
                      key=lambda k: natural_key(k.name))

    def customer(self, customer_id: str) -> Customer:
        rows = self._query("SELECT * FROM customer WHERE id=?", (customer_id,))
        if not rows:
            raise NotFound(f"No customer {customer_id} in this store.")
        return Customer.from_dict(dict(rows[0]))

    def controller(self, controller_id: str) -> Controller:
        rows = self._query(
            "SELECT c.*, f.config FROM controller c JOIN controller_config f "
            "ON f.controller_id = c.id WHERE c.id=?",
            (controller_id,),
        )
        if not rows:
            raise NotFound(f"No controller {controller_id} in this store.")
        return _controller(rows[0])

    def controller_row(self, controller_id: str) -> FleetRow:
        """One controller as the fleet list shows it (after an edit, without re-reading all)."""
        r = self._query(
            """
            SELECT c.id, c.customer_id, k.name, c.name, c.serial, c.state, c.fault,
                   c.zone_count, c.model, k.address, k.membership,
                   (SELECT count(*) FROM outbox o WHERE o.entity IN ('controller', 'config')
                    AND o.entity_id=c.id AND o.state != 'applied'),
                   (SELECT json_extract(d.data, '$.firmware') FROM device_state d
                    WHERE d.controller_id=c.id), c.tags, k.tags
            FROM controller c JOIN customer k ON k.id = c.customer_id WHERE c.id=?
            """,
            (controller_id,),
        )
        if not r:
            raise NotFound(f"No controller {controller_id} in this store.")
        x = r[0]
        return FleetRow(x[0], x[1], x[2], x[3], x[4], ControllerState(x[5]), x[6], x[7], x[8],
                        x[9], x[10], x[11], x[12], _both(x[13], x[14]))

    def _config_revision(self, controller_id: str) -> int:
        rows = self._query("SELECT config_revision FROM controller WHERE id=?", (controller_id,))
        return rows[0][0] if rows else 0

    def revision(self, entity: str, record_id: str) -> int:
        rows = self._query(f"SELECT revision FROM {_table(entity)} WHERE id=?", (record_id,))
        return rows[0][0] if rows else 0

    def base(self, entity: str, record_id: str) -> tuple[int, dict[str, Any]] | None:
        """The record as last synced (revision, data), or None if never synced."""
        rows = self._query(
            "SELECT revision, data FROM base WHERE entity=? AND id=?", (entity, record_id)
        )
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    # -- local edits: record + outbox row in one transaction ----------------------------------

    def create_customer(self, customer: Customer) -> OutboxEntry:
        check(validate_customer(customer))
        data = customer.to_dict()
        with self._write() as db:
            _insert(db, "customer", SORTED_CUSTOMER_COLUMNS, _sorted_customer(data))
            return _append(db, "create", "customer", customer.id, data, 0)

    def create_many(self, customers: Iterable[Customer],
                    controllers: Iterable[Controller]) -> int:
        """New customers and controllers (an import), validated by the caller, each with its
        outbox row, all in ONE transaction: a crash keeps all or none. → rows queued."""
        queued = 0
        with self._write() as db:
            for customer in customers:
                data = customer.to_dict()
                _insert(db, "customer", SORTED_CUSTOMER_COLUMNS, _sorted_customer(data))
                _append(db, "create", "customer", customer.id, data, 0)
                queued += 1
            for controller in controllers:
                data = controller.to_dict()
                _insert_controller(db, data, ControllerState.NOT_LINKED
                                   if controller.serial is None else ControllerState.OFFLINE)
                _append(db, "create", "controller", controller.id, data, 0)
                queued += 1
        return queued

    def update_customer(self, customer_id: str, **changes: Any) -> OutboxEntry | None:
        with self._write() as db:
            return self.update_customer_in(db, customer_id, changes)

    def update_customer_in(self, db: sqlite3.Connection, customer_id: str,
                           changes: dict[str, Any], campaign_id: str | None = None,
                           on: date | None = None) -> OutboxEntry | None:
        """`update_customer` inside the caller's transaction (a campaign's `applying`). A
        membership must be the one the agreements give `on` that day (today)."""
        current = self.customer(customer_id)
        updated = replace(current, **changes)
        check(validate_customer(updated))
        patch = _changed(current.to_dict(), updated.to_dict())
        if not patch:
            return None
        if "membership" in patch:
            given = self.membership_given(customer_id, on)
            if given is not None and patch["membership"] != given:
                raise ValidationError([FieldError("membership", (
                    f"{current.name}'s membership is set by their agreement "
                    f"({Membership(given).label} today): change the agreement instead."))])
        _update(db, "customer", customer_id, _sorted_customer(patch) if "name" in patch else patch)
        return _append(db, "update", "customer", customer_id, patch,
                       self.revision("customer", customer_id), campaign_id)

    def create_controller(self, controller: Controller) -> OutboxEntry:
        """A new controller, possibly with no hardware yet (serial None = not linked)."""
        self.customer(controller.customer_id)  # NotFound if the customer is gone
        if not controller.config.zones:
            controller = replace(
                controller, config=ControllerConfig.default_for(controller.zone_count)
            )
        check(validate_controller(controller))
        data = controller.to_dict()
        with self._write() as db:
            check(self.serial_errors(controller))
            _insert_controller(db, data, ControllerState.NOT_LINKED if controller.serial is None
                               else ControllerState.OFFLINE)
            return _append(db, "create", "controller", controller.id, data, 0)

    def update_controller(self, controller_id: str, **changes: Any) -> OutboxEntry | None:
        """Change fields of a controller (config= a whole ControllerConfig); None if no change."""
        return self.edit_controller(controller_id, lambda _current: changes)

    def edit_controller(
        self, controller_id: str, change: Callable[[Controller], dict[str, Any]]
    ) -> OutboxEntry | None:
        """Apply `change(current)` → fields to set, reading and writing in one transaction.

        Edits made from a screen use this, so an edit is applied to the record as stored now,
        not to the copy the screen showed: two quick edits never overwrite each other.
        """
        with self._write() as db:
            return self.edit_controller_in(db, self.controller(controller_id), change)

    def edit_controller_in(self, db: sqlite3.Connection, current: Controller,
                           change: Callable[[Controller], dict[str, Any]],
                           campaign_id: str | None = None) -> OutboxEntry | None:
        """`edit_controller` inside the caller's transaction, on `current` as read in it."""
        controller_id = current.id
        updated = replace(current, **change(current))
        check(validate_controller(updated))
        patch = _changed(current.to_dict(), updated.to_dict())
        if not patch:
            return None
        if "serial" in patch:
            check(self.serial_errors(updated))
        row = {k: v for k, v in patch.items() if k != "config"}
        entry = None
        if row:
            entry = _append(db, "update", "controller", controller_id, dict(row),
                            self.revision("controller", controller_id), campaign_id)
            if "serial" in row:  # binding hardware changes what the list shows
                row["state"] = (ControllerState.NOT_LINKED if updated.serial is None
                                else ControllerState.OFFLINE).value
            _update(db, "controller", controller_id, row)
        if "config" in patch:
            # The configuration is its own document in the cloud, with its own revision:
            # its edits are their own outbox rows.
            db.execute(
                "UPDATE controller_config SET config=? WHERE controller_id=?",
                (json.dumps(patch["config"]), controller_id),
            )
            entry = _append(db, "update", "config", controller_id,
                            {"config": patch["config"]}, self._config_revision(controller_id),
                            campaign_id)
        return entry

    def edit_configs_in(self, db: sqlite3.Connection,
                        edits: Sequence[tuple[Controller, ControllerConfig]],
                        campaign_id: str | None = None) -> list[str | None]:
        """New configurations for controllers as read in the caller's transaction (a batch of a
        campaign), each checked against its zone count — what it changes only: the rest is
        the record's own — and written with its outbox row; → each one's outbox entry id, None
        where nothing changes. Each configuration is encoded once, and each table gets one
        statement per batch (per record, those were half of applying 5,000)."""
        changed = [(c, config) for c, config in edits if config != c.config]
        for c, config in changed:  # (program ids aside, which a campaign never changes)
            check(validate_config_change(c.config, config, c.zone_count))
        revisions = dict(db.execute(
            f"SELECT id, config_revision FROM controller WHERE id IN "
            f"({','.join('?' * len(changed))})", [c.id for c, _ in changed]).fetchall())
        created = datetime.now(UTC).isoformat(timespec="seconds")
        texts = [(json.dumps(config.to_dict()), c.id) for c, config in changed]
        entries = [(new_id(), created, "update", "config", cid, f'{{"config": {text}}}',
                    revisions.get(cid, 0), campaign_id) for text, cid in texts]
        db.executemany("UPDATE controller_config SET config=? WHERE controller_id=?", texts)
        db.executemany(
            "INSERT INTO outbox (id, created_at, op, entity, entity_id, patch, base_revision, "
            "campaign_id) VALUES (?,?,?,?,?,?,?,?)", entries)
        ids = {e[4]: e[0] for e in entries}
        return [ids.get(c.id) for c, _ in edits]

    def controllers(self, controller_ids: Iterable[str]) -> list[Controller]:
        """These controllers with their configuration, in one read per 500 (a campaign's dry
        run reads thousands); ids no longer here are left out."""
        ids = list(controller_ids)
        out: list[Controller] = []
        with collector_paused():  # each with its zones and programs: 100,000s of objects
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                out += [_controller(r) for r in self._query(
                    "SELECT c.*, f.config FROM controller c JOIN controller_config f "
                    f"ON f.controller_id = c.id WHERE c.id IN ({','.join('?' * len(chunk))})",
                    chunk)]
        order = {cid: n for n, cid in enumerate(ids)}
        return sorted(out, key=lambda c: order[c.id])

    def serial_errors(self, controller: Controller) -> list[FieldError]:
        """The serial error if another controller here already holds `controller`'s serial (a
        serial binds one record only; the cloud would refuse it at sync). Not linked: none."""
        holder = self._serial_holder(controller.serial, controller.id)
        if holder is None:
            return []
        return [FieldError("serial", f"{controller.serial} is already the serial of {holder}. "
                                     "Unbind it there first.")]

    def _serial_holder(self, serial: str | None, except_id: str) -> str | None:
        """'Controller (Customer)' holding `serial`, other than `except_id`, or None."""
        if not serial:
            return None
        r = self._query(
            "SELECT c.name, k.name FROM controller c JOIN customer k ON k.id = c.customer_id "
            "WHERE c.serial=? AND c.id!=? LIMIT 1", (serial, except_id))
        return f"{r[0][0]} ({r[0][1]})" if r else None

    def delete_controller(self, controller_id: str) -> OutboxEntry | None:
        """Delete a controller: gone here now, from the cloud at the next sync (until then
        `discard` brings it back). One never sent goes with its pending edits → None."""
        with self._write() as db:
            self.controller(controller_id)  # NotFound if it is gone already
            return _delete_here(db, "controller", controller_id)

    def delete_customer(self, customer_id: str) -> OutboxEntry | None:
        """Delete a customer with no controllers left (the cloud refuses one that has some):
        as `delete_controller`. Raises StillNeeded while controllers remain."""
        with self._write() as db:
            if why := self.customer_still_needed(customer_id):
                raise StillNeeded(why)
            return _delete_here(db, "customer", customer_id)

    def customer_still_needed(self, customer_id: str) -> str | None:
        """Why this customer cannot be deleted yet (their controllers), or None."""
        customer = self.customer(customer_id)  # NotFound if it is gone already
        n = self._query("SELECT count(*) FROM controller WHERE customer_id=?",
                        (customer_id,))[0][0]
        if n:
            return (f"{customer.name} still has {n} controller{'s' if n > 1 else ''}: delete "
                    f"or move {'them' if n > 1 else 'it'} first.")
        # Agreements, time entries, work orders are the account's history: never silently gone.
        held = self._query("SELECT kind, count(*) FROM document WHERE customer_id=? "
                           "GROUP BY kind ORDER BY kind", (customer_id,))
        if not held:
            return None
        words = ", ".join(f"{n} {_kind_words(kind)}{'s' if n > 1 else ''}" for kind, n in held)
        return f"{customer.name} still has {words}: delete them first."

    def never_synced(self, entity: str, record_id: str) -> bool:
        """Created here and not sent yet: deleting it leaves nothing to undo or tell the cloud."""
        return bool(self._query(
            "SELECT 1 FROM outbox WHERE entity=? AND entity_id=? AND op='create' "
            "AND state NOT IN (?, ?) LIMIT 1", (entity, record_id, SENDING, APPLIED)))

    # -- documents (fieldtech.domain.documents): the same outbox, base copies and merges ------

    def create_document(self, kind: str, document_id: str, data: dict[str, Any]) -> OutboxEntry:
        """A new document of a registered kind: ValidationError (every field's problem) or
        NotFound (its customer) before anything is written."""
        from fieldtech.domain.documents import check_document, without_nones

        data = check_document(kind, without_nones(data))
        with self._write() as db:
            customer_id = _customer_of(kind, data)
            if customer_id is not None and db.execute(
                    "SELECT 1 FROM customer WHERE id=?", (customer_id,)).fetchone() is None:
                raise NotFound(f"No customer {customer_id} in this store.")
            if db.execute("SELECT 1 FROM document WHERE id=?", (document_id,)).fetchone():
                raise ValidationError([FieldError("id", "A record with this id exists.")])
            _insert_document(db, kind, document_id, data, 0)
            entry = _append(db, "create", "document", document_id, data, 0)
            self._follow_agreements_in(db, kind, [customer_id])
            return entry

    def edit_document(self, document_id: str,
                      change: Callable[[Document], dict[str, Any]]) -> OutboxEntry | None:
        """Set the fields `change(document as stored now)` gives (None removes a field), read
        and written in one transaction; None if nothing changed."""
        from fieldtech.domain.documents import check_document, without_nones

        with self._write() as db:
            current = self.document(document_id)
            updated = check_document(current.kind, without_nones(
                {**current.data, **change(current)}))
            customer_id = _customer_of(current.kind, updated)
            if customer_id != current.customer_id and db.execute(
                    "SELECT 1 FROM customer WHERE id=?", (customer_id,)).fetchone() is None:
                raise NotFound(f"No customer {customer_id} in this store.")
            patch = {k: updated.get(k) for k in set(current.data) | set(updated)
                     if current.data.get(k) != updated.get(k)}
            if not patch:
                return None
            _update(db, "document", document_id, {"data": json.dumps(updated),
                                                  "customer_id": customer_id})
            entry = _append(db, "update", "document", document_id, patch, current.revision)
            followers = [current.customer_id, customer_id]
            if current.kind == TIER_KIND and patch.keys() & {"code"}:  # its customers' label
                followers = [d.customer_id for d in self.documents(AGREEMENT_KIND)
                             if d.data.get("tier_id") == document_id]
            self._follow_agreements_in(db, AGREEMENT_KIND if current.kind == TIER_KIND
                                       else current.kind, followers)
            return entry

    def update_document(self, document_id: str, **changes: Any) -> OutboxEntry | None:
        return self.edit_document(document_id, lambda _current: changes)

    def delete_document(self, document_id: str) -> OutboxEntry | None:
        """Gone here now, from the cloud at the next sync (`discard` brings it back); one never
        sent goes with its pending edits → None."""
        from fieldtech.domain.documents import referring_kinds, still_used

        with self._write() as db:
            gone = self.document(document_id)  # NotFound if it is gone already
            users = referring_kinds()
            if users and (why := still_used(document_id, (
                    (r[0], json.loads(r[1])) for r in db.execute(
                        f"SELECT kind, data FROM document WHERE kind IN "
                        f"({','.join('?' * len(users))})", users)))):
                raise StillNeeded(why)
            entry = _delete_here(db, "document", document_id)
            self._follow_agreements_in(db, gone.kind, [gone.customer_id])
            return entry

    def today(self) -> date:
        """The contractor's day, which memberships follow (fieldtech.domain.calendar): in the
        account's time zone once synced, else this computer's."""
        known = self._timezone
        if known is None or time.monotonic() - known[1] > TIMEZONE_KEPT_S:
            known = self._timezone = (self.sync_value("timezone"), time.monotonic())
        return contractor_today(known[0])

    def today_as_known(self) -> date:
        """The contractor's day from the account's time zone as last read, however long ago
        (read once if never): for paths that must not wait at all, such as a controller's
        switch, which `today()`'s read every TIMEZONE_KEPT_S could put behind a sync's
        lock. The app's start reads it in a thread (settling memberships), so it is known."""
        known = self._timezone
        return self.today() if known is None else contractor_today(known[0])

    def membership_given(self, customer_id: str, day: date | None = None) -> str | None:
        """The membership the customer's agreements held here give on `day` (the contractor's
        today), or None when they have none (then it is set by hand): fieldtech.domain.
        billing's one rule."""
        from fieldtech.domain.billing import membership_from_documents

        documents = self.documents(AGREEMENT_KIND, customer_id)
        if not documents:
            return None
        return membership_from_documents([*self.documents(TIER_KIND), *documents],
                                         day or self.today())

    def settle_memberships(self, day: date | None = None) -> int:
        """Every customer's membership as their agreements give it on `day` (the contractor's
        today): what only the calendar changes — a cancelled term running out, an agreement or
        a suspension starting on a later day — queued as the customers' edits like any other
        (the cloud's sweeper makes the same change; the same value merges). → how many
        changed. Read and written in one transaction, so an agreement saved meanwhile is not
        undone."""
        from fieldtech.domain.billing import membership_from_documents

        day = day or self.today()
        changed = 0
        with self._write() as db:
            tiers = self.documents(TIER_KIND)
            held: dict[str, list[Document]] = {}
            for d in self.documents(AGREEMENT_KIND):
                if d.customer_id:
                    held.setdefault(d.customer_id, []).append(d)
            memberships = dict(db.execute("SELECT id, membership FROM customer").fetchall())
            for customer_id, agreements in held.items():
                given = membership_from_documents([*tiers, *agreements], day)
                if given is not None and memberships.get(customer_id, given) != given:
                    self.update_customer_in(db, customer_id, {"membership": Membership(given)},
                                            on=day)
                    changed += 1
        return changed

    def _follow_agreements_in(self, db: sqlite3.Connection, kind: str,
                              customer_ids: Iterable[str | None]) -> None:
        """After an agreement is written: each customer's membership as their agreements now
        give it, queued as an edit of the customer in the same transaction (so it syncs, and
        the fleet column, triage and the SLA clocks read one fact)."""
        if kind != AGREEMENT_KIND:
            return
        for customer_id in dict.fromkeys(c for c in customer_ids if c):
            given = self.membership_given(customer_id)
            if given is not None and db.execute(
                    "SELECT 1 FROM customer WHERE id=? AND membership != ?",
                    (customer_id, given)).fetchone():
                self.update_customer_in(db, customer_id, {"membership": Membership(given)})

    def document(self, document_id: str) -> Document:
        rows = self._query("SELECT * FROM document WHERE id=?", (document_id,))
        if not rows:
            raise NotFound(f"No record {document_id} in this store.")
        return _document(rows[0])

    def documents(self, kind: str, customer_id: str | Collection[str] | None = None,
                  between: tuple[str, str, str] | None = None,
                  equal: tuple[str, Any] | None = None) -> list[Document]:
        """Every document of a kind held here, in id order: of one customer (or of several)
        if given; with `between=(field, low, high)` only those whose field lies in [low, high]
        (ISO dates compare as text: a month of 100,000 time entries is read without the rest);
        with `equal=(field, value)` only those whose field has that value."""
        where, params = ["kind=?"], [kind]
        for test, field in (("BETWEEN ? AND ?", between), ("= ?", equal)):
            if field is None:
                continue
            if not field[0].isidentifier():
                raise ValueError(f"not a field name: {field[0]!r}")
            where.append(f"json_extract(data, '$.{field[0]}') {test}")
            params += field[1:]
        if customer_id is None or isinstance(customer_id, str):
            if customer_id is not None:
                where.append("customer_id=?")
                params.append(customer_id)
            return self._documents(where, params)
        ids, found = sorted(set(customer_id)), []
        for start in range(0, len(ids), 500):  # under SQLite's limit of bound values
            chunk = ids[start:start + 500]
            # By customer first: without statistics SQLite would rather scan the date index
            # over the whole year (400 ms for 100,000 entries, against 20 ms).
            found += self._documents([*where, f"customer_id IN ({','.join('?' * len(chunk))})"],
                                     [*params, *chunk], "INDEXED BY document_kind")
        return sorted(found, key=lambda d: d.id)

    def _documents(self, where: list[str], params: list[Any], hint: str = "") -> list[Document]:
        rows = self._query(f"SELECT id, kind, data, revision, customer_id FROM document {hint} "
                           f"WHERE {' AND '.join(where)} ORDER BY id", params)
        from fieldtech.domain.documents import Document

        return [Document(r[1], r[0], json.loads(r[2]), r[3], r[4]) for r in rows]

    def put_synced_documents(self, documents: Iterable[Document]) -> int:
        """Bulk write of documents as the cloud has them (no outbox rows): seeding a demo or
        a benchmark. Returns how many."""
        rows = [(d.id, d.kind, _customer_of(d.kind, d.data), json.dumps(d.data),
                 d.revision or 1) for d in documents]
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO document (id, kind, customer_id, data, "
                           "revision) VALUES (?,?,?,?,?)", rows)
            db.executemany("INSERT OR REPLACE INTO base VALUES ('document', ?, ?, ?)",
                           [(r[0], r[4], r[3]) for r in rows])
        return len(rows)

    def owner_of(self, entity: str, record_id: str) -> str | None:
        """The customer a controller or a document belongs to, if it is here."""
        if entity not in ("controller", "document"):
            return None
        r = self._query(f"SELECT customer_id FROM {entity} WHERE id=?", (record_id,))
        return r[0][0] if r else None

    # -- the outbox ---------------------------------------------------------------------------

    def outbox(self, states: Iterable[str] = PENDING_STATES) -> list[OutboxEntry]:
        states = tuple(states)
        marks = ",".join("?" * len(states))
        rows = self._query(f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY seq", states)
        return [_entry(r) for r in rows]

    def outbox_pages(self, states: Iterable[str], page: int = 500) -> Iterator[OutboxEntry]:
        """`outbox`, read a page at a time for a reader that may stop early: the sync's claim
        takes the first 2,000 of a 10,000-edit campaign without decoding the rest."""
        states = tuple(states)
        marks = ",".join("?" * len(states))
        after = -1
        while True:
            rows = self._query(f"SELECT * FROM outbox WHERE state IN ({marks}) AND seq > ? "
                               "ORDER BY seq LIMIT ?", (*states, after, page))
            yield from (_entry(r) for r in rows)
            if len(rows) < page:
                return
            after = rows[-1]["seq"]

    def outbox_for(self, entity: str, entity_id: str) -> list[OutboxEntry]:
        """Pending edits of one record (a controller's include its configuration's)."""
        entities = _entities(entity)
        rows = self._query(
            f"SELECT * FROM outbox WHERE entity IN ({','.join('?' * len(entities))}) "
            "AND entity_id=? AND state!=? ORDER BY seq",
            (*entities, entity_id, APPLIED),
        )
        return [_entry(r) for r in rows]

    def pending_count(self) -> int:
        return self._query("SELECT count(*) FROM outbox WHERE state != ?", (APPLIED,))[0][0]

    def set_outbox_state(self, entry_id: str, state: str, message: str | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE outbox SET state=?, message=? WHERE id=?", (state, message,
                                                                          entry_id))

    # -- records as synced (seed, and later the sync engine's pull) ---------------------------

    def put_synced_many(
        self,
        customers: Iterable[tuple[Customer, int]],
        controllers: Iterable[tuple[Controller, int, ControllerState, str | None]],
    ) -> None:
        """Bulk write of records as the cloud has them (no outbox rows), in one transaction."""
        with self._write() as db:
            put_synced_rows(db, customers, (
                ((data := c.to_dict()), json.dumps(data.pop("config")), rev, state, fault)
                for c, rev, state, fault in controllers))

    # -- sync (fieldtech.cloud.sync drives these; each call is one transaction) ---------------

    @contextmanager
    def large_writes(self) -> Iterator[None]:
        """Many large transactions in a row (a first sync writes 800 MB at 100,000 controllers,
        a page of 500 records at a time): the WAL goes back into the database every 64 MB
        instead of every 4 MB, each time with its fsyncs, and 64 MB of pages are cached. Each
        commit is as safe as ever (in the WAL); only the copying back is done less often."""
        with self._lock:
            self._conn.execute("PRAGMA wal_autocheckpoint=16384")
            self._conn.execute("PRAGMA cache_size=-65536")
        try:
            yield
        finally:
            with self._lock:
                self._conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
                self._conn.execute(f"PRAGMA cache_size={_CACHE_SIZE}")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold off this process's other users of the store (e.g. reads, then a claim)."""
        with self._lock:
            yield

    def sync_value(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM sync_state WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def set_sync_values(self, **values: str | None) -> None:
        """Set (or, with None, forget) sync facts: cursor, last sync time, account id…"""
        with self._write() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM sync_state WHERE key=?", (key,))
                else:
                    db.execute("INSERT INTO sync_state VALUES (?, ?) ON CONFLICT(key) DO "
                               "UPDATE SET value=excluded.value", (key, value))
        if "timezone" in values:  # known at once: a switch after a sync reads nothing
            self._timezone = (values["timezone"], time.monotonic())

    def made_elsewhere(self, entry_ids: Iterable[str], entity: str, record_id: str,
                       revision: int, theirs: dict[str, Any]) -> list[str]:
        """Our create of a record the cloud already holds (`theirs`, at `revision`), made on
        another client with the same id (one another record decides: a work order's time
        entry): from now on they are edits of the cloud's record, merged and sent like any.
        → their new ids (a new idempotency key: the cloud keeps its refusal of the create)."""
        renamed = [(new_id(), revision, e) for e in entry_ids]
        with self._write() as db:
            _put_base(db, entity, record_id, revision, theirs)
            db.executemany("UPDATE outbox SET id=?, op='update', base_revision=? WHERE id=?",
                           renamed)
            _set_revision(db, entity, record_id, revision)
        return [r[0] for r in renamed]

    def want_refetch(self, entity: str, record_id: str) -> None:
        """Ask the next sync to read this record again from the cloud (not the whole log)."""
        with self._write() as db:
            wanted = _refetch_list(db)
            if [entity, record_id] not in wanted:
                _set_refetch_list(db, [*wanted, [entity, record_id]])

    def refetch_wanted(self) -> list[tuple[str, str]]:
        return [(e, i) for e, i in json.loads(self.sync_value("refetch") or "[]")]

    def forget_refetch(self, entity: str, record_id: str) -> None:
        with self._write() as db:
            _set_refetch_list(db, [w for w in _refetch_list(db) if w != [entity, record_id]])

    def record_data(self, entity: str, record_id: str) -> tuple[int, dict[str, Any]] | None:
        """(revision, data) of one part as held here: a customer, a controller's record fields,
        or a controller's configuration ("config"). None if it is not here."""
        with self._lock:
            return _part(self._conn, entity, record_id)

    def claim(self, items: list[tuple[list[str], dict[str, Any]]]) -> None:
        """Mark the entries behind each batch item as sending, keeping the item as sent."""
        with self._write() as db:
            for entry_ids, item in items:
                sent = json.dumps(item)
                db.executemany("UPDATE outbox SET state=?, sent=?, message=NULL WHERE id=?",
                               [(SENDING, sent, e) for e in entry_ids])

    def sending(self) -> list[tuple[OutboxEntry, dict[str, Any]]]:
        """Entries sent but not answered (a crash or a dead link): to be sent again as they were."""
        rows = self._query("SELECT * FROM outbox WHERE state=? ORDER BY seq", (SENDING,))
        return [(_entry(r), json.loads(r["sent"]) if r["sent"] else {}) for r in rows]

    def set_entries(self, entry_ids: Iterable[str], state: str,
                    message: str | None = None, problem: str | None = None) -> None:
        """Move entries to `state` (queued again, rejected, draft…), forgetting what was sent.
        `problem`: for a refusal, the cloud's kind of problem (e.g. quota-exceeded)."""
        with self._write() as db:
            db.executemany("UPDATE outbox SET state=?, message=?, problem=?, sent=NULL "
                           "WHERE id=?", [(state, message, problem, e) for e in entry_ids])

    def retry(self, entry_id: str) -> int:
        """Send a refused or drafted edit again, with the later refused or drafted edits of the
        same record (they were held with it, often refused in the same item). → how many."""
        with self._write() as db:
            r = db.execute("SELECT seq, entity, entity_id FROM outbox WHERE id=?",
                           (entry_id,)).fetchone()
            if r is None:
                return 0
            entities = _entities(r[1])
            return db.execute(
                f"UPDATE outbox SET state=?, sent=NULL, message=NULL WHERE entity_id=? AND "
                f"seq >= ? AND state IN (?, ?) AND entity IN ({','.join('?' * len(entities))})",
                (QUEUED, r[2], r[0], REJECTED, DRAFT, *entities)).rowcount

    def discard(self, entry_id: str) -> None:
        """Undo one pending edit (the user confirmed): the fields it set go back to the values
        last synced, a record it created goes away — with its later edits, which would have
        nothing to change —, a record it deleted comes back.

        Raises StillNeeded for a new customer whose new controllers still wait to be sent."""
        with self._write() as db:
            self.discard_in(db, entry_id)

    def discard_in(self, db: sqlite3.Connection, entry_id: str) -> None:
        """`discard` inside the caller's transaction (a whole campaign at once)."""
        r = db.execute("SELECT * FROM outbox WHERE id=? AND state NOT IN (?, ?)",
                       (entry_id, SENDING, APPLIED)).fetchone()
        if r is None:
            return
        entry = _entry(r)
        held = (db.execute("SELECT kind, customer_id FROM document WHERE id=?",
                           (entry.entity_id,)).fetchone() if entry.entity == "document" else None)
        self._discard_one(db, entry)
        if entry.entity == "document":
            after = db.execute("SELECT kind, customer_id FROM document WHERE id=?",
                               (entry.entity_id,)).fetchone()
            # an agreement moved to another customer and moved back: both follow
            customers = [c for c in dict.fromkeys((held or (None, None))[1:] +
                                                  (after or (None, None))[1:]) if c]
            if (held or after or (None,))[0] == AGREEMENT_KIND and customers:
                self._membership_after_discard(db, entry, customers)

    def _membership_after_discard(self, db: sqlite3.Connection, entry: OutboxEntry,
                                  customers: list[str]) -> None:
        """An agreement's edit undone: the membership edits queued with it (the entries right
        after it, in the same transaction: one a customer it concerned) go too, so those
        customers' memberships are again what they were — then follow the agreements left,
        if any (an agreement's change undone: its tier)."""
        seq = entry.seq
        while (r := db.execute("SELECT * FROM outbox WHERE seq=?", (seq := seq + 1,)).fetchone()
               ) is not None:
            paired = _entry(r)
            if (paired.op, paired.entity) != ("update", "customer") or \
                    paired.entity_id not in customers or paired.patch.keys() != {"membership"}:
                break
            if paired.state in (SENDING, APPLIED):
                continue  # on its way or in the cloud: the follow below sets it right
            self._discard_one(db, paired)
            if _base(db, "customer", paired.entity_id) is None:
                # never synced, so there is no base to go back to: the value before is the
                # last one still queued for it (its create holds the first)
                patches = (json.loads(text) for (text,) in db.execute(
                    "SELECT patch FROM outbox WHERE entity='customer' AND entity_id=? "
                    "ORDER BY seq DESC", (paired.entity_id,)))
                before = next((p["membership"] for p in patches if "membership" in p), None)
                if before is not None:
                    _update(db, "customer", paired.entity_id, {"membership": before})
        self._follow_agreements_in(db, AGREEMENT_KIND, customers)

    def _discard_one(self, db: sqlite3.Connection, entry: OutboxEntry) -> None:
        rid, entity = entry.entity_id, entry.entity
        if entry.op == "create":
            if entity == "customer" and (n := db.execute(
                    "SELECT COUNT(*) FROM controller WHERE customer_id=?",
                    (rid,)).fetchone()[0]):
                raise StillNeeded(
                    f"{n} controller{'s' if n > 1 else ''} made for this new customer "
                    "would have no customer: discard or move "
                    f"{'them' if n > 1 else 'it'} first.")
            _forget_new(db, entity, rid)
            return
        db.execute("DELETE FROM outbox WHERE id=?", (entry.id,))
        base = _base(db, entity, rid)
        base_rev = db.execute("SELECT revision FROM base WHERE entity=? AND id=?",
                              (entity, rid)).fetchone()
        if base is None or base_rev is None:
            return  # never synced: nothing to go back to; the values stay
        if entry.op == "delete":
            config = _base(db, "config", rid) if entity == "controller" else None
            if entity == "controller" and db.execute(
                    "SELECT 1 FROM customer WHERE id=?", (base["customer_id"],)
            ).fetchone() is None:
                raise StillNeeded(f"Its customer is deleted here too: discard that "
                                  f"deletion first, then this one to bring "
                                  f"{base.get('name') or 'it'} back.")
            if entity == "controller" and (
                    holder := self._serial_holder(base.get("serial"), rid)):
                raise StillNeeded(f"{base['serial']} is now the serial of {holder}: unbind "
                                  "it there first to bring this controller back.")
            if entity == "controller" and config is not None:
                _insert_controller(db, {**base, "config": config}, ControllerState.OFFLINE
                                   if base.get("serial") else ControllerState.NOT_LINKED,
                                   revision=base_rev[0])
            elif entity == "customer":
                _upsert(db, "customer", SORTED_CUSTOMER_COLUMNS, _sorted_customer(base),
                        base_rev[0])
            elif entity == "document" and entry.patch.get("kind"):
                _insert_document(db, entry.patch["kind"], rid, base, base_rev[0])
            return
        part = _part(db, entity, rid)
        if part is None:
            return
        if entity == "config":
            _write_part(db, entity, rid, part[0], base)
        else:
            _write_part(db, entity, rid, part[0],
                        {**part[1], **{k: base[k] for k in entry.patch if k in base}})

    def record_applied(self, entry_ids: Iterable[str],
                       parts: Iterable[tuple[str, str, int, dict[str, Any] | None]],
                       refused: Refused | None = None) -> None:
        """The cloud applied these entries: each part (entity, id, revision, data) as the cloud
        now has it becomes the base, and the local copy too unless newer edits wait to be sent.
        data None: the record was deleted. `refused`: a part of the edits the cloud did not
        take (a plan change), kept in the same transaction as an edit of its own, refused."""
        self.record_applied_many([Applied(list(entry_ids), list(parts), refused)])

    def record_applied_many(self, applied: Sequence[Applied]) -> None:
        """`record_applied` for a whole batch answer in ONE transaction (a campaign's 5,000
        edits paid a commit each: a third of the client's share of the push)."""
        if not applied:
            return
        with self._write() as db:
            puts = [one for one in applied if _config_put(one)]
            for one in applied:
                if not _config_put(one):
                    _record_applied(db, one)
            _record_config_puts(db, puts)

    def rebase(self, entity: str, record_id: str, revision: int, theirs: dict[str, Any],
               merged: dict[str, Any], entry_ids: Iterable[str] = ()) -> None:
        """Local edits merged onto the cloud's copy: `merged` becomes the local part, `theirs`
        the base; the entries go back in the queue to be sent on the new revision."""
        with self._write() as db:
            _put_base(db, entity, record_id, revision, theirs)
            _write_part(db, entity, record_id, revision, merged)
            db.executemany("UPDATE outbox SET state=?, sent=NULL, message=NULL WHERE id=?",
                           [(QUEUED, e) for e in entry_ids])
            db.execute("DELETE FROM conflict WHERE entity=? AND id=?", (entity, record_id))

    def record_conflict(self, entry_ids: Iterable[str], entity: str, record_id: str,
                        revision: int, theirs: dict[str, Any], fields: Iterable[str],
                        message: str, merged: dict[str, Any] | None = None) -> None:
        """Both sides changed the same fields: keep the cloud's copy for the user to compare.
        `merged`: the local copy with the cloud's other changes taken in (mine where they
        clash); the base stays, so the user's decision is still a three-way merge."""
        with self._write() as db:
            held = _part(db, entity, record_id)
            if merged is not None and held is not None:
                _write_part(db, entity, record_id, held[0], merged)
            db.execute(
                "INSERT INTO conflict VALUES (?,?,?,?,?) ON CONFLICT(entity, id) DO UPDATE SET "
                "revision=excluded.revision, theirs=excluded.theirs, fields=excluded.fields",
                (entity, record_id, revision, json.dumps(theirs), json.dumps(list(fields))))
            db.executemany("UPDATE outbox SET state=?, sent=NULL, message=? WHERE id=?",
                           [(CONFLICT, message, e) for e in entry_ids])

    def clear_conflict(self, entity: str, record_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM conflict WHERE entity=? AND id=?", (entity, record_id))

    def requeue_delete(self, entry_ids: Iterable[str], revision: int) -> None:
        """Delete anyway: send the delete again, now based on the cloud's newer revision."""
        with self._write() as db:
            db.executemany("UPDATE outbox SET state=?, sent=NULL, message=NULL, "
                           "base_revision=? WHERE id=?",
                           [(QUEUED, revision, e) for e in entry_ids])

    def conflicts(self) -> list[Conflict]:
        return [Conflict(r[0], r[1], r[2], json.loads(r[3]), tuple(json.loads(r[4])))
                for r in self._query("SELECT * FROM conflict ORDER BY entity, id")]

    def conflict(self, entity: str, record_id: str) -> Conflict | None:
        return next((c for c in self.conflicts() if (c.entity, c.id) == (entity, record_id)),
                    None)

    def apply_changes(self, changes: list[dict[str, Any]], cursor: int) -> PullResult:
        """One page of the cloud's change log, in one transaction with the new cursor.

        Records with no pending local edit take the cloud's copy. Those with pending edits are
        rebased when the edits touch other fields than the cloud's change; when both changed the
        same field the record is left alone and the push meets the conflict (412).
        """
        from fieldtech.domain.merge import merge_config, three_way

        changed: set[str] = set()
        account_changed = live_changed = False
        # A new controller's configuration follows it in the log: insert the two together.
        configs = {c["id"]: c["data"] for c in changes
                   if c["entity"] == "config" and c["op"] == "upsert" and c.get("data")}
        with self._write() as db:
            new = _NewRecords(db, changes, configs)
            for change in changes:
                if new.take(change):
                    changed.add(change["id"])
                    continue
                new.flush()  # the records before this change are in the store when it is read
                entity, record_id, op, data = (change["entity"], change["id"], change["op"],
                                               change.get("data"))
                new.held.discard((entity, record_id))  # whatever becomes of it, ask the store
                if entity == "account":
                    if data and data.get("tier"):
                        db.execute("UPDATE account SET tier=?", (data["tier"],))
                    account_changed = True
                    continue
                if entity in LIVE_ENTITIES:  # the cloud's alone: no merge, no base copy
                    live_changed = True
                    if put_live(db, entity, record_id, op, data):
                        changed.add(record_id)
                    continue
                if entity not in SYNCED_ENTITIES:
                    continue  # a newer server's kind of record: not ours to hold yet
                pending = _pending(db, entity, record_id)
                if op == "delete":
                    if not pending and _delete_part(db, entity, record_id):
                        changed.add(record_id)
                    continue
                revision, theirs = from_cloud(entity, data or {})
                held = _held_revision(db, entity, record_id)
                if held is not None and revision <= held:
                    continue  # our own change coming back, or older than what we hold
                if held is None:
                    if pending:
                        continue  # deleted here, not yet in the cloud: the push says the rest
                    if _insert_part(db, entity, record_id, revision, theirs,
                                    configs.get(record_id), (data or {}).get("kind")):
                        changed.add(record_id)
                    continue
                if pending:
                    base = _base(db, entity, record_id)
                    local = _part(db, entity, record_id)
                    merge = (merge_config if entity == "config" else three_way)(
                        base, theirs, local[1] if local else {})
                    if not merge.clean:
                        continue  # the push will meet the 412 and ask the user
                    mine = merge.merged
                else:
                    mine = theirs
                _put_base(db, entity, record_id, revision, theirs)
                _write_part(db, entity, record_id, revision, mine)
                changed.add(record_id)
            new.flush()
            db.execute("INSERT INTO sync_state VALUES ('cursor', ?) ON CONFLICT(key) DO UPDATE "
                       "SET value=excluded.value", (str(cursor),))
        return PullResult(changed, account_changed, live_changed)

    def apply_status(self, statuses: Iterable[tuple[str, str, str | None]]) -> int:
        """Device states from the cloud (controller id, state, last contact); returns how many
        changed."""
        valid = {s.value for s in ControllerState}
        with self._write() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE controller SET state=?, last_contact=? WHERE id=? AND "
                "(state IS NOT ? OR last_contact IS NOT ?)",
                [(state, last, cid, state, last) for cid, state, last in statuses
                 if state in valid])
            return db.total_changes - before

    # -- recents (for the switcher) -----------------------------------------------------------

    def touch_recent(self, controller_id: str) -> None:
        self.shown_recent(controller_id)
        self.save_recents()

    def shown_recent(self, controller_id: str) -> None:
        """`controller_id` was shown now: it leads the recents, written by `save_recents` (the
        app calls it after the switch's frame: a write beside it slowed the frame) or at the
        latest by `close`, so quitting right after a switch keeps it. No I/O, and not the
        store's lock: a sync's write holding it must not hold the switch up."""
        with self._recents_lock:
            self._unsaved_recents[controller_id] = time.time()

    def save_recents(self) -> None:
        """Write the recents `shown_recent` holds (nothing to do once `close` wrote them)."""
        with self._lock:
            with self._recents_lock:
                held, self._unsaved_recents = self._unsaved_recents, {}
            if not held:
                return
            try:
                with self._write() as db:
                    db.executemany(
                        "INSERT INTO recent VALUES (?, ?) ON CONFLICT(controller_id) "
                        "DO UPDATE SET used_at=excluded.used_at",
                        held.items(),
                    )
            except BaseException:
                with self._recents_lock:  # kept for the next try; one shown since is newer
                    for controller_id, at in held.items():
                        self._unsaved_recents.setdefault(controller_id, at)
                raise

    def recent(self, limit: int = 9) -> list[str]:
        self.save_recents()  # the recents as they are now, those still held included
        rows = self._query(
            "SELECT r.controller_id FROM recent r JOIN controller c ON c.id = r.controller_id "
            "ORDER BY used_at DESC LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    def counts(self) -> tuple[int, int]:
        """(customers, controllers) held."""
        r = self._query(
            "SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM controller)"
        )[0]
        return r[0], r[1]


# -- sync helpers: one "part" is a customer, a controller's record fields, or its config --------


class PullResult(NamedTuple):
    changed: set[str]  # ids of customers and controllers that changed here
    account_changed: bool
    live_changed: bool = False  # incidents, device states or commands came in


@dataclass(frozen=True, slots=True)
class Conflict:
    """A record both sides changed: the cloud's copy is kept here until the user decides."""

    entity: str  # customer | controller | config
    id: str
    revision: int
    theirs: dict[str, Any]
    fields: tuple[str, ...]


def _part(db: sqlite3.Connection, entity: str, record_id: str) -> tuple[int, dict] | None:
    if entity == "customer":
        r = db.execute("SELECT * FROM customer WHERE id=?", (record_id,)).fetchone()
        return (r["revision"], Customer.from_dict(dict(r)).to_dict()) if r else None
    if entity == "controller":
        r = db.execute(f"SELECT revision, {','.join(CONTROLLER_COLUMNS)} FROM controller "
                       "WHERE id=?", (record_id,)).fetchone()
        return (r[0], {c: r[c] for c in CONTROLLER_COLUMNS}) if r else None
    if entity == "config":
        r = db.execute("SELECT c.config_revision, f.config FROM controller c JOIN "
                       "controller_config f ON f.controller_id = c.id WHERE c.id=?",
                       (record_id,)).fetchone()
        return (r[0], json.loads(r[1])) if r else None
    if entity == "document":
        r = db.execute("SELECT revision, data FROM document WHERE id=?", (record_id,)).fetchone()
        return (r[0], json.loads(r[1])) if r else None
    raise ValueError(f"unknown entity {entity!r}")


class _NewRecords:
    """The customers and controllers of a page of changes that are simply new here (no local
    edit, not held, once in the page, a controller's customer already here), written as
    `_insert_part` writes them but with one executemany per table: a first sync of 100,000
    controllers made ten statements a controller, one at a time. A change of another kind is
    applied one by one after `flush`, so it reads the store as if every change before it had
    been applied in order."""

    def __init__(self, db: sqlite3.Connection, changes: list[dict[str, Any]],
                 configs: dict[str, dict[str, Any]]):
        self.db, self.configs = db, configs
        ids = {"customer": set(), "controller": set()}
        seen: set[tuple[str, str]] = set()
        self.twice: set[tuple[str, str]] = set()
        for c in changes:
            key = (c["entity"], c["id"])
            (self.twice if key in seen else seen).add(key)
            if c["entity"] in ids:
                ids[c["entity"]].add(c["id"])
            if c["entity"] == "controller" and c.get("data"):
                ids["customer"].add(c["data"].get("customer_id"))
        wanted = json.dumps([i for group in ids.values() for i in group])
        self.held = {(entity, i) for entity, i in db.execute(
            "SELECT 'customer', id FROM customer WHERE id IN (SELECT value FROM json_each(?1)) "
            "UNION ALL SELECT 'controller', id FROM controller WHERE id IN "
            "(SELECT value FROM json_each(?1))", (wanted,))}
        self.pending = {r[0] for r in db.execute(
            "SELECT DISTINCT entity_id FROM outbox WHERE state != ? AND entity_id IN "
            "(SELECT value FROM json_each(?))", (APPLIED, wanted))}
        self.inserted: set[str] = set()  # controllers taken, with their configuration
        self.customers: list[tuple[Any, ...]] = []
        self.controllers: list[tuple[Any, ...]] = []
        self.texts: list[tuple[str, str]] = []
        self.bases: list[tuple[str, str, int, str]] = []

    def take(self, change: dict[str, Any]) -> bool:
        """Queue `change` if it is a new record's (True), or its configuration's."""
        entity, record_id, data = change["entity"], change["id"], change.get("data")
        if entity == "config" and record_id in self.inserted and change["op"] == "upsert" \
                and (entity, record_id) not in self.twice and data is self.configs[record_id]:
            return True  # came with its controller, as _insert_part takes it
        if (change["op"] != "upsert" or not data or entity not in ("customer", "controller")
                or (entity, record_id) in self.held or (entity, record_id) in self.twice
                or record_id in self.pending):
            return False
        revision, part = from_cloud(entity, data)
        if entity == "customer":
            self.customers.append((*(part[c] for c in CUSTOMER_COLUMNS), revision,
                                   natural_sort_text(part["name"])))
        else:
            if ("customer", part["customer_id"]) not in self.held:
                return False  # its customer is not here: the one-by-one path says what to do
            config = self.configs.get(record_id)
            if config is None:
                return False
            text = _to_json(config["config"])
            state = ControllerState.NOT_LINKED if part["serial"] is None else \
                ControllerState.OFFLINE
            self.controllers.append((*(part[c] for c in CONTROLLER_COLUMNS), state.value,
                                     revision, config["revision"]))
            self.texts.append((record_id, text))
            if config["revision"]:
                self.bases.append(("config", record_id, config["revision"], text))
            self.inserted.add(record_id)
        self.held.add((entity, record_id))
        self.bases.append((entity, record_id, revision, _to_json(part)))
        return True

    def flush(self) -> None:
        if not (self.customers or self.controllers):
            return
        db = self.db
        db.executemany(_UPSERT_CUSTOMER, self.customers)
        cols = (*CONTROLLER_COLUMNS, "state", "revision", "config_revision")
        db.executemany(f"INSERT INTO controller ({','.join(cols)}) VALUES "
                       f"({','.join('?' * len(cols))})", self.controllers)
        db.executemany("INSERT INTO controller_config VALUES (?, ?)", self.texts)
        db.executemany(_PUT_BASE, self.bases)
        self.customers, self.controllers, self.texts, self.bases = [], [], [], []


# json.dumps's text without its check for a list or dict inside itself (JSON off the wire
# cannot hold one): ~25 % less time for the 100,000 configurations of a first sync.
_to_json = json.JSONEncoder(check_circular=False).encode

# With its sort name made here: the triggers then find it right and write nothing more (a
# second write of each row cost ~25 us, 0.5-1 s of seeding 20,000 customers).
_UPSERT_CUSTOMER = (
    f"INSERT INTO customer ({','.join(CUSTOMER_COLUMNS)},revision,sort_name) VALUES "
    f"({','.join('?' * (len(CUSTOMER_COLUMNS) + 2))}) ON CONFLICT(id) DO UPDATE SET "
    + ",".join(f"{c}=excluded.{c}" for c in (*CUSTOMER_COLUMNS, "revision", "sort_name")
               if c != "id"))
_PUT_BASE = ("INSERT INTO base VALUES (?,?,?,?) ON CONFLICT(entity, id) DO UPDATE SET "
             "revision=excluded.revision, data=excluded.data")
# A controller as `put_synced_rows` takes it: Controller.to_dict() without the configuration,
# the configuration's JSON text, revision, state, fault.
SyncedRow = tuple[dict[str, Any], str, int, ControllerState, str | None]


def put_synced_rows(db: sqlite3.Connection, customers: Iterable[tuple[Customer, int]],
                    controllers: Iterable[SyncedRow]) -> None:
    """Customers and controllers as the cloud has them (a base copy of each part, no outbox
    rows), in `db`'s transaction: executemany over prepared tuples a few thousand rows at a
    time, each configuration's text once for the record and its base. A controller held
    already is replaced. The seeder's writer (100,000 controllers) and put_synced_many's."""
    customer_row = itemgetter(*CUSTOMER_COLUMNS)
    for chunk in _chunks(customers):
        datas = [(c.to_dict(), rev) for c, rev in chunk]
        db.executemany(_UPSERT_CUSTOMER, [(*customer_row(d), rev, natural_sort_text(d["name"]))
                                          for d, rev in datas])
        db.executemany(_PUT_BASE, [("customer", d["id"], rev, json.dumps(d)) for d, rev in datas])
    controller_row = itemgetter(*CONTROLLER_COLUMNS)
    for chunk in _chunks(controllers, 2000):
        rows, configs, bases = [], [], []
        for record, config, rev, state, fault in chunk:
            rid = record["id"]
            rows.append((*controller_row(record), state.value, fault, rev, rev))
            configs.append((rid, config))
            bases.append(("controller", rid, rev, json.dumps(record)))
            bases.append(("config", rid, rev, config))
        put_controller_rows(db, rows, configs, bases)


_CONTROLLER_ROW = (*CONTROLLER_COLUMNS, "state", "fault", "revision", "config_revision")
_INSERT_CONTROLLER = (f"INSERT INTO controller ({','.join(_CONTROLLER_ROW)}) VALUES "
                      f"({','.join('?' * len(_CONTROLLER_ROW))})")


def put_controller_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]],
                        configs: list[tuple[str, str]], bases: list[tuple[str, str, int, str]],
                        replace: bool = True) -> None:
    """Controllers' rows (_CONTROLLER_ROW's values), their (id, configuration text) and their
    base copies (each part's), in `db`'s transaction; with `replace`, a controller held
    already is deleted first (a store known to be new skips that: the seeder's bulk load)."""
    if replace:
        ids = [(rid,) for rid, _config in configs]
        db.executemany("DELETE FROM controller_config WHERE controller_id=?", ids)
        db.executemany("DELETE FROM controller WHERE id=?", ids)
    db.executemany(_INSERT_CONTROLLER, rows)
    db.executemany("INSERT INTO controller_config VALUES (?, ?)", configs)
    db.executemany(_PUT_BASE, bases)


def _chunks(rows: Iterable[Any], size: int = _BULK_CHUNK) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refetch_list(db: sqlite3.Connection) -> list[list[str]]:
    row = db.execute("SELECT value FROM sync_state WHERE key='refetch'").fetchone()
    return json.loads(row[0]) if row and row[0] else []


def _set_refetch_list(db: sqlite3.Connection, wanted: list[list[str]]) -> None:
    db.execute("INSERT INTO sync_state VALUES ('refetch', ?) ON CONFLICT(key) DO UPDATE "
               "SET value=excluded.value", (json.dumps(wanted),))


def _held_revision(db: sqlite3.Connection, entity: str, record_id: str) -> int | None:
    column, table = ("config_revision", "controller") if entity == "config" else ("revision",
                                                                                 entity)
    r = db.execute(f"SELECT {column} FROM {table} WHERE id=?", (record_id,)).fetchone()
    return r[0] if r else None


def from_cloud(entity: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(revision, part) from the cloud's JSON of a record."""
    if entity == "customer":
        return int(data["revision"]), Customer.from_dict(data).to_dict()
    if entity == "controller":
        part = {c: data.get(c) for c in CONTROLLER_COLUMNS}
        part["tags"] = part["tags"] or ""  # a cloud from before tags
        return int(data["revision"]), part
    if entity == "document":
        return int(data["revision"]), dict(data["data"])
    return int(data["revision"]), data["config"]


def _by_name(row: FleetRow) -> tuple[tuple[int, int | str], ...]:
    """A customer's controllers in natural order of their names."""
    return natural_key(row[3])


def _both(tags: str, more: str) -> str:
    """A controller's tags with its customer's (what `tag:` filters on)."""
    return f"{tags} {more}" if tags and more else tags or more


def _pending(db: sqlite3.Connection, entity: str, record_id: str) -> bool:
    """Local edits of this part not yet applied by the cloud (a controller's create holds its
    configuration too)."""
    extra = " OR (entity='controller' AND op='create')" if entity == "config" else ""
    return db.execute(
        f"SELECT 1 FROM outbox WHERE entity_id=? AND state != ? AND (entity=?{extra}) LIMIT 1",
        (record_id, APPLIED, entity)).fetchone() is not None


def _base(db: sqlite3.Connection, entity: str, record_id: str) -> dict[str, Any] | None:
    r = db.execute("SELECT data FROM base WHERE entity=? AND id=?", (entity, record_id)).fetchone()
    return json.loads(r[0]) if r else None


def _set_revision(db: sqlite3.Connection, entity: str, record_id: str, revision: int) -> None:
    column, table = ("config_revision", "controller") if entity == "config" else ("revision",
                                                                                 entity)
    db.execute(f"UPDATE {table} SET {column}=? WHERE id=?", (revision, record_id))


def _write_part(db: sqlite3.Connection, entity: str, record_id: str, revision: int,
                data: dict[str, Any], text: str | None = None) -> None:
    """The local copy of a part as `data` (a configuration: `text` is its JSON if known)."""
    if entity == "customer":
        _upsert(db, "customer", SORTED_CUSTOMER_COLUMNS,
                _sorted_customer(Customer.from_dict(data).to_dict()), revision)
    elif entity == "controller":
        row = {c: data[c] for c in CONTROLLER_COLUMNS if c != "id"}
        current = db.execute("SELECT serial FROM controller WHERE id=?", (record_id,)).fetchone()
        if current and current[0] != row["serial"]:
            row["state"] = (ControllerState.NOT_LINKED if row["serial"] is None
                            else ControllerState.OFFLINE).value
        _update(db, "controller", record_id, {**row, "revision": revision})
    elif entity == "document":
        kind = db.execute("SELECT kind FROM document WHERE id=?", (record_id,)).fetchone()
        if kind is not None:
            _update(db, "document", record_id, {"data": json.dumps(data), "revision": revision,
                                                "customer_id": _customer_of(kind[0], data)})
    else:
        db.execute("UPDATE controller_config SET config=? WHERE controller_id=?",
                   (json.dumps(data) if text is None else text, record_id))
        _set_revision(db, "config", record_id, revision)


def _insert_part(db: sqlite3.Connection, entity: str, record_id: str, revision: int,
                 data: dict[str, Any], config: dict[str, Any] | None = None,
                 kind: str | None = None) -> bool:
    """A record new to this store. A controller comes with its configuration when the same
    page has it (`config`: the cloud's config JSON); otherwise the configuration follows later
    in the log and until then the controller holds the default one (config revision 0)."""
    if entity == "customer":
        _upsert(db, "customer", SORTED_CUSTOMER_COLUMNS, _sorted_customer(data), revision)
    elif entity == "controller":
        if db.execute("SELECT 1 FROM customer WHERE id=?", (data["customer_id"],)).fetchone() \
                is None:
            return False  # its customer is not here (should not happen: the log is in order)
        if config is None:
            config = {"revision": 0, "config": ControllerConfig.default_for(
                max(0, min(int(data["zone_count"] or 0), 200))).to_dict()}
        text = json.dumps(config["config"])  # once, for the record and its base
        cols = (*CONTROLLER_COLUMNS, "state", "revision", "config_revision")
        state = ControllerState.NOT_LINKED if data["serial"] is None else ControllerState.OFFLINE
        db.execute(
            f"INSERT INTO controller ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
            [*(data[c] for c in CONTROLLER_COLUMNS), state.value, revision, config["revision"]])
        db.execute("INSERT INTO controller_config VALUES (?, ?)", (record_id, text))
        if config["revision"]:
            db.execute("INSERT OR REPLACE INTO base VALUES ('config', ?, ?, ?)",
                       (record_id, config["revision"], text))
    elif entity == "document" and kind:
        _insert_document(db, kind, record_id, data, revision)
    else:
        return False  # the configuration of a controller this store does not hold
    _put_base(db, entity, record_id, revision, data)
    return True


def _delete_part(db: sqlite3.Connection, entity: str, record_id: str,
                 keep_base: bool = False) -> bool:
    """Remove a record here. `keep_base`: a local delete, which `discard` can undo from it."""
    if entity == "controller":
        db.execute("DELETE FROM controller_config WHERE controller_id=?", (record_id,))
        gone = db.execute("DELETE FROM controller WHERE id=?", (record_id,)).rowcount
        db.execute("DELETE FROM recent WHERE controller_id=?", (record_id,))
        if not keep_base:
            db.execute("DELETE FROM base WHERE id=? AND entity IN ('controller', 'config')",
                       (record_id,))
        return bool(gone)
    if entity == "document":
        if not keep_base:
            db.execute("DELETE FROM base WHERE id=? AND entity='document'", (record_id,))
        return bool(db.execute("DELETE FROM document WHERE id=?", (record_id,)).rowcount)
    if entity == "customer":
        if db.execute("SELECT 1 FROM controller WHERE customer_id=? LIMIT 1",
                      (record_id,)).fetchone():
            return False  # a controller made here for them still waits to be sent
        if not keep_base:
            db.execute("DELETE FROM base WHERE id=? AND entity='customer'", (record_id,))
        return bool(db.execute("DELETE FROM customer WHERE id=?", (record_id,)).rowcount)
    return False


def _delete_here(db: sqlite3.Connection, entity: str, record_id: str) -> OutboxEntry | None:
    """A local delete: the record goes, its base stays (to undo it) and an outbox row tells
    the cloud. A record the cloud never had just goes, with its pending edits → None."""
    if _forget_new(db, entity, record_id):
        return None
    revision = db.execute(f"SELECT revision FROM {_table(entity)} WHERE id=?",
                          (record_id,)).fetchone()[0]
    # A document's kind goes with its delete: the base keeps its fields, `discard` needs both.
    patch = ({"kind": db.execute("SELECT kind FROM document WHERE id=?", (record_id,))
              .fetchone()[0]} if entity == "document" else {})
    _delete_part(db, entity, record_id, keep_base=True)
    return _append(db, "delete", entity, record_id, patch, revision)


def _forget_new(db: sqlite3.Connection, entity: str, record_id: str) -> bool:
    """A record created here and not sent yet goes away with every pending edit of it.
    False if it is not such a record (it is in the cloud, or on its way there)."""
    if db.execute("SELECT 1 FROM outbox WHERE entity=? AND entity_id=? AND op='create' AND "
                  "state NOT IN (?, ?)", (entity, record_id, SENDING, APPLIED)).fetchone() is None:
        return False
    entities = _entities(entity)
    db.execute(f"DELETE FROM outbox WHERE entity_id=? AND state != ? AND entity IN "
               f"({','.join('?' * len(entities))})", (record_id, APPLIED, *entities))
    db.execute("DELETE FROM conflict WHERE id=?", (record_id,))
    _delete_part(db, entity, record_id)
    return True


def _entities(entity: str) -> tuple[str, ...]:
    """The outbox entities of one record: a controller's configuration is the controller's."""
    return ("controller", "config") if entity in ("controller", "config") else (entity,)


def _table(entity: str) -> str:
    if entity not in ("customer", "controller", "document"):
        raise ValueError(f"unknown entity {entity!r}")
    return entity


@cache
def _documents_module() -> ModuleType:
    """domain.documents, imported on first use (no part of the app's first paint reads one):
    a function's own `from … import` costs ~1 µs a call, and these run once a document."""
    from fieldtech.domain import documents

    return documents


def _customer_of(kind: str, data: dict[str, Any]) -> str | None:
    """The customer a document belongs to (a kind this version does not know: none)."""
    try:
        return _documents_module().kind_of(kind).customer_of(data)
    except NotFound:
        return None


def _kind_words(kind: str) -> str:
    try:
        return _documents_module().kind_of(kind).words
    except NotFound:
        return kind.replace("_", " ")


def _insert_document(db: sqlite3.Connection, kind: str, document_id: str, data: dict[str, Any],
                     revision: int) -> None:
    db.execute("INSERT INTO document (id, kind, customer_id, data, revision) VALUES (?,?,?,?,?)",
               (document_id, kind, _customer_of(kind, data), json.dumps(data), revision))


def _document(r: sqlite3.Row) -> Document:
    return _documents_module().Document(r["kind"], r["id"], json.loads(r["data"]),
                                        r["revision"], r["customer_id"])


def _controller(r: sqlite3.Row) -> Controller:
    d = {k: r[k] for k in CONTROLLER_COLUMNS}
    d["config"] = json.loads(r["config"])
    return Controller.from_dict(d)


def _sorted_customer(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "sort_name": natural_sort_text(data["name"])}


def _insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], data: dict) -> None:
    db.execute(
        f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})",
        [data[c] for c in columns],
    )


def _upsert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], data: dict,
            revision: int) -> None:
    cols = (*columns, "revision")
    sets = ",".join(f"{c}=excluded.{c}" for c in cols if c != "id")
    db.execute(
        f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))}) "
        f"ON CONFLICT(id) DO UPDATE SET {sets}",
        [*(data[c] for c in columns), revision],
    )


def _insert_controller(db: sqlite3.Connection, data: dict, state: ControllerState,
                       fault: str | None = None, revision: int = 0,
                       config_revision: int | None = None) -> None:
    cols = (*CONTROLLER_COLUMNS, "state", "fault", "revision", "config_revision")
    db.execute(
        f"INSERT INTO controller ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
        [*(data[c] for c in CONTROLLER_COLUMNS), state.value, fault, revision,
         revision if config_revision is None else config_revision],
    )
    db.execute("INSERT INTO controller_config VALUES (?, ?)", (data["id"],
                                                              json.dumps(data["config"])))


def _update(db: sqlite3.Connection, table: str, record_id: str, row: dict[str, Any]) -> None:
    sets = ",".join(f"{k}=?" for k in row)
    db.execute(f"UPDATE {table} SET {sets} WHERE id=?", [*row.values(), record_id])


def _record_applied(db: sqlite3.Connection, applied: Applied) -> None:
    refused = applied.refused
    if refused is not None:  # first: the local copy keeps what the user chose
        entry = _append(db, "update", refused.entity, refused.entity_id, refused.patch, 0)
        db.execute("UPDATE outbox SET state=?, message=?, problem=? WHERE id=?",
                   (REJECTED, refused.message, refused.problem, entry.id))
    db.executemany("UPDATE outbox SET state=?, sent=NULL, message=NULL WHERE id=?",
                   [(APPLIED, e) for e in applied.entry_ids])
    for entity, record_id, revision, data in applied.parts:
        if data is None:
            db.execute("DELETE FROM base WHERE id=? AND entity=?", (record_id, entity))
            if entity == "controller":
                db.execute("DELETE FROM base WHERE id=? AND entity='config'", (record_id,))
            continue
        text = json.dumps(data)  # once: the base and a configuration are the same text
        _put_base(db, entity, record_id, revision, data, text)
        if _pending(db, entity, record_id):
            _set_revision(db, entity, record_id, revision)
        else:
            _write_part(db, entity, record_id, revision, data, text)
        db.execute("DELETE FROM conflict WHERE entity=? AND id=?", (entity, record_id))


def _config_put(applied: Applied) -> bool:
    """A configuration the cloud took as it was sent (a campaign's thousands)."""
    return applied.refused is None and len(applied.parts) == 1 and (
        applied.parts[0][0] == "config" and applied.parts[0][3] is not None)


def _record_config_puts(db: sqlite3.Connection, puts: Sequence[Applied]) -> None:
    """`_record_applied` of many configuration puts of distinct controllers, one statement per
    table for all of them (per record, those six statements were half the client's share of
    pushing a campaign)."""
    if not puts:
        return
    db.executemany("UPDATE outbox SET state=?, sent=NULL, message=NULL WHERE id=?",
                   [(APPLIED, e) for one in puts for e in one.entry_ids])
    parts = [(rid, revision, json.dumps(data)) for one in puts
             for _, rid, revision, data in one.parts]
    db.executemany("INSERT INTO base VALUES ('config',?,?,?) ON CONFLICT(entity, id) DO UPDATE "
                   "SET revision=excluded.revision, data=excluded.data", parts)
    ids = [p[0] for p in parts]
    pending: set[str] = set()
    for chunk in _chunks(ids, 500):
        pending.update(r[0] for r in db.execute(
            f"SELECT DISTINCT entity_id FROM outbox WHERE entity_id IN "
            f"({','.join('?' * len(chunk))}) AND state != ? AND (entity='config' OR "
            "(entity='controller' AND op='create'))", (*chunk, APPLIED)))
    db.executemany("UPDATE controller_config SET config=? WHERE controller_id=?",
                   [(text, rid) for rid, _, text in parts if rid not in pending])
    db.executemany("UPDATE controller SET config_revision=? WHERE id=?",
                   [(revision, rid) for rid, revision, _ in parts])
    db.executemany("DELETE FROM conflict WHERE entity='config' AND id=?", [(i,) for i in ids])


def _put_base(db: sqlite3.Connection, entity: str, record_id: str, revision: int,
              data: dict, text: str | None = None) -> None:
    db.execute(_PUT_BASE, (entity, record_id, revision,
                           json.dumps(data) if text is None else text))


def _append(db: sqlite3.Connection, op: str, entity: str, entity_id: str,
            patch: dict[str, Any], base_revision: int,
            campaign_id: str | None = None) -> OutboxEntry:
    entry_id = new_id()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    cur = db.execute(
        "INSERT INTO outbox (id, created_at, op, entity, entity_id, patch, base_revision, "
        "campaign_id) VALUES (?,?,?,?,?,?,?,?)",
        (entry_id, created, op, entity, entity_id, json.dumps(patch), base_revision,
         campaign_id),
    )
    return OutboxEntry(cur.lastrowid or 0, entry_id, created, op, entity, entity_id, patch,
                       base_revision, QUEUED, None, None, campaign_id)


def _entry(r: sqlite3.Row) -> OutboxEntry:
    return OutboxEntry(r["seq"], r["id"], r["created_at"], r["op"], r["entity"], r["entity_id"],
                       json.loads(r["patch"]), r["base_revision"], r["state"], r["message"],
                       r["problem"], r["campaign_id"])


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if before.get(k) != v}
