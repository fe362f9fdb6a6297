"""Creating contractor accounts and issuing plan codes: the vendor's side (CLI and tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from fieldtech.domain.limits import EMAIL_RE
from fieldtech.domain.plans import Tier, TierLimits
from fieldtech.server.db import Database
from fieldtech.server.security import hash_password, new_plan_code, token_hash
from fieldtech.server.state import utcnow
from fieldtech.server.tables import OWNER, AccountRow, PlanCodeRow, UserRow


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    user_id: str


def create_account(
    db: Database,
    *,
    email: str,
    password: str,
    name: str,
    tier: Tier = Tier.STARTER,
    custom: TierLimits | None = None,
) -> NewAccount:
    """A contractor account with its first staff user, its owner."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ValueError(f"Not an e-mail address: {email!r}")
    if len(password) < 8:
        raise ValueError("Use a password of at least 8 characters.")
    now = utcnow()
    account = AccountRow(
        id=str(uuid.uuid4()),
        name=name,
        tier=tier.value,
        custom_controllers=custom.controllers if custom else None,
        custom_staff=custom.staff_users if custom else None,
        custom_enthusiast=custom.included_enthusiast if custom else None,
        controllers_used=0,
        staff_used=1,
        enthusiast_used=0,
        change_seq=0,
        created_at=now,
    )
    user = UserRow(
        id=str(uuid.uuid4()),
        account_id=account.id,
        customer_id=None,
        role="staff",
        account_role=OWNER,  # whoever the account is made for owns it
        email=email,
        password_hash=hash_password(password),
        created_at=now,
    )
    with db.write() as s:
        if s.scalar(select(UserRow.id).where(UserRow.email == email)):
            raise ValueError(f"A user with e-mail {email} already exists.")
        s.add(account)
        s.flush()
        s.add(user)
    return NewAccount(account.id, user.id)


def issue_plan_codes(db: Database, count: int) -> list[str]:
    """New Enthusiast plan codes, each redeemable once."""
    codes: set[str] = set()
    now = utcnow()
    with db.write() as s:
        while len(codes) < count:
            code = new_plan_code()
            if code in codes or s.get(PlanCodeRow, token_hash(code)) is not None:
                continue
            codes.add(code)
            s.add(PlanCodeRow(code_hash=token_hash(code), issued_at=now))
    return sorted(codes)
