"""Claiming a periodic job's period, and recording what the run did.

Periods are aligned to the clock (a whole number of periods since the Unix epoch), so
every worker computes the same period for the same moment. A run first claims its period
by inserting the ledger row, in its own committed transaction: the primary key lets one
worker in and every other one skip. A runner that dies mid-run keeps its period (the row
stays unfinished); the jobs catch up on whatever is due, so the next period does its work."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from vrm import clock
from vrm.db import conflict_insert, write_transaction
from vrm.scheduling.models import JobRun

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(moment: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-long period holding ``moment``."""
    length = timedelta(seconds=seconds)
    return EPOCH + (moment - EPOCH) // length * length


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobLedger:
    """Which worker ran which job for which period, and what the run did."""

    def __init__(self, session: Session):
        self.session = session

    def claim(self, job: str, period: datetime, runner: str) -> bool:
        """Take ``period`` of ``job`` for ``runner``; False when another run has it."""
        # Look before locking: most ticks find their period taken without a write lock.
        taken = self.session.scalar(
            select(JobRun.runner).where(JobRun.job == job, JobRun.period_start == period)
        )
        if taken is not None:
            return False
        insert = conflict_insert(self.session)
        with write_transaction(self.session):
            # RETURNING says whether this insert went in (rowcount is not reliable here).
            inserted = self.session.execute(
                insert(JobRun)
                .values(job=job, period_start=period, runner=runner, started_at=clock.now())
                .on_conflict_do_nothing()
                .returning(JobRun.job)
            ).first()
        return inserted is not None

    def finish(self, job: str, period: datetime, result: int | None, error: str | None) -> None:
        """Record the end of a claimed run: what it did, or why it failed."""
        with write_transaction(self.session):
            self.session.execute(
                update(JobRun)
                .where(JobRun.job == job, JobRun.period_start == period)
                .values(finished_at=clock.now(), result=result, error=error)
            )

    def purge_before(self, before: datetime) -> int:
        """Forget the runs of periods that started before ``before``."""
        with write_transaction(self.session):
            return self.session.execute(delete(JobRun).where(JobRun.period_start < before)).rowcount
