"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import inbox_daemon.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column(
            "received_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "spooled_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("header_message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column(
            "processed_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
        sa.UniqueConstraint("source", "folder", "uidvalidity", "uid", name="uq_message_origin"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_header_message_id"), ["header_message_id"], unique=False
        )
        batch_op.create_index("ix_message_status", ["status"], unique=False)

    op.create_table(
        "source_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column(
            "last_success_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column(
            "last_error_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "folder", name="uq_source_state"),
    )
    op.create_table(
        "ticket_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("original_filename", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("ocr_confidence", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_pk"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_pk", "index", name="uq_attachment_position"),
    )
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("sender_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("request_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("criminal_event", sa.Boolean(), nullable=False),
        sa.Column("pole_codes", sa.JSON(), nullable=False),
        sa.Column("related_ticket_id", sa.Integer(), nullable=True),
        sa.Column(
            "received_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "deemed_received_at",
            inbox_daemon.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("deemed_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column(
            "registered_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("sent_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column("thread_root", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column(
            "pec_identificativo", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column("pec", sa.JSON(), nullable=True),
        sa.Column("fax", sa.JSON(), nullable=True),
        sa.Column("phone", sa.JSON(), nullable=True),
        sa.Column("location", sa.JSON(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"],
            ["message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["related_ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("message_pk"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("pec_identificativo"),
        sa.UniqueConstraint("year", "seq", name="uq_ticket_year_seq"),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_sender"), ["sender"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_thread_root"), ["thread_root"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", inbox_daemon.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "outgoing_message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "kind", "recipient", name="uq_outbox_once"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "rule_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_hit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_hit_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rule_hit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_hit_ticket_id"))

    op.drop_table("rule_hit")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_thread_root"))
        batch_op.drop_index(batch_op.f("ix_ticket_sender"))
        batch_op.drop_index(batch_op.f("ix_ticket_received_at"))

    op.drop_table("ticket")
    op.drop_table("attachment")
    op.drop_table("ticket_counter")
    op.drop_table("source_state")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_status")
        batch_op.drop_index(batch_op.f("ix_message_header_message_id"))

    op.drop_table("message")
