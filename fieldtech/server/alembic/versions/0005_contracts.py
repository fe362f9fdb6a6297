"""synced documents (issue 15): tiers, packages, agreements, time entries, work orders…

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(length=36)


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_document_account_kind", "document", ["account_id", "kind", "customer_id"]
    )
    op.create_index("ix_document_customer_id", "document", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_document_customer_id", table_name="document")
    op.drop_index("ix_document_account_kind", table_name="document")
    op.drop_table("document")
