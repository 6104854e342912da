"""silences, heartbeats, severity and title from the mail (SPEC §10-12)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("match", sa.String(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["alert_source.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("silence_by_end", "silence", ["ends_at"])
    with op.batch_alter_table("alert_source", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity_rules", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("title_rule", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_minutes", sa.Integer(), nullable=False, server_default="0")
        )
    # Plain ADD COLUMNs, with their references inline: a batch rebuild of `incident` on
    # SQLite (foreign keys on) would drop the old table, and with it, by cascade, every
    # timeline event and delivery that points at it. Alembic cannot add a reference to an
    # SQLite table, but SQLite's own ADD COLUMN can.
    for table in ("incident", "mail_outcome"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN silenced_by INTEGER "
                "REFERENCES silence (id) ON DELETE SET NULL"
            )
        else:
            op.add_column(table, sa.Column("silenced_by", sa.Integer(), nullable=True))
            op.create_foreign_key(
                f"{table}_silenced_by", table, "silence", ["silenced_by"], ["id"],
                ondelete="SET NULL",
            )  # fmt: skip
    op.create_index("ix_incident_silenced_by", "incident", ["silenced_by"])


def downgrade() -> None:
    # Dropping a referencing column rebuilds the table on SQLite; see upgrade() on cascades:
    # the rebuild must run with foreign keys off (alembic downgrade from a plain sqlite3).
    with op.batch_alter_table("mail_outcome", schema=None) as batch_op:
        batch_op.drop_column("silenced_by")
    op.drop_index("ix_incident_silenced_by", table_name="incident")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("silenced_by")
    with op.batch_alter_table("alert_source", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_minutes")
        batch_op.drop_column("title_rule")
        batch_op.drop_column("severity_rules")
    op.drop_index("silence_by_end", table_name="silence")
    op.drop_table("silence")
