"""pole register: poles by code, the register's version; tickets' unknown and candidate poles

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

The register (`poles import`) lets a pole's code alone locate a report. `pole_register` holds
one row whose `version` a running daemon compares to reload its index after a re-import.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "pole",
        sa.Column("code", AutoString(length=64), nullable=False),
        sa.Column("address", AutoString(length=255), nullable=False),
        sa.Column("municipality", AutoString(length=128), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("street", AutoString(length=255), nullable=False),
        sa.Column("civic", sa.Integer(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_pole_street", "pole", ["municipality", "street", "civic"])
    op.create_table(
        "pole_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("poles", sa.Integer(), nullable=False),
        sa.Column("sha256", AutoString(length=64), nullable=True),
        sa.Column("source", AutoString(length=1000), nullable=True),
        sa.Column("imported_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # A plain ADD COLUMN: a batch operation would rebuild `ticket`, which other tables refer to.
    op.add_column("ticket", sa.Column("unknown_poles", sa.JSON(), nullable=True))
    op.add_column("ticket", sa.Column("candidate_poles", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("ticket", "candidate_poles")
    op.drop_column("ticket", "unknown_poles")
    op.drop_table("pole_register")
    op.drop_index("ix_pole_street", table_name="pole")
    op.drop_table("pole")
