"""Alembic environment: the daemon passes its own connection; no alembic.ini is needed."""

from alembic import context

from inbox_daemon.store import models

target_metadata = models.SQLModel.metadata
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
