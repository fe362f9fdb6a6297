"""incidents, remote commands, maintenance windows, service settings; live device state

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(length=36)


def upgrade() -> None:
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("running", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rain_delay_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("faults", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("uptime_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("report_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("offline_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("out_of_sync_since", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "commands_waiting", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    op.create_table(
        "incident",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("controller_id", _ID, nullable=True),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("subject", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.Integer(), nullable=True),
        sa.Column("zone_key", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.Column("resolve_note", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=320), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(), nullable=True),
        sa.Column("assigned_to", _ID, nullable=True),
        sa.Column("membership", sa.String(length=20), nullable=True),
        sa.Column("response_due_at", sa.DateTime(), nullable=True),
        sa.Column("breached_at", sa.DateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_incident_open",
        "incident",
        ["subject", "kind", "zone_key"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index("ix_incident_account_opened", "incident", ["account_id", "opened_at"])
    op.create_index("ix_incident_due", "incident", ["response_due_at"])
    op.create_index("ix_incident_controller_id", "incident", ["controller_id"])

    op.create_table(
        "command",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("controller_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "key"),
    )
    op.create_index("ix_command_controller_state", "command", ["controller_id", "state"])

    op.create_table(
        "maintenance_window",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("controller_id", _ID, nullable=True),
        sa.Column("starts", sa.DateTime(), nullable=False),
        sa.Column("ends", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_maintenance_window_account_id", "maintenance_window", ["account_id"]
    )

    op.create_table(
        "service_settings",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("response_targets", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("service_settings")
    op.drop_index("ix_maintenance_window_account_id", table_name="maintenance_window")
    op.drop_table("maintenance_window")
    op.drop_index("ix_command_controller_state", table_name="command")
    op.drop_table("command")
    for name in (
        "ix_incident_controller_id",
        "ix_incident_due",
        "ix_incident_account_opened",
        "ux_incident_open",
    ):
        op.drop_index(name, table_name="incident")
    op.drop_table("incident")
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        for column in (
            "commands_waiting",
            "out_of_sync_since",
            "offline_since",
            "report_digest",
            "uptime_s",
            "faults",
            "rain_delay_until",
            "running",
            "enabled",
        ):
            batch_op.drop_column(column)
