"""Security hardening (issue 14): 64-bit sequences; e-mails and serials unique per account;
plan codes stored as sha256; staff roles (owner / staff, billing), the first user owning
existing accounts; api_token.expires_at; rate_limit (token buckets shared by all server processes)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 05:00:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, sequence behind it or None). SQLite's INTEGER is 64 bits already.
_BIGINT = [
    ("account", "change_seq", None),
    ("change", "seq", None),
    ("audit", "id", "audit_id_seq"),
    ("idempotency", "id", "idempotency_id_seq"),
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


# 0001 made these unique constraints without names: PostgreSQL named them <table>_<column>_key;
# on SQLite, batch mode names reflected ones by this convention so they can be dropped.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_name(table: str, column: str) -> str:
    return f"{table}_{column}_key" if _postgres() else f"uq_{table}_{column}"


def upgrade() -> None:
    if _postgres():
        for table, column, sequence in _BIGINT:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
            if sequence:  # a serial's sequence is typed too, and stops at 2^31 - 1
                op.execute(f"ALTER SEQUENCE {sequence} AS bigint")
    with op.batch_alter_table("app_user", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(_unique_name("app_user", "email"), type_="unique")
        batch.create_index("ix_app_user_email", ["email"])
    with op.batch_alter_table("controller", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(_unique_name("controller", "serial"), type_="unique")
        batch.create_index("ix_controller_serial", ["serial"])
        batch.create_unique_constraint(
            "uq_controller_account_id_serial", ["account_id", "serial"]
        )
    _hash_plan_codes()
    _staff_roles()
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "rate_limit",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
    )


def _staff_roles() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("account_role", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("billing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE app_user SET account_role = 'staff' WHERE role = 'staff'")
    # An existing account's first user (who created it) becomes its owner.
    op.execute(
        """
        UPDATE app_user SET account_role = 'owner'
        WHERE role = 'staff' AND NOT EXISTS (
            SELECT 1 FROM app_user AS earlier
            WHERE earlier.account_id = app_user.account_id AND earlier.role = 'staff'
              AND (earlier.created_at < app_user.created_at
                   OR (earlier.created_at = app_user.created_at AND earlier.id < app_user.id))
        )
        """
    )


def _hash_plan_codes() -> None:
    with op.batch_alter_table("plan_code") as batch:
        batch.alter_column(
            "code", new_column_name="code_hash", type_=sa.String(64), existing_type=sa.String(9)
        )
    bind = op.get_bind()
    codes = bind.execute(sa.text("SELECT code_hash FROM plan_code")).scalars().all()
    for code in codes:
        bind.execute(
            sa.text("UPDATE plan_code SET code_hash = :hash WHERE code_hash = :code"),
            {"hash": hashlib.sha256(code.encode()).hexdigest(), "code": code},
        )


def downgrade() -> None:
    op.drop_table("rate_limit")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("billing")
        batch.drop_column("account_role")
    # Hashed plan codes cannot be turned back into codes: downgrading drops them.
    op.execute("DELETE FROM plan_code")
    with op.batch_alter_table("plan_code") as batch:
        batch.alter_column(
            "code_hash", new_column_name="code", type_=sa.String(9), existing_type=sa.String(64)
        )
    with op.batch_alter_table("controller") as batch:
        batch.drop_constraint("uq_controller_account_id_serial", type_="unique")
        batch.drop_index("ix_controller_serial")
        batch.create_unique_constraint(_unique_name("controller", "serial"), ["serial"])
    with op.batch_alter_table("app_user") as batch:
        batch.drop_index("ix_app_user_email")
        batch.create_unique_constraint(_unique_name("app_user", "email"), ["email"])
    if _postgres():
        for table, column, sequence in _BIGINT:
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS integer")
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
