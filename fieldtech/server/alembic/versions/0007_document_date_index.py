"""an index on documents' date (issue 15): the billing report reads one month of time entries

Revision ID: 0007
Revises: 0006 (0006_fleet_work; the lead re-chains at merge)
Create Date: 2026-12-05 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same expression SQLAlchemy writes for DocumentRow.data["date"].as_string() on each
# backend (fieldtech.server.tables.DOCUMENT_DATE), or the planner would not use the index.
_DATE = {"postgresql": "(CAST(data ->> 'date' AS VARCHAR))",
         "sqlite": "CAST(JSON_EXTRACT(data, '$.\"date\"') AS VARCHAR)"}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index("ix_document_date", "document",
                    ["account_id", "kind", sa.text(_DATE.get(dialect, _DATE["sqlite"]))])


def downgrade() -> None:
    op.drop_index("ix_document_date", table_name="document")
