"""Alembic migrations of the review database, bundled as package data and run by ``db.migrate``."""
