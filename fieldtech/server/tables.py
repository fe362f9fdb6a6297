"""The database schema (SQLAlchemy 2 declarative). Alembic migrations in alembic/ follow it.

Times are naive UTC (SQLite keeps no zone); the API adds the "Z".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(36)  # uuid strings, chosen by the client for customers and controllers
# Sequences that grow with the whole service's history (audit ids, change-log cursors): 64 bits.
# SQLite's INTEGER is 64 bits already, and only INTEGER makes a primary key its rowid.
BIGINT = BigInteger().with_variant(Integer(), "sqlite")


OWNER, STAFF = "owner", "staff"  # a staff user's role in the account (UserRow.account_role)


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "account"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20))
    # Platinum only: limits set per account by the vendor.
    custom_controllers: Mapped[int | None] = mapped_column(Integer)
    custom_staff: Mapped[int | None] = mapped_column(Integer)
    custom_enthusiast: Mapped[int | None] = mapped_column(Integer)
    # Usage counters, changed only by conditional UPDATEs in the transaction that adds or
    # removes the thing they count (quota.py): the race-free quota.
    controllers_used: Mapped[int] = mapped_column(Integer, default=0)
    staff_used: Mapped[int] = mapped_column(Integer, default=0)
    enthusiast_used: Mapped[int] = mapped_column(Integer, default=0)
    # Last change-log sequence number of this account (changes.py).
    change_seq: Mapped[int] = mapped_column(BIGINT, default=0)
    created_at: Mapped[datetime]


class UserRow(Base):
    """A person who signs in: contractor staff, or a customer managing their own controllers."""

    __tablename__ = "app_user"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))  # "staff" | "customer"
    # Staff only: "owner" (tier, billing, staff, the account itself; at least one per account)
    # or "staff" (the fleet); `billing` lets a staff member handle contracts and invoices.
    account_role: Mapped[str | None] = mapped_column(String(20))
    billing: Mapped[bool] = mapped_column(default=False)
    # Unique within an account (checked under its lock), not across the service: a global rule
    # would tell any contractor which e-mails have a login somewhere (issue 14).
    email: Mapped[str] = mapped_column(String(320), index=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]


class ApiTokenRow(Base):
    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; never the token
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: until revoked


class CustomerRow(Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # None: the customer left the contractor (unlinked) and manages alone.
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="", index=True)
    phone: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[str] = mapped_column(String(20), default="home")
    plan_source: Mapped[str | None] = mapped_column(String(20))  # code | included | None
    self_management: Mapped[str] = mapped_column(String(20), default="none")
    membership: Mapped[str] = mapped_column(String(20), default="none")
    tags: Mapped[str] = mapped_column(Text, default="", server_default="")  # issue 16
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ControllerRow(Base):
    __tablename__ = "controller"
    # A serial is unique within an account: typing one is a claim that pairing proves, and a
    # service-wide rule would tell a contractor which serials other accounts have (issue 14).
    __table_args__ = (UniqueConstraint("account_id", "serial"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # Copied from the customer so every query is scoped by one indexed column.
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(64))
    zone_count: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str | None] = mapped_column(String(32), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="", server_default="")  # issue 16
    revision: Mapped[int] = mapped_column(Integer, default=1)  # the record's fields
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_revision: Mapped[int] = mapped_column(Integer, default=1)  # the config document
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeviceStatusRow(Base):
    """What the hardware last reported. Written by heartbeats only, so device traffic never
    locks the rows contractors edit."""

    __tablename__ = "device_status"

    controller_id: Mapped[str] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), primary_key=True
    )
    last_contact: Mapped[datetime | None]
    applied_revision: Mapped[int | None] = mapped_column(Integer)
    firmware: Mapped[str | None] = mapped_column(String(64))
    locally_modified: Mapped[bool] = mapped_column(default=False)
    # Zone runs asked for by a person, handed to the device with its next heartbeat.
    commands: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # before 0004; unused
    # What a person sees of the device (issue 10). Written only with the change-log entry that
    # reports them (heartbeats.py); the common heartbeat changes none of them.
    enabled: Mapped[bool | None]
    running: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rain_delay_until: Mapped[datetime | None]
    faults: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # None: never reported
    uptime_s: Mapped[int | None] = mapped_column(Integer)
    # sha256 of the visible part of the last report: the common heartbeat's one-statement test
    # "nothing a person would see changed" (device_store.py).
    report_digest: Mapped[str | None] = mapped_column(String(64))
    offline_since: Mapped[datetime | None]  # set by the sweeper after 3 missed heartbeats
    out_of_sync_since: Mapped[datetime | None]  # device revision ≠ cloud revision since then
    commands_waiting: Mapped[bool] = mapped_column(default=False)  # CommandRow queued for it


class DeviceTokenRow(Base):
    __tablename__ = "device_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    controller_id: Mapped[str] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]


class PairingCodeRow(Base):
    __tablename__ = "pairing_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    controller_id: Mapped[str] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PlanCodeRow(Base):
    """Enthusiast plan codes issued by the vendor (`fieldtech cloud issue-plan-codes`)."""

    __tablename__ = "plan_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256, as tokens
    issued_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    account_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))


class PurchaseRequestRow(Base):
    __tablename__ = "purchase_request"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime]


class LinkRequestRow(Base):
    """A contractor asks an unlinked customer to join their account; the customer approves."""

    __tablename__ = "link_request"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime]
    # The e-mail or serial the contractor typed: what a decline is reported back as.
    asked_for: Mapped[str | None] = mapped_column(String(320))


class AuditRow(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    controller_id: Mapped[str | None] = mapped_column(ID, index=True)  # kept after a delete
    customer_id: Mapped[str | None] = mapped_column(ID)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime]


class ChangeRow(Base):
    """The per-account change log the sync engine pulls with a cursor (changes.py)."""

    __tablename__ = "change"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(ID)
    op: Mapped[str] = mapped_column(String(10))  # upsert | delete
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime]


class RateLimitRow(Base):
    """A token bucket shared by every server process (ratelimit.SharedRateLimiter)."""

    __tablename__ = "rate_limit"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the key
    tokens: Mapped[float]
    at: Mapped[float]  # seconds since the epoch


class IdempotencyRow(Base):
    """Results of applied batch items, replayed when the same key comes again."""

    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class IncidentRow(Base):
    """One problem on one controller (or one customer's whole site): fieldtech.domain.incidents.

    At most one unresolved incident per (subject, kind, zone): a partial unique index, so two
    workers sweeping at once can never open it twice."""

    __tablename__ = "incident"
    __table_args__ = (
        Index(
            "ux_incident_open",
            "subject",
            "kind",
            "zone_key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_incident_account_opened", "account_id", "opened_at"),
        Index("ix_incident_due", "response_due_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    controller_id: Mapped[str | None] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(ID)  # the controller id, or the customer id for a site
    kind: Mapped[str] = mapped_column(String(32))
    zone: Mapped[int | None] = mapped_column(Integer)
    zone_key: Mapped[int] = mapped_column(Integer, default=0)  # zone or 0: NULLs never clash
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(320))  # None: resolved on recovery
    resolve_note: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    ack_note: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[datetime | None]
    assigned_to: Mapped[str | None] = mapped_column(ID)
    membership: Mapped[str | None] = mapped_column(String(20))
    response_due_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=1)


class CommandRow(Base):
    """A remote command: queued → delivered (in a heartbeat answer) → done / failed / expired."""

    __tablename__ = "command"
    __table_args__ = (
        UniqueConstraint("account_id", "key"),
        Index("ix_command_controller_state", "controller_id", "state"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    controller_id: Mapped[str] = mapped_column(ForeignKey("controller.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))  # the idempotency key
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]


class MaintenanceWindowRow(Base):
    """No new incidents for a customer or a controller from `starts` to `ends`."""

    __tablename__ = "maintenance_window"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    controller_id: Mapped[str | None] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE")
    )
    starts: Mapped[datetime]
    ends: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]


class ServiceSettingsRow(Base):
    """An account's time zone for SLA clocks and its own response targets (None: defaults)."""

    __tablename__ = "service_settings"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    response_targets: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- issue 15 ---


class DocumentRow(Base):
    """A synced document (fieldtech.domain.documents): a tier, an agreement, a time entry, a
    work order… `data` is the kind's fields, validated by the kind's domain validator."""

    __tablename__ = "document"
    __table_args__ = (Index("ix_document_account_kind", "account_id", "kind", "customer_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)  # chosen by the client
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # Copied from `data` (the kind's customer field) so a customer's documents are one lookup;
    # SET NULL: a customer who left and deleted themselves leaves the contractor's history.
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# --- session 6, issue 15 ---

# A month's billing report reads that month of an account's time entries (and this year's
# visits), not all 100,000: by the entry's date, the expression the route filters on.
DOCUMENT_DATE = DocumentRow.data["date"].as_string()
Index("ix_document_date", DocumentRow.account_id, DocumentRow.kind, DOCUMENT_DATE)
