"""tags on customers and controllers (issue 16)

Revision ID: 0006
Revises: 0005 (0005_contracts, issue 15)
Create Date: 2026-12-05 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("customer", "controller"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("customer", "controller"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("tags")
