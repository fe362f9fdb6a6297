"""Work orders for every front end (no textual): make one from a checklist, tick, record
findings with a quote, attach zone tests, log time, set the status; a technician's day in
route order. Every change is one edit of the synced document (EditService), so it is queued,
pushed and merged like any record, offline too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from fieldtech.domain.contracts import WorkKind
from fieldtech.domain.documents import Document
from fieldtech.domain.errors import FieldError, NotFound, ValidationError
from fieldtech.domain.text import city_of, natural_key
from fieldtech.domain.work_orders import (
    KIND,
    OPEN_STATUSES,
    QUOTE_STATES,
    STATUSES,
    Checklist,
    new_work_order,
)
from fieldtech.services.contracts import log_time
from fieldtech.services.edits import Edit, EditService

if TYPE_CHECKING:  # httpx stays out of the screens that only plan visits
    from fieldtech.cloud.sync import SyncReport


@dataclass(frozen=True)
class Visit:
    """One work order with what a technician's day shows of its customer."""

    order: Document
    customer_name: str
    address: str
    city: str

    @property
    def data(self) -> dict[str, Any]:
        return self.order.data

    @property
    def ticked(self) -> tuple[int, int]:
        items = self.data.get("checklist", [])
        return sum(bool(i.get("done")) for i in items), len(items)


def time_entry_id(order_id: str) -> str:
    """The id of a work order's time entry: the same on every client."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fieldtech:work-order-time:{order_id}"))


class WorkOrderService:
    def __init__(self, edits: EditService):
        self.edits = edits
        self.store = edits.store

    def create(self, customer_id: str, checklist: Checklist, day: date, technician: str,
               controller_ids: list[str] | None = None) -> Edit:
        if controller_ids is None:
            controller_ids = [r.controller_id for r in self.store.fleet_rows()
                              if r.customer_id == customer_id and r.controller_id]
        return self.edits.create_document(KIND, new_work_order(
            customer_id, checklist, day, technician.strip(), controller_ids))

    def day(self, day: date | None = None, technician: str | None = None) -> list[Visit]:
        """The visits of `day` (every day: None) for `technician` (everyone: None or ""), in
        route order: by city, then address — the order a crew drives them."""
        visits = []
        customers = {c.id: c for c in self.store.customers()}
        for order in self.store.documents(KIND):
            d = order.data
            if day is not None and d.get("date") != day.isoformat():
                continue
            if technician and str(d.get("technician", "")).casefold() != technician.casefold():
                continue
            k = customers.get(str(d.get("customer_id")))
            address = k.address if k else ""
            visits.append(Visit(order, k.name if k else "customer not here", address,
                                city_of(address)))
        return sorted(visits, key=lambda v: (v.data.get("date", ""), natural_key(v.city),
                                             natural_key(v.address), v.order.id))

    # -- changes, each one edit of the document as stored now ----------------------------------

    def tick(self, order_id: str, index: int) -> Edit:
        def change(doc: Document) -> dict[str, Any]:
            items = [dict(i) for i in doc.data.get("checklist", [])]
            if not 0 <= index < len(items):
                raise ValidationError([FieldError("checklist", "No such item.")])
            items[index]["done"] = not items[index].get("done", False)
            return {"checklist": items}
        return self.edits.edit_document(order_id, "Checklist", change)

    def add_finding(self, order_id: str, text: str, quote_cents: int = 0) -> Edit:
        finding = {"text": text.strip(), "quote_cents": quote_cents,
                   "quote": "pending" if quote_cents else "none"}
        return self.edits.edit_document(order_id, "Finding", lambda doc: {
            "findings": [*doc.data.get("findings", []), finding]})

    def set_quote(self, order_id: str, index: int, state: str) -> Edit:
        if state not in QUOTE_STATES:
            raise ValidationError([FieldError("quote", "One of " + ", ".join(QUOTE_STATES))])

        def change(doc: Document) -> dict[str, Any]:
            findings = [dict(f) for f in doc.data.get("findings", [])]
            if not 0 <= index < len(findings):
                raise ValidationError([FieldError("findings", "No such finding.")])
            findings[index]["quote"] = state
            return {"findings": findings}
        return self.edits.edit_document(order_id, f"Quote {state}", change)

    def attach_zone_tests(self, order_id: str, controller_id: str,
                          results: list[tuple[int, bool, str]]) -> Edit:
        """The on-site screen's zone-test results (zone, ok, note) for one controller."""
        tests = [{"controller_id": controller_id, "zone": z, "ok": ok, "note": note}
                 for z, ok, note in results]
        return self.edits.edit_document(order_id, "Zone tests", lambda doc: {
            "zone_tests": [t for t in doc.data.get("zone_tests", [])
                           if t.get("controller_id") != controller_id] + tests})

    def open_visit(self, controller_id: str, day: date) -> Visit | None:
        """The open work order (scheduled or in progress) of `day` for this controller's
        customer — the first in route order —, or None."""
        customer_id = self.store.owner_of("controller", controller_id)
        if customer_id is None:
            return None
        for visit in self.day(day):
            if (visit.data.get("customer_id") == customer_id
                    and visit.data.get("status") in OPEN_STATUSES):
                return visit
        return None

    def attach_site_test(self, controller_id: str, day: date,
                         results: list[tuple[int, bool, str]]) -> Visit | None:
        """A zone test run on site: its results go to the open work order of `day` for the
        controller's customer, if there is one (→ that visit), replacing an earlier test of
        the same controller there."""
        if not results or (visit := self.open_visit(controller_id, day)) is None:
            return None
        self.attach_zone_tests(visit.order.id, controller_id, results)
        return visit

    def add_minutes(self, order_id: str, minutes: int) -> Edit:
        return self.edits.edit_document(order_id, "Time", lambda doc: {
            "minutes": int(doc.data.get("minutes", 0)) + minutes})

    def set_status(self, order_id: str, status: str) -> Edit:
        """A closed order ("done") books its time as the customer's time entry."""
        if status not in STATUSES:
            raise ValidationError([FieldError("status", "One of " + ", ".join(STATUSES))])
        with self.store.transaction():  # the close and its time entry: both, or neither
            edit = self.edits.edit_document(order_id, f"Status {status}",
                                            lambda doc: {"status": status})
            booked = self.book_time(order_id) if status == "done" else None
        if booked is not None:
            minutes = int(self.store.document(order_id).data.get("minutes", 0))
            what = (f"{minutes // 60} h {minutes % 60:02d} booked as the customer's time entry"
                    if minutes else "its time entry removed (no time spent)")
            return replace(edit, summary=f"{edit.summary} · {what}",
                           queued=edit.queued or booked.queued)
        return edit

    def settle_after_sync(self, report: SyncReport) -> int:
        """What a sync's merge decides for the person (`follow_orders`), after a sync that met
        conflicts; those settled are no longer counted in `report.conflicts`. → how many
        (their edits are queued: the caller sends them at once, every front end alike)."""
        settled = self.follow_orders() if report.conflicts else 0
        # Earlier syncs' conflicts may be among them: this sync's count never goes below 0.
        report.conflicts = max(0, report.conflicts - settled)
        return settled

    def follow_orders(self) -> int:
        """Time entries in conflict because two clients closed their order offline with
        different minutes: each takes its order's minutes as the sync merged them (a person
        expects the booked time to be the order's). Left to the person when the order's own
        minutes are in conflict too, or the entry differs in more than its minutes. → how
        many were settled (their edits are queued for the next sync)."""
        from fieldtech.cloud.sync import resolve_conflict  # (httpx: not for every screen)

        conflicts = {c.id: c for c in self.store.conflicts() if c.entity == "document"}
        settled = 0
        for order in self.store.documents(KIND) if conflicts else []:
            conflict = conflicts.get(time_entry_id(order.id))
            minutes = int(order.data.get("minutes", 0))
            if (conflict is None or conflict.fields != ("minutes",) or minutes <= 0
                    or "minutes" in getattr(conflicts.get(order.id), "fields", ())
                    or self.store.record_data("document", conflict.id) is None):
                continue  # (an entry deleted here since: the person's to settle)
            take = {"minutes"} if conflict.theirs.get("minutes") == minutes else set()
            with self.store.transaction():
                resolve_conflict(self.store, "document", conflict.id, take)
                if self.store.document(conflict.id).data.get("minutes") != minutes:
                    self.edits.update_document(conflict.id, {"minutes": minutes})
            settled += 1
        return settled

    def book_time(self, order_id: str) -> Edit | None:
        """The order's minutes as ONE time entry of its customer (issue 15's, billed by its
        agreement as a visit): made at the first close, brought up to date at a later one,
        removed if the minutes went back to 0. Its id comes from the order's, so closing
        again — here, or on another client before or after a sync — never makes a second
        entry. → the edit, or None if there was nothing to change."""
        order = self.store.document(order_id).data
        minutes = int(order.get("minutes", 0))
        entry_id = time_entry_id(order_id)
        try:
            entry = self.store.document(entry_id)
        except NotFound:
            entry = None
        if entry is None:
            if minutes <= 0:
                return None
            return log_time(self.edits, str(order["customer_id"]),
                            minutes, WorkKind.VISIT, date.fromisoformat(str(order["date"])),
                            who=str(order.get("technician", "")),
                            note=f"Work order: {order.get('visit', '')}", entry_id=entry_id)
        if minutes <= 0:
            return self.edits.delete_document(entry_id)
        if entry.data.get("minutes") == minutes:
            return None
        return self.edits.update_document(entry_id, {"minutes": minutes})
