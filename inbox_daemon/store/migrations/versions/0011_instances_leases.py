"""Several instances on one PostgreSQL: a heartbeat row per instance, a lease per mailbox
folder, and who holds the claim on a received message or an outbox job

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), primary_key=True),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_beat_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", UtcDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "lease",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=400), primary_key=True),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("acquired_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.add_column(
        "message",
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column("message", sa.Column("claimed_until", UtcDateTime(timezone=True), nullable=True))
    op.add_column(
        "outbox",
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("outbox", "claimed_by")
    op.drop_column("message", "claimed_until")
    op.drop_column("message", "claimed_by")
    op.drop_table("lease")
    op.drop_table("instance")
