"""The changes a contractor makes to customers, controllers and configurations.

Shared by the REST endpoints and the sync batch, so both apply the same rules. Each function
runs inside `Database.write(account_id)` and raises `Problem` to refuse.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fieldtech.domain.errors import ValidationError
from fieldtech.domain.models import ControllerConfig
from fieldtech.domain.text import normalize_tags
from fieldtech.domain.validation import (
    parse_config,
    parse_controller,
    parse_customer,
    rain_delay_error,
)
from fieldtech.server import quota
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.problems import Problem, ProblemType, not_found, validation
from fieldtech.server.schemas import (
    ConfigIn,
    ControllerIn,
    ControllerPatch,
    CustomerIn,
    CustomerPatch,
)
from fieldtech.server.tables import (
    AccountRow,
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
    DeviceTokenRow,
    DocumentRow,
)
from fieldtech.server.views import config_json, controller_json, customer_json, etag

_NIL_ID = str(uuid.UUID(int=0))  # a placeholder, never a random id

# ---- lookups (scoped to the account: another account's record is simply "not found") ----


def get_customer(s: Session, account_id: str, customer_id: str) -> CustomerRow:
    row = s.get(CustomerRow, str(customer_id))
    if row is None or row.account_id != account_id:
        raise not_found("customer")
    return row


def get_controller(s: Session, account_id: str, controller_id: str) -> ControllerRow:
    row = s.get(ControllerRow, str(controller_id))
    if row is None or row.account_id != account_id:
        raise not_found("controller")
    return row


def domain_checked(parse, *args):  # type: ignore[no-untyped-def]
    """Run a domain parser; its ValidationError becomes a 422 naming each field."""
    try:
        return parse(*args)
    except ValidationError as exc:
        raise validation([(e.field, e.message) for e in exc.errors]) from exc
    except (TypeError, ValueError) as exc:  # a shape the domain parser did not expect
        raise validation([("", f"Could not read this: {exc}")]) from exc


def body_checked(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate a batch item's `data` with the same schema as the REST endpoint."""
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise validation(
            [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        ) from exc


def check_revision(current: int, base: int | None, what: str, server_copy: dict[str, Any]) -> None:
    if base is not None and base != current:
        raise Problem(
            ProblemType.STALE_REVISION,
            f"The {what} is at revision {current} on the server; your edit was based on {base}. "
            "Merge with the server copy and send it again with the new revision.",
            headers={"ETag": etag(current)},
            current=server_copy,
        )


# ---- customers ----


def with_tags(data: dict[str, Any]) -> dict[str, Any]:
    """Tags as stored: sorted, each once ("spring hoa spring" → "hoa spring")."""
    if isinstance(data.get("tags"), str):
        data["tags"] = normalize_tags(data["tags"])
    return data


def create_customer(s: Session, ctx: Context, body: CustomerIn) -> CustomerRow:
    data = with_tags(body.model_dump(mode="json"))
    customer = domain_checked(parse_customer, data)
    check_new_id(s, ctx, CustomerRow, customer.id, "customer")
    row = CustomerRow(
        id=customer.id,
        account_id=ctx.account_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        address=customer.address,
        plan="home",
        plan_source=None,
        self_management=customer.self_management.value,
        membership=customer.membership.value,
        tags=customer.tags,
        revision=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    s.add(row)
    s.flush()
    log_change(s, ctx, "customer", row.id, "upsert", customer_json(row))
    audit(s, ctx, "customer.create", customer_id=row.id, detail={"name": row.name})
    return row


def update_customer(
    s: Session, ctx: Context, customer_id: str, patch: CustomerPatch, base_revision: int | None
) -> CustomerRow:
    row = get_customer(s, ctx.account_id, customer_id)
    check_revision(row.revision, base_revision, "customer", customer_json(row))
    changes = with_tags(patch.model_dump(mode="json", exclude_unset=True))
    changes = {k: v for k, v in changes.items() if v is not None}
    merged = {**customer_json(row), **changes}
    merged.pop("plan", None)  # plans change only through the plan endpoints
    domain_checked(parse_customer, merged)
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if "membership" in changed:  # one source of truth: the customer's agreements, if any
        from fieldtech.server.memberships import check_hand_set

        check_hand_set(s, ctx, row, changed["membership"])
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        row.revision += 1
        row.updated_at = ctx.now
        s.flush()
        log_change(s, ctx, "customer", row.id, "upsert", customer_json(row))
        audit(s, ctx, "customer.update", customer_id=row.id, detail={"changed": sorted(changed)})
    return row


def delete_customer(s: Session, ctx: Context, customer_id: str, base_revision: int | None) -> None:
    row = get_customer(s, ctx.account_id, customer_id)
    check_revision(row.revision, base_revision, "customer", customer_json(row))
    count = s.scalar(select(func.count()).where(ControllerRow.customer_id == row.id)) or 0
    if count:
        raise Problem(
            ProblemType.CUSTOMER_HAS_CONTROLLERS,
            f"{row.name} still has {count} controller(s).",
            controllers=count,
            fix="Delete or move the controllers first, or unlink the customer to let them "
            "keep their controllers on their own.",
        )
    held = s.execute(
        select(DocumentRow.kind, func.count())
        .where(DocumentRow.account_id == ctx.account_id, DocumentRow.customer_id == row.id)
        .group_by(DocumentRow.kind)
        .order_by(DocumentRow.kind)
    ).all()
    if held:  # agreements, time entries, work orders: the account's history, never lost quietly
        raise Problem(
            ProblemType.CUSTOMER_HAS_RECORDS,
            f"{row.name} still has " + ", ".join(f"{n} {kind}" for kind, n in held) + ".",
            records={kind: n for kind, n in held},
            fix="Delete those records first.",
        )
    if row.plan_source == "included":
        quota.release_included_enthusiast(s, ctx.account_id)
    s.delete(row)
    s.flush()
    log_change(s, ctx, "customer", customer_id, "delete", None)
    audit(s, ctx, "customer.delete", customer_id=customer_id, detail={"name": row.name})


def unlink_customer(s: Session, ctx: Context, customer_id: str) -> int:
    """The customer leaves the account with their controllers, which stop counting."""
    row = get_customer(s, ctx.account_id, customer_id)
    controllers = list(s.scalars(select(ControllerRow).where(ControllerRow.customer_id == row.id)))
    if row.plan_source == "included":  # included plans belong to the contractor
        quota.release_included_enthusiast(s, ctx.account_id)
        row.plan, row.plan_source = "home", None
    for c in controllers:
        c.account_id = None
        log_change(s, ctx, "controller", c.id, "delete", None)
    quota.release_controller_slots(s, ctx.account_id, len(controllers))
    row.account_id = None
    row.revision += 1
    row.updated_at = ctx.now
    s.flush()
    log_change(s, ctx, "customer", row.id, "delete", None)
    audit(
        s,
        ctx,
        "customer.unlink",
        customer_id=row.id,
        detail={"name": row.name, "controllers_freed": len(controllers)},
    )
    return len(controllers)


# ---- controllers ----


def create_controller(s: Session, ctx: Context, body: ControllerIn) -> ControllerRow:
    get_customer(s, ctx.account_id, str(body.customer_id))
    data = with_tags(body.model_dump(mode="json"))
    if data["config"] is None:
        zones = data["zone_count"] if isinstance(data["zone_count"], int) else 0
        data["config"] = ControllerConfig.default_for(max(0, min(zones, 200))).to_dict()
    controller = domain_checked(parse_controller, data)
    check_rain_delay(controller.config, ctx)
    check_new_id(s, ctx, ControllerRow, controller.id, "controller")
    if controller.serial:
        check_serial_free(s, ctx.account_id, controller.serial)
    account = s.get_one(AccountRow, ctx.account_id)
    quota.take_controller_slots(s, account)  # same transaction as the insert below
    row = ControllerRow(
        id=controller.id,
        account_id=ctx.account_id,
        customer_id=controller.customer_id,
        name=controller.name,
        model=controller.model,
        zone_count=controller.zone_count,
        serial=controller.serial,
        timezone=controller.timezone,
        location=controller.location,
        notes=controller.notes,
        tags=controller.tags,
        revision=1,
        config=controller.config.to_dict(),
        config_revision=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    s.add(row)
    s.add(DeviceStatusRow(controller_id=row.id, locally_modified=False))
    s.flush()
    log_change(s, ctx, "controller", row.id, "upsert", controller_json(row))
    log_change(s, ctx, "config", row.id, "upsert", config_json(row))
    audit(
        s,
        ctx,
        "controller.create",
        controller_id=row.id,
        customer_id=row.customer_id,
        detail={"name": row.name, "serial": row.serial},
    )
    return row


def update_controller(
    s: Session, ctx: Context, controller_id: str, patch: ControllerPatch, base_revision: int | None
) -> ControllerRow:
    row = get_controller(s, ctx.account_id, controller_id)
    check_revision(row.revision, base_revision, "controller", controller_json(row))
    changes = with_tags(patch.model_dump(mode="json", exclude_unset=True))
    # null means "no change" except for serial, where it unbinds the hardware
    changes = {k: v for k, v in changes.items() if v is not None or k == "serial"}
    if "customer_id" in changes:
        get_customer(s, ctx.account_id, changes["customer_id"])
    merged = {**controller_json(row), **changes, "config": row.config}
    domain_checked(parse_controller, merged)
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if changed.get("serial"):
        check_serial_free(s, ctx.account_id, changed["serial"])
    if "serial" in changed:  # other hardware, or none: the old device's token stops working
        s.execute(delete(DeviceTokenRow).where(DeviceTokenRow.controller_id == row.id))
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        row.revision += 1
        row.updated_at = ctx.now
        s.flush()
        log_change(s, ctx, "controller", row.id, "upsert", controller_json(row))
        action = "controller.move" if "customer_id" in changed else "controller.update"
        audit(
            s,
            ctx,
            action,
            controller_id=row.id,
            customer_id=row.customer_id,
            detail={"changed": {k: changed[k] for k in sorted(changed)}},
        )
    return row


def delete_controller(
    s: Session, ctx: Context, controller_id: str, base_revision: int | None
) -> None:
    row = get_controller(s, ctx.account_id, controller_id)
    check_revision(row.revision, base_revision, "controller", controller_json(row))
    s.delete(row)
    quota.release_controller_slots(s, ctx.account_id)
    s.flush()
    log_change(s, ctx, "controller", controller_id, "delete", None)
    audit(
        s,
        ctx,
        "controller.delete",
        controller_id=controller_id,
        customer_id=row.customer_id,
        detail={"name": row.name, "serial": row.serial},
    )


def put_config(
    s: Session, ctx: Context, controller_id: str, body: ConfigIn, base_revision: int
) -> ControllerRow:
    row = get_controller(s, ctx.account_id, controller_id)
    check_revision(row.config_revision, base_revision, "configuration", config_json(row))
    config = domain_checked(parse_config, body.model_dump(mode="json"), row.zone_count)
    check_rain_delay(config, ctx)
    new = config.to_dict()
    changed = sorted(k for k in new if new[k] != (row.config or {}).get(k))
    if changed:
        row.config = new
        row.config_revision += 1
        row.updated_at = ctx.now
        # No flush of its own: the caller's savepoint or commit writes it, so a sync batch's
        # run of puts is written in one flush (api/sync.py, `_run_configs`).
        log_change(s, ctx, "config", row.id, "upsert", config_json(row))
        audit(
            s,
            ctx,
            "config.update",
            controller_id=row.id,
            customer_id=row.customer_id,
            detail={"changed": changed, "revision": row.config_revision},
        )
    return row


def check_rain_delay(config: ControllerConfig, ctx: Context) -> None:
    if message := rain_delay_error(config.rain_delay_until, ctx.now):
        raise validation([("rain_delay_until", message)])


def check_new_id(
    s: Session,
    ctx: Context,
    table: type[CustomerRow | ControllerRow | DocumentRow],
    record_id: str,
    what: str,
) -> None:
    """A client-chosen id for a new record: free, already yours, or refused without saying why.

    Ids are random UUIDs, so one taken outside the account was guessed or copied: it gets the
    answer any unusable id gets (the nil UUID too), which does not confirm the record exists."""
    existing = s.get(table, record_id)
    if existing is not None and existing.account_id == ctx.account_id:
        raise Problem(ProblemType.ALREADY_EXISTS, f"A {what} with this id already exists.")
    if existing is not None or record_id == _NIL_ID:
        raise validation(
            [("id", "This id cannot be used for a new record: make a new random id (UUID).")]
        )


def check_serial_free(s: Session, account_id: str, serial: str) -> None:
    """Refuse a serial another record of this account has; other accounts' are not looked at."""
    taken = select(ControllerRow.id).where(
        ControllerRow.account_id == account_id, ControllerRow.serial == serial
    )
    if s.scalar(taken) is not None:
        raise Problem(
            ProblemType.SERIAL_TAKEN,
            f"Serial {serial} is already bound to another controller record of this account.",
            fix="Check the label; if the hardware moved, remove the serial from its old record "
            "first.",
        )
