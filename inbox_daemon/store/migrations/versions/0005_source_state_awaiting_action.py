"""source_state.awaiting_action: stored messages whose move or flag the server refused

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Storing and acknowledging are separate promises: a message is ticketed once stored, whatever
the server answers to its move or flag. The messages still waiting for that post-action are
counted per folder, so that an operator (and a `status` command) sees them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("awaiting_action", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_column("awaiting_action")
