"""addresses out of plain text: timelines and stored SMTP replies written before no longer name them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:20:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ADDRESS = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")
# (table, its key, the text column, what an address becomes)
PLAIN_TEXT = (
    ("timeline_event", "id", "detail", "an address"),
    ("delivery", "id", "last_reply", "address"),
    ("delivery_attempt", "id", "reply", "address"),
)


def upgrade() -> None:
    connection = op.get_bind()
    for table, key, column, said in PLAIN_TEXT:
        rows = connection.execute(
            sa.text(f'SELECT "{key}", "{column}" FROM "{table}" WHERE "{column}" LIKE :at'),
            {"at": "%@%"},
        ).all()
        for row_key, value in rows:
            connection.execute(
                sa.text(f'UPDATE "{table}" SET "{column}" = :value WHERE "{key}" = :key'),
                {"value": ADDRESS.sub(said, value), "key": row_key},
            )


def downgrade() -> None:
    pass  # what was taken out is not put back: the encrypted columns still hold it
