"""revocations keyed by what they revoke, numbered for an incremental feed

Revision ID: 0003_revocation_feed
Revises: 0002_session_issued_at

A revocation is now one row per (kind, subject): repeating it adds no row. Every change
takes the next number of the single ``revocation_feed`` row, so verifiers can ask for the
changes after a cursor instead of the whole list. Ticket rows remember their account and
their token's ``iat``, so an account-wide mark can take their place.

Existing rows are kept, the latest per (kind, subject), numbered by their old ids.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003_revocation_feed"
down_revision = "0002_session_issued_at"
branch_labels = None
depends_on = None

_OLD = "revocations_0002"


def _drop_old_indexes() -> None:
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index("ix_revocations_kind_subject")
        batch_op.drop_index("ix_revocations_expires_at")


def upgrade() -> None:
    _drop_old_indexes()
    op.rename_table("revocations", _OLD)
    op.create_table(
        "revocations",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=True),
        sa.Column("except_ticket", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        # Named: the renamed old table still holds the default name until it is dropped.
        sa.PrimaryKeyConstraint("kind", "subject", name="pk_revocations_entry"),
        sa.UniqueConstraint("seq", name="uq_revocations_seq"),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index("ix_revocations_account_id", ["account_id"], unique=False)
        batch_op.create_index("ix_revocations_expires_at", ["expires_at"], unique=False)
    op.execute(
        f"INSERT INTO revocations (kind, subject, not_after, except_ticket, created_at, "  # noqa: S608  fixed names
        f"expires_at, seq) SELECT kind, subject, not_after, except_ticket, created_at, "
        f"expires_at, id FROM {_OLD} old WHERE old.id = "
        f"(SELECT max(latest.id) FROM {_OLD} latest "
        f"WHERE latest.kind = old.kind AND latest.subject = old.subject)"
    )
    feed = op.create_table(
        "revocation_feed",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    last = op.get_bind().execute(sa.text(f"SELECT max(id) FROM {_OLD}")).scalar()  # noqa: S608
    op.bulk_insert(
        feed, [{"id": 1, "last_seq": int(last or 0), "generation": secrets.token_hex(16)}]
    )
    op.drop_table(_OLD)


def downgrade() -> None:
    op.drop_table("revocation_feed")
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index("ix_revocations_account_id")
        batch_op.drop_index("ix_revocations_expires_at")
    op.rename_table("revocations", _OLD)
    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=True),
        sa.Column("except_ticket", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index("ix_revocations_expires_at", ["expires_at"], unique=False)
        batch_op.create_index("ix_revocations_kind_subject", ["kind", "subject"], unique=False)
    op.execute(
        f"INSERT INTO revocations (kind, subject, not_after, except_ticket, created_at, "  # noqa: S608  fixed names
        f"expires_at) SELECT kind, subject, not_after, except_ticket, created_at, expires_at "
        f"FROM {_OLD} ORDER BY seq"
    )
    op.drop_table(_OLD)
