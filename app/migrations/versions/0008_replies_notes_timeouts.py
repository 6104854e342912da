"""replies that join their incident, assignment, timeouts (SPEC §13-14)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_source", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ack_timeout_minutes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("auto_resolve_minutes", sa.Integer(), nullable=False, server_default="0")
        )
    # Plain ADD COLUMNs on incident: a batch rebuild on SQLite would cascade-delete its
    # timeline (see 0007).
    op.add_column("incident", sa.Column("assignee", sa.String(length=128), nullable=True))
    op.add_column("incident", sa.Column("last_mail_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "incident", sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0")
    )
    # The last alert mail of each incident so far: its newest mail event (created or appended).
    op.execute(
        "UPDATE incident SET last_mail_at = (SELECT max(timeline_event.at) FROM timeline_event "
        "WHERE timeline_event.incident_id = incident.id AND timeline_event.mail_id IS NOT NULL "
        "AND timeline_event.kind IN ('created', 'mail'))"
    )


def downgrade() -> None:
    # Dropping columns rebuilds the table on SQLite: run with foreign keys off (see 0007).
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("reply_count")
        batch_op.drop_column("last_mail_at")
        batch_op.drop_column("assignee")
    with op.batch_alter_table("alert_source", schema=None) as batch_op:
        batch_op.drop_column("auto_resolve_minutes")
        batch_op.drop_column("ack_timeout_minutes")
