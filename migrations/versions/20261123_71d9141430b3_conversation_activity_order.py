"""conversation activity order: the person's inbox lists the latest message first

Revision ID: 71d9141430b3
Revises: 13e930cc6e01
Create Date: 2026-11-23 14:53:37.936881
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vrm.db

revision: str = "71d9141430b3"
down_revision: str | None = "13e930cc6e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_at", vrm.db.UTCDateTime(), nullable=True))
    # Existing conversations: when their latest message showed, else when they opened.
    op.execute(
        "UPDATE conversations SET active_at = COALESCE("
        "(SELECT MAX(m.visible_at) FROM messages m WHERE m.conversation_id = conversations.id),"
        " created_at)"
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("active_at", existing_type=vrm.db.UTCDateTime(), nullable=False)
        batch_op.drop_index(batch_op.f("ix_conversations_person_id_created_at_id"))
        batch_op.create_index(
            "ix_conversations_person_id_active_at_id",
            ["person_id", "active_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_person_id_active_at_id")
        batch_op.create_index(
            batch_op.f("ix_conversations_person_id_created_at_id"),
            ["person_id", "created_at", "id"],
            unique=False,
        )
        batch_op.drop_column("active_at")
