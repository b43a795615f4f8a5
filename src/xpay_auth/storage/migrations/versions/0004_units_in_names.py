"""every time column says its unit

Revision ID: 0004_units_in_names
Revises: 0003_revocation_feed

Times were integers named ``*_at`` in milliseconds, beside ``tokens_not_after``,
``not_after`` and ``issued_at`` in seconds (a token's ``iat``), so that the difference
showed only in comments and in the ``// 1000`` of a query. Each column is renamed to end in
``_ms`` or ``_s``; values are kept as they are, and so are the indexes on them (renamed).
"""

from __future__ import annotations

from alembic import op

revision = "0004_units_in_names"
down_revision = "0003_revocation_feed"
branch_labels = None
depends_on = None

# (table, old name, new name)
RENAMED = (
    ("accounts", "tokens_not_after", "tokens_not_after_s"),
    ("accounts", "created_at", "created_at_ms"),
    ("accounts", "updated_at", "updated_at_ms"),
    ("api_keys", "previous_expires_at", "previous_expires_at_ms"),
    ("api_keys", "created_at", "created_at_ms"),
    ("api_keys", "expires_at", "expires_at_ms"),
    ("api_keys", "revoked_at", "revoked_at_ms"),
    ("api_keys", "last_used_at", "last_used_at_ms"),
    ("sessions", "created_at", "created_at_ms"),
    ("sessions", "expires_at", "expires_at_ms"),
    ("sessions", "issued_at", "issued_at_s"),
    ("revocations", "not_after", "not_after_s"),
    ("revocations", "issued_at", "issued_at_s"),
    ("revocations", "created_at", "created_at_ms"),
    ("revocations", "expires_at", "expires_at_ms"),
    ("signing_keys", "created_at", "created_at_ms"),
    ("signing_keys", "retired_at", "retired_at_ms"),
    ("signing_keys", "publish_until", "publish_until_ms"),
    ("audit_events", "at", "at_ms"),
)
# Indexes named after a renamed column: (table, column after the rename).
INDEXED = (
    ("sessions", "expires_at_ms"),
    ("revocations", "expires_at_ms"),
    ("audit_events", "at_ms"),
)


def _old_name(column: str) -> str:
    return next(old for _, old, new in RENAMED if new == column)


def _rename_index(table: str, old: str, new: str, column: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER INDEX "{old}" RENAME TO "{new}"')
        return
    # SQLite renames no index; RENAME COLUMN has already moved this one to the new column.
    op.drop_index(old, table_name=table)
    op.create_index(new, table, [column], unique=False)


def upgrade() -> None:
    for table, old, new in RENAMED:
        op.alter_column(table, old, new_column_name=new)
    for table, column in INDEXED:
        _rename_index(table, f"ix_{table}_{_old_name(column)}", f"ix_{table}_{column}", column)


def downgrade() -> None:
    for table, column in INDEXED:
        old = _old_name(column)
        _rename_index(table, f"ix_{table}_{column}", f"ix_{table}_{old}", column)
    for table, old, new in RENAMED:
        op.alter_column(table, new, new_column_name=old)
