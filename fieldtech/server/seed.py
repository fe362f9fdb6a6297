"""Filling a cloud account with a generated fleet (the demo and the sync benchmark).

It goes through the same operations as the API (quota, change log, audit), so the account
looks exactly as if a contractor had built it, and a client's first sync pulls all of it.
"""

from __future__ import annotations

from sqlalchemy import update

from fieldtech.domain.plans import CustomerPlan
from fieldtech.offline_store.seed import GeneratedAccount
from fieldtech.server import operations as ops
from fieldtech.server.db import Database
from fieldtech.server.journal import Context
from fieldtech.server.schemas import ControllerIn, CustomerIn
from fieldtech.server.state import utcnow
from fieldtech.server.tables import CustomerRow, DeviceStatusRow

CHUNK = 500  # records per transaction: big enough to be quick, small enough to stay light


def seed_account(db: Database, account_id: str, made: GeneratedAccount) -> None:
    """Write `made`'s customers and controllers into the cloud account `account_id`."""
    ctx = Context(account_id=account_id, actor="seed", now=utcnow())
    for start in range(0, len(made.customers), CHUNK):
        with db.write(account_id) as s:
            for customer in made.customers[start:start + CHUNK]:
                data = customer.to_dict()
                data.pop("plan")
                ops.create_customer(s, ctx, CustomerIn.model_validate(data))
            enthusiast = [c.id for c in made.customers[start:start + CHUNK]
                          if c.plan is CustomerPlan.ENTHUSIAST]
            if enthusiast:  # bought plans, as if purchased earlier
                s.execute(update(CustomerRow).where(CustomerRow.id.in_(enthusiast))
                          .values(plan="enthusiast", plan_source="purchase"))
    for start in range(0, len(made.controllers), CHUNK):
        with db.write(account_id) as s:
            online = []
            for controller, _rev, state, _fault in made.controllers[start:start + CHUNK]:
                ops.create_controller(s, ctx, ControllerIn.model_validate(controller.to_dict()))
                if state.value != "not_linked" and state.value != "offline":
                    online.append(controller.id)
            if online:  # linked hardware that reported a minute ago
                s.flush()
                s.execute(update(DeviceStatusRow)
                          .where(DeviceStatusRow.controller_id.in_(online))
                          .values(last_contact=ctx.now, applied_revision=1))
