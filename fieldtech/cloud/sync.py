"""The sync engine: the offline store's outbox up to the cloud, the cloud's change log down.

One `sync()`:
1. sends again, byte for byte, any batch item that was sent but never answered (a killed
   process, a dropped link) — its idempotency key makes the server apply it at most once;
2. pulls the change log after the stored cursor, fetching pages ahead while it writes, each
   store transaction the pages fetched by then with their cursor (pending local edits are
   rebased, never overwritten), then the single records the user asked back ("take theirs"
   on a record deleted here): a sync stopped at any point goes on from the last page
   written, never from the start;
3. pushes the queued outbox in order, in batches. Applied → new revision and base. Conflict
   (412) → three-way merge against the base: clean merges go back in the queue by themselves,
   overlapping fields become a conflict for the user. Rejected (quota, validation…) → kept,
   marked, with the server's reason; later edits of that record wait behind it;
4. refreshes plan usage when controllers came or went, and device states now and then.

Network trouble, 429 and 5xx are retried by `CloudAPI` with backoff; past that, the sync stops
with the outbox intact and says why. No textual here: the TUI runs this in a worker thread and
`fieldtech sync` runs it from cron.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fieldtech.cloud.api import BATCH_LIMIT, PAGE_LIMIT, CloudAPI
from fieldtech.domain.bulk import collector_paused
from fieldtech.domain.calendar import ACCOUNT_DEFAULT_TIMEZONE
from fieldtech.domain.errors import (
    CloudProblem,
    CloudUnavailable,
    NotACloud,
    NotSignedIn,
    WrongAccount,
)
from fieldtech.domain.merge import (
    MISSING,
    canonical_config,
    describe_path,
    flatten_config,
    merge_config,
    program_order,
    three_way,
    unflatten_config,
)
from fieldtech.domain.models import Account
from fieldtech.domain.plans import Tier, TierLimits
from fieldtech.offline_store.catalogue import adopt_default_catalogue, catalogue_namespace
from fieldtech.offline_store.store import (
    APPLIED,
    CONFLICT,
    DRAFT,
    QUEUED,
    REJECTED,
    Applied,
    OutboxEntry,
    Refused,
    Store,
    from_cloud,
)

# Changes written in one store transaction (or up to the page that reaches it): ~500
# controllers with their configurations, a median ~0.1 s holding the store (a page of 500
# changes: ~0.05 s; 2,000: ~0.14 s for 4 % less CPU), and pages fetched ahead of the writer.
WRITE_AT_ONCE = 1_000
PAGES_AHEAD = 4
STATUS_EVERY_S = 300.0  # device states: on the first sync, then at most this often
MAX_ROUNDS = 8  # push rounds per sync (a round sends what no earlier edit blocks)
# Items claimed at once: what a crash leaves to send again, and what is read and built before
# the first batch goes (10 batches; each claim reads only as far as it takes).
CLAIM_ITEMS = 2_000
QUOTA = "quota-exceeded"
STORE_FAILED = "store-failed"  # the cloud's database failed on an item: send it again later
ALREADY_EXISTS = "already-exists"  # a create whose id the account's cloud already holds
# Customer fields the batch API does not take: the plan changes through its own endpoints.
PLAN_FIELD = "plan"


@dataclass(frozen=True)
class Outstanding:
    """What waits in the store for a person, however many syncs ago it came up."""

    conflicts: int = 0  # records changed here and in the cloud: keep mine / take theirs
    rejected: int = 0  # records with an edit the cloud refused (retry, keep as draft, discard)
    needs_upgrade: int = 0  # of those, refused by the plan's quota
    drafts: int = 0  # records the user chose to keep as drafts (not sent until retried)

    @property
    def needs_a_person(self) -> bool:
        return bool(self.conflicts or self.rejected)

    def describe(self) -> str:
        parts = []
        if self.conflicts:
            parts.append(_count(self.conflicts, "conflict") + " waiting")
        if self.needs_upgrade:
            parts.append(f"{self.needs_upgrade} need{'s' if self.needs_upgrade == 1 else ''} "
                         "a plan upgrade")
        if self.rejected - self.needs_upgrade:
            parts.append(f"{self.rejected - self.needs_upgrade} rejected")
        if self.drafts:
            parts.append(f"{self.drafts} kept as draft{'s' if self.drafts > 1 else ''}")
        return ", ".join(parts)


def held_back(store: Store) -> dict[str, OutboxEntry]:
    """Queued edits that wait, by entry id, with the held edit (conflict, refused, draft) each
    waits for: an earlier held edit of its record, or of its controller's customer (a later
    held edit does not hold back an earlier one). The sync engine sends none of them; the
    pending screen says why."""
    first_held: dict[tuple[str, str], OutboxEntry] = {}
    for e in store.outbox([CONFLICT, REJECTED, DRAFT]):
        first_held.setdefault(_record_of(e), e)
    waiting: dict[str, OutboxEntry] = {}
    if not first_held:
        return waiting
    owners: dict[str, str | None] = {}  # controller or document id → its customer's id
    for e in store.outbox([QUEUED]):
        kind, rid = _record_of(e)
        holders = [first_held.get((kind, rid))]
        if kind in ("controller", "document"):
            if rid not in owners:
                # A controller deleted here has no record: its delete waits for nothing of
                # its customer's (the slot it frees may be what a refused create needs).
                owners[rid] = store.owner_of(kind, rid)
            holders.append(first_held.get(("customer", owners[rid] or "")))
        for holder in holders:
            if holder is not None and holder.seq < e.seq:
                waiting[e.id] = holder
                break
    return waiting


def _record_of(e: OutboxEntry) -> tuple[str, str]:
    """The record an edit belongs to: a configuration edit is its controller's."""
    return ("controller" if e.entity == "config" else e.entity, e.entity_id)


def outstanding(store: Store) -> Outstanding:
    """Conflicts, refusals and drafts held in the store, counted by record as a sync counts
    them (a controller's configuration conflicts on its own; a refusal is one per record)."""
    conflicts: set[tuple[str, str]] = set()
    rejected: dict[tuple[str, str], bool] = {}  # record → refused for quota
    drafts: set[tuple[str, str]] = set()
    for e in store.outbox([CONFLICT, REJECTED, DRAFT]):
        record = _record_of(e)
        if e.state == CONFLICT:
            conflicts.add((e.entity, e.entity_id))
        elif e.state == REJECTED:
            rejected[record] = rejected.get(record, False) or e.problem == QUOTA
        else:
            drafts.add(record)
    return Outstanding(len(conflicts), len(rejected), sum(rejected.values()), len(drafts))


@dataclass
class SyncReport:
    """What one sync did, and what still waits for a person, in the words `fieldtech sync`
    prints."""

    pulled: int = 0  # records changed here by the cloud's changes
    applied: int = 0  # local edits the cloud applied
    merged: int = 0  # local edits merged with the cloud's by themselves
    conflicts: int = 0  # records both sides changed, this sync: the user decides
    rejected: int = 0  # edits the cloud refused this sync (kept as drafts with the reason)
    needs_upgrade: int = 0  # of those, refused by the plan's quota
    waiting: int = 0  # edits still queued after the sync (held back, or the sync stopped)
    retry_later: int = 0  # items the cloud's database failed on, queued again for next time
    # Conflicts and refusals in the store after the sync, new or from earlier syncs: this
    # sync's own counters above only say what is new, which tells cron nothing the next time.
    outstanding: Outstanding = field(default_factory=Outstanding)
    error: str | None = None  # why the sync stopped early (outbox intact)
    signed_out: bool = False  # the cloud refused the token: log in again
    unreachable: bool = False  # the cloud could not be reached: try again later
    changed_ids: set[str] = field(default_factory=set)
    live: bool = False  # incidents, device states or commands came in (triage repaints)
    seconds: float = 0.0
    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def needs_attention(self) -> bool:
        return bool(self.error) or self.outstanding.needs_a_person

    def then(self, later: SyncReport) -> SyncReport:
        """This sync and `later`, run at once after it, as one: the counts of both, and what
        waits (and any stop) as `later` leaves it."""
        return replace(
            later, pulled=self.pulled + later.pulled, applied=self.applied + later.applied,
            merged=self.merged + later.merged, conflicts=self.conflicts + later.conflicts,
            rejected=self.rejected + later.rejected,
            needs_upgrade=self.needs_upgrade + later.needs_upgrade,
            changed_ids=self.changed_ids | later.changed_ids, live=self.live or later.live,
            seconds=self.seconds + later.seconds, requests=self.requests + later.requests,
            bytes_sent=self.bytes_sent + later.bytes_sent,
            bytes_received=self.bytes_received + later.bytes_received)

    def summary(self) -> str:
        """E.g. "3 applied, 2 updated from the cloud. 1 conflict waiting, 1 needs a plan
        upgrade" (no full stop at the end: callers go on with what they add)."""
        parts = [f"{self.applied} applied"]
        if self.merged:
            parts.append(f"{self.merged} merged")
        if self.pulled:
            parts.append(f"{self.pulled} updated from the cloud")
        text = ", ".join(parts)
        if held := self.outstanding.describe():
            text += f". {held}"
        if self.waiting:
            text += f". {self.waiting} still queued"
        return f"{text}. Stopped: {self.error}" if self.error else text


@dataclass(frozen=True)
class SyncProgress:
    """How far a sync has come, told after every page pulled and every batch pushed: a first
    sync of 10,000 controllers is ~50 pages, a minute or more on a phone hotspot."""

    phase: str  # "pull" (the cloud's changes) or "push" (our edits)
    records: int  # changes pulled, or edits sent, so far in this phase
    bytes: int  # on the wire both ways since the sync began (compressed when it was)
    more: bool  # the cloud said there are more pages after this one (pull)

    def describe(self) -> str:
        """"5,000 changes pulled, 1.2 MB…" (the dots: more pages to come)."""
        what = "changes pulled" if self.phase == "pull" else "edits sent"
        return f"{self.records:,} {what}, {_size(self.bytes)}{'…' if self.more else ''}"

    def size_text(self) -> str:
        """The short form for a narrow header: "1.2 MB"."""
        return _size(self.bytes)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} KB"


@dataclass
class _Item:
    """One batch item and the outbox entries it carries (several edits of one record are sent
    as one item: the record's current values)."""

    entries: list[OutboxEntry]
    body: dict[str, Any]
    plan: str | None = None  # a customer plan change, sent through its own endpoint after

    @property
    def key(self) -> str:
        return self.body["key"]


class _PagesAhead:
    """The change log's pages from `cursor` on, fetched one after another by a thread of their
    own, at most PAGES_AHEAD ahead of the writer. `take` waits for the next page, then adds
    the pages already here (up to `most` changes) as one page. A failed fetch is raised by the
    `take` after the pages fetched before it, so what came is written first."""

    def __init__(self, api: CloudAPI, cursor: int, page_size: int):
        self._api, self._cursor, self._page_size = api, cursor, page_size
        self._pages: queue.Queue[dict[str, Any] | BaseException] = queue.Queue(PAGES_AHEAD)
        self._held: dict[str, Any] | BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="fieldtech-pull", daemon=True)

    def __enter__(self) -> _PagesAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # a fetch under way ends by itself; nothing more is put
        self._thread.join()

    def _fetch(self) -> None:
        cursor, more = self._cursor, True
        while more and not self._stop.is_set():
            page: dict[str, Any] | BaseException
            try:
                page = self._api.changes(cursor, self._page_size)
                more = bool(page.get("more"))
                cursor = int(page["cursor"])
            except BaseException as exc:  # handed to the writer's thread, raised there
                page, more = exc, False
            while not self._stop.is_set():
                try:
                    self._pages.put(page, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def _next(self, wait: bool) -> dict[str, Any] | BaseException | None:
        if self._held is not None:
            page, self._held = self._held, None
            return page
        try:
            return self._pages.get(block=wait)
        except queue.Empty:
            return None

    def take(self, most: int) -> dict[str, Any]:
        page = self._next(wait=True)
        if isinstance(page, BaseException):
            raise page
        assert page is not None
        changes = page["changes"]
        while page.get("more") and len(changes) < most:
            later = self._next(wait=False)
            if later is None:
                break
            if isinstance(later, BaseException):
                self._held = later  # raised by the next take, after these are written
                break
            if changes is page["changes"]:
                changes = list(changes)
            changes += later["changes"]
            page = later
        return {**page, "changes": changes}


class SyncEngine:
    def __init__(
        self,
        store: Store,
        api: CloudAPI,
        *,
        batch_size: int = BATCH_LIMIT,
        page_size: int = PAGE_LIMIT,
        status_every_s: float = STATUS_EVERY_S,
        clock: Callable[[], float] = time.time,
        progress: Callable[[SyncProgress], None] | None = None,
        check_account: bool = True,
    ):
        self.store = store
        # Before anything is sent: is this the account the store's records came from? Once per
        # engine (CloudLink: once per sign-in), so an idle sync costs no extra request.
        self.check_account = check_account
        self.progress = progress
        self._wire_at_start = 0
        self.api = api
        self.batch_size = min(batch_size, BATCH_LIMIT)
        self.page_size = min(page_size, PAGE_LIMIT)
        self.status_every_s = status_every_s
        self.clock = clock

    # -- the whole round trip -----------------------------------------------------------------

    def sync(self) -> SyncReport:
        report = SyncReport()
        started = time.perf_counter()
        before = (self.api.requests, self.api.bytes_sent, self.api.bytes_received)
        self._wire_at_start = before[1] + before[2]
        # never asked this cloud, or asked by a version that kept no time zone
        usage_stale = None in (self.store.sync_value("usage_at"), self.store.sync_value("timezone"))
        try:
            if self.check_account:
                self._same_account()
                self.check_account = False
            if self.store.sync_value("account_id") is None:
                self._become_the_accounts()  # its usage is asked again once the push is in
            usage_stale |= self._resend(report)
            usage_stale |= self.pull(report)
            usage_stale |= self._refetch(report)
            usage_stale |= self.push(report)
            if usage_stale:
                self.refresh_account()
            self._maybe_refresh_status(report)
            self.store.set_sync_values(last_sync_at=_now(), last_error=None)
        except NotSignedIn as exc:
            report.error, report.signed_out = str(exc), True
        except CloudUnavailable as exc:
            report.error, report.unreachable = str(exc), True
        except (CloudProblem, WrongAccount) as exc:
            report.error = str(exc)
        if report.error:
            self.store.set_sync_values(last_error=report.error)
        report.waiting = len(self.store.outbox([QUEUED]))  # held back: sent next time
        report.outstanding = outstanding(self.store)
        report.seconds = time.perf_counter() - started
        report.requests = self.api.requests - before[0]
        report.bytes_sent = self.api.bytes_sent - before[1]
        report.bytes_received = self.api.bytes_received - before[2]
        return report

    # -- pull ---------------------------------------------------------------------------------

    def pull(self, report: SyncReport) -> bool:
        """The change log after our cursor, page by page. True if the account changed."""
        cursor = int(self.store.sync_value("cursor") or 0)
        account_changed = False
        pulled = 0
        # Pages are fetched ahead while earlier ones are written, and the pages waiting when the
        # store is free are written in one transaction: a first sync of 100,000 controllers is
        # 440 pages, and one commit a page wrote the same index pages again each time (4.7 GB
        # for an 0.9 GB store; 4.2 GB now).
        with _PagesAhead(self.api, cursor, self.page_size) as pages, self.store.large_writes():
            while True:
                page = pages.take(WRITE_AT_ONCE)
                account_changed |= self._apply_page(page, cursor, report)
                cursor = int(page["cursor"])
                pulled += len(page["changes"])
                if page.get("more") or pulled:
                    self._tell("pull", pulled, bool(page.get("more")))
                if not page.get("more"):
                    return account_changed

    def _apply_page(self, page: dict[str, Any], cursor: int, report: SyncReport) -> bool:
        """One page into the store. True if usage may have changed (account, controllers)."""
        changes = page.get("changes") or []
        if not changes and page["cursor"] == cursor:
            return False  # idle: nothing to write
        result = self.store.apply_changes(changes, int(page["cursor"]))
        report.pulled += len(result.changed - report.changed_ids)
        report.changed_ids |= result.changed
        report.live |= result.live_changed
        # a controller coming or going changes the usage figures
        return result.account_changed or any(
            c["entity"] == "controller"
            and (c["op"] == "delete" or (c.get("data") or {}).get("revision") == 1)
            for c in changes)

    def _refetch(self, report: SyncReport) -> bool:
        """Records to read again from the cloud, one by one: "take theirs" on a record deleted
        here brings back that record (and a controller's configuration), not the account.
        True if a controller came back (usage)."""
        controllers = False
        for entity, record_id in self.store.refetch_wanted():
            changes = []
            for part in ("customer",) if entity == "customer" else ("controller", "config"):
                data = self.api.record(part, record_id)
                changes.append({"entity": part, "id": record_id, "op": "delete" if data is None
                                else "upsert", "data": data})
                if data is None:
                    break  # gone from the cloud since: gone here too
            cursor = int(self.store.sync_value("cursor") or 0)
            result = self.store.apply_changes(changes, cursor)
            report.pulled += len(result.changed - report.changed_ids)
            report.changed_ids |= result.changed
            controllers |= entity == "controller"
            self.store.forget_refetch(entity, record_id)
        return controllers

    def _tell(self, phase: str, records: int, more: bool = False) -> None:
        if self.progress is not None:
            wire = self.api.bytes_sent + self.api.bytes_received - self._wire_at_start
            self.progress(SyncProgress(phase, records, wire, more))

    # -- push ---------------------------------------------------------------------------------

    def push(self, report: SyncReport) -> bool:
        """Queued edits up, in order. True if controllers were created or deleted (usage).

        An edit merged after a 412 is queued again on the cloud's new revision and goes in the
        next round of this same sync; MAX_ROUNDS bounds a record that keeps changing under us."""
        usage_changed = False
        sent = 0
        rounds = 0
        with ThreadPoolExecutor(1, thread_name_prefix="fieldtech-push") as sender:
            while rounds < MAX_ROUNDS:
                items, full = self._claim()
                if not items:
                    break
                # A claim cut at CLAIM_ITEMS is not a round: a campaign of 10,000 edits is
                # sent whole by one sync, however few rounds are left for merges.
                rounds += not full
                usage_changed |= self._send(items, sender, report, sent)
                sent += sum(len(i.entries) for i in items)
                if report.retry_later:  # the cloud's database is in trouble: not again now
                    break
        return usage_changed

    def _send(self, items: list[_Item], sender: ThreadPoolExecutor, report: SyncReport,
              sent: int) -> bool:
        """One claim's items, batch after batch; the next batch is on its way while this one's
        answers are written (the cloud and the local store work at the same time). Batches
        still reach the cloud one after the other, in order. True if usage may have changed."""
        usage_changed = False
        chunks = [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        upcoming = sender.submit(self.api.batch, [_wire(i.body) for i in chunks[0]])
        for n, chunk in enumerate(chunks):
            results = upcoming.result()
            following = chunks[n + 1] if n + 1 < len(chunks) else None
            # A plan change is sent on its own while its item is settled: not beside a batch.
            early = following is not None and all(i.plan is None for i in chunk)
            if early:
                upcoming = sender.submit(self.api.batch, [_wire(i.body) for i in following])
            usage_changed |= self._settle_all(chunk, results, report)
            if following is not None and not early:
                upcoming = sender.submit(self.api.batch, [_wire(i.body) for i in following])
            sent += sum(len(i.entries) for i in chunk)
            self._tell("push", sent)  # edits sent so far in this push
        return usage_changed

    def _resend(self, report: SyncReport) -> bool:
        """Items sent before but never answered go again exactly as they were."""
        by_key: dict[str, _Item] = {}
        for entry, body in self.store.sending():
            if not body:  # sent by an older version that kept no copy: build it again
                self.store.set_entries([entry.id], QUEUED)
                continue
            item = by_key.setdefault(body["key"], _Item([], body))
            item.entries.append(entry)
        usage_changed = False
        items = list(by_key.values())
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            results = self.api.batch([_wire(i.body) for i in chunk])
            usage_changed |= self._settle_all(chunk, results, report)
        return usage_changed

    def _claim(self) -> tuple[list[_Item], bool]:
        """The queued edits no earlier edit holds back, as batch items, marked as sending;
        and whether the claim stopped at CLAIM_ITEMS with more queued behind."""
        with self.store.locked(), collector_paused():  # up to 2,000 records read and built
            waiting = held_back(self.store)
            items: list[_Item] = []
            open_items: dict[tuple[str, str], _Item] = {}  # (entity, id) → item still growing
            creating: set[tuple[str, str]] = set()
            held: set[tuple[str, str]] = set()  # records with an item this round that closed
            full = False
            for entry in self.store.outbox_pages([QUEUED]):
                record = _record_of(entry)
                group = (entry.entity, entry.entity_id)
                if entry.id in waiting or group in held:
                    continue
                if entry.op == "update" and record in creating:
                    open_items[("controller" if entry.entity == "config" else entry.entity,
                                entry.entity_id)].entries.append(entry)
                    continue
                if entry.op == "update" and group in open_items:
                    open_items[group].entries.append(entry)
                    continue
                if group in open_items or (entry.op == "delete" and record in creating):
                    held.add(group)  # a delete after an edit: next round, once that is in
                    continue
                item = _Item([entry], {})
                items.append(item)
                if entry.op == "delete":
                    held.add(group)
                else:
                    open_items[group] = item
                if entry.op == "create":
                    creating.add(record)
                if len(items) >= CLAIM_ITEMS:
                    full = True
                    break
            # Controller deletes first: the slot and serial each frees may be what a create or
            # a bind earlier in the queue was refused for (the cloud applies items in order).
            items.sort(key=lambda i: (i.entries[0].op, i.entries[0].entity)
                       != ("delete", "controller"))
            claims = []
            for item in items:
                self._build(item)
                if item.body:
                    claims.append(([e.id for e in item.entries], item.body))
            self.store.claim(claims)
        return [i for i in items if i.body], full

    def _build(self, item: _Item) -> None:
        """The batch item for these entries, from the record's values now."""
        first = item.entries[0]
        keys = [e.id for e in item.entries]
        key = keys[0] if len(keys) == 1 else "m-" + hashlib.sha256(
            "|".join(keys).encode()).hexdigest()[:40]
        rid = first.entity_id
        body: dict[str, Any] = {"key": key, "id": rid}
        if first.op == "delete":
            body |= {"op": f"{first.entity}.delete", "base_revision": first.base_revision}
        elif first.entity == "customer":
            part = self.store.record_data("customer", rid)
            if part is None:
                return self._gone(keys)
            revision, data = part
            fields = set(data) if first.op == "create" else set().union(
                *(e.patch for e in item.entries))
            if PLAN_FIELD in fields and (first.op == "update" or data[PLAN_FIELD] != "home"):
                item.plan = data[PLAN_FIELD]
            send = {k: data[k] for k in fields if k not in (PLAN_FIELD, "id")}
            if first.op == "create":
                body |= {"op": "customer.create", "data": {**send, "id": rid}}
            else:
                body |= {"op": "customer.update", "base_revision": revision, "data": send}
        elif first.entity == "document":
            part = self.store.record_data("document", rid)
            if part is None:
                return self._gone(keys)
            revision, data = part
            if first.op == "create":
                kind = self.store.document(rid).kind
                body |= {"op": "document.create", "data": {"kind": kind, "data": data}}
            else:  # the fields these edits set, as they are now (absent: removed → None)
                fields = set().union(*(e.patch for e in item.entries))
                body |= {"op": "document.update", "base_revision": revision,
                         "data": {"data": {k: data.get(k) for k in sorted(fields)}}}
        elif first.entity == "controller" and first.op == "create":
            record = self.store.record_data("controller", rid)
            config = self.store.record_data("config", rid)
            if record is None or config is None:
                return self._gone(keys)
            body |= {"op": "controller.create", "data": {**record[1], "config": config[1]}}
        elif first.entity == "controller":
            part = self.store.record_data("controller", rid)
            if part is None:
                return self._gone(keys)
            revision, data = part
            fields = set().union(*(e.patch for e in item.entries)) - {"id"}
            body |= {"op": "controller.update", "base_revision": revision,
                     "data": {k: data[k] for k in fields}}
        else:  # config
            part = self.store.record_data("config", rid)
            if part is None:
                return self._gone(keys)
            body |= {"op": "config.put", "base_revision": part[0], "data": part[1]}
        if item.plan is not None:
            body["plan"] = item.plan  # kept with the item so a resend knows it too
        item.body = body

    def _gone(self, keys: list[str]) -> None:
        """The record was deleted here since the edit: nothing left to send for it."""
        self.store.set_entries(keys, APPLIED, "The record is no longer here.")

    def _settle_all(self, chunk: list[_Item], results: list[dict[str, Any]],
                    report: SyncReport) -> bool:
        """Record a batch's outcomes, every applied item in one store transaction. True if
        usage may have changed."""
        applied: list[Applied] = []
        usage_changed = False
        for item, result in zip(chunk, results, strict=True):
            usage_changed |= self._settle(item, result, report, applied)
        self.store.record_applied_many(applied)
        return usage_changed

    def _settle(self, item: _Item, result: dict[str, Any], report: SyncReport,
                applied: list[Applied]) -> bool:
        """Record one item's outcome (applied: added to `applied`, written by the caller).
        True if usage may have changed."""
        body = dict(item.body)
        plan = body.pop("plan", None)
        op, rid = body["op"], body["id"]
        ids = [e.id for e in item.entries]
        status = result.get("status")
        if status == "applied":
            record = result.get("record") or {}
            parts: list[tuple[str, str, int, dict[str, Any] | None]]
            if op.endswith(".delete"):
                parts = [(op.split(".")[0], rid, 0, None)]
            elif op == "config.put":
                parts = [("config", rid, int(result["revision"]), record.get("config"))]
            elif op == "controller.create":
                parts = [("controller", rid, *from_cloud("controller", record)),
                         ("config", rid, int(record.get("config_revision") or 1),
                          body["data"]["config"])]
            else:
                entity = op.split(".")[0]
                parts = [(entity, rid, *from_cloud(entity, record))]
            refused = self._set_plan(rid, plan, report) if (
                plan is not None and op.startswith("customer.")) else None
            applied.append(Applied(ids, parts, refused))
            report.applied += len(ids)
            report.changed_ids.add(rid)
            return op in ("controller.create", "controller.delete")
        problem = result.get("problem") or {}
        if status == "conflict":
            self._conflict(item, op, rid, problem, report)
            return False
        slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
        message = _reason(problem)
        if op.endswith(".delete") and slug == "not-found":  # gone already: what we wanted
            applied.append(Applied(ids, [(op.split(".")[0], rid, 0, None)]))
            report.applied += len(ids)
            return True
        if op == "document.create" and slug == ALREADY_EXISTS:
            if (same := self._made_alike(rid)) is not None:
                applied.append(Applied(ids, [("document", rid, *same)]))
                report.applied += len(ids)
            else:
                self._made_elsewhere(ids, rid, report)
            return False
        if slug == STORE_FAILED:  # the cloud's trouble, not the edit's: no person needed
            self.store.set_entries(ids, QUEUED, f"{message} Sent again with the next sync.")
            report.retry_later += 1
            return False
        self.store.set_entries(ids, REJECTED, message, slug or None)
        report.rejected += 1  # one record refused, however many edits it carried
        report.needs_upgrade += slug == QUOTA
        return slug == QUOTA

    def _made_alike(self, rid: str) -> tuple[int, dict[str, Any]] | None:
        """A document made here with an id the cloud already has, made alike on another
        client (ids chosen from another record's: a work order's time entry, a default tier):
        the cloud's copy, pulled before this push, if it is the same as ours — then ours is in.
        """
        base, mine = self.store.base("document", rid), self.store.record_data("document", rid)
        return base if base is not None and mine is not None and base[1] == mine[1] else None

    def _made_elsewhere(self, ids: list[str], rid: str, report: SyncReport) -> None:
        """A document made here with an id the cloud already has, made otherwise on another
        client (a work order closed on two clients offline, with different minutes): ours
        becomes an edit of the cloud's copy, and as neither was made from the other, every
        field they set differently is the user's to decide (keep mine / take theirs) — never
        a refusal. (The pull left the cloud's copy out: it did not merge with ours.)"""
        cloud = self.api.record("document", rid)
        mine = self.store.record_data("document", rid)
        if cloud is None or mine is None:  # gone from the cloud, or from here, since
            self.store.set_entries(ids, QUEUED, "Sent again with the next sync.")
            return
        revision, theirs = from_cloud("document", cloud)
        merge = three_way(None, theirs, mine[1])
        fields = ", ".join(describe_path(f) for f in merge.conflicts)
        with self.store.transaction():
            ids = self.store.made_elsewhere(ids, "document", rid, revision, theirs)
            if not merge.conflicts:  # made alike (or apart only where one side is silent)
                self.store.rebase("document", rid, revision, theirs, merge.merged, ids)
                report.merged += 1
                return
            self.store.record_conflict(ids, "document", rid, revision, theirs, merge.conflicts,
                                       f"Made here and on another client, with different "
                                       f"{fields}.", merge.merged)
        report.conflicts += 1

    def _conflict(self, item: _Item, op: str, rid: str, problem: dict[str, Any],
                  report: SyncReport) -> None:
        """A 412: merge against the base. Clean → queued again (sent in the next round of this
        sync); else the user decides."""
        ids = [e.id for e in item.entries]
        current = problem.get("current") or {}
        entity = "config" if op == "config.put" else op.split(".")[0]
        if op.endswith(".delete"):
            revision = int(current.get("revision") or 0)
            self.store.record_conflict(ids, entity, rid, revision, current, ("deleted",),
                                       "Deleted here, but changed in the cloud since.")
            report.conflicts += 1
            return
        mine_part = self.store.record_data(entity, rid)
        if mine_part is None:
            self.store.set_entries(ids, APPLIED, "The record is no longer here.")
            return
        base = self.store.base(entity, rid)
        if entity == "config":
            revision, theirs = int(current["revision"]), current["config"]
            merge = merge_config(base[1] if base else None, theirs, mine_part[1])
        else:
            revision = int(current["revision"])
            theirs = (from_cloud(entity, current)[1] if entity == "document"
                      else {k: current.get(k) for k in mine_part[1]})
            merge = three_way(base[1] if base else None, theirs, mine_part[1])
        if merge.clean:
            self.store.rebase(entity, rid, revision, theirs, merge.merged, ids)
            report.merged += len(ids)
            return
        if self._membership_followed(item, entity, rid, merge.conflicts):
            # The cloud sets a membership from the agreements it holds, as this store does:
            # two agreements signed here between syncs made the cloud move it twice, and our
            # edits, stale after the first, are not the person's to decide. Theirs is the base
            # now; what the agreements give here stays until the cloud's next change is pulled.
            self.store.rebase(entity, rid, revision, theirs, mine_part[1])
            self.store.set_entries(ids, APPLIED, "Set by the cloud from the agreements.")
            report.merged += len(ids)
            return
        fields = ", ".join(describe_path(f) for f in merge.conflicts)
        self.store.record_conflict(ids, entity, rid, revision, theirs, merge.conflicts,
                                   f"Changed here and in the cloud: {fields}.", merge.merged)
        report.conflicts += 1

    def _membership_followed(self, item: _Item, entity: str, rid: str,
                             conflicts: tuple[str, ...]) -> bool:
        """A customer's membership edits only, in conflict on the membership only, for a
        customer whose agreements here give one: the rule's, not the person's."""
        return (entity == "customer" and set(conflicts) == {"membership"}
                and all(e.patch.keys() == {"membership"} for e in item.entries)
                and self.store.membership_given(rid) is not None)

    def _set_plan(self, customer_id: str, plan: str, report: SyncReport) -> Refused | None:
        """The customer's plan as edited here. If the cloud refuses it, the record still went
        in: the plan change is kept as an edit of its own, refused with the reason, which a
        retry (after an upgrade, say) sends alone."""
        try:
            self.api.set_customer_plan(customer_id, plan)
        except CloudProblem as exc:
            if exc.slug != "already-enthusiast":
                report.rejected += 1
                report.needs_upgrade += exc.slug == QUOTA
                return Refused("customer", customer_id, {PLAN_FIELD: plan},
                               f"Plan not changed: {exc}", exc.slug)
        return None

    # -- account and device states --------------------------------------------------------------

    def _same_account(self) -> None:
        """Raise WrongAccount if the store has synced with another account than this token's.
        A store that never synced becomes this account's (local-only work, then a sign-in)."""
        ours = self.store.sync_value("account_id")
        if ours is None:
            return
        theirs = self.api.account()
        their_id = theirs.get("id") if isinstance(theirs, dict) else None
        if not isinstance(their_id, str):
            raise NotACloud(self.api.base_url, "its account has no id")
        if their_id != ours:
            known = self.store.account()
            name = known.name if known is not None and known.id == ours else ours
            raise WrongAccount(f"“{name}”", f"“{theirs.get('name') or their_id}”")

    def _become_the_accounts(self) -> None:
        """A store's first sync with an account, before anything is sent: it learns the
        account, and the default catalogue made here under its local account's ids takes the
        account's (another device of the account made the same records). One transaction: a
        sync killed halfway (or a second process) finds the store still unlinked and does it."""
        known = self._ask_account()
        with self.store.transaction():
            local = catalogue_namespace(self.store)
            self._keep_account(*known)
            if known[0].id != local:
                adopt_default_catalogue(self.store, local, known[0].id)

    def refresh_account(self) -> None:
        self._keep_account(*self._ask_account())

    def _ask_account(self) -> tuple[Account, tuple[int, int], str]:
        """The account as the cloud holds it: its plan, usage and time zone."""
        a = self.api.account()
        try:
            u = a["usage"]
            tier = Tier(a["tier"])
            custom = None
            if tier is Tier.PLATINUM:
                custom = TierLimits(controllers=u["controllers_limit"],
                                    staff_users=u["staff_limit"],
                                    included_enthusiast=u["enthusiast_included"])
            account = Account(id=a["id"], name=a["name"], tier=tier, custom_limits=custom)
            used = int(u["controllers_used"]), int(u["enthusiast_used"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NotACloud(self.api.base_url, f"its account has no {exc}") from None
        # The contractor's calendar (fieldtech.domain.calendar); an older cloud keeps UTC.
        timezone = a.get("timezone")
        return account, used, timezone if isinstance(timezone, str) else ACCOUNT_DEFAULT_TIMEZONE

    def _keep_account(self, account: Account, used: tuple[int, int], timezone: str) -> None:
        self.store.set_account(account, controllers_used=used[0], enthusiast_used=used[1])
        self.store.set_sync_values(account_id=account.id, usage_at=_now(), timezone=timezone)

    def _maybe_refresh_status(self, report: SyncReport) -> None:
        last = float(self.store.sync_value("status_at") or 0)
        if self.clock() - last < self.status_every_s:
            return
        try:
            rows = self.api.fleet_status().get("controllers") or []
            states = [(r["controller_id"], r["state"], r.get("last_contact")) for r in rows]
        except (AttributeError, KeyError, TypeError) as exc:
            raise NotACloud(self.api.base_url, f"its controller states have no {exc}") from None
        changed = self.store.apply_status(states)
        if changed:
            report.changed_ids |= {r["controller_id"] for r in rows}
        self.store.set_sync_values(status_at=str(self.clock()))


def _wire(body: dict[str, Any]) -> dict[str, Any]:
    """The item as the batch API takes it (our own notes about it stay here)."""
    return {k: v for k, v in body.items() if k != "plan"}


def _reason(problem: dict[str, Any]) -> str:
    detail = problem.get("detail") or problem.get("title") or "Refused by the cloud."
    errors = "; ".join(f"{e.get('field')}: {e.get('message')}"
                       for e in problem.get("errors") or [] if isinstance(e, dict))
    fix = problem.get("fix")
    return " ".join(p for p in (detail, errors and f"({errors})", fix) if p)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("s" if n != 1 else "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- what the user decides on the pending-changes screen ------------------------------------------


def resolve_conflict(store: Store, entity: str, record_id: str, take_theirs: set[str]) -> None:
    """Settle a conflict field by field: the fields in `take_theirs` get the cloud's value, the
    other conflicting fields keep mine; fields only one side changed merge as usual. What is
    left to send goes back in the queue on the cloud's revision."""
    conflict = store.conflict(entity, record_id)
    if conflict is None:
        return
    ids = [e.id for e in store.outbox([CONFLICT])
           if e.entity == entity and e.entity_id == record_id]
    if conflict.fields == ("deleted",):
        if "deleted" in take_theirs:  # keep the cloud's record: the next sync reads it again
            store.want_refetch(entity, record_id)
            for entry_id in ids:
                store.discard(entry_id)
        else:
            store.requeue_delete(ids, conflict.revision)
        store.clear_conflict(entity, record_id)
        return
    mine_part = store.record_data(entity, record_id)
    if mine_part is None:
        store.clear_conflict(entity, record_id)
        return
    base = store.base(entity, record_id)
    if entity == "config":
        flat = [flatten_config(canonical_config(x)) if x is not None else None
                for x in (base[1] if base else None, conflict.theirs, mine_part[1])]
        merge = three_way(*flat)
        chosen = {**merge.merged, **{f: flat[1].get(f) for f in take_theirs if f in flat[1]}}
        merged = unflatten_config({k: v for k, v in chosen.items() if v is not MISSING},
                                  program_order(mine_part[1], conflict.theirs))
        same = canonical_config(merged) == canonical_config(conflict.theirs)
    else:
        merge = three_way(base[1] if base else None, conflict.theirs, mine_part[1])
        merged = {**merge.merged, **{f: conflict.theirs[f] for f in take_theirs
                                     if f in conflict.theirs}}
        same = merged == conflict.theirs
    store.rebase(entity, record_id, conflict.revision, conflict.theirs, merged, ids)
    if same:  # nothing of mine is left to send
        store.set_entries(ids, APPLIED, "Kept the cloud's version.")
