"""team deployment: a mail's first copy is unique, outbox rows are claimed by one dispatcher

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 09:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_copy_sha256", sa.String(length=64), nullable=True))
    # The mails stored so far: the oldest of each set of identical bytes is the first copy.
    op.execute(
        "UPDATE mail SET first_copy_sha256 = raw_sha256 WHERE id IN "
        "(SELECT min(id) FROM mail GROUP BY raw_sha256)"
    )
    op.create_index("one_first_copy", "mail", ["first_copy_sha256"], unique=True)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
    op.drop_index("one_first_copy", table_name="mail")
    with op.batch_alter_table("mail", schema=None) as batch_op:
        batch_op.drop_column("first_copy_sha256")
