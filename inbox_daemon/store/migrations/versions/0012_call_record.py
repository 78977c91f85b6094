"""call_record: the PBX's call records, for the monthly report's phone service levels

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", text(length=64), nullable=False),
        sa.Column("start", UtcDateTime(timezone=True), nullable=False),
        sa.Column("answer", UtcDateTime(timezone=True), nullable=True),
        sa.Column("end", UtcDateTime(timezone=True), nullable=True),
        sa.Column("src", text(length=80), nullable=True),
        sa.Column("dst", text(length=80), nullable=True),
        sa.Column("disposition", text(length=16), nullable=False),
        sa.Column("lastapp", text(length=80), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("billsec_s", sa.Integer(), nullable=True),
        sa.Column("source_file", text(length=1000), nullable=True),
        sa.Column("imported_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_call_record_start", "call_record", ["start"])


def downgrade() -> None:
    op.drop_index("ix_call_record_start", table_name="call_record")
    op.drop_table("call_record")
