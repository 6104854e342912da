"""answering a notification by email (SPEC §15): the reply address, outcomes for no source,
digests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# mail_outcome as it is after 0007, but source_id may be NULL (a reply is for no source).
# SQLite cannot drop NOT NULL: the table is rebuilt by hand, keeping the REFERENCES clause
# 0007 wrote inline (a batch rebuild would lose its ON DELETE). Nothing references
# mail_outcome, so dropping the old table cascades to nothing.
SQLITE_MAIL_OUTCOME = """
CREATE TABLE mail_outcome_new (
    id INTEGER NOT NULL,
    mail_id INTEGER NOT NULL,
    source_id INTEGER,
    outcome VARCHAR(16) NOT NULL,
    incident_id INTEGER,
    reason VARCHAR NOT NULL, silenced_by INTEGER REFERENCES silence (id) ON DELETE SET NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(incident_id) REFERENCES incident (id) ON DELETE SET NULL,
    FOREIGN KEY(mail_id) REFERENCES mail (id) ON DELETE CASCADE,
    FOREIGN KEY(source_id) REFERENCES alert_source (id) ON DELETE CASCADE,
    UNIQUE (mail_id, source_id)
)
"""
INDEXES = ("incident_id", "mail_id", "outcome", "source_id")


def upgrade() -> None:
    op.add_column("org_settings", sa.Column("reply_address", sa.String(length=320), nullable=True))
    op.add_column("integration", sa.Column("digest_at", sa.String(length=5), nullable=True))
    op.add_column("delivery", sa.Column("digest", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("mail_outcome", "source_id", existing_type=sa.Integer(), nullable=True)
        return
    op.execute(SQLITE_MAIL_OUTCOME)
    op.execute(
        "INSERT INTO mail_outcome_new (id, mail_id, source_id, outcome, incident_id, reason, "
        "silenced_by) SELECT id, mail_id, source_id, outcome, incident_id, reason, silenced_by "
        "FROM mail_outcome"
    )
    op.execute("DROP TABLE mail_outcome")
    op.execute("ALTER TABLE mail_outcome_new RENAME TO mail_outcome")
    for column in INDEXES:
        op.create_index(f"ix_mail_outcome_{column}", "mail_outcome", [column])


def downgrade() -> None:
    op.execute("DELETE FROM mail_outcome WHERE source_id IS NULL")
    with op.batch_alter_table("mail_outcome", schema=None) as batch_op:
        batch_op.alter_column("source_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("digest")
    with op.batch_alter_table("integration", schema=None) as batch_op:
        batch_op.drop_column("digest_at")
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.drop_column("reply_address")
