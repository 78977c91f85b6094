"""report_run: the monthly reports made and queued for mailing, one row a month

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-03

The unique month makes the scheduled report once, whichever instance or restart makes it;
a month due while the daemon was down is found missing here and made at the next start.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "report_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", AutoString(length=7), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("made_at", UtcDateTime(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("sha256", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )


def downgrade() -> None:
    op.drop_table("report_run")
