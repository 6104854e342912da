"""parse once: a mail's text is kept at ingest, so that no later reader parses its raw bytes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for the mails stored before: their readers parse the raw bytes, once each.
    with op.batch_alter_table("mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail", schema=None) as batch_op:
        batch_op.drop_column("body_text")
