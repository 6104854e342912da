"""on-call schedules (SPEC §18): a schedule's rotation, and its overrides

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("users", sa.JSON(), nullable=False),
        sa.Column("length", sa.String(length=16), nullable=False),
        sa.Column("handoff", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_schedule_name"), "schedule", ["name"], unique=True)
    op.create_table(
        "schedule_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_schedule_override_schedule_id"), "schedule_override", ["schedule_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_schedule_override_schedule_id"), table_name="schedule_override")
    op.drop_table("schedule_override")
    op.drop_index(op.f("ix_schedule_name"), table_name="schedule")
    op.drop_table("schedule")
