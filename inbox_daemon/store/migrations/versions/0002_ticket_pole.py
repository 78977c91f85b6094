"""ticket_pole: pole codes of tickets, indexed, for reminder linking

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Reminder linking looked for an earlier ticket about the same pole by reading recent tickets'
`pole_codes` in Python; one indexed row per (ticket, code) answers it with one query. Existing
tickets get their rows here, from `ticket.pole_codes`.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PAGE = 1000  # tickets read per query while back-filling: memory stays flat on a big archive
CODE_LENGTH = 64

ticket = sa.table("ticket", sa.column("id", sa.Integer()), sa.column("pole_codes", sa.JSON()))
ticket_pole = sa.table(
    "ticket_pole", sa.column("ticket_id", sa.Integer()), sa.column("code", sa.String())
)


def upgrade() -> None:
    op.create_table(
        "ticket_pole",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=CODE_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("ticket_id", "code"),
    )
    with op.batch_alter_table("ticket_pole", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_pole_code"), ["code"], unique=False)
    _back_fill(op.get_bind())


def _back_fill(conn: sa.Connection) -> None:
    last_id = 0
    while True:
        page = conn.execute(
            sa.select(ticket.c.id, ticket.c.pole_codes)
            .where(ticket.c.id > last_id)
            .order_by(ticket.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        rows = [
            {"ticket_id": ticket_id, "code": code}
            for ticket_id, codes in page
            for code in dict.fromkeys(c[:CODE_LENGTH] for c in codes or [])
        ]
        if rows:
            conn.execute(ticket_pole.insert(), rows)
        last_id = page[-1].id


def downgrade() -> None:
    with op.batch_alter_table("ticket_pole", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_pole_code"))
    op.drop_table("ticket_pole")
