"""Persistence: the SQL metadata store (SQLite or PostgreSQL) and the blob stores."""
