"""Thin Celery wrappers around revenue services."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from .imports import import_job_fail, import_job_run

# Below the broker's visibility timeout (3600 s), so a long import is never handed to a second worker.
IMPORT_SOFT_TIME_LIMIT_SECONDS = 3000


@shared_task(
    name="revenue.import_job_run",
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT_SECONDS,
    time_limit=IMPORT_SOFT_TIME_LIMIT_SECONDS + 60,
)
def import_job_run_task(job_id: int) -> str:
    """Import an uploaded file in the background (see revenue.imports). Returns the job's final status."""
    try:
        return import_job_run(job_id=job_id).status
    except SoftTimeLimitExceeded:
        import_job_fail(
            job_id=job_id,
            message=f"The import took longer than {IMPORT_SOFT_TIME_LIMIT_SECONDS // 60} minutes and was stopped. "
            "Rows added so far are kept; import the same file again to continue (added rows are skipped).",
        )
        return "failed"
