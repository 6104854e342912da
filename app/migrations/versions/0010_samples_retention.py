"""samples as tests and retention (SPEC §16, §17): a source's samples, the org's
retention_days, and when a mail's bytes were pruned

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 22:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (constant defaults): no table is rebuilt, so no cascade can fire.
    op.add_column(
        "alert_source", sa.Column("samples", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column(
        "org_settings",
        sa.Column("retention_days", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("mail", sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail", schema=None) as batch_op:
        batch_op.drop_column("pruned_at")
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
    with op.batch_alter_table("alert_source", schema=None) as batch_op:
        batch_op.drop_column("samples")
