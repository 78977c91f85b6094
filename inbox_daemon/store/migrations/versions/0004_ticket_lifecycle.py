"""ticket lifecycle: ticket_event history, assigned team and closing time of a ticket

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Statuses move open -> in_progress -> closed (and back by reopening); every change is one
`ticket_event` row, never overwritten. `closed_at` keeps the last closing for the monthly
report's times without reading the history.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("action", AutoString(length=16), nullable=False),
        sa.Column("from_status", AutoString(length=16), nullable=False),
        sa.Column("to_status", AutoString(length=16), nullable=False),
        sa.Column("actor", AutoString(length=64), nullable=False),
        sa.Column("team", AutoString(length=64), nullable=True),
        sa.Column("note", AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_event_ticket_id", "ticket_event", ["ticket_id"])
    # Plain ADD COLUMNs: a batch operation would rebuild `ticket`, which others refer to.
    op.add_column("ticket", sa.Column("assigned_to", AutoString(length=64), nullable=True))
    op.add_column("ticket", sa.Column("closed_at", UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("ticket", "closed_at")
    op.drop_column("ticket", "assigned_to")
    op.drop_index("ix_ticket_event_ticket_id", table_name="ticket_event")
    op.drop_table("ticket_event")
