"""Synced documents in the cloud: create, update, delete, read, for the REST routes and the sync
batch alike (fieldtech.domain.documents says what each kind holds).

Each function runs inside `Database.write(account_id)` (or a read) and raises `Problem`. Another
account's document is "not found" on every path; a kind that needs a permission the caller
lacks (money: "billing") is refused with 403 and never shown.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldtech.domain.contracts import AGREEMENT, TIER
from fieldtech.domain.documents import (
    DocumentKind,
    check_document,
    kind_of,
    referring_kinds,
    still_used,
    without_nones,
)
from fieldtech.domain.errors import NotFound
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.memberships import follow_agreements
from fieldtech.server.operations import check_new_id, check_revision, domain_checked, get_customer
from fieldtech.server.problems import Problem, ProblemType, not_found, validation
from fieldtech.server.tables import DocumentRow
from fieldtech.server.views import iso


def document_json(row: DocumentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "customer_id": row.customer_id,
        "data": row.data,
        "revision": row.revision,
        "updated_at": iso(row.updated_at),
    }


def allowed_kind(name: str, permissions: frozenset[str]) -> DocumentKind:
    """The kind, if it exists and the caller may handle it: else 422 (unknown) or 403."""
    try:
        kind = kind_of(name)
    except NotFound as exc:
        raise validation([("kind", str(exc))]) from None
    if kind.permission is not None and kind.permission not in permissions:
        raise Problem(
            ProblemType.FORBIDDEN,
            f"Only the account's owners and staff with the {kind.permission} permission can "
            f"see or change {kind.words}s.",
        )
    return kind


def may_see(kind_name: str, permissions: frozenset[str]) -> bool:
    """Whether a change-log entry of this kind is shown to the caller (unknown kinds: yes)."""
    try:
        kind = kind_of(kind_name)
    except NotFound:
        return True
    return kind.permission is None or kind.permission in permissions


def get_document(s: Session, ctx: Context, document_id: str) -> DocumentRow:
    row = s.get(DocumentRow, str(document_id))
    if row is None or row.account_id != ctx.account_id:
        raise not_found("record")
    allowed_kind(row.kind, ctx.permissions)
    return row


def list_documents(
    s: Session, ctx: Context, kind: str, customer_id: str | None = None
) -> list[DocumentRow]:
    allowed_kind(kind, ctx.permissions)
    query = select(DocumentRow).where(
        DocumentRow.account_id == ctx.account_id, DocumentRow.kind == kind
    )
    if customer_id is not None:
        # A customer of another account, or none: 404 alike, as for every record route
        # (never an empty list that tells the two apart from "no documents yet").
        get_customer(s, ctx.account_id, customer_id)
        query = query.where(DocumentRow.customer_id == customer_id)
    return list(s.scalars(query.order_by(DocumentRow.id)))


def _checked(s: Session, ctx: Context, kind: DocumentKind, data: dict[str, Any]) -> str | None:
    """Validate the fields; → the customer it belongs to (404 if not of this account)."""
    domain_checked(check_document, kind.name, data)
    customer_id = kind.customer_of(data)
    if customer_id is not None:
        get_customer(s, ctx.account_id, customer_id)
    return customer_id


def create_document(
    s: Session, ctx: Context, document_id: str, kind_name: str, data: dict[str, Any]
) -> DocumentRow:
    kind = allowed_kind(kind_name, ctx.permissions)
    data = without_nones(data)
    customer_id = _checked(s, ctx, kind, data)
    held = s.get(DocumentRow, str(document_id))
    if held is not None and held.account_id == ctx.account_id and held.kind == kind.name \
            and held.data == data:
        return held  # the same record made twice (two devices adding the default catalogue)
    check_new_id(s, ctx, DocumentRow, document_id, kind.words)
    row = DocumentRow(
        id=document_id,
        account_id=ctx.account_id,
        kind=kind.name,
        customer_id=customer_id,
        data=data,
        revision=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    s.add(row)
    s.flush()
    log_change(s, ctx, "document", row.id, "upsert", document_json(row))
    audit(s, ctx, f"{kind.name}.create", customer_id=customer_id, detail={"id": row.id})
    _follow(s, ctx, kind.name, [customer_id])
    return row


def _follow(s: Session, ctx: Context, kind: str, customer_ids: list[str | None]) -> None:
    """An agreement written: its customer's membership follows (fieldtech.server.memberships);
    a tier's code changed: so do the memberships of the customers on that tier."""
    if kind in (AGREEMENT.name, TIER.name):
        follow_agreements(s, ctx, customer_ids)


def update_document(
    s: Session, ctx: Context, document_id: str, patch: dict[str, Any], base_revision: int | None
) -> DocumentRow:
    row = get_document(s, ctx, document_id)
    kind = kind_of(row.kind)
    check_revision(row.revision, base_revision, kind.words, document_json(row))
    merged = without_nones({**row.data, **patch})
    customer_id = _checked(s, ctx, kind, merged)
    changed = sorted(k for k in set(merged) | set(row.data) if merged.get(k) != row.data.get(k))
    if changed:
        followers = [row.customer_id, customer_id]
        if kind.name == TIER.name:
            followers = [] if "code" not in changed else [
                customer for customer, data in s.execute(
                    select(DocumentRow.customer_id, DocumentRow.data).where(
                        DocumentRow.account_id == ctx.account_id,
                        DocumentRow.kind == AGREEMENT.name))
                if data.get("tier_id") == row.id]
        row.data = merged
        row.customer_id = customer_id
        row.revision += 1
        row.updated_at = ctx.now
        s.flush()
        log_change(s, ctx, "document", row.id, "upsert", document_json(row))
        audit(s, ctx, f"{kind.name}.update", customer_id=customer_id,
              detail={"id": row.id, "changed": changed})
        _follow(s, ctx, kind.name, followers)
    return row


def delete_document(s: Session, ctx: Context, document_id: str, base_revision: int | None) -> None:
    row = get_document(s, ctx, document_id)
    check_revision(row.revision, base_revision, kind_of(row.kind).words, document_json(row))
    if users := referring_kinds():
        rows = s.execute(select(DocumentRow.kind, DocumentRow.data).where(
            DocumentRow.account_id == ctx.account_id, DocumentRow.kind.in_(users)))
        if why := still_used(row.id, ((k, d) for k, d in rows)):
            raise Problem(ProblemType.DOCUMENT_IN_USE, f"This {kind_of(row.kind).words}: {why}")
    kind, customer_id = row.kind, row.customer_id
    s.delete(row)
    s.flush()
    # the kind stays in the log, so a reader without its permission is not shown even the id
    log_change(s, ctx, "document", document_id, "delete", {"kind": kind})
    audit(s, ctx, f"{kind}.delete", customer_id=customer_id, detail={"id": document_id})
    _follow(s, ctx, kind, [customer_id])



def seed_documents(db: Any, account_id: str, documents: list[Any], now: Any) -> int:
    """Documents written straight into an account, without change-log entries (the demo and
    the benchmarks seed a store and the cloud from the same generator). → how many."""
    from sqlalchemy import insert

    rows = [{"id": d.id, "account_id": account_id, "kind": d.kind,
             "customer_id": kind_of(d.kind).customer_of(d.data), "data": d.data,
             "revision": d.revision or 1, "created_at": now, "updated_at": now}
            for d in documents]
    with db.write() as s:
        for start in range(0, len(rows), 5000):
            s.execute(insert(DocumentRow), rows[start:start + 5000])
    return len(rows)
