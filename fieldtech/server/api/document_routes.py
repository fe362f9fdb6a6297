"""Synced documents over REST (the sync batch carries the same changes: document.create…)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from fieldtech.server import documents as docs
from fieldtech.server.api.common import IfMatch, context, parse_if_match
from fieldtech.server.auth import Staff, State
from fieldtech.server.schemas import DocumentIn, DocumentPatch
from fieldtech.server.views import etag

router = APIRouter(prefix="/v1/documents", tags=["documents"])

KindQuery = Annotated[str, Query(max_length=32, pattern="^[a-z][a-z0-9_]{0,31}$")]


@router.get("", summary="Documents of one kind (of one customer if given)")
def list_documents(
    state: State,
    caller: Staff,
    kind: KindQuery,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.read() as s:
        rows = docs.list_documents(s, ctx, kind, customer_id)
    return {"documents": [docs.document_json(r) for r in rows]}


@router.post("", status_code=201, summary="Create a document (client-chosen id)")
def create_document(
    state: State, caller: Staff, body: DocumentIn, response: Response
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = docs.create_document(s, ctx, str(body.id), body.kind, body.data)
        response.headers["ETag"] = etag(row.revision)
        return docs.document_json(row)


@router.get("/{document_id}", summary="One document")
def get_document(
    state: State, caller: Staff, document_id: str, response: Response
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.read() as s:
        row = docs.get_document(s, ctx, document_id)
        response.headers["ETag"] = etag(row.revision)
        return docs.document_json(row)


@router.patch("/{document_id}", summary="Set fields of a document (null removes one)")
def update_document(
    state: State,
    caller: Staff,
    document_id: str,
    body: DocumentPatch,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = docs.update_document(s, ctx, document_id, body.data, base)
        response.headers["ETag"] = etag(row.revision)
        return docs.document_json(row)


@router.delete("/{document_id}", status_code=204, summary="Delete a document")
def delete_document(
    state: State, caller: Staff, document_id: str, if_match: IfMatch = None
) -> None:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        docs.delete_document(s, ctx, document_id, base)
