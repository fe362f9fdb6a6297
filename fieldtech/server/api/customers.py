"""Customers: CRUD, linking and unlinking, customer logins, and their Enthusiast plans."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from fieldtech.domain.validation import (
    normalize_plan_code,
    normalize_serial,
    plan_code_error,
    serial_error,
)
from fieldtech.server import operations as ops
from fieldtech.server import quota
from fieldtech.server.api.auth_routes import check_email, check_email_free, normalize_email
from fieldtech.server.api.common import IfMatch, context, parse_if_match
from fieldtech.server.auth import Caller, Staff, State, User, client_address
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.problems import Problem, ProblemType, not_found, validation
from fieldtech.server.schemas import (
    CustomerIn,
    CustomerPatch,
    CustomerUserIn,
    LinkIn,
    PlanCodeIn,
)
from fieldtech.server.security import hash_password, token_hash
from fieldtech.server.state import ServerState
from fieldtech.server.tables import (
    AccountRow,
    ControllerRow,
    CustomerRow,
    LinkRequestRow,
    PlanCodeRow,
    PurchaseRequestRow,
    UserRow,
)
from fieldtech.server.views import config_json, controller_json, customer_json, etag, iso

router = APIRouter(prefix="/v1", tags=["customers"])


@router.get("/customers", summary="Customers of the account")
def list_customers(state: State, caller: Staff) -> dict[str, Any]:
    with state.db.read() as s:
        rows = s.scalars(
            select(CustomerRow)
            .where(CustomerRow.account_id == caller.account_id)
            .order_by(CustomerRow.name, CustomerRow.id)
        ).all()
    return {"customers": [customer_json(c) for c in rows]}


@router.post("/customers", status_code=201, summary="Create a customer (client-chosen id)")
def create_customer(
    state: State, caller: Staff, body: CustomerIn, response: Response
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.create_customer(s, ctx, body)
        response.headers["ETag"] = etag(row.revision)
        return customer_json(row)


@router.get("/customers/{customer_id}", summary="One customer")
def get_customer(
    state: State, caller: Staff, customer_id: str, response: Response
) -> dict[str, Any]:
    with state.db.read() as s:
        row = ops.get_customer(s, caller.account_id or "", customer_id)
        response.headers["ETag"] = etag(row.revision)
        return customer_json(row)


@router.patch("/customers/{customer_id}", summary="Edit a customer (If-Match optional)")
def update_customer(
    state: State,
    caller: Staff,
    customer_id: str,
    body: CustomerPatch,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.update_customer(s, ctx, customer_id, body, base)
        response.headers["ETag"] = etag(row.revision)
        return customer_json(row)


@router.delete("/customers/{customer_id}", status_code=204, summary="Delete a customer")
def delete_customer(
    state: State, caller: Staff, customer_id: str, if_match: IfMatch = None
) -> None:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        ops.delete_customer(s, ctx, customer_id, base)


@router.post(
    "/customers/{customer_id}/unlink", summary="Let the customer go with their controllers"
)
def unlink_customer(state: State, caller: Staff, customer_id: str) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        freed = ops.unlink_customer(s, ctx, customer_id)
    return {"customer_id": customer_id, "controllers_freed": freed}


@router.post(
    "/customers/link",
    status_code=202,
    summary="Ask an unlinked customer (by e-mail or controller serial) to join the account",
)
def link_customer(state: State, caller: Staff, body: LinkIn) -> dict[str, Any]:
    if not (body.email or body.serial):
        raise validation([("email", "Give the customer's e-mail or a controller serial.")])
    # the shape is checked (it tells nothing about who exists); whether anyone matches is not
    if body.email:
        check_email(normalize_email(body.email))
    if body.serial and (message := serial_error(body.serial)):
        raise validation([("serial", message)])
    ctx = context(state, caller)
    asked = {
        "email": normalize_email(body.email) if body.email else None,
        "serial": normalize_serial(body.serial) if body.serial else None,
    }
    with state.db.write(ctx.account_id) as s:
        customer_id, asked_for = None, None
        if asked["email"]:
            customer_id = s.scalar(
                select(CustomerRow.id).where(
                    func.lower(CustomerRow.email) == asked["email"],
                    CustomerRow.account_id.is_(None),
                )
            )
            asked_for = asked["email"]
        if customer_id is None and asked["serial"]:
            customer_id = s.scalar(
                select(ControllerRow.customer_id).where(
                    ControllerRow.serial == asked["serial"],
                    ControllerRow.account_id.is_(None),
                )
            )
            asked_for = asked["serial"]
        pending = customer_id is not None and s.scalar(
            select(LinkRequestRow.id).where(
                LinkRequestRow.account_id == ctx.account_id,
                LinkRequestRow.customer_id == customer_id,
                LinkRequestRow.status == "pending",
            )
        )
        if customer_id is not None and not pending:  # asking again keeps the one request
            s.add(
                LinkRequestRow(
                    id=str(uuid.uuid4()),
                    account_id=ctx.account_id,
                    customer_id=customer_id,
                    status="pending",
                    created_at=ctx.now,
                    asked_for=asked_for,
                )
            )
        # logged alike whether or not someone matched: the audit log must not tell either
        audit(s, ctx, "customer.link_request", detail=asked)
    # The same answer whether or not someone matched: this must not reveal who has an account.
    return {"status": "sent", "detail": "If a customer matches, they were asked to approve."}


@router.post("/customers/{customer_id}/users", status_code=201, summary="A login for the customer")
def add_customer_user(
    state: State, caller: Staff, customer_id: str, body: CustomerUserIn
) -> dict[str, Any]:
    email = normalize_email(body.email)
    check_email(email)
    password_hash = hash_password(body.password)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        ops.get_customer(s, ctx.account_id, customer_id)
        check_email_free(s, ctx.account_id, email)
        user = UserRow(
            id=str(uuid.uuid4()),
            account_id=None,
            customer_id=customer_id,
            role="customer",
            email=email,
            password_hash=password_hash,
            created_at=ctx.now,
        )
        s.add(user)
        audit(s, ctx, "customer.user_add", customer_id=customer_id, detail={"email": email})
    return {"id": user.id, "email": email, "customer_id": customer_id}


# ---- plans ----


def _set_plan(s, ctx, row: CustomerRow, plan: str, source: str | None, action: str, detail):  # type: ignore[no-untyped-def]
    row.plan, row.plan_source = plan, source
    row.revision += 1
    row.updated_at = ctx.now
    s.flush()
    log_change(s, ctx, "customer", row.id, "upsert", customer_json(row))
    audit(s, ctx, action, customer_id=row.id, detail=detail)


def _refuse_if_enthusiast(row: CustomerRow) -> None:
    if row.plan == "enthusiast":
        raise Problem(
            ProblemType.ALREADY_ENTHUSIAST,
            f"{row.name} is already on the Enthusiast plan ({row.plan_source or 'purchased'}).",
        )


@router.post("/customers/{customer_id}/plan/redeem", tags=["plans"], summary="Redeem a plan code")
def redeem_plan_code(
    state: State, caller: Staff, customer_id: str, body: PlanCodeIn, request: Request
) -> dict[str, Any]:
    if message := plan_code_error(body.code):
        raise Problem(
            ProblemType.PLAN_CODE_MALFORMED,
            message,
            errors=[{"field": "code", "message": message}],
        )
    ctx = context(state, caller)
    # Codes are 32 bits: wrong ones are counted per account and per address, in the database
    # so that every token and every worker process counts against the same budget.
    guesses = (
        (f"plan-code|account|{ctx.account_id}", state.limits.plan_code),
        (f"plan-code|address|{client_address(request)}", state.limits.plan_code),
    )
    state.guesses.check(*guesses)
    try:
        return _redeem(state, ctx, customer_id, normalize_plan_code(body.code))
    except Problem as refused:
        if refused.kind in (ProblemType.PLAN_CODE_UNKNOWN, ProblemType.PLAN_CODE_USED):
            state.guesses.take(*guesses)
        raise


def _redeem(state: ServerState, ctx: Context, customer_id: str, code: str) -> dict[str, Any]:
    with state.db.write(ctx.account_id) as s:
        row = ops.get_customer(s, ctx.account_id, customer_id)
        _refuse_if_enthusiast(row)
        plan_code = s.get(PlanCodeRow, token_hash(code), with_for_update=True)
        # A code another account redeemed gets the answer an unknown code gets: which codes
        # exist is the vendor's to know, not a guesser's.
        if plan_code is None or (
            plan_code.redeemed_at is not None and plan_code.account_id != ctx.account_id
        ):
            raise Problem(
                ProblemType.PLAN_CODE_UNKNOWN,
                f"{code} is not a plan code we issued. Check it against the card or e-mail.",
                errors=[{"field": "code", "message": "Unknown plan code."}],
            )
        if plan_code.redeemed_at is not None:
            raise Problem(
                ProblemType.PLAN_CODE_USED,
                f"{code} was already redeemed on {iso(plan_code.redeemed_at)}. "
                "Each code works once.",
                errors=[{"field": "code", "message": "Already used."}],
            )
        plan_code.redeemed_at, plan_code.account_id = ctx.now, ctx.account_id
        plan_code.customer_id = row.id
        _set_plan(s, ctx, row, "enthusiast", "code", "plan.redeem", {"code": code})
        return customer_json(row)


@router.post(
    "/customers/{customer_id}/plan/included",
    tags=["plans"],
    summary="Give the customer one of the Enthusiast plans included in the tier",
)
def assign_included_plan(state: State, caller: Staff, customer_id: str) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.get_customer(s, ctx.account_id, customer_id)
        _refuse_if_enthusiast(row)
        quota.take_included_enthusiast(s, s.get_one(AccountRow, ctx.account_id))
        _set_plan(s, ctx, row, "enthusiast", "included", "plan.assign_included", {})
        return customer_json(row)


@router.post(
    "/customers/{customer_id}/plan/home",
    tags=["plans"],
    summary="Move the customer back to Home (an included plan is freed)",
)
def back_to_home(state: State, caller: Staff, customer_id: str) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.get_customer(s, ctx.account_id, customer_id)
        if row.plan != "home":
            if row.plan_source == "included":
                quota.release_included_enthusiast(s, ctx.account_id)
            _set_plan(s, ctx, row, "home", None, "plan.home", {"was": row.plan_source})
        return customer_json(row)


@router.post(
    "/customers/{customer_id}/plan/purchase-request",
    status_code=202,
    tags=["plans"],
    summary="Record a request to buy an Enthusiast plan for the customer",
)
def purchase_request(state: State, caller: Staff, customer_id: str) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.get_customer(s, ctx.account_id, customer_id)
        _refuse_if_enthusiast(row)
        request = PurchaseRequestRow(
            id=str(uuid.uuid4()),
            account_id=ctx.account_id,
            customer_id=row.id,
            status="requested",
            created_at=ctx.now,
        )
        s.add(request)
        audit(s, ctx, "plan.purchase_request", customer_id=row.id, detail={"id": request.id})
    return _purchase_json(request)


@router.get("/purchase-requests", tags=["plans"], summary="Purchase requests of the account")
def list_purchase_requests(state: State, caller: Staff) -> dict[str, Any]:
    with state.db.read() as s:
        rows = s.scalars(
            select(PurchaseRequestRow)
            .where(PurchaseRequestRow.account_id == caller.account_id)
            .order_by(PurchaseRequestRow.created_at)
        ).all()
    return {"purchase_requests": [_purchase_json(r) for r in rows]}


def _purchase_json(r: PurchaseRequestRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "customer_id": r.customer_id,
        "status": r.status,
        "created_at": iso(r.created_at),
    }


# ---- the customer's side of a link request ----


def _own_request(s, caller: Caller, request_id: str) -> LinkRequestRow:  # type: ignore[no-untyped-def]
    row = s.get(LinkRequestRow, request_id)
    if (
        caller.customer_id is None
        or row is None
        or row.customer_id != caller.customer_id
        or row.status != "pending"
    ):
        raise not_found("link request")
    return row


@router.get("/me/link-requests", tags=["customers"], summary="Contractors asking to link you")
def my_link_requests(state: State, caller: User) -> dict[str, Any]:
    with state.db.read() as s:
        rows = s.execute(
            select(LinkRequestRow, AccountRow.name)
            .join(AccountRow, AccountRow.id == LinkRequestRow.account_id)
            .where(
                LinkRequestRow.customer_id == (caller.customer_id or ""),
                LinkRequestRow.status == "pending",
            )
            .order_by(LinkRequestRow.created_at)
        ).all()
    return {
        "link_requests": [
            {"id": r.id, "contractor": name, "created_at": iso(r.created_at)} for r, name in rows
        ]
    }


@router.post(
    "/me/link-requests/{request_id}/approve",
    tags=["customers"],
    summary="Join the contractor's account with your controllers (counts toward their plan)",
)
def approve_link(state: State, caller: User, request_id: str) -> dict[str, Any]:
    with state.db.read() as s:
        account_id = _own_request(s, caller, request_id).account_id
    ctx = Context(account_id=account_id, actor=f"customer:{caller.email}", now=state.clock())
    with state.db.write(account_id) as s:
        request = _own_request(s, caller, request_id)
        customer = s.get_one(CustomerRow, request.customer_id)
        if customer.account_id is not None:
            raise Problem(
                ProblemType.FORBIDDEN,
                "You are linked to a contractor already; ask them to unlink you first.",
            )
        controllers = list(
            s.scalars(select(ControllerRow).where(ControllerRow.customer_id == customer.id))
        )
        if controllers:
            quota.take_controller_slots(s, s.get_one(AccountRow, account_id), len(controllers))
        customer.account_id = account_id
        customer.revision += 1
        customer.updated_at = ctx.now
        request.status = "approved"
        for c in controllers:
            c.account_id = account_id
        s.flush()
        log_change(s, ctx, "customer", customer.id, "upsert", customer_json(customer))
        for c in controllers:
            log_change(s, ctx, "controller", c.id, "upsert", controller_json(c))
            log_change(s, ctx, "config", c.id, "upsert", config_json(c))
        audit(
            s,
            ctx,
            "customer.link",
            customer_id=customer.id,
            detail={"controllers": len(controllers)},
        )
    return {"customer_id": customer.id, "linked": True, "controllers": len(controllers)}


@router.post(
    "/me/link-requests/{request_id}/decline", status_code=204, tags=["customers"], summary="Decline"
)
def decline_link(state: State, caller: User, request_id: str) -> None:
    with state.db.read() as s:
        account_id = _own_request(s, caller, request_id).account_id
    # no e-mail as the actor: a contractor who asked by serial must not learn the customer's
    ctx = Context(account_id=account_id, actor="customer", now=state.clock())
    with state.db.write(account_id) as s:
        request = _own_request(s, caller, request_id)
        request.status = "declined"
        # the contractor who asked reads this in their audit log
        audit(s, ctx, "customer.link_declined", detail={"asked_for": request.asked_for})
