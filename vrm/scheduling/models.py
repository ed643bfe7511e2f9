from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base


class JobRun(Base):
    """One periodic job's run for one period. The primary key is the claim: the worker
    whose row goes in first runs the job for that period, every other worker skips it."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The start of the period, aligned to the clock (a whole number of periods since the
    # Unix epoch), so every worker agrees on what "this period" is.
    period_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    # Which process ran it (host:pid), for the operator.
    runner: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    # Unset while running, or when the runner died before it finished.
    finished_at: Mapped[datetime | None]
    # What the job did (how many records it expired or purged), or why it failed.
    result: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
