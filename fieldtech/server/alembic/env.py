"""Alembic environment: migrations run from fieldtech.server.db.migrate on a given connection."""

from alembic import context

from fieldtech.server.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
