"""Signing in, API tokens, and the contractor's staff users."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fieldtech.domain.limits import EMAIL_RE
from fieldtech.domain.validation import control_character_error
from fieldtech.server import quota
from fieldtech.server.api.common import context
from fieldtech.server.auth import Owner, Staff, State, User, client_address, confirm_owner
from fieldtech.server.journal import audit
from fieldtech.server.problems import Problem, ProblemType, not_found, validation
from fieldtech.server.schemas import LoginIn, StaffIn, StaffRoleIn
from fieldtech.server.security import (
    burn_password_time,
    hash_password,
    new_user_token,
    token_hash,
    verify_password,
)
from fieldtech.server.tables import OWNER, STAFF, AccountRow, ApiTokenRow, CustomerRow, UserRow
from fieldtech.server.views import iso

router = APIRouter(prefix="/v1", tags=["auth"])
LOGIN_HASHES = 2
KNOWN_CLIENT_S = 90 * 24 * 3600  # an address that signed in to an e-mail within 90 days


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> None:
    if not EMAIL_RE.match(email):
        raise validation([("email", "That does not look like an e-mail address.")])
    if message := control_character_error(email):  # e.g. a right-to-left override
        raise validation([("email", message)])


def check_email_free(s: Session, account_id: str, email: str) -> None:
    """409 if a staff user of the account, or a login of one of its customers, has `email`.

    Only this account is looked at (under its lock): whether the e-mail signs in anywhere
    else is none of its business, and answering so would let anyone test addresses."""
    staff = select(UserRow.id).where(UserRow.account_id == account_id, UserRow.email == email)
    customers = (
        select(UserRow.id)
        .join(CustomerRow, CustomerRow.id == UserRow.customer_id)
        .where(CustomerRow.account_id == account_id, UserRow.email == email)
    )
    if s.scalar(staff.union_all(customers).limit(1)) is not None:
        raise Problem(
            ProblemType.ALREADY_EXISTS, "A user of this account already has this e-mail."
        )


@router.post("/auth/login", summary="Sign in; returns an API token (shown once)")
def login(
    state: State, body: LoginIn, request: Request, response: Response
) -> dict[str, Any]:
    email = normalize_email(body.email)
    address = client_address(request)
    _login_allowed(state, email, address)
    user = _signed_in_user(state, email, body.password)
    pair = (f"login|{email}|{address}", state.limits.login)
    if user is None:
        state.guesses.take(pair, (f"login|{email}", state.limits.login_email))
        raise Problem(ProblemType.BAD_CREDENTIALS, "Check the e-mail and password.")
    state.guesses.mark(f"known|{email}|{address}")
    token = new_user_token()
    now = state.clock()
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row = ApiTokenRow(
        id=str(uuid.uuid4()),
        user_id=user.id,
        token_hash=token_hash(token),
        name=body.token_name,
        created_at=now,
        last_used_at=now,
        revoked_at=None,
        expires_at=expires,
    )
    with state.db.write() as s:
        s.add(row)
    # the token is in this answer: no cache may keep it (every answer says no-store; this one
    # must, whatever the middleware does)
    response.headers["Cache-Control"] = "no-store"
    return {
        "token": token,
        "token_id": row.id,
        "expires_at": iso(expires),
        "user": {"id": user.id, "email": user.email, "role": user.role},
    }


def _login_allowed(state: State, email: str, address: str) -> None:
    """429 before any password is checked when this address, or this e-mail, is guessing.

    Every attempt counts against the address; wrong passwords count against the e-mail from
    that address, and against the e-mail from everywhere. That last lock is aimed at guessers:
    an address the e-mail signed in from before gets through it, so a guesser cannot lock
    the real user out."""
    state.guesses.take((f"address|{address}", state.limits.login_address))
    limits = [(f"login|{email}|{address}", state.limits.login)]
    if not state.guesses.seen_within(f"known|{email}|{address}", KNOWN_CLIENT_S):
        limits.append((f"login|{email}", state.limits.login_email))
    state.guesses.check(*limits)


def _signed_in_user(state: State, email: str, password: str) -> UserRow | None:
    """The user with this e-mail and password. An e-mail may sign in to more than one account
    (one login each); the password tells them apart. Every login checks at least
    LOGIN_HASHES hashes, so the time taken does not tell whether the e-mail is in use
    elsewhere (an attacker who made a login for it in their own account compares 1 with 2)."""
    with state.db.read() as s:
        users = s.scalars(
            select(UserRow).where(UserRow.email == email).order_by(UserRow.created_at, UserRow.id)
        ).all()
    found = None
    for user in users:
        if verify_password(password, user.password_hash) and found is None:
            found = user
    for _ in range(LOGIN_HASHES - len(users)):
        burn_password_time(password)
    return found


@router.get("/me", summary="Who the token belongs to")
def me(caller: User) -> dict[str, Any]:
    return {
        "user_id": caller.user_id,
        "email": caller.email,
        "role": caller.role,
        "account_id": caller.account_id,
        "customer_id": caller.customer_id,
        "token_id": caller.token_id,
        "account_role": caller.account_role if caller.is_staff else None,
        "billing": caller.may_bill,
    }


@router.get("/auth/tokens", summary="Your API tokens (never the secret)")
def list_tokens(state: State, caller: User) -> dict[str, Any]:
    with state.db.read() as s:
        rows = s.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == caller.user_id, ApiTokenRow.revoked_at.is_(None))
            .order_by(ApiTokenRow.created_at)
        ).all()
    return {
        "tokens": [
            {
                "id": t.id,
                "name": t.name,
                "created_at": iso(t.created_at),
                "last_used_at": iso(t.last_used_at),
                "expires_at": iso(t.expires_at),
                "current": t.id == caller.token_id,
            }
            for t in rows
        ]
    }


@router.delete("/auth/tokens/{token_id}", status_code=204, summary="Revoke one of your tokens")
def revoke_token(state: State, caller: User, token_id: str) -> None:
    with state.db.write() as s:
        row = s.get(ApiTokenRow, token_id)
        if row is None or row.user_id != caller.user_id or row.revoked_at is not None:
            raise not_found("token")
        row.revoked_at = state.clock()


def staff_json(u: UserRow) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "role": u.account_role or STAFF,
        "billing": u.account_role == OWNER or u.billing,
        "created_at": iso(u.created_at),
    }


@router.get("/staff", tags=["account"], summary="The account's staff users and their roles")
def list_staff(state: State, caller: Staff) -> dict[str, Any]:
    with state.db.read() as s:
        rows = s.scalars(
            select(UserRow)
            .where(UserRow.account_id == caller.account_id, UserRow.role == "staff")
            .order_by(UserRow.created_at, UserRow.email)
        ).all()
    return {"staff": [staff_json(u) for u in rows]}


@router.post(
    "/staff", status_code=201, tags=["account"], summary="Add a staff user (owners; plan limit)"
)
def add_staff(state: State, caller: Owner, body: StaffIn) -> dict[str, Any]:
    email = normalize_email(body.email)
    check_email(email)
    password_hash = hash_password(body.password)  # slow: outside the transaction
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        confirm_owner(s, caller)
        check_email_free(s, ctx.account_id, email)
        quota.take_staff_seat(s, s.get_one(AccountRow, ctx.account_id))
        user = UserRow(
            id=str(uuid.uuid4()),
            account_id=ctx.account_id,
            customer_id=None,
            role="staff",
            account_role=body.role,
            billing=body.billing,
            email=email,
            password_hash=password_hash,
            created_at=ctx.now,
        )
        s.add(user)
        audit(s, ctx, "staff.add", detail={"email": email, "role": body.role,
                                          "billing": body.billing})
    return staff_json(user)


@router.patch(
    "/staff/{user_id}",
    tags=["account"],
    summary="Change a staff user's role or billing permission (owners; one owner always stays)",
)
def change_staff_role(
    state: State, caller: Owner, user_id: str, body: StaffRoleIn
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        confirm_owner(s, caller)
        user = _staff_user(s, ctx.account_id, user_id)
        before = {"role": user.account_role or STAFF, "billing": user.billing}
        after = {
            "role": body.role if body.role is not None else before["role"],
            "billing": body.billing if body.billing is not None else before["billing"],
        }
        if before["role"] == OWNER and after["role"] != OWNER:
            _keep_an_owner(s, ctx.account_id, user)
        if after != before:
            user.account_role, user.billing = after["role"], after["billing"]
            audit(s, ctx, "staff.role", detail={"email": user.email, "from": before, "to": after})
        return staff_json(user)


@router.delete(
    "/staff/{user_id}", status_code=204, tags=["account"], summary="Remove a staff user (owners)"
)
def remove_staff(state: State, caller: Owner, user_id: str) -> None:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        confirm_owner(s, caller)
        user = _staff_user(s, ctx.account_id, user_id)
        if user.id == caller.user_id:
            raise Problem(ProblemType.FORBIDDEN, "You cannot remove yourself.")
        if user.account_role == OWNER:
            _keep_an_owner(s, ctx.account_id, user)
        s.delete(user)
        quota.release_staff_seat(s, ctx.account_id)
        audit(s, ctx, "staff.remove", detail={"email": user.email, "role": user.account_role})


def _staff_user(s: Session, account_id: str, user_id: str) -> UserRow:
    user = s.get(UserRow, user_id)
    if user is None or user.account_id != account_id or user.role != "staff":
        raise not_found("staff user")
    return user


def _keep_an_owner(s: Session, account_id: str, leaving: UserRow) -> None:
    """409 unless another owner stays (checked under the account's lock, so two owners
    demoting each other at once cannot leave none)."""
    others = s.scalar(
        select(func.count()).where(
            UserRow.account_id == account_id,
            UserRow.account_role == OWNER,
            UserRow.id != leaving.id,
        )
    )
    if not others:
        raise Problem(
            ProblemType.LAST_OWNER,
            f"{leaving.email} is the account's only owner.",
            fix="Make another staff user an owner first.",
        )
