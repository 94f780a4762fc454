"""The store: schema and migrations, PTCE, accounts, récits, backups.

The only package that speaks SQL (SQLAlchemy; SQLite, or PostgreSQL by
``DATABASE_URL``).
"""

__all__ = [
    "accounts",
    "backups",
    "database",
    "ptce",
    "recits",
]
