"""Synced documents through the whole path: a real SQLite store, the outbox, the sync engine and
the reference server on 127.0.0.1 — created offline, pushed, pulled by a second client, merged
field by field on a 412, conflicts settled by the user, deletes and their undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fieldtech.cloud.sync import SyncEngine, resolve_conflict
from fieldtech.domain.documents import DocumentKind, register
from fieldtech.domain.errors import FieldError, NotFound, StillNeeded, ValidationError
from fieldtech.domain.models import Customer, new_id
from fieldtech.domain.plans import Tier
from fieldtech.domain.validation import check_int, check_name
from fieldtech.offline_store.store import CONFLICT, REJECTED, Store
from fieldtech.services.edits import EditService


def _visit_errors(data: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    check_name(errors, "title", data.get("title"), "visit")
    check_int(errors, "minutes", data.get("minutes"), 0, 600, " min")
    if not data.get("customer_id"):
        errors.append(FieldError("customer_id", "Choose the customer."))
    return errors


VISIT = register(DocumentKind("test_visit", _visit_errors, customer_field="customer_id"))


def _clients(seeded, tmp_path: Path):
    account = seeded(3, 3, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    eb.sync()
    return account, a, b, ea, eb, a.customers()[0].id


def _visit(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"title": "Spring start-up", "minutes": 45, "customer_id": customer_id, **fields}


def test_a_document_made_offline_reaches_the_cloud_and_another_client(seeded, tmp_path) -> None:
    account, a, b, ea, eb, customer = _clients(seeded, tmp_path)
    edit = EditService(a).create_document("test_visit", _visit(customer, note="gate 9911"))
    assert edit.changed and a.pending_count() == 1
    assert a.document(edit.record_id).revision == 0  # never synced

    report = ea.sync()
    assert report.error is None and report.applied == 1 and a.pending_count() == 0
    remote = account.get(f"/v1/documents/{edit.record_id}")
    assert remote["kind"] == "test_visit" and remote["customer_id"] == customer
    assert remote["data"]["note"] == "gate 9911" and remote["revision"] == 1
    assert a.document(edit.record_id).revision == 1

    assert eb.sync().pulled == 1
    theirs = b.document(edit.record_id)
    assert theirs.data == _visit(customer, note="gate 9911") and theirs.revision == 1
    assert [d.id for d in b.documents("test_visit", customer)] == [edit.record_id]
    assert b.documents("test_visit", "someone else") == []

    # a field set to None is removed, here and in the cloud alike
    EditService(b).update_document(edit.record_id, {"note": None, "minutes": 50})
    eb.sync()
    assert account.get(f"/v1/documents/{edit.record_id}")["data"] == _visit(customer, minutes=50)
    ea.sync()
    assert a.document(edit.record_id).data == _visit(customer, minutes=50)


def test_edits_of_different_fields_merge_and_the_same_field_asks(seeded, tmp_path) -> None:
    account, a, b, ea, eb, customer = _clients(seeded, tmp_path)
    doc = EditService(a).create_document("test_visit", _visit(customer)).record_id
    ea.sync()
    eb.sync()

    # different fields: a 412 on push, merged by itself, both sides end equal
    a.update_document(doc, title="Winterize")
    b.update_document(doc, minutes=90)
    ea.sync()
    report = eb.sync()
    assert report.error is None and not report.needs_attention
    ea.sync()
    for store in (a, b):
        assert store.document(doc).data == _visit(customer, title="Winterize", minutes=90)
    assert account.get(f"/v1/documents/{doc}")["data"]["minutes"] == 90

    # the same field: a conflict the user settles; nothing of B's is lost meanwhile
    a.update_document(doc, minutes=30)
    b.update_document(doc, minutes=120, title="Winterize + audit")
    ea.sync()
    report = eb.sync()
    assert report.conflicts == 1
    assert {e.state for e in b.outbox()} == {CONFLICT}
    held = b.conflict("document", doc)
    assert held.fields == ("minutes",) and held.theirs["minutes"] == 30
    assert b.document(doc).data["minutes"] == 120
    resolve_conflict(b, "document", doc, {"minutes"})
    assert not eb.sync().needs_attention
    ea.sync()
    want = _visit(customer, title="Winterize + audit", minutes=30)
    assert a.document(doc).data == want and b.document(doc).data == want
    assert account.get(f"/v1/documents/{doc}")["data"] == want


def test_delete_undo_and_a_customer_kept_while_documents_name_it(seeded, tmp_path) -> None:
    account, a, b, ea, eb, _customer = _clients(seeded, tmp_path)
    edits = EditService(a)
    customer = edits.create_customer(Customer(id=new_id(), name="No Controllers")).record_id
    doc = edits.create_document("test_visit", _visit(customer)).record_id
    ea.sync()
    eb.sync()

    # the customer cannot go while a document names it, here or in the cloud
    with pytest.raises(StillNeeded, match="1 test visit"):
        a.delete_customer(customer)
    r = account.api()._http.delete(f"/v1/customers/{customer}")  # straight to the cloud
    assert r.status_code == 409 and r.json()["records"] == {"test_visit": 1}

    # delete, undo (discard), delete again: the cloud and the other client follow
    deleted = edits.delete_document(doc)
    with pytest.raises(NotFound):
        a.document(doc)
    a.discard(deleted.queued.id)
    assert a.document(doc).data == _visit(customer) and a.pending_count() == 0
    edits.delete_document(doc)
    assert ea.sync().applied == 1
    assert eb.sync().pulled == 1
    with pytest.raises(NotFound):
        b.document(doc)
    assert account.api()._http.get(f"/v1/documents/{doc}").status_code == 404

    # one never sent just goes, with its pending edits, and nothing is sent
    fresh = edits.create_document("test_visit", _visit(customer)).record_id
    a.update_document(fresh, minutes=5)
    assert edits.delete_document(fresh).queued is None
    assert a.pending_count() == 0


def test_bad_documents_are_refused_before_anything_is_written(seeded, tmp_path) -> None:
    _account, a, _b, _ea, _eb, customer = _clients(seeded, tmp_path)
    edits = EditService(a)
    with pytest.raises(ValidationError) as bad:
        edits.create_document("test_visit", _visit(customer, minutes=-5, title=""))
    assert {e.field for e in bad.value.errors} == {"minutes", "title"}
    with pytest.raises(ValidationError, match="No kind of record"):
        edits.create_document("no_such_kind", {})
    with pytest.raises(ValidationError, match="at most"):
        edits.create_document("test_visit", _visit(customer, note="x" * 20_000))
    with pytest.raises(ValidationError, match="NaN"):
        edits.create_document("test_visit", _visit(customer, rate=float("nan")))
    with pytest.raises(NotFound):
        edits.create_document("test_visit", _visit(new_id()))
    doc = edits.create_document("test_visit", _visit(customer)).record_id
    with pytest.raises(ValidationError):
        a.update_document(doc, minutes=10**12)
    assert a.document(doc).data == _visit(customer)
    assert a.pending_count() == 1


def test_a_document_waits_behind_its_refused_customer(seeded, tmp_path) -> None:
    account, a, _b, ea, _eb, _customer = _clients(seeded, tmp_path)
    k = Customer(id=new_id(), name="Noor Haddad")
    a.create_customer(k)
    first = EditService(a).create_document("test_visit", _visit(k.id)).record_id
    with a._write() as db:  # a name the cloud refuses (too long), as an older client wrote it
        db.execute("UPDATE customer SET name=? WHERE id=?", ("N" * 300, k.id))
    report = ea.sync()
    assert report.rejected == 2  # the customer, and the document sent with it (no customer)
    assert {e.entity: e.state for e in a.outbox()} == {"customer": REJECTED,
                                                        "document": REJECTED}
    # a later document of that customer is not sent while the customer's edit is held
    second = EditService(a).create_document("test_visit", _visit(k.id)).record_id
    assert ea.sync().waiting == 1
    assert account.api()._http.get(f"/v1/documents/{second}").status_code == 404

    a.update_customer(k.id, name="Noor Haddad")
    for entry in a.outbox([REJECTED]):
        a.retry(entry.id)
    report = ea.sync()
    assert report.error is None and a.pending_count() == 0, a.outbox()
    for doc in (first, second):
        assert account.get(f"/v1/documents/{doc}")["customer_id"] == k.id


def test_pending_changes_name_a_document_by_its_customer(store: Store) -> None:
    from fieldtech.screens.pending import read_pending

    k = Customer(id=new_id(), name="Ana Chen")
    store.create_customer(k)
    doc = EditService(store).create_document("test_visit", _visit(k.id)).record_id
    store.update_document(doc, minutes=60)
    edits = [e for e in read_pending(store) if e.entry.entity == "document"]
    assert [(e.kind, e.record, e.change) for e in edits] == [
        ("document", f"document {doc[:8]} (Ana Chen)", "new document"),
        ("document", f"document {doc[:8]} (Ana Chen)", "minutes")]
