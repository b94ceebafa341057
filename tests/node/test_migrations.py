"""The migrations build exactly the tables the models declare, on SQLite and on PostgreSQL: a
column, index or table added to a model without its migration (or the other way) fails here
rather than on a node upgraded in the field."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from node.db import make_engine, migrate
from node.models import Base


def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
