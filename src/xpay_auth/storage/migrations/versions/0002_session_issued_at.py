"""sessions remember their token's iat

Revision ID: 0002_session_issued_at
Revises: 0001

Account-wide revocations compare a token's ``iat`` (seconds) with their ``not_after`` mark.
A login in the same second as such a mark is issued one second after it, so ``created_at``
alone cannot tell whether a stored session survived; the session list needs the real ``iat``.
Rows written before this column exist fall back to ``created_at``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_session_issued_at"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("issued_at")
