"""pec_receipt: PEC receipts, linked to the outgoing message they confirm

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from inbox_daemon.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "pec_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("receipt_type", text(length=32), nullable=False),
        sa.Column("delivery", text(length=16), nullable=False),
        sa.Column("reference", text(length=998), nullable=True),
        sa.Column("identificativo", text(length=255), nullable=True),
        sa.Column("recipient", text(length=320), nullable=True),
        sa.Column("error", text(), nullable=True),
        sa.Column("certified", sa.Boolean(), nullable=False),
        sa.Column("reason", text(), nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["message.id"]),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_pk"),
    )
    op.create_index("ix_pec_receipt_outbox_id", "pec_receipt", ["outbox_id"])
    op.create_index("ix_pec_receipt_reference", "pec_receipt", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_pec_receipt_reference", "pec_receipt")
    op.drop_index("ix_pec_receipt_outbox_id", "pec_receipt")
    op.drop_table("pec_receipt")
