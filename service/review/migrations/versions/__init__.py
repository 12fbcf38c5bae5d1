"""Alembic revision scripts (a package only so that installers ship these files)."""
