"""link_request.asked_for: what the contractor typed, so a decline can be told back to them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("link_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asked_for", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_request", schema=None) as batch_op:
        batch_op.drop_column("asked_for")
