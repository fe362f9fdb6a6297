"""What every change leaves behind: a change-log entry (for sync) and an audit entry (for people).

Call these inside the write transaction of the change, so neither can exist without the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fieldtech.server.change_feed import announce
from fieldtech.server.tables import AccountRow, AuditRow, ChangeRow


@dataclass(frozen=True)
class Context:
    """Who is changing which account, and when."""

    account_id: str
    actor: str  # the staff e-mail, or "device:<controller id>"
    now: datetime
    # What the person may do beyond the fleet: "billing" (owners, staff with the billing
    # permission) reads and writes money documents (fieldtech.domain.documents).
    permissions: frozenset[str] = frozenset()


def log_change(
    s: Session, ctx: Context, entity: str, entity_id: str, op: str, data: dict[str, Any] | None
) -> int:
    # The account row is locked by Database.write(account_id), so sequence numbers of one
    # account are handed out in commit order and a cursor never skips a late commit. Counting
    # on the session's copy of the row (written back at the next flush) costs no statement per
    # change: a batch of 200 edits writes the counter once or twice, not 200 times.
    # Held in s.info: the session's identity map keeps only weak references, so a clean row
    # would be read again for every change of a batch.
    account = s.info.get(("account", ctx.account_id))
    if account is None:
        account = s.info[("account", ctx.account_id)] = s.get_one(AccountRow, ctx.account_id)
    account.change_seq += 1
    seq = account.change_seq
    announce(s, ctx.account_id)  # long-polls of the account wake when this commits
    s.add(
        ChangeRow(
            account_id=ctx.account_id,
            seq=seq,
            entity=entity,
            entity_id=entity_id,
            op=op,
            data=data,
            at=ctx.now,
        )
    )
    return seq


def audit(
    s: Session,
    ctx: Context,
    action: str,
    *,
    controller_id: str | None = None,
    customer_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    s.add(
        AuditRow(
            account_id=ctx.account_id,
            controller_id=controller_id,
            customer_id=customer_id,
            actor=ctx.actor,
            action=action,
            detail=detail or {},
            at=ctx.now,
        )
    )
