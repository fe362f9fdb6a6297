"""Who is calling: FastAPI dependencies that turn a bearer token into a caller, or a 401."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.security import DEVICE_TOKEN_PREFIX, token_hash
from fieldtech.server.state import ServerState
from fieldtech.server.tables import (
    OWNER,
    ApiTokenRow,
    CustomerRow,
    UserRow,
)

_bearer = HTTPBearer(auto_error=False, description="An API token from POST /v1/auth/login.")
_device_bearer = HTTPBearer(
    auto_error=False, scheme_name="DeviceToken", description="A device token from pairing."
)
_LAST_USED_GRANULARITY = timedelta(minutes=1)  # don't write on every request


@dataclass(frozen=True)
class Caller:
    """A signed-in person. Customers have `customer_id` set and `account_id` of their
    contractor (None once they left it)."""

    user_id: str
    email: str
    role: str  # "staff" | "customer"
    account_id: str | None
    customer_id: str | None
    token_id: str
    account_role: str | None = None  # staff: "owner" | "staff"
    billing: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    @property
    def is_owner(self) -> bool:
        return self.is_staff and self.account_role == OWNER

    @property
    def may_bill(self) -> bool:
        return self.is_owner or (self.is_staff and self.billing)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def server_state(request: Request) -> ServerState:
    # async: a dependency this small should not take a trip through the thread pool
    return request.app.state.server


State = Annotated[ServerState, Depends(server_state)]


def _unauthorized(detail: str) -> Problem:
    return Problem(
        ProblemType.UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer realm="fieldtech"'}
    )


def current_user(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise _unauthorized("Send your API token as 'Authorization: Bearer …'.")
    digest = token_hash(credentials.credentials)
    now = state.clock()
    with state.db.read() as s:
        row = s.execute(
            select(ApiTokenRow, UserRow, CustomerRow.account_id)
            .join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .outerjoin(CustomerRow, CustomerRow.id == UserRow.customer_id)
            .where(ApiTokenRow.token_hash == digest, ApiTokenRow.revoked_at.is_(None))
            .where(or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now))
        ).first()
    if row is None:
        raise _unauthorized("This token is unknown or was revoked. Sign in again.")
    token, user, customer_account = row
    state.user_limiter.check(digest, vouched=True)
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        with state.db.write() as s:
            s.execute(
                update(ApiTokenRow).where(ApiTokenRow.id == token.id).values(last_used_at=now)
            )
    # A customer follows their customer record: linked to a contractor, or on their own.
    account_id = customer_account if user.role == "customer" else user.account_id
    return Caller(
        user.id,
        user.email,
        user.role,
        account_id,
        user.customer_id,
        token.id,
        user.account_role,
        user.billing,
    )


def current_staff(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if not caller.is_staff or caller.account_id is None:
        raise Problem(ProblemType.FORBIDDEN, "Only the contractor's staff can do this.")
    return caller


def current_owner(caller: Annotated[Caller, Depends(current_staff)]) -> Caller:
    if not caller.is_owner:
        raise _not_owner()
    return caller


def confirm_owner(s: Session, caller: Caller, what: str = "the tier, billing and staff"
                  ) -> None:
    """Inside the account's locked transaction: the caller is still an owner (another owner
    may have changed that since the token was checked)."""
    role = s.scalar(select(UserRow.account_role).where(UserRow.id == caller.user_id))
    if role != OWNER:
        raise _not_owner(what)


def _not_owner(what: str = "the tier, billing and staff") -> Problem:
    return Problem(
        ProblemType.FORBIDDEN,
        f"Only an owner of the account can do this ({what}).",
        fix="Ask an owner of the account.",
    )


async def device_token(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_device_bearer)],
) -> str:
    """The sha256 of the caller's device token. The device endpoints look it up in the same
    query that does their work (one database round trip per poll: 1,000 devices poll)."""
    if credentials is None or not credentials.credentials.startswith(DEVICE_TOKEN_PREFIX):
        raise unauthorized_device()
    digest = token_hash(credentials.credentials)
    state.device_limiter.check(digest)
    return digest


def unauthorized_device() -> Problem:
    return _unauthorized(
        "Send the device token from pairing as 'Authorization: Bearer …'; a token stops "
        "working when the controller is paired again."
    )


User = Annotated[Caller, Depends(current_user)]
Staff = Annotated[Caller, Depends(current_staff)]
Owner = Annotated[Caller, Depends(current_owner)]
DeviceTokenHash = Annotated[str, Depends(device_token)]
