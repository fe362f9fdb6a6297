"""Security hardening (issue 14): 64-bit sequences

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 05:00:00
"""

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


def upgrade() -> None:
    if _postgres():
        for table, column, sequence in _BIGINT:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
            if sequence:  # a serial's sequence is typed too, and stops at 2^31 - 1
                op.execute(f"ALTER SEQUENCE {sequence} AS bigint")


def downgrade() -> None:
    if _postgres():
        for table, column, sequence in _BIGINT:
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS integer")
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
