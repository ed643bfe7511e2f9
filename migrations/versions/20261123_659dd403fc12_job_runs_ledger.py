"""job runs ledger: each periodic job runs once per period, whichever worker claims it

Revision ID: 659dd403fc12
Revises: 71d9141430b3
Create Date: 2026-11-23 17:25:41.053295
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vrm.db

revision: str = "659dd403fc12"
down_revision: str | None = "71d9141430b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("period_start", vrm.db.UTCDateTime(), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("started_at", vrm.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", vrm.db.UTCDateTime(), nullable=True),
        sa.Column("result", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("job", "period_start", name=op.f("pk_job_runs")),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_runs_period_start"), ["period_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_period_start"))

    op.drop_table("job_runs")
