"""Alembic environment: runs on the connection that ``service.review.db.migrate`` hands over.

Only the online mode is supported: migrations always run against a live connection, from the service at start
or from a CLI verb, never as generated SQL.
"""

from __future__ import annotations

from alembic import context

from service.review.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through service.review.db.migrate(engine), which supplies a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=config.attributes.get("version_table", "review_alembic_version"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
