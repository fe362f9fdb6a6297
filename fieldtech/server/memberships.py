"""A customer's membership follows their agreements, in the cloud as in the offline store.

When an agreement is created, changed or deleted (over REST or in a sync batch), the customer's
`membership` becomes what fieldtech.domain.billing.membership_given says, in the same
transaction, logged like any customer change: triage's order and the SLA clocks of incidents
opened from then on read it, and every client pulls it. A membership set by hand on a customer
who has agreements must be the one they give (a client's own follow-up edit is).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldtech.domain.billing import membership_from_documents
from fieldtech.domain.calendar import ACCOUNT_DEFAULT_TIMEZONE, contractor_today
from fieldtech.domain.contracts import AGREEMENT, TIER
from fieldtech.domain.documents import Document
from fieldtech.domain.plans import Membership
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.problems import validation
from fieldtech.server.tables import CustomerRow, DocumentRow, ServiceSettingsRow
from fieldtech.server.views import customer_json


def account_timezone(s: Session, account_id: str) -> str:
    """The contractor's time zone: the one its SLA clocks run in (fieldtech.domain.calendar)."""
    settings = s.get(ServiceSettingsRow, account_id)
    return settings.timezone if settings else ACCOUNT_DEFAULT_TIMEZONE


def membership_given(s: Session, ctx: Context, customer_id: str) -> str | None:
    """What the customer's agreements give today (the contractor's day), or None when they
    have none."""
    agreements = s.execute(select(DocumentRow.id, DocumentRow.data).where(
        DocumentRow.account_id == ctx.account_id, DocumentRow.kind == AGREEMENT.name,
        DocumentRow.customer_id == customer_id)).all()
    if not agreements:
        return None
    tiers = s.execute(select(DocumentRow.id, DocumentRow.data).where(
        DocumentRow.account_id == ctx.account_id, DocumentRow.kind == TIER.name)).all()
    return membership_from_documents(
        [*(Document(TIER.name, i, d) for i, d in tiers),
         *(Document(AGREEMENT.name, i, d) for i, d in agreements)],
        contractor_today(account_timezone(s, ctx.account_id), ctx.now))


def follow_agreements(s: Session, ctx: Context, customer_ids: Iterable[str | None]) -> int:
    """Set each customer's membership to what their agreements give on `ctx.now` (after a
    write, and from the sweeper once the contractor's day changed); → how many changed."""
    changed = 0
    for customer_id in dict.fromkeys(c for c in customer_ids if c):
        given = membership_given(s, ctx, customer_id)
        row = s.get(CustomerRow, customer_id)
        if given is None or row is None or row.account_id != ctx.account_id \
                or row.membership == given:
            continue
        before, row.membership = row.membership, given
        row.revision += 1
        row.updated_at = ctx.now
        s.flush()
        log_change(s, ctx, "customer", row.id, "upsert", customer_json(row))
        audit(s, ctx, "customer.update", customer_id=row.id,
              detail={"changed": ["membership"], "from": before, "by": "agreement"})
        changed += 1
    return changed


def check_hand_set(s: Session, ctx: Context, row: CustomerRow, membership: str) -> None:
    """422 if `membership` is not what the customer's agreements give (when they have any)."""
    given = membership_given(s, ctx, row.id)
    if given is not None and membership != given:
        raise validation([("membership", (
            f"{row.name}'s membership is set by their agreement ({Membership(given).label} "
            "today): change the agreement instead."))])
