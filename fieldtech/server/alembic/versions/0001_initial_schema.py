"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:37:43.341538
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("custom_controllers", sa.Integer(), nullable=True),
        sa.Column("custom_staff", sa.Integer(), nullable=True),
        sa.Column("custom_enthusiast", sa.Integer(), nullable=True),
        sa.Column("controllers_used", sa.Integer(), nullable=False),
        sa.Column("staff_used", sa.Integer(), nullable=False),
        sa.Column("enthusiast_used", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("controller_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_controller_id"), ["controller_id"], unique=False)

    op.create_table(
        "change",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "seq"),
    )
    op.create_table(
        "customer",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("plan_source", sa.String(length=20), nullable=True),
        sa.Column("self_management", sa.String(length=20), nullable=False),
        sa.Column("membership", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_email"), ["email"], unique=False)

    op.create_table(
        "idempotency",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "key"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "controller",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("zone_count", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("serial"),
    )
    with op.batch_alter_table("controller", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_controller_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_controller_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "link_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_request_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_link_request_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "plan_code",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "purchase_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purchase_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_request_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "api_token",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "device_status",
        sa.Column("controller_id", sa.String(length=36), nullable=False),
        sa.Column("last_contact", sa.DateTime(), nullable=True),
        sa.Column("applied_revision", sa.Integer(), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("locally_modified", sa.Boolean(), nullable=False),
        sa.Column("commands", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("controller_id"),
    )
    op.create_table(
        "device_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("controller_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("device_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_token_controller_id"), ["controller_id"], unique=False
        )

    op.create_table(
        "pairing_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("controller_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    with op.batch_alter_table("pairing_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pairing_code_controller_id"), ["controller_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pairing_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairing_code_controller_id"))

    op.drop_table("pairing_code")
    with op.batch_alter_table("device_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_token_controller_id"))

    op.drop_table("device_token")
    op.drop_table("device_status")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("purchase_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_request_account_id"))

    op.drop_table("purchase_request")
    op.drop_table("plan_code")
    with op.batch_alter_table("link_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_request_customer_id"))
        batch_op.drop_index(batch_op.f("ix_link_request_account_id"))

    op.drop_table("link_request")
    with op.batch_alter_table("controller", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_controller_customer_id"))
        batch_op.drop_index(batch_op.f("ix_controller_account_id"))

    op.drop_table("controller")
    op.drop_table("app_user")
    op.drop_table("idempotency")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_email"))
        batch_op.drop_index(batch_op.f("ix_customer_account_id"))

    op.drop_table("customer")
    op.drop_table("change")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_controller_id"))
        batch_op.drop_index("ix_audit_account_id_id")

    op.drop_table("audit")
    op.drop_table("account")
