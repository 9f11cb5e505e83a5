"""The SQL metadata store: SQLAlchemy Core tables, repositories and Alembic migrations, for
SQLite and PostgreSQL."""
